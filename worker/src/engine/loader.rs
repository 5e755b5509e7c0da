//! The module loader of every context: it resolves the job's own script, and for a
//! multi-file script the imports among its files (through [`BundleGraph`]), and refuses
//! everything else (files on disk, URLs, packages).
//!
//! It exists because the handler is read through an import rather than the module's
//! namespace object: in this engine version a module's namespace object keeps the whole
//! context alive after it is dropped (about 350 KiB per context), which a fresh context
//! per job turns into an unbounded leak. For the same reason the engine clears both once
//! the script module is evaluated: imports are static, resolved while it loads.

use std::cell::RefCell;
use std::rc::Rc;

use boa_engine::module::{ModuleLoader, ModuleRequest, Referrer};
use boa_engine::{Context, JsNativeError, JsResult, Module};

use super::modules::BundleGraph;

/// The specifier under which the job's script is importable.
pub(crate) const SCRIPT_SPECIFIER: &str = "jobvisor:script";

#[derive(Default)]
pub(crate) struct ScriptLoader {
    script: RefCell<Option<Module>>,
    bundle: RefCell<Option<Rc<BundleGraph>>>,
}

impl ScriptLoader {
    pub(crate) fn set(&self, module: Option<Module>) {
        *self.script.borrow_mut() = module;
    }

    /// The files the script's imports resolve against, while it loads.
    pub(crate) fn set_bundle(&self, bundle: Option<Rc<BundleGraph>>) {
        *self.bundle.borrow_mut() = bundle;
    }
}

impl ModuleLoader for ScriptLoader {
    fn load_imported_module(
        self: Rc<Self>,
        referrer: Referrer,
        request: ModuleRequest,
        context: &RefCell<&mut Context>,
    ) -> impl Future<Output = JsResult<Module>> {
        let specifier = request.specifier().to_std_string_escaped();
        if specifier == SCRIPT_SPECIFIER
            && let Some(script) = self.script.borrow().clone()
        {
            return std::future::ready(Ok(script));
        }
        let bundle = self.bundle.borrow().clone();
        let importer = referrer.path().and_then(|p| p.to_str()).map(str::to_owned);
        let result = match (bundle, importer) {
            (Some(bundle), Some(importer)) => {
                let mut context = context.borrow_mut();
                bundle
                    .load(&importer, &request, &mut context)
                    .map_err(|err| JsNativeError::typ().with_message(err.message).into())
            }
            _ => Err(JsNativeError::typ()
                .with_message(format!(
                    "cannot import `{specifier}`: a script imports only its own files, by static `import` declarations of a multi-file script (a directory), resolved when it loads"
                ))
                .into()),
        };
        std::future::ready(result)
    }
}
