//! `global` (node's name for `globalThis`), `self` (the browsers' and worker runtimes'
//! name for it) and `performance`: `now()` and `timeOrigin`.
//!
//! The time origin is the moment the context was built; `now()` counts from it on the
//! monotonic clock, so it never goes backwards when the wall clock is set.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use boa_engine::object::ObjectInitializer;
use boa_engine::property::Attribute;
use boa_engine::{Context, JsResult, JsValue, NativeFunction, js_string};

/// Defines `global`, `self` and `performance` on the context's global object.
pub(crate) fn register(context: &mut Context) -> JsResult<()> {
    let global = context.global_object();
    // Browser builds of npm packages read `self` at load time to find the global object.
    for alias in [js_string!("global"), js_string!("self")] {
        context.register_global_property(
            alias,
            global.clone(),
            Attribute::WRITABLE | Attribute::CONFIGURABLE,
        )?;
    }

    let origin = Instant::now();
    let time_origin_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |since| since.as_secs_f64() * 1_000.0);
    let now = NativeFunction::from_copy_closure(move |_, _, _| {
        Ok(JsValue::from(origin.elapsed().as_secs_f64() * 1_000.0))
    });
    let performance = ObjectInitializer::new(context)
        .function(now, js_string!("now"), 0)
        .property(
            js_string!("timeOrigin"),
            time_origin_ms,
            Attribute::READONLY | Attribute::ENUMERABLE | Attribute::CONFIGURABLE,
        )
        .build();
    context.register_global_property(
        js_string!("performance"),
        performance,
        Attribute::WRITABLE | Attribute::CONFIGURABLE,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use boa_engine::{Context, Source};

    fn eval(context: &mut Context, code: &str) -> String {
        let value = context.eval(Source::from_bytes(code)).unwrap();
        value.to_string(context).unwrap().to_std_string_escaped()
    }

    fn context() -> Context {
        let mut context = Context::default();
        super::register(&mut context).unwrap();
        context
    }

    #[test]
    fn global_and_self_are_the_global_object() {
        let mut context = context();
        assert_eq!(eval(&mut context, "global === globalThis"), "true");
        assert_eq!(eval(&mut context, "global.Math === Math"), "true");
        assert_eq!(eval(&mut context, "self === globalThis"), "true");
    }

    #[test]
    fn now_is_monotonic_and_counts_from_the_time_origin() {
        let mut context = context();
        let code = "let a = performance.now(); let b = performance.now(); \
                    typeof a === 'number' && a >= 0 && b >= a && a < 60000";
        assert_eq!(eval(&mut context, code), "true");
    }

    #[test]
    fn time_origin_is_the_wall_clock_at_context_creation() {
        let mut context = context();
        let code = "Math.abs(performance.timeOrigin + performance.now() - Date.now()) < 1000";
        assert_eq!(eval(&mut context, code), "true");
    }
}
