//! Host calls from JavaScript: `ctx.host`, and the calls of the attempt in hand that
//! await their reply.
//!
//! A call is one `HostCall` frame and a pending promise; the supervisor's `HostReply`
//! with the same `call_id` settles it (`Value` resolves, `Refused` rejects with an error
//! whose name says why). Replies arrive while the run loop waits ([`HostCalls::wait`]),
//! in any order. This module owns the worker's side of the conversation's rules: the caps
//! of `jobvisor_protocol::host` are enforced before a call is sent, a reply to a call
//! never made (or already answered) ends the worker as a protocol error, and so does any
//! frame that has no place during a job, except `Shutdown`, which is remembered for when
//! the job ends. Calls still unanswered when their attempt ends are abandoned: their
//! late replies are dropped, and they count against the in-flight cap until they come.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::time::Duration;

use boa_engine::builtins::promise::ResolvingFunctions;
use boa_engine::object::ObjectInitializer;
use boa_engine::object::builtins::{AlignedVec, JsArrayBuffer, JsPromise, JsUint8Array};
use boa_engine::property::PropertyDescriptor;
use boa_engine::{
    Context, JsArgs, JsError, JsNativeError, JsObject, JsResult, JsString, JsValue, NativeFunction,
    js_string,
};
use boa_gc::{Finalize, Trace};
use jobvisor_protocol::FrameError;
use jobvisor_protocol::host::{
    HostErrorKind, HostOp, HostResult, MAX_HOST_CALL_BYTES, MAX_HOST_CALLS_IN_FLIGHT, StateEntry,
};
use jobvisor_protocol::worker::{AbortReason, FromWorker, ToWorker};

use super::executor::RunStop;
use crate::channel::{Channel, QueueError, Waited};

/// Why the supervisor's side of the conversation broke the protocol during a job.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolViolation {
    #[error(
        "the supervisor answered host call {call_id}, which this worker did not make or which was already answered"
    )]
    UnknownCall { call_id: u64 },
    #[error(
        "the supervisor's reply to host call {call_id} is {len} bytes, over the limit of {max}"
    )]
    ReplyTooLarge {
        call_id: u64,
        len: usize,
        max: usize,
    },
    #[error("the supervisor sent {frame} while a job runs")]
    UnexpectedFrame { frame: &'static str },
    #[error("reading from the supervisor during a job: {0}")]
    Read(#[source] FrameError),
}

/// The host calls of this worker.
pub(crate) struct HostCalls {
    channel: Rc<Channel>,
    /// `(job_id, attempt)` of the attempt in hand.
    attempt: Cell<Option<(i64, u32)>>,
    next_call_id: Cell<u64>,
    /// Calls of the attempt in hand that await their reply.
    pending: RefCell<HashMap<u64, Pending>>,
    /// Calls of ended attempts whose reply has not come yet.
    abandoned: RefCell<HashSet<u64>>,
    /// The supervisor closed the connection: no reply can come any more.
    closed: Cell<bool>,
    shutdown_requested: Cell<bool>,
    /// The supervisor aborted the attempt in hand's signal; the run loop acts on it.
    abort_requested: Cell<Option<AbortReason>>,
    violation: RefCell<Option<ProtocolViolation>>,
}

/// How a call's promise settles with its reply.
enum Pending {
    /// `ctx.host`: a `Value` resolves with its text, a refusal rejects with an error.
    Host(ResolvingFunctions),
    /// The host API's scripts (`fetch`, `ctx.state`, …): every reply resolves with a
    /// record of it ([`result_record`]), refusals included, and the script maps it.
    Record(ResolvingFunctions),
}

/// A call refused on this side before it was sent.
struct LocalRefusal {
    kind: HostErrorKind,
    message: String,
    /// A cap was hit: `ctx.host` rejects with a `RangeError`.
    cap: bool,
}

impl HostCalls {
    pub(crate) fn new(channel: Rc<Channel>) -> Self {
        HostCalls {
            channel,
            attempt: Cell::new(None),
            next_call_id: Cell::new(1),
            pending: RefCell::new(HashMap::new()),
            abandoned: RefCell::new(HashSet::new()),
            closed: Cell::new(false),
            shutdown_requested: Cell::new(false),
            abort_requested: Cell::new(None),
            violation: RefCell::new(None),
        }
    }

    /// Calls made from now on belong to this attempt.
    pub(crate) fn begin(&self, job_id: i64, attempt: u32) {
        self.attempt.set(Some((job_id, attempt)));
    }

    /// The attempt ended: its unanswered calls are abandoned.
    pub(crate) fn end(&self) {
        self.abandon_pending();
        self.attempt.set(None);
        self.abort_requested.set(None);
    }

    /// The reason of an `Abort` frame for the attempt in hand not acted on yet.
    pub(crate) fn take_abort(&self) -> Option<AbortReason> {
        self.abort_requested.take()
    }

    /// Drops the promises of the calls in flight (their context is being reset); their
    /// replies will be dropped when they come.
    pub(crate) fn abandon_pending(&self) {
        let mut pending = self.pending.borrow_mut();
        if pending.is_empty() {
            return;
        }
        self.abandoned
            .borrow_mut()
            .extend(pending.drain().map(|(call_id, _)| call_id));
    }

    /// Whether a call of the attempt in hand still awaits a reply that can come.
    pub(crate) fn awaiting_replies(&self) -> bool {
        !self.pending.borrow().is_empty()
    }

    /// A reply that arrived between jobs: `true` if it answers an abandoned call (and is
    /// dropped), `false` if no such call was ever made.
    pub(crate) fn take_late_reply(&self, call_id: u64) -> bool {
        self.abandoned.borrow_mut().remove(&call_id)
    }

    /// The protocol violation that ended the last attempt, if any.
    pub(crate) fn take_violation(&self) -> Option<ProtocolViolation> {
        self.violation.borrow_mut().take()
    }

    /// Whether the supervisor asked the worker to stop once the job in hand is done.
    pub(crate) fn shutdown_requested(&self) -> bool {
        self.shutdown_requested.get()
    }

    /// Sends `op` for the attempt in hand and returns its call id. Refusals on this side
    /// (no attempt, no supervisor, a cap) send nothing.
    fn send(&self, op: HostOp) -> Result<u64, LocalRefusal> {
        let refuse = |kind, message: String, cap| Err(LocalRefusal { kind, message, cap });
        let Some((job_id, attempt)) = self.attempt.get() else {
            return refuse(
                HostErrorKind::Failed,
                "host calls can only be made while a job runs".to_owned(),
                false,
            );
        };
        if !self.channel.is_attached() || self.closed.get() {
            return refuse(
                HostErrorKind::Failed,
                "no supervisor is connected to answer host calls".to_owned(),
                false,
            );
        }
        let in_flight = self.pending.borrow().len() + self.abandoned.borrow().len();
        if in_flight >= MAX_HOST_CALLS_IN_FLIGHT {
            return refuse(
                HostErrorKind::Limit,
                format!(
                    "too many host calls in flight: at most {MAX_HOST_CALLS_IN_FLIGHT} may await their reply at once"
                ),
                true,
            );
        }
        let call_id = self.next_call_id.get();
        let frame = FromWorker::HostCall {
            job_id,
            attempt,
            call_id,
            op,
        };
        match self.channel.queue_within(&frame, MAX_HOST_CALL_BYTES) {
            Ok(()) => {}
            Err(QueueError::TooLarge { len, max }) => {
                return refuse(
                    HostErrorKind::Limit,
                    format!("the host call is {len} bytes, over the limit of {max} bytes"),
                    true,
                );
            }
            Err(QueueError::Encode(err)) => {
                return refuse(
                    HostErrorKind::Failed,
                    format!("cannot encode the host call: {err}"),
                    false,
                );
            }
        }
        self.channel.flush();
        if self.channel.is_broken() {
            return refuse(
                HostErrorKind::Failed,
                "the connection to the supervisor is broken".to_owned(),
                false,
            );
        }
        self.next_call_id.set(call_id + 1);
        Ok(call_id)
    }

    /// Sends `op` for the attempt in hand; the promise settles with its reply. Refusals
    /// on this side (no attempt, no supervisor, a cap) reject it at once.
    fn call(&self, op: HostOp, context: &mut Context) -> JsResult<JsPromise> {
        match self.send(op) {
            Ok(call_id) => {
                let (promise, resolvers) = JsPromise::new_pending(context);
                self.pending
                    .borrow_mut()
                    .insert(call_id, Pending::Host(resolvers));
                Ok(promise)
            }
            Err(refusal) if refusal.cap => rejected(
                JsNativeError::range().with_message(refusal.message),
                None,
                context,
            ),
            Err(refusal) => rejected(failed(&refusal.message), Some(FAILED), context),
        }
    }

    /// Sends `op` for the attempt in hand; returns its call id (0 when it was refused on
    /// this side) and a promise that resolves with the record of its reply, a refusal
    /// on either side included ([`result_record`]).
    pub(crate) fn call_for_record(
        &self,
        op: HostOp,
        context: &mut Context,
    ) -> JsResult<(u64, JsPromise)> {
        match self.send(op) {
            Ok(call_id) => {
                let (promise, resolvers) = JsPromise::new_pending(context);
                self.pending
                    .borrow_mut()
                    .insert(call_id, Pending::Record(resolvers));
                Ok((call_id, promise))
            }
            Err(refusal) => {
                let record = result_record(
                    HostResult::Refused {
                        kind: refusal.kind,
                        message: refusal.message,
                    },
                    context,
                )?;
                Ok((0, JsPromise::resolve(record, context)?))
            }
        }
    }

    /// Writes what is queued, then waits at most `timeout` (`None`: no limit) for the
    /// supervisor's next frame and acts on it: a reply settles its call's promise.
    pub(crate) fn wait(
        &self,
        timeout: Option<Duration>,
        context: &mut Context,
    ) -> Result<(), RunStop> {
        self.channel.flush();
        let waited = match self.channel.wait::<ToWorker>(timeout) {
            Ok(waited) => waited,
            Err(err) => return Err(self.violated(ProtocolViolation::Read(err))),
        };
        let frame = match waited {
            Waited::TimedOut => return Ok(()),
            Waited::Closed => {
                self.closed.set(true);
                if self.awaiting_replies() {
                    return self.reject_all("the supervisor closed the connection", context);
                }
                // Nothing can arrive any more; the loop waits for its timer all the same.
                if let Some(timeout) = timeout {
                    std::thread::sleep(timeout);
                }
                return Ok(());
            }
            Waited::Frame(frame) => frame,
        };
        match frame.message {
            ToWorker::HostReply { call_id, result } => {
                if frame.len > MAX_HOST_CALL_BYTES {
                    return Err(self.violated(ProtocolViolation::ReplyTooLarge {
                        call_id,
                        len: frame.len,
                        max: MAX_HOST_CALL_BYTES,
                    }));
                }
                let pending = self.pending.borrow_mut().remove(&call_id);
                match pending {
                    Some(pending) => settle(&pending, result, context),
                    None if self.take_late_reply(call_id) => Ok(()),
                    None => Err(self.violated(ProtocolViolation::UnknownCall { call_id })),
                }
            }
            ToWorker::Shutdown => {
                self.shutdown_requested.set(true);
                Ok(())
            }
            // The run loop aborts `ctx.signal`; an abort of another attempt (one that ended
            // before the frame came) has nothing to abort.
            ToWorker::Abort {
                job_id,
                attempt,
                reason,
            } => {
                if self.attempt.get() == Some((job_id, attempt)) {
                    self.abort_requested.set(Some(reason));
                }
                Ok(())
            }
            ToWorker::Run(_) => {
                Err(self.violated(ProtocolViolation::UnexpectedFrame { frame: "a Run" }))
            }
            ToWorker::Ping { .. } => {
                Err(self.violated(ProtocolViolation::UnexpectedFrame { frame: "a Ping" }))
            }
        }
    }

    fn violated(&self, violation: ProtocolViolation) -> RunStop {
        *self.violation.borrow_mut() = Some(violation);
        RunStop::Protocol
    }

    fn reject_all(&self, why: &str, context: &mut Context) -> Result<(), RunStop> {
        let pending: Vec<Pending> = self.pending.borrow_mut().drain().map(|(_, p)| p).collect();
        for pending in pending {
            let refused = HostResult::Refused {
                kind: HostErrorKind::Failed,
                message: why.to_owned(),
            };
            match pending {
                Pending::Record(_) => settle(&pending, refused, context)?,
                Pending::Host(resolvers) => {
                    let error = failed(why).into_opaque(context);
                    set_name(&error, FAILED, context).map_err(RunStop::Failed)?;
                    resolvers
                        .reject
                        .call(&JsValue::undefined(), &[error.into()], context)
                        .map_err(RunStop::Failed)?;
                }
            }
        }
        Ok(())
    }
}

/// Resolves or rejects one call's promise with its reply.
fn settle(pending: &Pending, result: HostResult, context: &mut Context) -> Result<(), RunStop> {
    let resolvers = match pending {
        Pending::Host(resolvers) => resolvers,
        Pending::Record(resolvers) => {
            let record = result_record(result, context).map_err(RunStop::Failed)?;
            return resolvers
                .resolve
                .call(&JsValue::undefined(), &[record], context)
                .map(|_| ())
                .map_err(RunStop::Failed);
        }
    };
    let settled = match result {
        HostResult::Value { text } => resolvers.resolve.call(
            &JsValue::undefined(),
            &[JsString::from(text.as_str()).into()],
            context,
        ),
        HostResult::Refused { kind, message } => {
            let error = refusal(kind, &message, context).map_err(RunStop::Failed)?;
            resolvers
                .reject
                .call(&JsValue::undefined(), &[error.into()], context)
        }
        _ => resolvers.resolve.call(&JsValue::undefined(), &[], context),
    };
    settled.map(|_| ()).map_err(RunStop::Failed)
}

/// A reply as the host API's scripts read it: an object whose `type` names the variant
/// (`value`, `refused`, `response`, `chunk`, `state`, `written`, `entries`, `bytes`,
/// `done`), with the variant's fields in camel case; bytes (a response's first chunk, a
/// body chunk, a signature) as a `Uint8Array` in `data`, and state values as their JSON
/// text.
pub(crate) fn result_record(result: HostResult, context: &mut Context) -> JsResult<JsValue> {
    use serde_json::json;
    let entry = |entry: StateEntry| json!({ "key": entry.key, "value": entry.value, "version": entry.version });
    let (fields, bytes) = match result {
        HostResult::Value { text } => (json!({ "type": "value", "text": text }), None),
        HostResult::Refused { kind, message } => (
            json!({ "type": "refused", "kind": format!("{kind:?}"), "message": message }),
            None,
        ),
        HostResult::Response(response) => (
            json!({
                "type": "response",
                "status": response.status,
                "statusText": response.status_text,
                "headers": response.headers,
                "url": response.url,
                "redirected": response.redirected,
                "done": response.done,
            }),
            Some(response.body),
        ),
        HostResult::BodyChunk { data, done } => {
            (json!({ "type": "chunk", "done": done }), Some(data))
        }
        HostResult::State(found) => (json!({ "type": "state", "entry": found.map(entry) }), None),
        HostResult::StateWritten => (json!({ "type": "written" }), None),
        HostResult::StateEntries { entries, more } => (
            json!({
                "type": "entries",
                "entries": entries.into_iter().map(entry).collect::<Vec<_>>(),
                "more": more,
            }),
            None,
        ),
        HostResult::Bytes { data } => (json!({ "type": "bytes" }), Some(data)),
        HostResult::Done => (json!({ "type": "done" }), None),
    };
    let record = JsValue::from_json(&fields, context)?;
    if let (Some(bytes), Some(object)) = (bytes, record.as_object()) {
        let data = JsUint8Array::from_array_buffer(
            JsArrayBuffer::from_byte_block(AlignedVec::from_iter(0, bytes), context)?,
            context,
        )?;
        object.set(js_string!("data"), data, true, context)?;
    }
    Ok(record)
}

/// The error a refused call rejects with: an `Error` named after the kind of refusal,
/// with the host's message.
fn refusal(kind: HostErrorKind, message: &str, context: &mut Context) -> JsResult<JsObject> {
    let (name, what) = match kind {
        HostErrorKind::Denied => ("HostCallDenied", "denied by the host"),
        HostErrorKind::Invalid => ("HostCallInvalid", "refused by the host as invalid"),
        HostErrorKind::Failed => (FAILED, "failed in the host"),
        HostErrorKind::Limit => ("HostCallLimit", "over a limit of the attempt"),
        HostErrorKind::Timeout => ("TimeoutError", "timed out"),
        HostErrorKind::Aborted => ("AbortError", "aborted"),
        HostErrorKind::Conflict => ("StateConflict", "in conflict"),
    };
    let error = JsNativeError::error()
        .with_message(format!("host call {what}: {message}"))
        .into_opaque(context);
    set_name(&error, name, context)?;
    Ok(error)
}

/// The name of the error of a call that failed, on either side.
const FAILED: &str = "HostCallFailed";

/// The error of a call that failed on this side (name it [`FAILED`]).
fn failed(message: &str) -> JsNativeError {
    JsNativeError::error().with_message(format!("host call failed: {message}"))
}

/// A promise rejected with `error`, renamed `name` if given.
fn rejected(
    error: JsNativeError,
    name: Option<&str>,
    context: &mut Context,
) -> JsResult<JsPromise> {
    let error = error.into_opaque(context);
    if let Some(name) = name {
        set_name(&error, name, context)?;
    }
    JsPromise::reject(JsError::from_opaque(error.into()), context)
}

/// Gives an error object its own `name`, as a subclass's prototype would.
fn set_name(error: &JsObject, name: &str, context: &mut Context) -> JsResult<()> {
    error.define_property_or_throw(
        js_string!("name"),
        PropertyDescriptor::builder()
            .value(JsString::from(name))
            .writable(true)
            .enumerable(false)
            .configurable(true),
        context,
    )?;
    Ok(())
}

/// What `ctx.host`'s functions hold: the worker's host calls.
#[derive(Trace, Finalize)]
struct Capture {
    #[unsafe_ignore_trace]
    calls: Rc<HostCalls>,
}

/// Builds the `ctx.host` object of one context: `echo(text)`, a diagnostic that sends
/// `text` to the host and resolves with the host's answer (the same text).
pub(crate) fn host_object(calls: &Rc<HostCalls>, context: &mut Context) -> JsObject {
    let echo = NativeFunction::from_copy_closure_with_captures(
        echo,
        Capture {
            calls: calls.clone(),
        },
    );
    ObjectInitializer::new(context)
        .function(echo, js_string!("echo"), 1)
        .build()
}

/// Puts `host` on a job's `ctx`, not enumerable: `JSON.stringify(ctx)` and
/// `Object.keys(ctx)` stay what they were.
pub(crate) fn attach(ctx: &JsValue, host: &JsObject, context: &mut Context) -> JsResult<()> {
    let Some(ctx) = ctx.as_object() else {
        return Err(JsNativeError::typ()
            .with_message("the job context is not an object")
            .into());
    };
    ctx.define_property_or_throw(
        js_string!("host"),
        PropertyDescriptor::builder()
            .value(host.clone())
            .writable(false)
            .enumerable(false)
            .configurable(false),
        context,
    )?;
    Ok(())
}

/// `ctx.host.echo(text)`.
fn echo(
    _this: &JsValue,
    args: &[JsValue],
    capture: &Capture,
    context: &mut Context,
) -> JsResult<JsValue> {
    let text = args.get_or_undefined(0);
    let text = if text.is_undefined() {
        Err(JsNativeError::typ()
            .with_message("ctx.host.echo needs the text to send")
            .into())
    } else {
        text.to_string(context)
    };
    let text = text.and_then(|text| {
        text.to_std_string().map_err(|_| {
            JsNativeError::typ()
                .with_message("ctx.host.echo: the text is not valid Unicode (a lone surrogate)")
                .into()
        })
    });
    let promise = match text {
        Ok(text) => capture.calls.call(HostOp::Echo { text }, context)?,
        // A limit hit while converting cannot be caught, so it is not a rejection.
        Err(err) if err.as_engine().is_some() => return Err(err),
        Err(err) => JsPromise::reject(err, context)?,
    };
    Ok(promise.into())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::io::Read;
    use std::os::unix::net::UnixStream;
    use std::rc::Rc;

    use jobvisor_protocol::worker::Outcome;

    use crate::channel::Channel;
    use crate::engine::Engine;
    use crate::engine::tests::job;

    /// Runs `source` as job `id`, each id a script version of its own.
    fn run(engine: &mut Engine, id: i64, source: &str) -> serde_json::Value {
        let mut job = job(id, Some(source), "{}");
        job.script.hash = format!("h{id}");
        match engine.run(&job).0 {
            Outcome::Ok { result: Some(text) } => serde_json::from_str(&text).unwrap(),
            other => panic!("expected a result, got {other:?}"),
        }
    }

    #[test]
    fn ctx_host_is_there_but_not_enumerable() {
        let mut engine = Engine::new(Rc::new(Channel::detached()));
        let source = "export default (p, ctx) => \
                      [Object.keys(ctx), JSON.stringify(ctx).includes('host'), typeof ctx.host.echo]";
        assert_eq!(
            run(&mut engine, 1, source),
            serde_json::json!([["job"], false, "function"])
        );
    }

    #[test]
    fn without_a_supervisor_a_call_rejects_with_a_catchable_error() {
        let mut engine = Engine::new(Rc::new(Channel::detached()));
        let source = "export default async (p, ctx) => { \
                      try { await ctx.host.echo('x'); return 'resolved' } \
                      catch (e) { return [e instanceof Error, e.name, e.message] } }";
        assert_eq!(
            run(&mut engine, 1, source),
            serde_json::json!([
                true,
                "HostCallFailed",
                "host call failed: no supervisor is connected to answer host calls"
            ])
        );
    }

    #[test]
    fn the_caps_reject_a_call_before_it_is_sent() {
        let (ours, theirs) = UnixStream::pair().unwrap();
        theirs.set_nonblocking(true).unwrap();
        let mut engine = Engine::new(Rc::new(Channel::new(ours)));
        let too_large = "export default async (p, ctx) => { \
                         try { await ctx.host.echo('x'.repeat(2 << 20)) } \
                         catch (e) { return [e.name, e.message] } }";
        let value = run(&mut engine, 1, too_large);
        assert_eq!(value[0], "RangeError", "{value}");
        assert!(
            value[1]
                .as_str()
                .unwrap()
                .ends_with("over the limit of 2097152 bytes"),
            "{value}"
        );
        let mut nothing = [0_u8; 1];
        assert!(
            (&theirs).read(&mut nothing).is_err(),
            "nothing was sent for the refused call"
        );

        let too_many = "export default async (p, ctx) => { \
                        for (let i = 0; i < 64; i++) ctx.host.echo('x'); \
                        try { await ctx.host.echo('one too many') } \
                        catch (e) { return [e.name, e.message] } }";
        let value = run(&mut engine, 2, too_many);
        assert_eq!(
            value,
            serde_json::json!([
                "RangeError",
                "too many host calls in flight: at most 64 may await their reply at once"
            ])
        );
        // The 64 unanswered calls were abandoned with their job and still count.
        let value = run(&mut engine, 3, too_many);
        assert_eq!(value[0], "RangeError", "{value}");
    }
}
