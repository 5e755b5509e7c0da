//! Masking secret values in text before it is stored or shown: console lines, errors and
//! their stacks, results, fetch records.
//!
//! A [`Redactor`] replaces with `[redacted]` each value and the forms a script most often
//! turns it into: standard Base64 and Base64url, padded and not (also as part of a longer
//! encoding, such as a Basic `user:password` header), lower-case hex, percent-encoding
//! (`encodeURIComponent` and form encoding) and JSON string escaping (a result is JSON
//! text). For a structured value it also masks the parts that leak on their own: the
//! lines of a PEM key's body, and the key, secret and token fields of a JSON object (a
//! service-account file's `private_key`). Anything else a script computes from a value
//! (a hash, a substring, a reversed copy, an encryption) escapes masking.
//!
//! A value shorter than [`SHORT_SECRET_CHARS`] (and its forms) is masked only where it
//! stands as a whole word: masking `abc` inside every `abcdef` would garble the logs it is
//! meant to protect, while a short secret printed on its own or after `token=` is caught.
//!
//! The matching is one Aho-Corasick automaton over every form, longest match first, so
//! masking costs one pass over the text whatever the number of secrets; with no secrets
//! it costs nothing and copies nothing.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use aho_corasick::{AhoCorasick, AhoCorasickKind, Input, MatchKind};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

use super::SHORT_SECRET_CHARS;

/// What a masked value is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Parts of a structured value shorter than this are not masked on their own.
const MIN_PART_CHARS: usize = 16;

/// Masks a set of secret values. Cheap to clone; empty (and free to use) by default.
#[derive(Clone, Default)]
pub struct Redactor {
    automaton: Option<Arc<Automaton>>,
}

struct Automaton {
    /// `None` when the forms were too many to build a searcher: then everything is masked,
    /// since failing open would store the values.
    searcher: Option<AhoCorasick>,
    patterns: Vec<Pattern>,
}

#[derive(Debug, Clone, Copy)]
struct Pattern {
    /// Only where no letter, digit or `_` touches it.
    whole_word: bool,
    /// Whether it may match in text: a form that is not UTF-8 could split a character.
    utf8: bool,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let forms = self.automaton.as_ref().map_or(0, |a| a.patterns.len());
        f.debug_struct("Redactor").field("forms", &forms).finish()
    }
}

impl Redactor {
    /// A redactor of `values` and their forms.
    pub fn new<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> Redactor {
        // Form → whole word only; a form that two values share is masked everywhere if
        // either value is long.
        let mut forms: BTreeMap<Vec<u8>, bool> = BTreeMap::new();
        for value in values {
            for (form, whole_word) in forms_of(value) {
                forms
                    .entry(form)
                    .and_modify(|short| *short &= whole_word)
                    .or_insert(whole_word);
            }
        }
        if forms.is_empty() {
            return Redactor::default();
        }
        let patterns = forms
            .iter()
            .map(|(form, whole_word)| Pattern {
                whole_word: *whole_word,
                utf8: std::str::from_utf8(form).is_ok(),
            })
            .collect();
        // Not the DFA the builder would pick for few patterns: building one takes time
        // quadratic in a long, repetitive value (minutes for 64 KiB), while the contiguous
        // NFA builds in linear time and searches nearly as fast behind its prefilter.
        let build = |kind| {
            AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .kind(Some(kind))
                .build(forms.keys())
                .ok()
        };
        let searcher = build(AhoCorasickKind::ContiguousNFA)
            .or_else(|| build(AhoCorasickKind::NoncontiguousNFA));
        Redactor {
            automaton: Some(Arc::new(Automaton { searcher, patterns })),
        }
    }

    /// Whether there is nothing to mask.
    pub fn is_empty(&self) -> bool {
        self.automaton.is_none()
    }

    /// `text` with every form of every value replaced by [`REDACTED`]; borrowed when there
    /// was none.
    pub fn mask<'t>(&self, text: &'t str) -> Cow<'t, str> {
        match self.mask_in(text.as_bytes(), true) {
            None => Cow::Borrowed(text),
            // Only UTF-8 forms matched, each on character boundaries of valid UTF-8, and
            // the replacement is ASCII: the result is UTF-8.
            Some(masked) => Cow::Owned(String::from_utf8_lossy(&masked).into_owned()),
        }
    }

    /// [`Redactor::mask`] for bytes that need not be text (a body, a record).
    pub fn mask_bytes<'t>(&self, bytes: &'t [u8]) -> Cow<'t, [u8]> {
        match self.mask_in(bytes, false) {
            None => Cow::Borrowed(bytes),
            Some(masked) => Cow::Owned(masked),
        }
    }

    /// The masked copy of `haystack`, or `None` when nothing in it is masked.
    fn mask_in(&self, haystack: &[u8], text: bool) -> Option<Vec<u8>> {
        let automaton = self.automaton.as_ref()?;
        let Some(searcher) = &automaton.searcher else {
            return (!haystack.is_empty()).then(|| REDACTED.as_bytes().to_vec());
        };
        let mut output: Option<Vec<u8>> = None;
        let mut copied = 0;
        let mut from = 0;
        while from < haystack.len() {
            let Some(found) = searcher.find(Input::new(haystack).span(from..haystack.len())) else {
                break;
            };
            let pattern = automaton.patterns[found.pattern().as_usize()];
            let accepted = (pattern.utf8 || !text)
                && (!pattern.whole_word || stands_alone(haystack, found.start(), found.end()));
            if !accepted {
                // A shorter or later form may still match from the next byte.
                from = found.start() + 1;
                continue;
            }
            let out = output.get_or_insert_with(|| Vec::with_capacity(haystack.len()));
            out.extend_from_slice(&haystack[copied..found.start()]);
            out.extend_from_slice(REDACTED.as_bytes());
            copied = found.end();
            from = found.end();
        }
        let mut out = output?;
        out.extend_from_slice(&haystack[copied..]);
        Some(out)
    }
}

/// Whether `haystack[start..end]` is a whole word: no letter, digit, `_` or non-ASCII byte
/// right before or after it.
fn stands_alone(haystack: &[u8], start: usize, end: usize) -> bool {
    let word = |byte: &u8| byte.is_ascii_alphanumeric() || *byte == b'_' || !byte.is_ascii();
    let before = start.checked_sub(1).and_then(|i| haystack.get(i));
    !before.is_some_and(word) && !haystack.get(end).is_some_and(word)
}

/// Every form of `value` to mask, each with whether it is masked as a whole word only.
fn forms_of(value: &[u8]) -> Vec<(Vec<u8>, bool)> {
    let mut forms = Vec::new();
    let short = char_count(value) < SHORT_SECRET_CHARS;
    encodings(value, short, &mut forms);
    for part in structured_parts(value) {
        if part != value && char_count(&part) >= MIN_PART_CHARS {
            encodings(&part, false, &mut forms);
        }
    }
    forms.retain(|(form, _)| !form.is_empty());
    forms
}

fn char_count(value: &[u8]) -> usize {
    String::from_utf8_lossy(value).chars().count()
}

/// `value` and its encoded forms.
fn encodings(value: &[u8], short: bool, forms: &mut Vec<(Vec<u8>, bool)>) {
    let mut add = |form: Vec<u8>| forms.push((form, short));
    add(value.to_vec());
    for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
        add(engine.encode(value).into_bytes());
    }
    if !short {
        // The value inside a longer Base64 text (`user:password`, a JSON document): at each
        // of the three offsets, the characters that depend on the value's bytes alone.
        for offset in 0..3 {
            let mut shifted = vec![0u8; offset];
            shifted.extend_from_slice(value);
            let whole_groups = shifted.len() / 3 * 4;
            let skip = [0, 2, 3][offset];
            for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
                let encoded = engine.encode(&shifted);
                if let Some(inner) = encoded.get(skip..whole_groups)
                    && inner.len() >= SHORT_SECRET_CHARS
                {
                    add(inner.as_bytes().to_vec());
                }
            }
        }
    }
    add(hex(value).into_bytes());
    add(percent_encode(value, COMPONENT_KEEPS).into_bytes());
    add(form_encode(value).into_bytes());
    if let Ok(text) = std::str::from_utf8(value) {
        let json = serde_json::to_string(text).unwrap_or_default();
        let json = json.trim_start_matches('"').trim_end_matches('"');
        add(json.as_bytes().to_vec());
        add(ascii_json(json).into_bytes());
    }
}

/// The parts of a structured value that leak on their own: the string fields of a JSON
/// object whose names speak of keys, secrets, tokens or passwords, and the body lines of
/// any PEM block (in the value or in such a field), also joined into one line.
fn structured_parts(value: &[u8]) -> Vec<Vec<u8>> {
    let mut texts = Vec::new();
    if let Ok(serde_json::Value::Object(fields)) = serde_json::from_slice(value) {
        for (name, field) in fields {
            let name = name.to_ascii_lowercase();
            let secret_name = ["key", "secret", "token", "password"]
                .iter()
                .any(|word| name.contains(word));
            let address = name.ends_with("uri") || name.ends_with("url");
            if let serde_json::Value::String(text) = field
                && secret_name
                && !address
            {
                texts.push(text);
            }
        }
    }
    if let Ok(text) = std::str::from_utf8(value) {
        texts.push(text.to_owned());
    }
    let mut parts = Vec::new();
    for text in &texts {
        parts.extend(pem_body_lines(text).map(|line| line.as_bytes().to_vec()));
        let joined: String = pem_body_lines(text).collect();
        parts.push(joined.into_bytes());
    }
    texts.retain(|text| text.as_bytes() != value);
    parts.extend(texts.into_iter().map(String::into_bytes));
    parts
}

/// The Base64 lines between `-----BEGIN` and `-----END` lines.
fn pem_body_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut inside = false;
    text.lines().map(str::trim).filter(move |line| {
        if line.starts_with("-----BEGIN ") {
            inside = true;
            return false;
        }
        if line.starts_with("-----END ") {
            inside = false;
            return false;
        }
        inside
            && !line.is_empty()
            && line
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
    })
}

fn hex(value: &[u8]) -> String {
    let mut out = String::with_capacity(value.len() * 2);
    for &byte in value {
        out.push(char::from(b"0123456789abcdef"[usize::from(byte >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(byte & 0xf)]));
    }
    out
}

/// `%XX`, upper case, as `encodeURIComponent` and form encoding write it.
fn push_percent(out: &mut String, byte: u8) {
    out.push('%');
    out.push(char::from(b"0123456789ABCDEF"[usize::from(byte >> 4)]));
    out.push(char::from(b"0123456789ABCDEF"[usize::from(byte & 0xf)]));
}

/// The bytes `encodeURIComponent` leaves as they are.
const COMPONENT_KEEPS: &[u8] = b"-_.!~*'()";
/// The bytes form encoding (`application/x-www-form-urlencoded`) leaves as they are.
const FORM_KEEPS: &[u8] = b"*-._";

fn percent_encode(value: &[u8], keeps: &[u8]) -> String {
    let mut out = String::with_capacity(value.len());
    for &byte in value {
        if byte.is_ascii_alphanumeric() || keeps.contains(&byte) {
            out.push(char::from(byte));
        } else {
            push_percent(&mut out, byte);
        }
    }
    out
}

/// `value` as `URLSearchParams` writes it: form encoding, a space as `+`.
pub(super) fn form_encode(value: &[u8]) -> String {
    let mut out = String::with_capacity(value.len());
    for &byte in value {
        match byte {
            b' ' => out.push('+'),
            byte if byte.is_ascii_alphanumeric() || FORM_KEEPS.contains(&byte) => {
                out.push(char::from(byte));
            }
            byte => push_percent(&mut out, byte),
        }
    }
    out
}

/// JSON string content with every non-ASCII character as `\uXXXX` (as serializers that
/// escape to ASCII write it).
fn ascii_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn redactor(values: &[&str]) -> Redactor {
        Redactor::new(values.iter().map(|v| v.as_bytes()))
    }

    const TOKEN: &str = "ghp_S3cr3t/T0ken+With=Signs ü";

    #[test]
    fn an_empty_redactor_borrows_the_text() {
        let redactor = Redactor::default();
        assert!(redactor.is_empty());
        assert!(matches!(redactor.mask("anything"), Cow::Borrowed(_)));
        assert!(matches!(redactor.mask_bytes(b"x"), Cow::Borrowed(b"x")));
    }

    #[test]
    fn text_without_a_secret_is_borrowed() {
        let masked = redactor(&[TOKEN]).mask("nothing to see here");
        assert!(matches!(masked, Cow::Borrowed("nothing to see here")));
    }

    #[test]
    fn the_exact_value_is_masked_everywhere() {
        let r = redactor(&[TOKEN]);
        assert_eq!(
            r.mask(&format!("a{TOKEN}b {TOKEN}")),
            "a[redacted]b [redacted]"
        );
    }

    #[test]
    fn base64_and_base64url_forms_are_masked_with_and_without_padding() {
        let r = redactor(&[TOKEN]);
        for form in [
            STANDARD.encode(TOKEN),
            STANDARD_NO_PAD.encode(TOKEN),
            URL_SAFE.encode(TOKEN),
            URL_SAFE_NO_PAD.encode(TOKEN),
        ] {
            assert_ne!(form, TOKEN);
            assert_eq!(r.mask(&format!("<{form}>")), "<[redacted]>", "{form}");
        }
    }

    #[test]
    fn a_value_inside_a_longer_base64_text_is_masked() {
        let r = redactor(&[TOKEN]);
        for prefix in ["", "u:", "ab:", "user:"] {
            let basic = STANDARD.encode(format!("{prefix}{TOKEN}:and more"));
            let masked = r.mask(&basic);
            assert!(masked.contains(REDACTED), "{prefix:?}: {basic} → {masked}");
            // What remains cannot be decoded back into the value.
            assert!(masked.len() < basic.len() + REDACTED.len());
        }
    }

    #[test]
    fn percent_hex_and_json_forms_are_masked() {
        let r = redactor(&[TOKEN]);
        let component = "ghp_S3cr3t%2FT0ken%2BWith%3DSigns%20%C3%BC";
        let form = "ghp_S3cr3t%2FT0ken%2BWith%3DSigns+%C3%BC";
        assert_eq!(r.mask(&format!("?t={component}&")), "?t=[redacted]&");
        assert_eq!(r.mask(&format!("t={form}")), "t=[redacted]");
        assert_eq!(r.mask(&hex(TOKEN.as_bytes())), REDACTED);
        assert_eq!(
            r.mask(r#"{"t":"ghp_S3cr3t/T0ken+With=Signs \u00fc"}"#),
            r#"{"t":"[redacted]"}"#
        );

        let quoted = "line \"one\"\n\tand two";
        let r = redactor(&[quoted]);
        let json = serde_json::to_string(&serde_json::json!({ "v": quoted })).unwrap();
        assert_eq!(r.mask(&json), r#"{"v":"[redacted]"}"#);
    }

    #[test]
    fn the_longest_form_wins() {
        let r = redactor(&["abcdefgh", "abcdefghijkl"]);
        assert_eq!(r.mask("xx abcdefghijkl yy"), "xx [redacted] yy");
        assert_eq!(r.mask("abcdefghij"), "[redacted]ij");
    }

    #[test]
    fn a_short_value_is_masked_only_as_a_whole_word() {
        let r = redactor(&["hunter2"]);
        assert_eq!(r.mask("password: hunter2."), "password: [redacted].");
        assert_eq!(r.mask("token=hunter2&x"), "token=[redacted]&x");
        assert_eq!(r.mask("hunter2s and xhunter2"), "hunter2s and xhunter2");
        assert_eq!(r.mask("xhunter2 hunter2"), "xhunter2 [redacted]");
        assert_eq!(r.mask(&STANDARD.encode("hunter2")), REDACTED);
    }

    #[test]
    fn a_service_account_key_is_masked_by_its_parts() {
        let pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\nVJTUt9Us8cKjMzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNb\n-----END PRIVATE KEY-----\n";
        let json = serde_json::json!({
            "type": "service_account",
            "private_key_id": "0123456789abcdef0123456789abcdef01234567",
            "private_key": pem,
            "client_email": "robot@project.iam.gserviceaccount.com",
            "token_uri": "https://oauth2.googleapis.com/token",
        })
        .to_string();
        let r = redactor(&[&json]);
        assert_eq!(r.mask(&json), REDACTED);
        assert_eq!(r.mask(pem), REDACTED);
        assert_eq!(
            r.mask("line: VJTUt9Us8cKjMzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNb"),
            "line: [redacted]"
        );
        assert_eq!(
            r.mask("id 0123456789abcdef0123456789abcdef01234567"),
            "id [redacted]"
        );
        let kept = "robot@project.iam.gserviceaccount.com via https://oauth2.googleapis.com/token";
        assert_eq!(r.mask(kept), kept);
    }

    #[test]
    fn bytes_are_masked_too_and_text_is_never_split() {
        let r = Redactor::new([&[0xA9u8, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48][..]]);
        // The value is not UTF-8: text that holds its tail is left whole.
        assert_eq!(r.mask("éABCDEFGH"), "éABCDEFGH");
        assert_eq!(
            r.mask_bytes(&[0x00, 0xA9, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48])
                .as_ref(),
            b"\x00[redacted]"
        );
    }

    #[test]
    fn masking_four_mebibytes_is_fast() {
        let r = redactor(&[TOKEN, "another-secret-value-123", "short1"]);
        let mut text = "lorem ipsum dolor sit amet, consectetur adipiscing elit 0123456789 "
            .repeat(4 * 1024 * 1024 / 68);
        text.push_str(TOKEN);
        let started = std::time::Instant::now();
        let masked = r.mask(&text);
        let elapsed = started.elapsed();
        assert!(masked.ends_with(REDACTED));
        eprintln!("masked {} bytes in {elapsed:?}", text.len());
        assert!(elapsed < std::time::Duration::from_secs(2), "{elapsed:?}");
    }

    #[test]
    fn a_redactor_of_a_large_value_builds_quickly() {
        let big: String = (0..64 * 1024 - 1)
            .map(|i| char::from(b'A' + (i * 7 % 26) as u8))
            .collect();
        let started = std::time::Instant::now();
        let r = redactor(&[&big]);
        let elapsed = started.elapsed();
        eprintln!("built a redactor of a 64 KiB value in {elapsed:?}");
        assert_eq!(r.mask(&format!("x {big} y")), "x [redacted] y");
        assert!(elapsed < std::time::Duration::from_secs(1), "{elapsed:?}");
    }
}
