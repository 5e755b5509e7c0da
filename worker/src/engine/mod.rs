//! The JavaScript engine of a worker: builds contexts for script versions, runs one
//! attempt of a job on one, and reports its outcome.
//!
//! It owns every Boa value of the process; they never leave the engine thread. It must
//! not do I/O other than through the [`Channel`] (console lines via the [`Outbox`], host
//! calls via [`host::HostCalls`]), and must not trust the script: every
//! failure, including an engine panic, becomes an [`Outcome::Err`] and a rebuilt context.

mod async_arrow;
mod bundled;
mod console;
mod crypto;
mod describe;
mod events;
mod executor;
mod fixes;
mod host;
mod host_api;
mod inspect;
mod intl;
mod loader;
mod modules;
mod nesting;
mod node_compat;
mod payload;
mod performance;
mod position;
#[cfg(test)]
mod tests;
mod text_decoding;
mod url_search_params;
mod warm;

use std::collections::{HashMap, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::rc::Rc;
use std::time::{Duration, Instant};

use boa_engine::builtins::promise::PromiseState;
use boa_engine::context::ContextBuilder;
use boa_engine::module::Module;
use boa_engine::object::builtins::JsFunction;
use boa_engine::{Context, JsObject, JsValue, Source, js_string};
use boa_runtime::extensions::ConsoleExtension;
use jobvisor_protocol::worker::{
    ErrorKind, Isolation, JobError, JobLimits, JobStats, Outcome, RunJob, ScriptRef,
};

use crate::channel::Channel;
use crate::outbox::Outbox;
use crate::sys;
use console::CapturedConsole;
use describe::{describe_js_error, describe_thrown_value, job_error};
use executor::{RunLoop, RunStop};
use host::HostCalls;
pub use host::ProtocolViolation;
pub(crate) use intl::set_default_locale;
use loader::{SCRIPT_SPECIFIER, ScriptLoader};
use modules::{BundleGraph, ModuleText};
use position::ScriptText;

/// Warm contexts kept per worker (one per script version, least recently used evicted).
const MAX_WARM_CONTEXTS: usize = 32;
/// A warm context is rebuilt after this many jobs, bounding what globals can accumulate.
const MAX_JOBS_PER_CONTEXT: u64 = 10_000;
/// Error stacks keep this many frames.
const BACKTRACE_FRAMES: usize = 10;

/// One context with a script version's handler compiled in it.
struct ScriptContext {
    context: Context,
    handler: JsFunction,
    json: JsObject,
    stringify: JsFunction,
    run_loop: Rc<RunLoop>,
    /// `ctx.host`, the same object for every job on this context.
    host: JsObject,
    /// The rest of the host API on `ctx` (`state`, `signal`, …).
    api: host_api::HostApi,
    script: ScriptText,
    jobs: u64,
}

/// The engine of one worker process.
pub struct Engine {
    outbox: Rc<Outbox>,
    host_calls: Rc<HostCalls>,
    /// Script sources by version hash.
    sources: HashMap<String, Rc<str>>,
    warm: HashMap<String, ScriptContext>,
    warm_order: VecDeque<String>,
}

impl Engine {
    pub(crate) fn new(channel: Rc<Channel>) -> Self {
        Engine {
            outbox: Rc::new(Outbox::new(channel.clone())),
            host_calls: Rc::new(HostCalls::new(channel)),
            sources: HashMap::new(),
            warm: HashMap::new(),
            warm_order: VecDeque::new(),
        }
    }

    /// Builds and drops one context, so the engine's one-time initialisation is paid
    /// before the worker says it is ready rather than by its first job, and before the
    /// sandbox forbids the file reads some of it does (see [`warm`]).
    pub(crate) fn warm_up(&self) {
        let run_loop = Rc::new(RunLoop::new(self.host_calls.clone()));
        let loader = Rc::new(ScriptLoader::default());
        let _ = catch_unwind(AssertUnwindSafe(|| {
            let (mut context, _) = new_context(
                &run_loop,
                &loader,
                &self.outbox,
                &JobLimits::default(),
                false,
            )?;
            warm::initialise_lazy_state(&mut context);
            Ok::<_, JobError>(context)
        }));
    }

    /// The host calls of this worker's jobs.
    pub(crate) fn host_calls(&self) -> &HostCalls {
        &self.host_calls
    }

    /// Checks that `source` is a usable script: it parses, its module evaluates (with the
    /// node compatibility globals if `node_compat`), and its default export is a function.
    /// Used before a script is accepted.
    pub fn check(&self, name: &str, source: &str, node_compat: bool) -> Result<(), JobError> {
        let deadline = Instant::now() + Duration::from_secs(5);
        self.build(
            name,
            source,
            node_compat,
            &JobLimits::default(),
            Some(deadline),
        )
        .map(discard)
        .map_err(|err| node_compat::explain_missing_global(err, node_compat))
    }

    /// Runs one attempt and returns its outcome and measurements.
    pub(crate) fn run(&mut self, job: &RunJob) -> (Outcome, JobStats) {
        let started = Instant::now();
        let cpu_before = sys::thread_cpu_time();
        self.outbox.begin(job.job_id, job.attempt, &job.limits);
        self.host_calls.begin(job.job_id, job.attempt);
        let deadline =
            (job.deadline_ms > 0).then(|| started + Duration::from_millis(job.deadline_ms));

        let (result, warm) = match self.source_of(&job.script) {
            Ok(source) => self.run_on_context(job, &source, deadline),
            Err(err) => (Err(err), false),
        };
        let outcome = match result {
            Ok(result) => Outcome::Ok { result },
            Err(err) => Outcome::Err(node_compat::explain_missing_global(
                err,
                job.script.node_compat,
            )),
        };
        let stats = JobStats {
            duration_us: duration_us(started.elapsed()),
            cpu_us: duration_us(sys::thread_cpu_time().saturating_sub(cpu_before)),
            max_rss_bytes: sys::max_rss_bytes(),
            logs_dropped: self.outbox.end(),
            warm,
        };
        self.host_calls.end();
        (outcome, stats)
    }

    fn source_of(&mut self, script: &ScriptRef) -> Result<Rc<str>, JobError> {
        if let Some(source) = &script.source {
            let source: Rc<str> = Rc::from(source.as_str());
            self.sources.insert(script.hash.clone(), source.clone());
            return Ok(source);
        }
        self.sources.get(&script.hash).cloned().ok_or_else(|| {
            job_error(
                ErrorKind::ScriptMissing,
                "ScriptMissing",
                format!(
                    "this worker does not hold version {} of script `{}` and no source was sent",
                    script.hash, script.name
                ),
                None,
            )
        })
    }

    fn run_on_context(
        &mut self,
        job: &RunJob,
        source: &str,
        deadline: Option<Instant>,
    ) -> (Result<Option<String>, JobError>, bool) {
        let key = warm_key(&job.script);
        let reused = match job.isolation {
            Isolation::Script => self.take_warm(&key),
            Isolation::Job => None,
        };
        let warm = reused.is_some();
        let mut script_context = match reused {
            Some(sc) => sc,
            None => match self.build(
                &job.script.name,
                source,
                job.script.node_compat,
                &job.limits,
                deadline,
            ) {
                Ok(sc) => sc,
                Err(err) => return (Err(err), false),
            },
        };
        script_context.run_loop.set_deadline(deadline);
        let signal_at = deadline
            .map(|at| at - Duration::from_millis(job.signal_margin_ms.min(job.deadline_ms)));
        script_context.run_loop.begin_signal(signal_at);
        apply_limits(&mut script_context.context, &job.limits);

        let result = catch_unwind(AssertUnwindSafe(|| call_handler(&mut script_context, job)));
        script_context.run_loop.clear();
        script_context.run_loop.set_deadline(None);
        script_context.jobs += 1;

        match result {
            Ok(Ok(value)) => {
                if job.isolation == Isolation::Script && script_context.jobs < MAX_JOBS_PER_CONTEXT
                {
                    self.keep_warm(key, script_context);
                } else {
                    discard(script_context);
                }
                (Ok(value), warm)
            }
            Ok(Err(err)) => {
                discard(script_context);
                (Err(err), warm)
            }
            Err(panic) => {
                discard(script_context);
                let message = panic_message(panic.as_ref());
                let err = job_error(ErrorKind::Panic, "EnginePanic", message, None);
                (Err(err), warm)
            }
        }
    }

    fn take_warm(&mut self, key: &str) -> Option<ScriptContext> {
        let sc = self.warm.remove(key)?;
        self.warm_order.retain(|k| k != key);
        Some(sc)
    }

    fn keep_warm(&mut self, key: String, sc: ScriptContext) {
        if self.warm.len() >= MAX_WARM_CONTEXTS
            && let Some(oldest) = self.warm_order.pop_front()
            && let Some(evicted) = self.warm.remove(&oldest)
        {
            discard(evicted);
        }
        self.warm_order.push_back(key.clone());
        self.warm.insert(key, sc);
    }

    /// Builds a context and evaluates the script module in it.
    fn build(
        &self,
        name: &str,
        source: &str,
        node_compat: bool,
        limits: &JobLimits,
        deadline: Option<Instant>,
    ) -> Result<ScriptContext, JobError> {
        let bundle = jobvisor_protocol::bundle::decode(source)
            .map_err(|e| job_error(ErrorKind::Script, "ScriptError", e.to_string(), None))?
            .map(|bundle| Rc::new(BundleGraph::new(bundle)));
        let (file, source) = match &bundle {
            Some(graph) => (graph.entry().to_owned(), graph.entry_source()),
            None => (script_file(name), source),
        };
        nesting::check(source)
            .map_err(|message| job_error(ErrorKind::Script, "SyntaxError", message, None))?;
        let outbox = &self.outbox;
        let built = catch_unwind(AssertUnwindSafe(|| {
            let run_loop = Rc::new(RunLoop::new(self.host_calls.clone()));
            run_loop.set_deadline(deadline);
            let loader = Rc::new(ScriptLoader::default());
            let (mut context, api) = new_context(&run_loop, &loader, outbox, limits, node_compat)?;
            let (handler, script) = evaluate_module(
                name,
                ModuleText { file, source },
                bundle.as_ref(),
                &run_loop,
                &loader,
                &mut context,
            )?;
            let json = context.intrinsics().objects().json();
            let stringify = json
                .get(js_string!("stringify"), &mut context)
                .ok()
                .and_then(|f| f.as_function())
                .ok_or_else(|| {
                    job_error(
                        ErrorKind::Panic,
                        "EngineError",
                        "JSON.stringify is missing",
                        None,
                    )
                })?;
            run_loop.clear();
            let host = host::host_object(&self.host_calls, &mut context);
            Ok(ScriptContext {
                context,
                handler,
                json,
                stringify,
                run_loop,
                host,
                api,
                script,
                jobs: 0,
            })
        }));
        match built {
            Ok(result) => result,
            Err(panic) => Err(job_error(
                ErrorKind::Panic,
                "EnginePanic",
                panic_message(panic.as_ref()),
                None,
            )),
        }
    }
}

/// A context with the worker's host API and none of the outside world: no module loading,
/// `fetch` only through the host, console captured; `Buffer` and `process` only if
/// `node_compat`. Also answers the part of the host API that goes on each job's `ctx`.
fn new_context(
    run_loop: &Rc<RunLoop>,
    loader: &Rc<ScriptLoader>,
    outbox: &Rc<Outbox>,
    limits: &JobLimits,
    node_compat: bool,
) -> Result<(Context, host_api::HostApi), JobError> {
    let engine_error = |what: &str, detail: String| {
        job_error(
            ErrorKind::Panic,
            "EngineError",
            format!("{what}: {detail}"),
            None,
        )
    };
    let mut context = ContextBuilder::new()
        .module_loader(loader.clone())
        .job_executor(run_loop.clone())
        .build()
        .map_err(|e| engine_error("cannot build a context", e.to_string()))?;
    let group_label_next = console::GroupLabelNext::default();
    boa_runtime::register(
        ConsoleExtension(CapturedConsole::new(
            outbox.clone(),
            group_label_next.clone(),
        )),
        None,
        &mut context,
    )
    .map_err(|e| engine_error("cannot register the host API", e.to_string()))?;
    console::install_formatting(&mut context, outbox, &group_label_next)
        .map_err(|e| engine_error("cannot set up the console", e.to_string()))?;
    performance::register(&mut context)
        .map_err(|e| engine_error("cannot register `performance`", e.to_string()))?;
    events::register(&mut context)
        .map_err(|e| engine_error("cannot register the event globals", e.to_string()))?;
    text_decoding::register(&mut context)
        .map_err(|e| engine_error("cannot register `TextDecoder`", e.to_string()))?;
    url_search_params::register(&mut context)
        .map_err(|e| engine_error("cannot register `URLSearchParams`", e.to_string()))?;
    fixes::install(&mut context)
        .map_err(|e| engine_error("cannot correct the built-ins", e.to_string()))?;
    crypto::register(&mut context)
        .map_err(|e| engine_error("cannot register `crypto`", e.to_string()))?;
    intl::register(&mut context)
        .map_err(|e| engine_error("cannot register `Intl`", e.to_string()))?;
    let api = host_api::register(run_loop, &mut context)
        .map_err(|e| engine_error("cannot register `fetch`", e.to_string()))?;
    if node_compat {
        node_compat::register(&mut context, run_loop)
            .map_err(|e| engine_error("cannot register `Buffer` and `process`", e.to_string()))?;
    }
    apply_limits(&mut context, limits);
    #[cfg(test)]
    tests::register_test_hooks(&mut context);
    Ok((context, api))
}

fn apply_limits(context: &mut Context, limits: &JobLimits) {
    let runtime = context.runtime_limits_mut();
    runtime.set_loop_iteration_limit(limits.loop_iteration_limit);
    runtime.set_recursion_limit(usize::try_from(limits.recursion_limit).unwrap_or(usize::MAX));
    runtime.set_backtrace_limit(BACKTRACE_FRAMES);
}

/// The key of a script version's warm context: a context with the node compatibility
/// globals is never reused for the same version without them, nor the reverse.
fn warm_key(script: &ScriptRef) -> String {
    if script.node_compat {
        format!("{}+node_compat", script.hash)
    } else {
        script.hash.clone()
    }
}

/// Global through which the entry module hands the handler over; deleted right after.
const HANDLER_GLOBAL: &str = "__jobvisor_handler__";

/// The file name a script's frames show: its name, with `.js` unless it has an extension.
fn script_file(name: &str) -> String {
    if [".js", ".mjs", ".cjs"]
        .iter()
        .any(|ext| name.ends_with(ext))
    {
        name.to_owned()
    } else {
        format!("{name}.js")
    }
}

/// Parses the script, then evaluates it through a two-line entry module that imports its
/// default export; returns that export and the text it was compiled from.
fn evaluate_module(
    name: &str,
    entry: ModuleText<'_>,
    bundle: Option<&Rc<BundleGraph>>,
    run_loop: &RunLoop,
    loader: &ScriptLoader,
    context: &mut Context,
) -> Result<(JsFunction, ScriptText), JobError> {
    let ModuleText { file, source } = entry;
    let parse = |text: &str, context: &mut Context| {
        Module::parse(
            Source::from_bytes(text).with_path(Path::new(&file)),
            None,
            context,
        )
    };
    let (parsed, corrected) = fixes::parse_correcting_literals(source, |text| parse(text, context));
    let source = corrected.as_deref().unwrap_or(source);
    let (module, script) = match parsed {
        Ok(module) => (
            module,
            ScriptText {
                file: file.clone(),
                compiled: Rc::from(source),
                rewritten: None,
            },
        ),
        Err(err) => {
            // The engine's parser rejects `export default async (…) => …`, which is valid
            // ECMAScript; such a module is parsed again with the handler bound to a name.
            let retried = async_arrow::rewrite(source).and_then(|rewritten| {
                let module = parse(&rewritten.source, context).ok()?;
                let script = ScriptText {
                    file: file.clone(),
                    compiled: Rc::from(rewritten.source.as_str()),
                    rewritten: Some((rewritten.line, rewritten.column, rewritten.added)),
                };
                Some((module, script))
            });
            match retried {
                Some(parsed) => parsed,
                None => return Err(describe_js_error(&err, ErrorKind::Script, None, context)),
            }
        }
    };
    let script_ref = Some(&script);
    if let Some(graph) = bundle {
        graph.set_entry(module.clone());
        loader.set_bundle(Some(graph.clone()));
    }
    loader.set(Some(module));
    let entry_source = format!(
        "import handler from \"{SCRIPT_SPECIFIER}\";\nglobalThis.{HANDLER_GLOBAL} = handler;\n"
    );
    let entry = Module::parse(Source::from_bytes(&entry_source), None, context)
        .map_err(|e| describe_js_error(&e, ErrorKind::Panic, None, context))?;
    let evaluated = entry.load_link_evaluate(context);
    let settled = run_loop.run_until_settled(Some(&evaluated), context);
    loader.set(None);
    loader.set_bundle(None);
    match settled {
        Ok(()) => {}
        Err(RunStop::Deadline) => return Err(deadline_error("evaluating the script module")),
        Err(RunStop::Protocol) => return Err(protocol_error()),
        Err(RunStop::Failed(e)) => {
            return Err(describe_js_error(
                &e,
                ErrorKind::Script,
                script_ref,
                context,
            ));
        }
    }
    match evaluated.state() {
        PromiseState::Fulfilled(_) => {}
        PromiseState::Rejected(value) => {
            if let Some(failure) = bundle.and_then(|graph| graph.take_failure()) {
                return Err(failure);
            }
            let mut err = describe_thrown_value(&value, ErrorKind::Script, script_ref, context);
            if err.message.contains("default") && err.name == "SyntaxError" {
                err = no_default_export(name, "nothing");
            } else if let Some(graph) = bundle {
                err = graph.explain_link_error(err);
            }
            return Err(err);
        }
        PromiseState::Pending => {
            return Err(job_error(
                ErrorKind::Script,
                "ScriptError",
                "the module's top-level await never settled",
                None,
            ));
        }
    }
    let global = context.global_object();
    let handler = global
        .get(js_string!(HANDLER_GLOBAL), context)
        .map_err(|e| describe_js_error(&e, ErrorKind::Script, script_ref, context))?;
    let _ = global.delete_property_or_throw(js_string!(HANDLER_GLOBAL), context);
    let handler = handler
        .as_function()
        .ok_or_else(|| no_default_export(name, handler.type_of()))?;
    Ok((handler, script))
}

fn no_default_export(name: &str, found: &str) -> JobError {
    job_error(
        ErrorKind::Script,
        "ScriptError",
        format!(
            "script `{name}` has no default export function (found {found}); write `export default async function (payload, ctx) {{ … }}`"
        ),
        None,
    )
}

/// Calls the handler with `(payload, ctx)`, waits for its promise and serialises the result.
fn call_handler(sc: &mut ScriptContext, job: &RunJob) -> Result<Option<String>, JobError> {
    let context = &mut sc.context;
    let script = Some(&sc.script);
    let payload = payload::parse(&job.payload, context).map_err(|e| {
        job_error(
            ErrorKind::Payload,
            "PayloadError",
            format!("the payload is not valid JSON: {e}"),
            None,
        )
    })?;
    let job_context = job_context(job, context)?;
    // Epoch ms, as `Date.now()` counts.
    let deadline = (job.deadline_ms > 0).then(|| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        (now + u128::from(job.deadline_ms)) as f64
    });
    host::attach(&job_context, &sc.host, context)
        .and_then(|()| host_api::attach(&job_context, &sc.api, deadline, context))
        .map_err(|e| {
            job_error(
                ErrorKind::Panic,
                "EngineError",
                format!("cannot give the job context its host: {e}"),
                None,
            )
        })?;

    let returned = sc
        .handler
        .call(&JsValue::undefined(), &[payload, job_context], context)
        .map_err(|e| describe_js_error(&e, ErrorKind::Thrown, script, context))?;
    let value = match returned.as_promise() {
        None => returned,
        Some(promise) => {
            match sc.run_loop.run_until_settled(Some(&promise), context) {
                Ok(()) => {}
                Err(RunStop::Deadline) => return Err(deadline_error("waiting for the handler")),
                Err(RunStop::Protocol) => return Err(protocol_error()),
                Err(RunStop::Failed(e)) => {
                    return Err(describe_js_error(&e, ErrorKind::Thrown, script, context));
                }
            }
            match promise.state() {
                PromiseState::Fulfilled(value) => value,
                PromiseState::Rejected(value) => {
                    return Err(describe_thrown_value(
                        &value,
                        ErrorKind::Thrown,
                        script,
                        context,
                    ));
                }
                PromiseState::Pending => {
                    return Err(job_error(
                        ErrorKind::NeverSettled,
                        "NeverSettled",
                        "the handler's promise never settled: nothing was left that could resolve it (no timer, no pending job). An engine limit hit inside an async function also ends this way",
                        None,
                    ));
                }
            }
        }
    };
    serialize_result(&value, sc, &job.limits)
}

/// `ctx` as the handler sees it: `{ job: { id, attempt, maxAttempts, queue, script } }`,
/// its keys in that order (`ctx.host` is added by [`host::attach`]).
fn job_context(job: &RunJob, context: &mut Context) -> Result<JsValue, JobError> {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct JobInfo<'a> {
        id: i64,
        attempt: u32,
        max_attempts: u32,
        queue: &'a str,
        script: &'a str,
    }
    #[derive(serde::Serialize)]
    struct JobContext<'a> {
        job: JobInfo<'a>,
    }
    let value = JobContext {
        job: JobInfo {
            id: job.job_id,
            attempt: job.attempt,
            max_attempts: job.max_attempts,
            queue: &job.queue,
            script: &job.script.name,
        },
    };
    let engine_error = |message: String| job_error(ErrorKind::Panic, "EngineError", message, None);
    let text = serde_json::to_string(&value)
        .map_err(|e| engine_error(format!("cannot encode the job context: {e}")))?;
    payload::parse(&text, context)
        .map_err(|e| engine_error(format!("cannot build the job context: {e}")))
}

/// Serialises with the intrinsic `JSON.stringify`, so the result follows its rules
/// exactly (`toJSON`, `Date`, dropped functions and `undefined`, getters called) even if
/// the handler replaced the global `JSON`.
fn serialize_result(
    value: &JsValue,
    sc: &mut ScriptContext,
    limits: &JobLimits,
) -> Result<Option<String>, JobError> {
    let context = &mut sc.context;
    let json = sc
        .stringify
        .call(
            &sc.json.clone().into(),
            std::slice::from_ref(value),
            context,
        )
        .map_err(|e| {
            let mut err = describe_js_error(&e, ErrorKind::Result, Some(&sc.script), context);
            if err.kind == ErrorKind::Result {
                err.message = format!(
                    "the handler's result cannot be serialised as JSON: {}",
                    err.message
                );
            }
            err
        })?;
    let Some(text) = json.as_string() else {
        // `undefined`, a function or a symbol: JSON.stringify gives `undefined`.
        return Ok(None);
    };
    let max = limits.max_result_bytes as usize;
    let too_large = |size: usize| {
        job_error(
            ErrorKind::Result,
            "ResultTooLarge",
            format!("the handler's result is {size} bytes of JSON, over the limit of {max} bytes"),
            None,
        )
    };
    if text.len() > max {
        return Err(too_large(text.len()));
    }
    let text = text
        .to_std_string()
        .unwrap_or_else(|_| text.to_std_string_escaped());
    if text.len() > max {
        return Err(too_large(text.len()));
    }
    Ok(Some(text))
}

fn deadline_error(during: &str) -> JobError {
    job_error(
        ErrorKind::Deadline,
        "TimeoutError",
        format!("the job's deadline passed while {during}"),
        None,
    )
}

/// The outcome of an attempt the supervisor cut short by breaking the protocol; the worker
/// exits instead of reporting it.
fn protocol_error() -> JobError {
    job_error(
        ErrorKind::Panic,
        "ProtocolError",
        "the supervisor broke the protocol while the job waited",
        None,
    )
}

/// Drops a context whose state can no longer be trusted. A panic while dropping (the GC
/// after an engine panic) must not take the worker down: the context is leaked instead.
fn discard(sc: ScriptContext) {
    let mut slot = Some(sc);
    if catch_unwind(AssertUnwindSafe(|| drop(slot.take()))).is_err() {
        std::mem::forget(slot);
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    let text = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned());
    format!("the JavaScript engine panicked: {text}")
}

fn duration_us(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}
