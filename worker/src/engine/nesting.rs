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
            _ => {
                if let Some(end) = skip_literal_or_comment(bytes, i) {
                    i = end;
                    continue;
                }
            }
        }
        i += 1;
    }
    Ok(())
}

/// If a string, template text or comment starts at `i`, the index just past it (the end of
/// the source if it is not closed). Escapes are honoured; template substitutions are
/// treated as text.
pub(crate) fn skip_literal_or_comment(bytes: &[u8], i: usize) -> Option<usize> {
    match bytes[i] {
        quote @ (b'"' | b'\'' | b'`') => {
            let mut j = i + 1;
            while j < bytes.len() && bytes[j] != quote {
                if bytes[j] == b'\\' {
                    j += 1;
                }
                j += 1;
            }
            Some((j + 1).min(bytes.len()))
        }
        b'/' if bytes.get(i + 1) == Some(&b'/') => {
            let mut j = i;
            while j < bytes.len() && bytes[j] != b'\n' {
                j += 1;
            }
            Some(j)
        }
        b'/' if bytes.get(i + 1) == Some(&b'*') => {
            let mut j = i + 2;
            while j + 1 < bytes.len() && !(bytes[j] == b'*' && bytes[j + 1] == b'/') {
                j += 1;
            }
            Some((j + 2).min(bytes.len()))
        }
        _ => None,
    }
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
