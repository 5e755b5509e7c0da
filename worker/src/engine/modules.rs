//! The module graph of a multi-file script: resolves an import against the files of its
//! own bundle and nothing else, parses JavaScript and JSON modules, and words every way a
//! graph can be wrong (a missing file, a path outside the bundle, a bare package name, a
//! JSON file that does not parse, a cycle that does not link).
//!
//! It must not touch the disk or the network: a bundle is all the files a script has,
//! sent with its version. The loader of [`super::loader`] calls it; the engine keeps the
//! rest (the entry, the handler, the context cache keyed on the bundle's hash).

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;

use boa_engine::module::ModuleRequest;
use boa_engine::{Context, JsString, Module, Source};
use jobvisor_protocol::bundle::ScriptBundle;
use jobvisor_protocol::worker::{ErrorKind, JobError};

use super::describe::{describe_js_error, job_error};
use super::{async_arrow, nesting};

/// The name every error of this module carries.
const MODULE_ERROR: &str = "ModuleError";

/// The module a script's handler is the default export of: its file name (the one its
/// frames show) and its text.
pub(crate) struct ModuleText<'a> {
    pub(crate) file: String,
    pub(crate) source: &'a str,
}

/// Why an import does not resolve to a file of the bundle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ResolveError {
    #[error(
        "`{importer}` imports `{specifier}`, a bare specifier: a script imports only its own files, by a relative path such as `./lib.js`; bundle npm packages with esbuild"
    )]
    Bare { importer: String, specifier: String },
    #[error(
        "`{importer}` imports `{specifier}`, a URL: a script cannot import from the network or the host, only its own files by a relative path"
    )]
    Url { importer: String, specifier: String },
    #[error(
        "`{importer}` imports `{specifier}`, an absolute path: a script imports only its own files, by a path relative to the importing file"
    )]
    Absolute { importer: String, specifier: String },
    #[error("`{importer}` imports `{specifier}`, which is outside the script's directory")]
    Escapes { importer: String, specifier: String },
    #[error("`{importer}` imports `{specifier}`: the script has no file `{resolved}`{hint}")]
    Missing {
        importer: String,
        specifier: String,
        resolved: String,
        hint: String,
    },
}

/// Resolves `specifier`, imported by the bundle file `importer`, to the path of a file of
/// `bundle`. Only `./` and `../` specifiers resolve, with no extension added: what an
/// import names is exactly the file it gets.
pub(crate) fn resolve(
    bundle: &ScriptBundle,
    importer: &str,
    specifier: &str,
) -> Result<String, ResolveError> {
    let (importer_owned, specifier_owned) = (importer.to_owned(), specifier.to_owned());
    if specifier.starts_with('/') {
        return Err(ResolveError::Absolute {
            importer: importer_owned,
            specifier: specifier_owned,
        });
    }
    if !specifier.starts_with("./") && !specifier.starts_with("../") {
        return Err(if specifier.contains(':') {
            ResolveError::Url {
                importer: importer_owned,
                specifier: specifier_owned,
            }
        } else {
            ResolveError::Bare {
                importer: importer_owned,
                specifier: specifier_owned,
            }
        });
    }
    let mut parts: Vec<&str> = importer.split('/').collect();
    parts.pop();
    for part in specifier.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(ResolveError::Escapes {
                        importer: importer_owned,
                        specifier: specifier_owned,
                    });
                }
            }
            name => parts.push(name),
        }
    }
    let resolved = parts.join("/");
    if bundle.files.contains_key(&resolved) && !specifier.ends_with('/') {
        return Ok(resolved);
    }
    let hint = [".js", ".mjs", ".json", "/index.js"]
        .iter()
        .map(|ext| format!("{resolved}{ext}"))
        .find(|candidate| bundle.files.contains_key(candidate))
        .map(|candidate| format!(" (did you mean `./{candidate}`? imports name files exactly)"))
        .unwrap_or_default();
    Err(ResolveError::Missing {
        importer: importer_owned,
        specifier: specifier_owned,
        resolved,
        hint,
    })
}

/// The modules of one bundle in one context: each file is parsed once, so that every
/// importer of a file (and a cycle back to it) gets the same module.
pub(crate) struct BundleGraph {
    bundle: ScriptBundle,
    modules: RefCell<HashMap<String, Module>>,
    /// `(importer, imported)` for every import resolved so far, to name a cycle.
    edges: RefCell<Vec<(String, String)>>,
    /// The first error of loading, with the words the engine's own error would lose.
    failure: RefCell<Option<JobError>>,
}

impl BundleGraph {
    pub(crate) fn new(bundle: ScriptBundle) -> Self {
        BundleGraph {
            bundle,
            modules: RefCell::default(),
            edges: RefCell::default(),
            failure: RefCell::default(),
        }
    }

    /// The path of the entry module.
    pub(crate) fn entry(&self) -> &str {
        &self.bundle.entry
    }

    /// The entry module's text.
    pub(crate) fn entry_source(&self) -> &str {
        self.bundle
            .files
            .get(&self.bundle.entry)
            .map_or("", String::as_str)
    }

    /// Registers the entry module, parsed by the engine, under its path.
    pub(crate) fn set_entry(&self, module: Module) {
        self.modules
            .borrow_mut()
            .insert(self.bundle.entry.clone(), module);
    }

    /// The error that stopped loading, if loading stopped here.
    pub(crate) fn take_failure(&self) -> Option<JobError> {
        self.failure.borrow_mut().take()
    }

    /// The module `request` names from the file `importer`, parsed on first use. A
    /// failure is kept for [`Self::take_failure`] and also returned, as the engine's
    /// rejection of the import.
    pub(crate) fn load(
        &self,
        importer: &str,
        request: &ModuleRequest,
        context: &mut Context,
    ) -> Result<Module, JobError> {
        let loaded = self.load_inner(importer, request, context);
        if let Err(err) = &loaded {
            self.failure.borrow_mut().get_or_insert_with(|| err.clone());
        }
        loaded
    }

    fn load_inner(
        &self,
        importer: &str,
        request: &ModuleRequest,
        context: &mut Context,
    ) -> Result<Module, JobError> {
        let specifier = request.specifier().to_std_string_escaped();
        let path = resolve(&self.bundle, importer, &specifier).map_err(module_error)?;
        self.edges
            .borrow_mut()
            .push((importer.to_owned(), path.clone()));
        let wants_json = request
            .get_attribute("type")
            .map(JsString::to_std_string_escaped);
        let is_json_file = path.ends_with(".json");
        match (wants_json.as_deref(), is_json_file) {
            (None, true) => {
                return Err(module_error(format!(
                    "`{importer}` imports the JSON file `{specifier}` without `with {{ type: \"json\" }}`"
                )));
            }
            (Some("json"), false) => {
                return Err(module_error(format!(
                    "`{importer}` imports `{specifier}` as JSON, but only a `.json` file is a JSON module"
                )));
            }
            (Some(other), _) if other != "json" => {
                return Err(module_error(format!(
                    "`{importer}` imports `{specifier}` with type `{other}`: only `json` is supported"
                )));
            }
            _ => {}
        }
        if let Some(module) = self.modules.borrow().get(&path) {
            return Ok(module.clone());
        }
        let text = self.bundle.files.get(&path).map_or("", String::as_str);
        nesting::check(text).map_err(|message| module_error(format!("`{path}`: {message}")))?;
        let module = if is_json_file {
            parse_json(&path, text, context)?
        } else {
            parse_js(&path, text, context)?
        };
        self.modules.borrow_mut().insert(path, module.clone());
        Ok(module)
    }

    /// Adds the cycle among the imports seen so far, if there is one, to a link error: a
    /// cycle links only when every name it imports is declared by one of its modules.
    pub(crate) fn explain_link_error(&self, mut err: JobError) -> JobError {
        if let Some(cycle) = find_cycle(&self.edges.borrow()) {
            err.message = format!(
                "{} (the modules import each other in a cycle: {}; in a cycle every imported name must be declared, not re-exported around it)",
                err.message,
                cycle.join(" → ")
            );
        }
        err
    }
}

/// A JavaScript file of the bundle, with the same allowance as the entry for
/// `export default async (…) => …`, which the engine's parser rejects.
fn parse_js(path: &str, text: &str, context: &mut Context) -> Result<Module, JobError> {
    let parse = |text: &str, context: &mut Context| {
        Module::parse(
            Source::from_bytes(text).with_path(Path::new(path)),
            None,
            context,
        )
    };
    match parse(text, context) {
        Ok(module) => Ok(module),
        Err(err) => async_arrow::rewrite(text)
            .and_then(|rewritten| parse(&rewritten.source, context).ok())
            .ok_or_else(|| {
                let mut described = describe_js_error(&err, ErrorKind::Script, None, context);
                described.message = format!("`{path}`: {}", described.message);
                described
            }),
    }
}

/// A JSON file of the bundle, checked first for a message with its line and column.
fn parse_json(path: &str, text: &str, context: &mut Context) -> Result<Module, JobError> {
    if let Err(err) = serde_json::from_str::<serde::de::IgnoredAny>(text) {
        return Err(job_error(
            ErrorKind::Script,
            "SyntaxError",
            format!(
                "`{path}` is not valid JSON: {} at line {} column {}",
                json_problem(&err),
                err.line(),
                err.column()
            ),
            None,
        ));
    }
    Module::parse_json(JsString::from(text), context).map_err(|err| {
        let mut described = describe_js_error(&err, ErrorKind::Script, None, context);
        described.message = format!("`{path}`: {}", described.message);
        described
    })
}

/// serde_json's message without the position it appends (given separately).
fn json_problem(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

fn module_error(message: impl ToString) -> JobError {
    job_error(ErrorKind::Script, MODULE_ERROR, message.to_string(), None)
}

/// A cycle in `edges`, as the paths along it with the first repeated at the end.
fn find_cycle(edges: &[(String, String)]) -> Option<Vec<String>> {
    fn visit<'a>(
        node: &'a str,
        edges: &'a [(String, String)],
        path: &mut Vec<&'a str>,
        done: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| *n == node) {
            let mut cycle: Vec<String> = path[at..].iter().map(|n| (*n).to_owned()).collect();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(&node) {
            return None;
        }
        path.push(node);
        for (from, to) in edges {
            if from == node
                && let Some(cycle) = visit(to, edges, path, done)
            {
                return Some(cycle);
            }
        }
        path.pop();
        done.push(node);
        None
    }
    let mut done = Vec::new();
    edges
        .iter()
        .find_map(|(from, _)| visit(from, edges, &mut Vec::new(), &mut done))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::rc::Rc;

    use jobvisor_protocol::worker::Outcome;

    use super::*;
    use crate::channel::Channel;
    use crate::engine::Engine;
    use crate::engine::tests::job;

    fn bundle(entry: &str, files: &[(&str, &str)]) -> ScriptBundle {
        ScriptBundle {
            entry: entry.to_owned(),
            files: files
                .iter()
                .map(|(p, c)| ((*p).to_owned(), (*c).to_owned()))
                .collect(),
        }
    }

    fn run(entry: &str, files: &[(&str, &str)], payload: &str) -> Outcome {
        let mut engine = Engine::new(Rc::new(Channel::detached()));
        let source = bundle(entry, files).encode();
        engine.run(&job(1, Some(&source), payload)).0
    }

    fn error_of(entry: &str, files: &[(&str, &str)]) -> JobError {
        match run(entry, files, "{}") {
            Outcome::Err(err) => err,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn relative_specifiers_resolve_inside_the_bundle() {
        let b = bundle(
            "index.js",
            &[
                ("index.js", ""),
                ("lib/a.js", ""),
                ("lib/deep/b.js", ""),
                ("data.json", ""),
            ],
        );
        assert_eq!(resolve(&b, "index.js", "./lib/a.js").unwrap(), "lib/a.js");
        assert_eq!(
            resolve(&b, "lib/a.js", "./deep/./b.js").unwrap(),
            "lib/deep/b.js"
        );
        assert_eq!(
            resolve(&b, "lib/deep/b.js", "../../data.json").unwrap(),
            "data.json"
        );
        assert_eq!(resolve(&b, "lib/a.js", "../index.js").unwrap(), "index.js");
    }

    #[test]
    fn every_import_outside_the_bundle_is_refused_with_its_reason() {
        let b = bundle("index.js", &[("index.js", ""), ("lib/a.js", "")]);
        let refused = |importer: &str, specifier: &str| {
            resolve(&b, importer, specifier).unwrap_err().to_string()
        };
        assert_eq!(
            refused("index.js", "lodash"),
            "`index.js` imports `lodash`, a bare specifier: a script imports only its own files, by a relative path such as `./lib.js`; bundle npm packages with esbuild"
        );
        assert!(refused("index.js", "node:fs").contains("a URL"));
        assert!(refused("index.js", "https://example.com/x.js").contains("a URL"));
        assert!(refused("index.js", "/etc/passwd").contains("an absolute path"));
        assert_eq!(
            refused("lib/a.js", "../../x.js"),
            "`lib/a.js` imports `../../x.js`, which is outside the script's directory"
        );
        assert_eq!(
            refused("index.js", "./lib/b.js"),
            "`index.js` imports `./lib/b.js`: the script has no file `lib/b.js`"
        );
        assert!(refused("index.js", "./lib/a").contains("did you mean `./lib/a.js`?"));
    }

    #[test]
    fn a_graph_with_a_json_module_a_nested_directory_and_a_shared_file_runs() {
        let outcome = run(
            "index.js",
            &[
                (
                    "index.js",
                    "import { add } from \"./lib/math.js\";\nimport config from \"./config.json\" with { type: \"json\" };\nimport { twice } from \"./lib/deep/twice.js\";\nexport default (p) => ({ sum: add(p.a, config.offset), twice: twice(p.a) })\n",
                ),
                ("config.json", "{ \"offset\": 10 }"),
                ("lib/math.js", "export const add = (a, b) => a + b;\n"),
                (
                    "lib/deep/twice.js",
                    "import { add } from \"../math.js\";\nexport const twice = (x) => add(x, x);\n",
                ),
            ],
            r#"{"a":2}"#,
        );
        assert_eq!(
            outcome,
            Outcome::Ok {
                result: Some(r#"{"sum":12,"twice":4}"#.into())
            }
        );
    }

    #[test]
    fn a_cycle_that_links_runs() {
        let outcome = run(
            "index.js",
            &[
                (
                    "index.js",
                    "import { b } from \"./b.js\";\nexport const a = () => \"a\";\nexport default () => b()\n",
                ),
                (
                    "b.js",
                    "import { a } from \"./index.js\";\nexport const b = () => a() + \"b\";\n",
                ),
            ],
            "{}",
        );
        assert_eq!(
            outcome,
            Outcome::Ok {
                result: Some("\"ab\"".into())
            }
        );
    }

    #[test]
    fn a_missing_module_names_the_importer_and_the_specifier() {
        let err = error_of(
            "index.js",
            &[
                (
                    "index.js",
                    "import x from \"./lib/x.js\";\nexport default () => x",
                ),
                ("lib/x.js", "import y from \"./y.js\";\nexport default y"),
            ],
        );
        assert_eq!(err.kind, ErrorKind::Script);
        assert_eq!(err.name, "ModuleError");
        assert_eq!(
            err.message,
            "`lib/x.js` imports `./y.js`: the script has no file `lib/y.js`"
        );
    }

    #[test]
    fn a_bare_specifier_says_to_bundle_packages() {
        let err = error_of(
            "main.js",
            &[(
                "main.js",
                "import _ from \"lodash\";\nexport default () => 1",
            )],
        );
        assert_eq!(err.name, "ModuleError");
        assert!(
            err.message.contains("bundle npm packages with esbuild"),
            "{}",
            err.message
        );
    }

    #[test]
    fn an_escaping_path_is_refused() {
        let err = error_of(
            "index.js",
            &[(
                "index.js",
                "import x from \"../secret.js\";\nexport default () => x",
            )],
        );
        assert!(
            err.message.contains("outside the script's directory"),
            "{}",
            err.message
        );
    }

    #[test]
    fn a_json_module_that_does_not_parse_names_file_line_and_column() {
        let err = error_of(
            "index.js",
            &[
                (
                    "index.js",
                    "import d from \"./data.json\" with { type: \"json\" };\nexport default () => d",
                ),
                ("data.json", "{\n  \"a\": 1,\n  \"b\": \n}"),
            ],
        );
        assert_eq!(err.name, "SyntaxError");
        assert!(
            err.message.starts_with("`data.json` is not valid JSON: "),
            "{}",
            err.message
        );
        assert!(
            err.message.ends_with("at line 4 column 1"),
            "{}",
            err.message
        );
    }

    #[test]
    fn a_json_file_needs_the_json_attribute() {
        let err = error_of(
            "index.js",
            &[
                (
                    "index.js",
                    "import d from \"./data.json\";\nexport default () => d",
                ),
                ("data.json", "{}"),
            ],
        );
        assert!(
            err.message.contains("without `with { type: \"json\" }`"),
            "{}",
            err.message
        );
    }

    #[test]
    fn a_syntax_error_in_an_imported_file_names_the_file() {
        let err = error_of(
            "index.js",
            &[
                (
                    "index.js",
                    "import x from \"./x.js\";\nexport default () => x",
                ),
                ("x.js", "export default = ;"),
            ],
        );
        assert_eq!(err.kind, ErrorKind::Script);
        assert!(err.message.starts_with("`x.js`: "), "{}", err.message);
    }

    #[test]
    fn a_cycle_that_does_not_link_is_named() {
        let err = error_of(
            "index.js",
            &[
                (
                    "index.js",
                    "import { x } from \"./a.js\";\nexport default () => x",
                ),
                ("a.js", "export { x } from \"./b.js\";\n"),
                ("b.js", "export { x } from \"./a.js\";\n"),
            ],
        );
        assert_eq!(err.kind, ErrorKind::Script);
        assert!(
            err.message.contains("a.js → b.js → a.js"),
            "{}: {}",
            err.name,
            err.message
        );
    }

    #[test]
    fn a_malformed_bundle_is_a_script_error_not_a_panic() {
        let mut engine = Engine::new(Rc::new(Channel::detached()));
        let source = format!(
            "{}entry 4:a.js\nfile 4:a.js 99:x\n",
            jobvisor_protocol::bundle::BUNDLE_MARKER
        );
        match engine.run(&job(1, Some(&source), "{}")).0 {
            Outcome::Err(err) => {
                assert_eq!(err.kind, ErrorKind::Script);
                assert!(err.message.contains("malformed"), "{}", err.message);
            }
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn cycles_are_found_and_acyclic_graphs_are_not() {
        let edges = |list: &[(&str, &str)]| -> Vec<(String, String)> {
            list.iter()
                .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
                .collect()
        };
        assert_eq!(
            find_cycle(&edges(&[("i", "a"), ("a", "b"), ("b", "a")])),
            Some(vec!["a".into(), "b".into(), "a".into()])
        );
        assert_eq!(
            find_cycle(&edges(&[("i", "a"), ("i", "b"), ("a", "b")])),
            None
        );
    }
}
