//! The module loader of every context: it resolves exactly one specifier, the job's own
//! script, and refuses everything else (files, URLs, other modules).
//!
//! It exists because the handler is read through an import rather than the module's
//! namespace object: in this engine version a module's namespace object keeps the whole
//! context alive after it is dropped (about 350 KiB per context), which a fresh context
//! per job turns into an unbounded leak.

use std::cell::RefCell;
use std::rc::Rc;

use boa_engine::module::{ModuleLoader, ModuleRequest, Referrer};
use boa_engine::{Context, JsNativeError, JsResult, Module};

/// The specifier under which the job's script is importable.
pub(crate) const SCRIPT_SPECIFIER: &str = "jobvisor:script";

#[derive(Default)]
pub(crate) struct ScriptLoader {
    script: RefCell<Option<Module>>,
}

impl ScriptLoader {
    pub(crate) fn set(&self, module: Option<Module>) {
        *self.script.borrow_mut() = module;
    }
}

impl ModuleLoader for ScriptLoader {
    fn load_imported_module(
        self: Rc<Self>,
        _referrer: Referrer,
        request: ModuleRequest,
        _context: &RefCell<&mut Context>,
    ) -> impl Future<Output = JsResult<Module>> {
        let specifier = request.specifier().to_std_string_escaped();
        let found = (specifier == SCRIPT_SPECIFIER)
            .then(|| self.script.borrow().clone())
            .flatten();
        let result = found.ok_or_else(|| {
            JsNativeError::typ()
                .with_message(format!(
                    "cannot import `{specifier}`: module loading is disabled; a job script is one self-contained module"
                ))
                .into()
        });
        std::future::ready(result)
    }
}
