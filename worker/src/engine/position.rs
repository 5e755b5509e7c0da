//! Where in the script an error that the engine itself raised happened, so its innermost
//! stack frame names the failing line and column rather than the enclosing function.
//!
//! The engine maps bytecode back to source only for some constructs: a function body, the
//! arguments of a call, a property read `a.b` written as a value. An instruction outside
//! them (reading the method of a call, `p.missing.map(…)`; reading the global a call is
//! made on, `undefinedThing()`) is reported at the start of the enclosing construct, often
//! the function header. This module reads the failing instruction's place in the table
//! of the innermost frame and, from the source text, finds the property read or the name
//! that failed.
//!
//! The engine keeps that table private; its `Debug` form is the only way to it, so the
//! table is read from there. Should a new engine version print it differently, nothing is
//! found and the engine's own position stays.

use std::rc::Rc;

use boa_engine::JsError;

use super::nesting::skip_literal_or_comment;

/// A 1-based line and column (in characters, as the engine counts them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Position {
    pub(crate) line: u32,
    pub(crate) column: u32,
}

/// The text a script was compiled from, so its errors can be placed in it.
pub(crate) struct ScriptText {
    /// The file name frames show.
    pub(crate) file: String,
    /// The source the engine compiled (possibly rewritten, see `async_arrow`).
    pub(crate) compiled: Rc<str>,
    /// The line the rewrite changed: its number, the column the change starts at, and
    /// how many characters it added.
    pub(crate) rewritten: Option<(u32, u32, u32)>,
}

impl ScriptText {
    /// A position in the compiled text as a position in the script as written.
    fn original(&self, at: Position) -> Position {
        match self.rewritten {
            Some((line, column, added)) if at.line == line && at.column > column => Position {
                line,
                column: at.column.saturating_sub(added).max(column),
            },
            _ => at,
        }
    }

    /// `stack` with its innermost frame moved to where the failure really is, when the
    /// error is one the engine places at the enclosing construct. `err` carries the
    /// backtrace; it should be opaque (its `Debug` is then short): make it with
    /// `JsError::from_opaque(error_object)`.
    pub(crate) fn place(&self, err: &JsError, name: &str, message: &str, stack: String) -> String {
        let Some(failure) = Failure::of(name, message) else {
            return stack;
        };
        locate(err, &failure, &self.compiled)
            .and_then(|at| relocate_innermost_frame(&stack, &self.file, self.original(at)))
            .unwrap_or(stack)
    }
}

/// What failed, as far as the source can show it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Failure {
    /// Reading a property of `null` or `undefined`.
    PropertyOfNullish,
    /// An unresolvable reference to this name.
    UndefinedName(String),
}

impl Failure {
    /// The failures this module can place, from an error's name and message.
    fn of(name: &str, message: &str) -> Option<Failure> {
        match name {
            "TypeError" if message == "cannot convert 'null' or 'undefined' to object" => {
                Some(Failure::PropertyOfNullish)
            }
            "ReferenceError" => message
                .strip_suffix(" is not defined")
                .filter(|n| !n.is_empty() && n.chars().all(is_identifier_char))
                .map(|n| Failure::UndefinedName(n.to_owned())),
            _ => None,
        }
    }
}

/// One row of a function's bytecode-to-source table: from `pc` on, `position`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    pc: u32,
    position: Option<Position>,
}

/// The innermost frame of an error's backtrace, if it is the script's (not a builtin's).
#[derive(Debug, PartialEq, Eq)]
struct FailingFrame {
    pc: u32,
    entries: Vec<Entry>,
}

/// The failing position of `failure` in `source`, for an error whose backtrace `err` has.
fn locate(err: &JsError, failure: &Failure, source: &str) -> Option<Position> {
    let frame = failing_frame(&format!("{err:?}"))?;
    let from = scan_start(&frame, failure, source)?;
    match from {
        ScanFrom::Exactly(position) => Some(position),
        ScanFrom::After(position) => find_after(source, position, failure),
    }
}

enum ScanFrom {
    /// The table names the failing construct itself.
    Exactly(Position),
    /// The failing construct is the first matching one at or after this position.
    After(Position),
}

/// Decides where the failing construct is to be looked for.
///
/// The table entry holding the failing instruction is either fresh, the first range of a
/// construct (the failure is in that construct, at its start if it is a property name),
/// or the continuation of an enclosing construct after a nested one ended (the failure
/// comes after that nested one, the entry just before in bytecode order). An entry is a
/// continuation when an earlier one has its position (the enclosing construct's first
/// range) or a later one (a construct nested in it; the enclosing construct's own first
/// range is empty when the nested one starts with it).
fn scan_start(frame: &FailingFrame, failure: &Failure, source: &str) -> Option<ScanFrom> {
    let index = frame.entries.iter().rposition(|e| e.pc <= frame.pc)?;
    let containing = frame.entries[index].position?;
    let continuation = frame.entries[..index]
        .iter()
        .any(|e| e.position.is_some_and(|p| p >= containing));
    if continuation {
        let previous = frame.entries[..index]
            .iter()
            .rev()
            .find_map(|e| e.position)?;
        return Some(ScanFrom::After(previous));
    }
    if *failure == Failure::PropertyOfNullish && is_property_name_at(source, containing) {
        return Some(ScanFrom::Exactly(containing));
    }
    Some(ScanFrom::After(containing))
}

/// Reads the innermost frame out of a `JsError`'s `Debug` text.
fn failing_frame(debug: &str) -> Option<FailingFrame> {
    const FRAME: &str = "Bytecode { pc: ";
    const ENTRIES: &str = "entries: [";
    let backtrace = &debug[debug.rfind("backtrace: Some(Backtrace {")?..];
    let frame = &backtrace[backtrace.rfind(FRAME)? + FRAME.len()..];
    if frame.contains("Native {") {
        // A builtin raised it: the script's frame is the call of that builtin.
        return None;
    }
    let pc = leading_number(frame)?;
    let table = &frame[frame.find(ENTRIES)? + ENTRIES.len()..];
    let table = &table[..table.find(']')?];
    let mut entries = Vec::new();
    for row in table.split("Entry { pc: ").skip(1) {
        let pc = leading_number(row)?;
        let position = match row.find("line_number: ") {
            None => None,
            Some(at) => {
                let rest = &row[at + "line_number: ".len()..];
                let line = leading_number(rest)?;
                let rest = &rest[rest.find("column_number: ")? + "column_number: ".len()..];
                Some(Position {
                    line,
                    column: leading_number(rest)?,
                })
            }
        };
        entries.push(Entry { pc, position });
    }
    Some(FailingFrame { pc, entries })
}

fn leading_number(text: &str) -> Option<u32> {
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    text[..digits].parse().ok()
}

/// The first construct at or after `from` that can fail as `failure` does.
fn find_after(source: &str, from: Position, failure: &Failure) -> Option<Position> {
    let bytes = source.as_bytes();
    let mut i = byte_offset(source, from)?;
    while i < bytes.len() {
        if let Some(end) = skip_literal_or_comment(bytes, i) {
            i = end;
            continue;
        }
        match failure {
            Failure::PropertyOfNullish => {
                if let Some(at) = property_read_at(bytes, i) {
                    return Some(position_of(source, at));
                }
            }
            Failure::UndefinedName(name) => {
                if bytes[i..].starts_with(name.as_bytes())
                    && !bytes
                        .get(i + name.len())
                        .is_some_and(|&b| is_identifier_byte(b))
                    && (i == 0 || !is_identifier_byte(bytes[i - 1]))
                    && !follows_dot(bytes, i)
                {
                    return Some(position_of(source, i));
                }
            }
        }
        i += 1;
    }
    None
}

/// If a property read starts at `i` (`.name` or `[`), the offset of what is read: the name
/// after the dot, or the bracket. Spread (`...`), optional chaining (`?.`, which cannot
/// fail this way) and decimal points are not reads.
fn property_read_at(bytes: &[u8], i: usize) -> Option<usize> {
    match bytes[i] {
        b'.' => {
            let before = i.checked_sub(1).map(|j| bytes[j]);
            if matches!(before, Some(b'.' | b'?')) || bytes.get(i + 1) == Some(&b'.') {
                return None;
            }
            if before.is_some_and(|b| b.is_ascii_digit()) && !follows_identifier(bytes, i) {
                return None;
            }
            let mut j = i + 1;
            while j < bytes.len() && bytes[j].is_ascii_whitespace() {
                j += 1;
            }
            let start = bytes.get(j)?;
            (is_identifier_byte(*start) && !start.is_ascii_digit()).then_some(j)
        }
        b'[' => {
            // A bracket after a value (name, `)`, `]`) reads; elsewhere it is an array.
            let mut j = i;
            while j > 0 && bytes[j - 1].is_ascii_whitespace() {
                j -= 1;
            }
            let before = j.checked_sub(1).map(|k| bytes[k])?;
            (is_identifier_byte(before) || matches!(before, b')' | b']')).then_some(i)
        }
        _ => None,
    }
}

/// Whether the digits just before `i` end an identifier (`a1.b`) rather than a number (`1.5`).
fn follows_identifier(bytes: &[u8], i: usize) -> bool {
    let mut j = i;
    while j > 0 && bytes[j - 1].is_ascii_digit() {
        j -= 1;
    }
    j > 0 && is_identifier_byte(bytes[j - 1])
}

fn follows_dot(bytes: &[u8], i: usize) -> bool {
    let mut j = i;
    while j > 0 && bytes[j - 1].is_ascii_whitespace() {
        j -= 1;
    }
    j > 0 && bytes[j - 1] == b'.'
}

/// Whether `at` is a property name: an identifier right after a `.`.
fn is_property_name_at(source: &str, at: Position) -> bool {
    byte_offset(source, at).is_some_and(|i| {
        source
            .as_bytes()
            .get(i)
            .is_some_and(|&b| is_identifier_byte(b))
            && follows_dot(source.as_bytes(), i)
    })
}

fn is_identifier_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$'
}

/// ASCII identifier characters, and every byte of a multi-byte character (names may be
/// non-ASCII).
fn is_identifier_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// The byte offset of a line and column, if the source has them.
fn byte_offset(source: &str, at: Position) -> Option<usize> {
    let line_start = if at.line == 1 {
        0
    } else {
        let skip = usize::try_from(at.line).ok()? - 2;
        source.match_indices('\n').nth(skip)?.0 + 1
    };
    let line = &source[line_start..];
    let column = usize::try_from(at.column).ok()?.checked_sub(1)?;
    let within = line
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(line.len()))
        .nth(column)?;
    Some(line_start + within)
}

fn position_of(source: &str, offset: usize) -> Position {
    let before = &source[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let count = |text: &str| u32::try_from(text.chars().count()).unwrap_or(u32::MAX);
    Position {
        line: count_lines(before),
        column: count(&before[line_start..]) + 1,
    }
}

fn count_lines(text: &str) -> u32 {
    u32::try_from(text.matches('\n').count()).unwrap_or(u32::MAX - 1) + 1
}

/// Replaces the location of the innermost frame of an engine stack
/// (`    at name (file:line:column)`, innermost first) with `at`.
fn relocate_innermost_frame(stack: &str, file: &str, at: Position) -> Option<String> {
    let first_end = stack.find('\n').unwrap_or(stack.len());
    let (first, rest) = stack.split_at(first_end);
    let open = first.rfind(" (").filter(|_| first.ends_with(')'))?;
    Some(format!(
        "{} ({file}:{}:{}){rest}",
        &first[..open],
        at.line,
        at.column
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TE6: &str =
        "export default function (p) {\n  const n = 1;\n  return p.missing.map((x) => x * n);\n}\n";

    fn pos(line: u32, column: u32) -> Position {
        Position { line, column }
    }

    #[test]
    fn failures_are_recognised_from_name_and_message() {
        assert_eq!(
            Failure::of(
                "TypeError",
                "cannot convert 'null' or 'undefined' to object"
            ),
            Some(Failure::PropertyOfNullish)
        );
        assert_eq!(
            Failure::of("ReferenceError", "nope is not defined"),
            Some(Failure::UndefinedName("nope".into()))
        );
        assert_eq!(Failure::of("ReferenceError", "a b is not defined"), None);
        assert_eq!(Failure::of("TypeError", "not a callable function"), None);
    }

    #[test]
    fn the_innermost_frame_is_read_from_the_debug_text() {
        let debug = "JsError { inner: Opaque((Error) 0x1), backtrace: Some(Backtrace { stack: [\
            Bytecode { pc: 3, source_info: SourceInfo { inner: Inner { map: SourceMap { entries: [Entry { pc: 0, position: None }], path: None }, function_name: JsString(\"\"), text_spanned: SourceTextSpanned } } }, \
            Bytecode { pc: 17, source_info: SourceInfo { inner: Inner { map: SourceMap { entries: [\
            Entry { pc: 0, position: Some(Position { line_number: 1, column_number: 29 }) }, \
            Entry { pc: 9, position: Some(Position { line_number: 3, column_number: 12 }) }, \
            Entry { pc: 14, position: Some(Position { line_number: 1, column_number: 29 }) }, \
            Entry { pc: 30, position: None }], path: Path(\"te6.js\") }, function_name: JsString(\"default\"), text_spanned: SourceTextSpanned } } }] }) }";
        let frame = failing_frame(debug).unwrap();
        assert_eq!(frame.pc, 17);
        assert_eq!(frame.entries.len(), 4);
        assert_eq!(frame.entries[1].position, Some(pos(3, 12)));
        assert_eq!(frame.entries[3].position, None);

        let from = scan_start(&frame, &Failure::PropertyOfNullish, TE6).unwrap();
        let ScanFrom::After(after) = from else {
            panic!("a continuation scans after the nested construct")
        };
        assert_eq!(after, pos(3, 12));
        assert_eq!(
            find_after(TE6, after, &Failure::PropertyOfNullish),
            Some(pos(3, 20))
        );
    }

    #[test]
    fn a_builtin_frame_on_top_is_left_alone() {
        let debug = "JsError { inner: Opaque((Error) 0x1), backtrace: Some(Backtrace { stack: [\
            Bytecode { pc: 17, source_info: SourceInfo { inner: Inner { map: SourceMap { entries: [], path: None }, function_name: JsString(\"\"), text_spanned: SourceTextSpanned } } }, \
            Native { function_name: Some(JsString(\"map\")), source_info: NativeSourceInfo { inner: PhantomData<()> } }] }) }";
        assert_eq!(failing_frame(debug), None);
    }

    #[test]
    fn names_are_found_as_references_not_as_properties_or_text() {
        let source = "f(\n  // undefinedThing here is a comment\n  'undefinedThing', o.undefinedThing, undefinedThingy,\n  undefinedThing(1));";
        let failure = Failure::UndefinedName("undefinedThing".into());
        assert_eq!(find_after(source, pos(1, 1), &failure), Some(pos(4, 3)));
    }

    #[test]
    fn property_reads_skip_numbers_spread_and_optional_chains() {
        let failure = Failure::PropertyOfNullish;
        let source = "g(1.5, ...xs, a?.b, [1], x1.y)";
        assert_eq!(find_after(source, pos(1, 1), &failure), Some(pos(1, 29)));
        assert_eq!(find_after("f(a) [0]", pos(1, 1), &failure), Some(pos(1, 6)));
    }

    #[test]
    fn an_enclosing_construct_whose_first_range_is_empty_is_a_continuation() {
        // `o.list.map(String)` in a function whose body starts at 1:20: the body's first
        // range is empty (the `list` read starts with it), so its entry comes after.
        let source = "function helper(o) {\n  return o.list.map(String);\n}\n";
        let frame = FailingFrame {
            pc: 52,
            entries: vec![
                Entry {
                    pc: 18,
                    position: Some(pos(2, 12)),
                },
                Entry {
                    pc: 40,
                    position: Some(pos(1, 20)),
                },
                Entry {
                    pc: 63,
                    position: Some(pos(2, 20)),
                },
            ],
        };
        let from = scan_start(&frame, &Failure::PropertyOfNullish, source).unwrap();
        let ScanFrom::After(after) = from else {
            panic!("scans after the nested read")
        };
        assert_eq!(
            find_after(source, after, &Failure::PropertyOfNullish),
            Some(pos(2, 17))
        );
    }

    #[test]
    fn a_property_name_entry_is_the_failure_itself() {
        let frame = FailingFrame {
            pc: 5,
            entries: vec![
                Entry {
                    pc: 0,
                    position: Some(pos(1, 29)),
                },
                Entry {
                    pc: 4,
                    position: Some(pos(3, 12)),
                },
            ],
        };
        let from = scan_start(&frame, &Failure::PropertyOfNullish, TE6).unwrap();
        assert!(matches!(from, ScanFrom::Exactly(p) if p == pos(3, 12)));
    }

    #[test]
    fn columns_count_characters() {
        let source = "const é = 'ü'; x.y";
        let at = byte_offset(source, pos(1, 16)).unwrap();
        assert_eq!(&source[at..at + 1], "x");
        assert_eq!(position_of(source, at), pos(1, 16));
    }

    #[test]
    fn the_innermost_frame_is_relocated() {
        let stack = "    at default (te6.js:1:29)\n    at outer (te6.js:9:3)\n";
        assert_eq!(
            relocate_innermost_frame(stack, "te6.js", pos(3, 20)).unwrap(),
            "    at default (te6.js:3:20)\n    at outer (te6.js:9:3)\n"
        );
    }
}
