//! The host API scripts see: `fetch` with `Request`, `Response` and `Headers` (globals),
//! and on each job's `ctx`: `state`, `secrets`, `enqueue`, `signal` and `deadline`.
//!
//! The classes, argument checks and the mapping of refusals to the errors scripts expect
//! are JavaScript, each file compiled on the first use of what it defines in a context:
//! `fetch.js` (the globals), `job_api.js` (`state`, `secrets`, `enqueue`) and
//! `job_signal.js` (`signal`). Every operation is one host call made through the native `call(op, bytes)`
//! handed to those scripts, which no script can reach by name; its reply arrives as a
//! record ([`super::host::result_record`]). `ctx.signal` belongs to the run loop, which
//! aborts it for the supervisor's `Abort` frame or at the job's signal margin.
//!
//! The members of `ctx` are accessors of its prototype (whose own prototype is
//! `Object.prototype`), and `deadline` its own property, none enumerable, so that
//! `JSON.stringify(ctx)` and `Object.keys(ctx)` stay `{ job }`.

use std::rc::Rc;

use boa_engine::object::ObjectInitializer;
use boa_engine::object::builtins::{AlignedVec, JsArray, JsArrayBuffer};
use boa_engine::property::PropertyDescriptor;
use boa_engine::{
    Context, JsArgs, JsNativeError, JsObject, JsResult, JsString, JsValue, NativeFunction,
    js_string,
};
use boa_gc::{Finalize, Trace};
use jobvisor_protocol::host::{HostOp, secret_ref};

use super::bundled;
use super::executor::RunLoop;

/// The globals `fetch.js` defines.
const GLOBALS: [&str; 4] = ["fetch", "Headers", "Request", "Response"];

/// The members of `ctx` that `job_api.js` defines (on the holder).
const CTX_MEMBERS: [&str; 3] = ["state", "secrets", "enqueue"];

/// What the host API's natives hold: the run loop of their context, and through it the
/// worker's host calls.
#[derive(Clone, Trace, Finalize)]
struct Capture {
    #[unsafe_ignore_trace]
    run_loop: Rc<RunLoop>,
}

/// The host API of one context: the prototype every job's `ctx` gets, whose accessors
/// (`state`, `secrets`, `enqueue`, `signal`) answer from the holder its scripts fill.
pub(crate) struct HostApi {
    proto: JsObject,
}

/// Defines the globals of `fetch.js` in `context` and makes the getters of `ctx`'s
/// members; nothing is compiled until one of them is used.
pub(crate) fn register(run_loop: &Rc<RunLoop>, context: &mut Context) -> JsResult<HostApi> {
    let holder = JsObject::with_null_proto();
    let capture = Capture {
        run_loop: run_loop.clone(),
    };
    let global = context.global_object();
    bundled::define_held(
        &global,
        &GLOBALS,
        &holder,
        capture.clone(),
        install_fetch,
        context,
    )?;
    let realm = context.realm().clone();
    let mut getters = Vec::with_capacity(CTX_MEMBERS.len() + 1);
    for &name in &CTX_MEMBERS {
        let getter = NativeFunction::from_copy_closure_with_captures(
            move |_, _, (holder, capture), context| {
                let key = JsString::from(name);
                if !holder.has_own_property(key.clone(), context)? {
                    install_job_api(holder, capture, context)?;
                }
                holder.get(key, context)
            },
            (holder.clone(), capture.clone()),
        );
        getters.push((name, getter.to_js_function(&realm)));
    }
    let signal = NativeFunction::from_copy_closure_with_captures(
        |_, _, (holder, capture), context| {
            let signal = capture.run_loop.job_signal(
                |context| {
                    if !holder.has_own_property(js_string!("makeSignal"), context)? {
                        bundled::install(
                            "job_signal.js",
                            include_str!("job_signal.js"),
                            &[holder.clone().into()],
                            context,
                        )?;
                    }
                    let made = holder
                        .get(js_string!("makeSignal"), context)?
                        .as_function()
                        .ok_or_else(|| {
                            JsNativeError::typ().with_message("the host API has no makeSignal")
                        })?
                        .call(&JsValue::undefined(), &[], context)?;
                    let made = made.as_object().ok_or_else(|| {
                        JsNativeError::typ().with_message("makeSignal answered no pair")
                    })?;
                    let signal = made.get(0, context)?.as_object();
                    let abort = made.get(1, context)?.as_function();
                    signal.zip(abort).ok_or_else(|| {
                        JsNativeError::typ()
                            .with_message("makeSignal answered no signal and abort function")
                            .into()
                    })
                },
                context,
            )?;
            Ok(signal.into())
        },
        (holder, capture),
    );
    getters.push(("signal", signal.to_js_function(&realm)));
    let proto = JsObject::with_object_proto(context.intrinsics());
    for (name, getter) in getters {
        proto.define_property_or_throw(
            JsString::from(name),
            PropertyDescriptor::builder()
                .get(getter)
                .enumerable(false)
                .configurable(false),
            context,
        )?;
    }
    Ok(HostApi { proto })
}

/// Gives a job's `ctx` the host API's members, none enumerable: the accessors through its
/// prototype (one object per context, so a job pays for no definitions), `deadline` as
/// its own value, the epoch time in ms when the job's deadline runs out (`null` for a job
/// without one).
pub(crate) fn attach(
    ctx: &JsValue,
    api: &HostApi,
    deadline: Option<f64>,
    context: &mut Context,
) -> JsResult<()> {
    let Some(ctx) = ctx.as_object() else {
        return Err(JsNativeError::typ()
            .with_message("the job context is not an object")
            .into());
    };
    ctx.set_prototype(Some(api.proto.clone()));
    let deadline = deadline.map_or(JsValue::null(), JsValue::from);
    ctx.define_property_or_throw(
        js_string!("deadline"),
        PropertyDescriptor::builder()
            .value(deadline)
            .writable(false)
            .enumerable(false)
            .configurable(false),
        context,
    )?;
    Ok(())
}

/// The native helpers of the host API's scripts.
fn natives(capture: &Capture, context: &mut Context) -> JsObject {
    let call = NativeFunction::from_copy_closure_with_captures(native_call, capture.clone());
    ObjectInitializer::new(context)
        .function(call, js_string!("call"), 2)
        .function(
            NativeFunction::from_fn_ptr(native_secret_ref),
            js_string!("secretRef"),
            1,
        )
        .function(
            NativeFunction::from_fn_ptr(utf8_encode),
            js_string!("utf8Encode"),
            1,
        )
        .function(
            NativeFunction::from_fn_ptr(utf8_decode),
            js_string!("utf8Decode"),
            1,
        )
        .build()
}

/// Compiles `fetch.js`, which puts the four globals on `holder`.
fn install_fetch(holder: &JsObject, capture: &Capture, context: &mut Context) -> JsResult<()> {
    let helpers = [natives(capture, context).into(), holder.clone().into()];
    bundled::install("fetch.js", include_str!("fetch.js"), &helpers, context)
}

/// Compiles `job_api.js`, which puts `state`, `secrets` and `enqueue` on `holder`.
fn install_job_api(holder: &JsObject, capture: &Capture, context: &mut Context) -> JsResult<()> {
    let helpers = [natives(capture, context).into(), holder.clone().into()];
    bundled::install("job_api.js", include_str!("job_api.js"), &helpers, context)
}

/// `call(op, bytes)`: sends the host op `op` (a `HostOp` as JSON text, serde's external
/// tagging) with `bytes` (an `ArrayBuffer`, or `undefined`) as a fetch's body or the data
/// to sign. Answers `[callId, promise]`: the promise resolves with the reply's record,
/// and `callId` is 0 when the call was refused before it was sent.
fn native_call(
    _: &JsValue,
    args: &[JsValue],
    capture: &Capture,
    context: &mut Context,
) -> JsResult<JsValue> {
    let text = args
        .get_or_undefined(0)
        .as_string()
        .map(|text| text.to_std_string_lossy())
        .ok_or_else(|| JsNativeError::typ().with_message("call: the op must be JSON text"))?;
    let mut op: HostOp = serde_json::from_str(&text).map_err(|e| {
        JsNativeError::typ().with_message(format!("call: the op is not a host op: {e}"))
    })?;
    let bytes = match args.get_or_undefined(1) {
        value if value.is_undefined() => None,
        value => Some(
            value
                .as_object()
                .and_then(|object| JsArrayBuffer::from_object(object).ok())
                .and_then(|buffer| buffer.to_vec())
                .ok_or_else(|| {
                    JsNativeError::typ().with_message("call: the bytes must be an ArrayBuffer")
                })?,
        ),
    };
    if let Some(bytes) = bytes {
        match &mut op {
            HostOp::Fetch(request) => request.body = Some(bytes),
            HostOp::Sign { data, .. } => *data = bytes,
            _ => {
                return Err(JsNativeError::typ()
                    .with_message("call: only a fetch or a signature takes bytes")
                    .into());
            }
        }
    }
    let (call_id, promise) = capture.run_loop.host().call_for_record(op, context)?;
    // Call ids count from 1, far below 2^53: the number is exact.
    let id = JsValue::from(call_id as f64);
    Ok(JsArray::from_iter([id, promise.into()], context).into())
}

/// `secretRef(name)`: the reference to secret `name` the host replaces at egress.
fn native_secret_ref(_: &JsValue, args: &[JsValue], context: &mut Context) -> JsResult<JsValue> {
    let name = args
        .get_or_undefined(0)
        .to_string(context)?
        .to_std_string_lossy();
    Ok(JsString::from(secret_ref(&name)).into())
}

/// `utf8Encode(text)`: the UTF-8 bytes of `text` as an `ArrayBuffer` (a lone surrogate
/// becomes U+FFFD, as for any USVString).
fn utf8_encode(_: &JsValue, args: &[JsValue], context: &mut Context) -> JsResult<JsValue> {
    let text = args
        .get_or_undefined(0)
        .to_string(context)?
        .to_std_string_lossy();
    let block = AlignedVec::from_iter(0, text.into_bytes());
    Ok(JsArrayBuffer::from_byte_block(block, context)?.into())
}

/// `utf8Decode(buffer)`: the text of UTF-8 bytes (an `ArrayBuffer`) as `TextDecoder`
/// reads them: a leading byte order mark dropped, malformed sequences as U+FFFD.
fn utf8_decode(_: &JsValue, args: &[JsValue], _: &mut Context) -> JsResult<JsValue> {
    let bytes = args
        .get_or_undefined(0)
        .as_object()
        .and_then(|object| JsArrayBuffer::from_object(object).ok())
        .and_then(|buffer| buffer.to_vec())
        .ok_or_else(|| JsNativeError::typ().with_message("utf8Decode: expected an ArrayBuffer"))?;
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    Ok(JsString::from(String::from_utf8_lossy(bytes).as_ref()).into())
}

#[cfg(test)]
mod tests;
