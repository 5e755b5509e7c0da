//! `URLSearchParams` and a working `URL.prototype.searchParams` (the engine's own getter
//! only throws).
//!
//! The class itself is JavaScript (`url_search_params.js`), because its iteration and
//! argument handling are plain language; the application/x-www-form-urlencoded parser
//! and byte serialiser are the `form_urlencoded` crate's WHATWG implementation, handed
//! to that script as two native functions that no script can reach by name.

use boa_engine::object::builtins::JsArray;
use boa_engine::{Context, JsArgs, JsResult, JsString, JsValue, NativeFunction};

use super::bundled;

/// Defines `URLSearchParams` and replaces the `URL.prototype.searchParams` getter,
/// compiled on first use of either.
pub(crate) fn register(context: &mut Context) -> JsResult<()> {
    let global = context.global_object();
    bundled::define_lazily(&global, "URLSearchParams", install, context)?;
    let url = bundled::prototype_of("URL", context)?;
    bundled::define_lazily(&url, "searchParams", install, context)
}

fn install(context: &mut Context) -> JsResult<()> {
    let parse = NativeFunction::from_fn_ptr(parse_query).to_js_function(context.realm());
    let encode = NativeFunction::from_fn_ptr(encode_component).to_js_function(context.realm());
    bundled::install(
        "url_search_params.js",
        include_str!("url_search_params.js"),
        &[parse.into(), encode.into()],
        context,
    )
}

/// `parse(query)`: the name/value pairs of a query (without its `?`) as a flat array
/// `[name, value, name, value, ...]`, decoded as WHATWG's form-urlencoded parser does.
fn parse_query(_: &JsValue, args: &[JsValue], context: &mut Context) -> JsResult<JsValue> {
    let query = args
        .get_or_undefined(0)
        .to_string(context)?
        .to_std_string_lossy();
    let flat = form_urlencoded::parse(query.as_bytes()).flat_map(|(name, value)| {
        [
            JsValue::from(JsString::from(name.as_ref())),
            JsValue::from(JsString::from(value.as_ref())),
        ]
    });
    Ok(JsArray::from_iter(flat, context).into())
}

/// `encode(text)`: `text` in the form-urlencoded byte serialisation (space as `+`).
fn encode_component(_: &JsValue, args: &[JsValue], context: &mut Context) -> JsResult<JsValue> {
    let text = args
        .get_or_undefined(0)
        .to_string(context)?
        .to_std_string_lossy();
    let encoded: String = form_urlencoded::byte_serialize(text.as_bytes()).collect();
    Ok(JsString::from(encoded).into())
}

#[cfg(test)]
mod tests {
    fn eval(code: &str) -> String {
        crate::engine::bundled::eval_with(super::register, code)
    }

    #[test]
    fn the_class_is_compiled_on_first_use_and_then_answered_by_an_accessor() {
        let code = r#"
            const before = Object.getOwnPropertyDescriptor(globalThis, "URLSearchParams").get;
            const made = new URLSearchParams("a=1").get("a");
            const after = Object.getOwnPropertyDescriptor(globalThis, "URLSearchParams");
            [typeof before, made, typeof after.get, after.get === before, after.enumerable,
                typeof URLSearchParams, URLSearchParams.name].join()"#;
        assert_eq!(
            eval(code),
            "function,1,function,false,false,function,URLSearchParams"
        );
    }

    #[test]
    fn a_first_use_inside_a_loop_reads_the_class_on_every_turn() {
        let code = r#"
            const out = [];
            for (let i = 0; i < 3; i++) out.push(typeof URLSearchParams, ({}) instanceof URLSearchParams);
            out.join()"#;
        assert_eq!(eval(code), "function,false,function,false,function,false");
    }

    #[test]
    fn assigning_the_global_before_use_replaces_it() {
        assert_eq!(eval("URLSearchParams = 5; URLSearchParams"), "5");
        assert_eq!(eval("new URL('http://h/?q=1').searchParams.get('q')"), "1");
    }

    // Expected strings below are node 20's output for the same code.

    #[test]
    fn parses_and_serialises_as_whatwg_form_urlencoded() {
        let code = r#"
            const p = new URLSearchParams("?a=1&b=2&a=3&c=%20x+y&d=%E2%82%AC&e&=f&%zz=%G1");
            const out = [p.toString(), p.get("a"), p.getAll("a").join(","), String(p.get("nope")),
                p.has("b"), p.has("a", "3"), p.has("a", "9"), p.size];
            p.append("sp ace", "ä/ö?&=+~*!'()");
            out.push(p.toString(), new URLSearchParams("a=\uD800").toString());
            JSON.stringify(out)"#;
        assert_eq!(
            eval(code),
            r#"["a=1&b=2&a=3&c=+x+y&d=%E2%82%AC&e=&=f&%25zz=%25G1","1","1,3","null",true,true,false,8,"a=1&b=2&a=3&c=+x+y&d=%E2%82%AC&e=&=f&%25zz=%25G1&sp+ace=%C3%A4%2F%C3%B6%3F%26%3D%2B%7E*%21%27%28%29","a=%EF%BF%BD"]"#
        );
    }

    #[test]
    fn set_delete_sort_and_iteration_follow_the_standard() {
        let code = r#"
            const p = new URLSearchParams("b=1&a=2&b=3&c=4&a=5");
            p.set("b", "x"); p.delete("c"); p.delete("a", "nope"); p.append("a", "0");
            const out = [p.toString()];
            p.sort();
            out.push([...p.keys()].join("|"), [...p.values()].join("|"), JSON.stringify([...p]));
            const seen = []; p.forEach((v, k, o) => seen.push(k + ":" + v + ":" + (o === p)));
            out.push(seen.join(","), Object.prototype.toString.call(p));
            JSON.stringify(out)"#;
        assert_eq!(
            eval(code),
            r#"["b=x&a=2&a=5&a=0","a|a|a|b","2|5|0|x","[[\"a\",\"2\"],[\"a\",\"5\"],[\"a\",\"0\"],[\"b\",\"x\"]]","a:2:true,a:5:true,a:0:true,b:x:true","[object URLSearchParams]"]"#
        );
    }

    #[test]
    fn builds_from_records_and_pairs_and_refuses_bad_pairs() {
        let code = r#"
            const out = [new URLSearchParams({ x: "1", y: "z w" }).toString(),
                new URLSearchParams([["q", "1"], ["q", "2"]]).toString(),
                new URLSearchParams(new Map([["m", "é"]])).toString()];
            try { new URLSearchParams([["only"]]) } catch (e) { out.push(e.name + ": " + e.message) }
            try { new URLSearchParams().append("a") } catch (e) { out.push(e.name) }
            try { URLSearchParams.prototype.get.call({}, "a") } catch (e) { out.push(e.name) }
            JSON.stringify(out)"#;
        assert_eq!(
            eval(code),
            r#"["x=1&y=z+w","q=1&q=2","m=%C3%A9","TypeError: URLSearchParams: each entry of the init sequence must have exactly 2 items, one has 1","TypeError","TypeError"]"#
        );
    }

    #[test]
    fn url_search_params_stay_in_sync_with_the_url() {
        let code = r#"
            const u = new URL("https://example.com/p?x=1&y=2#h");
            const s = u.searchParams; const out = [s === u.searchParams, s.get("x")];
            s.append("z", "a b"); out.push(u.href);
            u.search = "?k=v"; out.push(s.get("k"), s.has("x"), s.size);
            s.delete("k"); out.push(u.href, u.search);
            u.href = "https://e.org/?n=%C3%A9"; out.push(s.get("n"));
            JSON.stringify(out)"#;
        assert_eq!(
            eval(code),
            r#"[true,"1","https://example.com/p?x=1&y=2&z=a+b#h","v",false,1,"https://example.com/p#h","","é"]"#
        );
    }
}
