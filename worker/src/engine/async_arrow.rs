//! A work-around for the engine's parser, which rejects `export default async () => …`
//! (valid ECMAScript: the default export may be any assignment expression). Such a module
//! is rewritten to bind the arrow function to a name and export that name. Only used after
//! the original source failed to parse, so a module the parser accepts is never touched.

/// The name the rewritten module binds its handler to.
const BINDING: &str = "__jobvisor_default_export";

/// A rewritten module and where its one changed line differs from the original.
pub(crate) struct Rewritten {
    pub(crate) source: String,
    /// The 1-based line of the `export default` that became a binding.
    pub(crate) line: u32,
    /// The 1-based column (in characters) where that `export default` started.
    pub(crate) column: u32,
    /// How many characters the line grew by from there on.
    pub(crate) added: u32,
}

/// Returns the rewritten source if `source` has an `export default async` arrow function
/// at the start of a line.
pub(crate) fn rewrite(source: &str) -> Option<Rewritten> {
    let mut offset = 0;
    for (number, line) in source.split_inclusive('\n').enumerate() {
        let indent = line.len() - line.trim_start().len();
        let rest = &line[indent..];
        if let Some(after) = rest.strip_prefix("export default async")
            && is_arrow_head(after)
        {
            let start = offset + indent;
            let keyword_end = start + "export default".len();
            let mut out = String::with_capacity(source.len() + 64);
            out.push_str(&source[..start]);
            out.push_str("const ");
            out.push_str(BINDING);
            out.push_str(" =");
            out.push_str(&source[keyword_end..]);
            out.push_str("\n;export default ");
            out.push_str(BINDING);
            out.push_str(";\n");
            let count = |text: &str| u32::try_from(text.chars().count()).unwrap_or(u32::MAX);
            return Some(Rewritten {
                source: out,
                line: u32::try_from(number + 1).unwrap_or(u32::MAX),
                column: count(&line[..indent]) + 1,
                added: count(BINDING) + count("const  =") - count("export default"),
            });
        }
        offset += line.len();
    }
    None
}

/// `async` followed by `(` or by a parameter name and `=>`, not by `function`.
fn is_arrow_head(after_async: &str) -> bool {
    let rest = after_async.trim_start();
    if rest.starts_with('(') {
        return true;
    }
    let ident_len = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
        .unwrap_or(rest.len());
    ident_len > 0
        && &rest[..ident_len] != "function"
        && rest[ident_len..].trim_start().starts_with("=>")
}

#[cfg(test)]
mod tests {
    use super::rewrite;

    #[test]
    fn rewrites_async_arrow_defaults_only() {
        let out = rewrite("// x\n  export default async (p) => p.a;\n").expect("rewritten");
        assert_eq!((out.line, out.column, out.added), (2, 3, 19));
        assert_eq!(
            out.source,
            "// x\n  const __jobvisor_default_export = async (p) => p.a;\n\n;export default __jobvisor_default_export;\n"
        );
        assert!(rewrite("export default async p => p").is_some());
        assert!(rewrite("export default async function (p) {}").is_none());
        assert!(rewrite("export default (p) => p").is_none());
        assert!(rewrite("const s = 'export default async (p) => 1';").is_none());
    }
}
