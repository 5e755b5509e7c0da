//! A cheap pre-parse scan for bracket nesting. The parser recurses on the native stack and
//! a few thousand nested brackets would overflow even the engine thread's large stack,
//! killing the worker; a source that deep is refused with a clear error instead.

/// Deepest `(`, `[` or `{` nesting accepted in a script source.
pub(crate) const MAX_NESTING: usize = 1000;

/// Checks the bracket nesting of `source`, skipping strings, template text and comments.
/// Regular-expression literals are not recognised, so brackets inside them count: a
/// source would need about a thousand unbalanced ones for that to matter.
pub(crate) fn check(source: &str) -> Result<(), String> {
    let bytes = source.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(format!(
                        "the source nests brackets deeper than {MAX_NESTING} levels (at byte {i}); the parser cannot take it safely"
                    ));
                }
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            quote @ (b'"' | b'\'' | b'`') => {
                i += 1;
                while i < bytes.len() && bytes[i] != quote {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < bytes.len() && !(bytes[i] == b'*' && bytes[i + 1] == b'/') {
                    i += 1;
                }
                i += 1;
            }
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_code_and_brackets_in_strings() {
        assert!(check("export default (p) => ({ a: [1, 2, (3)] });").is_ok());
        let many_in_string = format!("const s = \"{}\";", "(".repeat(5000));
        assert!(check(&many_in_string).is_ok());
        let many_in_comment = format!("// {}\n/* {} */", "[".repeat(5000), "{".repeat(5000));
        assert!(check(&many_in_comment).is_ok());
    }

    #[test]
    fn refuses_deep_nesting() {
        let deep = format!(
            "{}1{}",
            "(".repeat(MAX_NESTING + 1),
            ")".repeat(MAX_NESTING + 1)
        );
        let err = check(&deep).expect_err("too deep");
        assert!(err.contains("deeper than 1000"), "{err}");
        let ok = format!("{}1{}", "[".repeat(MAX_NESTING), "]".repeat(MAX_NESTING));
        assert!(check(&ok).is_ok());
    }
}
