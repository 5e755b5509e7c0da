//! `DOMException`, `Event`, `EventTarget`, `AbortController` and `AbortSignal` (with
//! `AbortSignal.timeout` and `AbortSignal.any`), written in JavaScript (`events.js`).
//!
//! They replace the engine runtime's `AbortController` / `AbortSignal`, which are not
//! event targets, have no `onabort`, `timeout` or `any`, and so cannot be combined
//! with the rest.

use boa_engine::{Context, JsObject, JsResult};

use super::bundled;

/// The globals `events.js` defines.
const GLOBALS: [&str; 5] = [
    "DOMException",
    "Event",
    "EventTarget",
    "AbortController",
    "AbortSignal",
];

/// Defines the event globals, compiled on first use; `setTimeout` and `console` must be
/// registered first. They stay accessors answering from a holder
/// ([`bundled::define_held`] says why): a first use inside a loop, such as
/// `e instanceof DOMException`, must read the same value on the next turn.
pub(crate) fn register(context: &mut Context) -> JsResult<()> {
    let global = context.global_object();
    let holder = JsObject::with_null_proto();
    bundled::define_held(&global, &GLOBALS, &holder, (), install, context)
}

fn install(holder: &JsObject, _: &(), context: &mut Context) -> JsResult<()> {
    bundled::install(
        "events.js",
        include_str!("events.js"),
        &[holder.clone().into()],
        context,
    )
}

#[cfg(test)]
mod tests {
    fn eval(code: &str) -> String {
        crate::engine::bundled::eval_with(super::register, code)
    }

    // Expected strings below are node 20's output for the same code.

    #[test]
    fn event_target_runs_listeners_once_deduplicated_and_removable() {
        let code = r#"
            const out = []; const t = new EventTarget();
            const once = (e) => out.push("once:" + e.type + ":" + (e.target === t) + ":" + e.eventPhase);
            const always = function (e) { out.push("always:" + (this === t)); };
            t.addEventListener("ping", once, { once: true });
            t.addEventListener("ping", always);
            t.addEventListener("ping", always);
            t.addEventListener("ping", { handleEvent(e) { out.push("object:" + e.cancelable); e.preventDefault(); } });
            out.push(t.dispatchEvent(new Event("ping", { cancelable: true })));
            out.push(t.dispatchEvent(new Event("ping")));
            t.removeEventListener("ping", always);
            t.dispatchEvent(new Event("ping"));
            const e = new Event("x");
            out.push(e.eventPhase, e.target, e.bubbles, e.defaultPrevented, Event.AT_TARGET);
            JSON.stringify(out)"#;
        assert_eq!(
            eval(code),
            r#"["once:ping:true:2","always:true","object:true",false,"always:true","object:false",true,"object:false",0,null,false,false,2]"#
        );
    }

    #[test]
    fn abort_signals_are_event_targets_with_abort_and_any() {
        let code = r#"
            const out = []; const c = new AbortController();
            c.signal.addEventListener("abort", (ev) => out.push("aborted:" + ev.type));
            c.signal.onabort = () => out.push("onabort");
            c.abort();
            const r = c.signal.reason;
            out.push(c.signal.aborted, r.name, r.message, r.code, r instanceof DOMException, r instanceof Error);
            try { c.signal.throwIfAborted(); } catch (err) { out.push("thrown:" + err.name); }
            const pre = AbortSignal.abort("why"); out.push(pre.aborted, pre.reason);
            const any = AbortSignal.any([new AbortController().signal, pre]); out.push(any.aborted, any.reason);
            const c2 = new AbortController(); const any2 = AbortSignal.any([c2.signal]);
            c2.abort("later"); out.push(any2.aborted, any2.reason);
            try { new AbortSignal(); } catch (err) { out.push(err.name); }
            out.push(Object.prototype.toString.call(c.signal), c.signal instanceof EventTarget);
            JSON.stringify(out)"#;
        assert_eq!(
            eval(code),
            r#"["aborted:abort","onabort",true,"AbortError","This operation was aborted",20,true,true,"thrown:AbortError",true,"why",true,"why",true,"later","TypeError","[object AbortSignal]",true]"#
        );
    }

    #[test]
    fn dom_exception_has_name_message_and_legacy_code() {
        let code = r#"
            const d = new DOMException("m", "NotFoundError");
            JSON.stringify([d.name, d.message, d.code, String(d), DOMException.NOT_FOUND_ERR,
                new DOMException().name, DOMException.TIMEOUT_ERR])"#;
        assert_eq!(
            eval(code),
            r#"["NotFoundError","m",8,"NotFoundError: m",8,"Error",23]"#
        );
    }

    #[test]
    fn a_throwing_listener_does_not_stop_the_others() {
        let code = r#"
            const t = new EventTarget(); const out = [];
            t.addEventListener("e", () => { throw new Error("boom") });
            t.addEventListener("e", () => out.push("second"));
            out.push(t.dispatchEvent(new Event("e")));
            out.join()"#;
        assert_eq!(eval(code), "second,true");
    }

    #[test]
    fn a_first_use_inside_a_loop_reads_the_class_on_every_turn() {
        let code = r#"
            const out = [];
            for (let i = 0; i < 3; i++) out.push(new Error("x") instanceof DOMException);
            out.join()"#;
        assert_eq!(eval(code), "false,false,false");
    }

    #[test]
    fn a_bad_timeout_is_refused_with_its_value() {
        let code = "try { AbortSignal.timeout(-1) } catch (e) { e.name + ': ' + e.message }";
        assert_eq!(
            eval(code),
            "RangeError: AbortSignal.timeout: the delay must be a non-negative number of milliseconds, not -1"
        );
    }
}
