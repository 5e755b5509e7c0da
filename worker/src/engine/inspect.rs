//! How `console.*` shows values: the rules of node's `util.inspect` with its defaults
//! (depth 2, lines broken past 80 columns counting node's margins, arrays of more than
//! six short entries grouped in columns), so a handler's logs read as they would in node.
//!
//! It reads objects without running script code where it can: accessors are shown as
//! `[Getter]`, not called. Its work is bounded by a byte budget (the room left in the
//! attempt's console cap): once spent, it stops descending and marks the cut.

use boa_engine::builtins::error::Error as ErrorData;
use boa_engine::builtins::function::OrdinaryFunction;
use boa_engine::object::builtins::{
    JsDate, JsMap, JsPromise, JsRegExp, JsSet, JsTypedArray, JsWeakMap, JsWeakSet,
};
use boa_engine::property::{PropertyDescriptor, PropertyKey};
use boa_engine::{Context, JsObject, JsString, JsValue, JsVariant, js_string};

use boa_engine::builtins::promise::PromiseState;

/// Entries shown of an array, map or set before `... N more items`.
const MAX_ENTRIES: usize = 100;
/// Characters of a string shown before `... N more characters`.
const MAX_STRING: usize = 10_000;
/// node's `breakLength`.
const BREAK_LENGTH: usize = 80;
/// node's `compact`: objects nest this many levels on one line at most.
const COMPACT: usize = 3;
/// Prototype chains are walked this far at most (a proxy can make them endless).
const MAX_CHAIN: usize = 1_000;
/// What a cut output ends with.
pub(crate) const CUT_MARK: &str = "… [inspection stopped at the console limit]";

/// How deep and how much to show.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Options {
    /// Levels shown below the top one; deeper objects are `[Object]`.
    pub(crate) depth: usize,
    /// Non-enumerable properties too, as `[name]: value`.
    pub(crate) show_hidden: bool,
}

impl Options {
    /// `console.log`'s and `%O`'s.
    pub(crate) const DEFAULT: Options = Options {
        depth: 2,
        show_hidden: false,
    };
    /// `%o`'s.
    pub(crate) const DETAILED: Options = Options {
        depth: 4,
        show_hidden: true,
    };
    /// `%s`'s for objects.
    pub(crate) const SHALLOW: Options = Options {
        depth: 0,
        show_hidden: false,
    };
}

/// Formats values for one console call within a byte budget.
pub(crate) struct Inspector<'c> {
    context: &'c mut Context,
    budget: usize,
    exhausted: bool,
    options: Options,
    indentation: usize,
    seen: Vec<JsObject>,
    circular: Vec<JsObject>,
    current_depth: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Extras {
    Object,
    Array,
}

/// An object's pieces before they are joined: `base {` entries `}`.
struct Parts {
    base: String,
    open: String,
    close: &'static str,
    entries: Vec<String>,
    extras: Extras,
    /// For column grouping: whether every shown entry is a number or bigint.
    numeric: bool,
}

impl<'c> Inspector<'c> {
    pub(crate) fn new(context: &'c mut Context, budget: usize) -> Self {
        Inspector {
            context,
            budget,
            exhausted: budget == 0,
            options: Options::DEFAULT,
            indentation: 0,
            seen: Vec::new(),
            circular: Vec::new(),
            current_depth: 0,
        }
    }

    /// Whether the budget ran out (the output is cut and should say so).
    pub(crate) fn exhausted(&self) -> bool {
        self.exhausted
    }

    pub(crate) fn context(&mut self) -> &mut Context {
        self.context
    }

    /// `util.inspect(value, options)`.
    pub(crate) fn inspect(&mut self, value: &JsValue, options: Options) -> String {
        self.options = options;
        self.seen.clear();
        self.circular.clear();
        self.indentation = 0;
        self.current_depth = 0;
        self.value(value, 0)
    }

    fn charge(&mut self, bytes: usize) {
        if bytes >= self.budget {
            self.budget = 0;
            self.exhausted = true;
        } else {
            self.budget -= bytes;
        }
    }

    fn value(&mut self, value: &JsValue, level: usize) -> String {
        if self.exhausted {
            return "…".to_owned();
        }
        let Some(object) = value.as_object() else {
            let text = self.primitive(value);
            self.charge(text.len());
            return text;
        };
        if self.seen.contains(&object) {
            let number = match self.circular.iter().position(|o| o == &object) {
                Some(i) => i + 1,
                None => {
                    self.circular.push(object.clone());
                    self.circular.len()
                }
            };
            return format!("[Circular *{number}]");
        }
        self.object(&object, level)
    }

    fn primitive(&mut self, value: &JsValue) -> String {
        match value.variant() {
            JsVariant::String(s) => self.quoted(&s),
            JsVariant::Float64(n) => number_text(n),
            JsVariant::Integer32(n) => n.to_string(),
            JsVariant::BigInt(n) => format!("{n}n"),
            JsVariant::Boolean(b) => b.to_string(),
            JsVariant::Null => "null".to_owned(),
            JsVariant::Undefined => "undefined".to_owned(),
            JsVariant::Symbol(s) => s.descriptive_string().to_std_string_escaped(),
            JsVariant::Object(_) => String::new(),
        }
    }

    /// A nested string: quoted, escaped, cut past `MAX_STRING` characters, and split at
    /// its line breaks when long (node's `'a\n' +\n  'b'`).
    fn quoted(&mut self, s: &JsString) -> String {
        let text = s.to_std_string_escaped();
        let length = text.chars().count();
        let (shown, more) = if length > MAX_STRING {
            let cut = text
                .char_indices()
                .nth(MAX_STRING)
                .map_or(text.len(), |(i, _)| i);
            (&text[..cut], length - MAX_STRING)
        } else {
            (text.as_str(), 0)
        };
        let width = BREAK_LENGTH.saturating_sub(self.indentation + 4);
        let mut out = if length > 16 && length > width && shown.contains('\n') {
            let separator = format!(" +\n{}", " ".repeat(self.indentation + 2));
            shown
                .split_inclusive('\n')
                .map(quote)
                .collect::<Vec<_>>()
                .join(&separator)
        } else {
            quote(shown)
        };
        if more > 0 {
            out.push_str(&format!(
                "... {more} more character{}",
                if more > 1 { "s" } else { "" }
            ));
        }
        out
    }

    fn object(&mut self, object: &JsObject, level: usize) -> String {
        let constructor = constructor_name(object);
        let tag = self.string_tag(object, constructor.as_deref());
        let mut parts = match self.shape(object, &constructor, &tag) {
            Ok(parts) => parts,
            Err(done) => {
                self.charge(done.len());
                return done;
            }
        };
        if level > self.options.depth {
            let name = constructor.clone().unwrap_or_else(|| {
                if object.is_array() {
                    "Array".to_owned()
                } else {
                    "Object".to_owned()
                }
            });
            let name = if tag.is_empty() || tag == name {
                name
            } else {
                format!("{name} [{tag}]")
            };
            let shown = match constructor {
                None => format!("[{name}: null prototype]"),
                Some(_) => format!("[{name}]"),
            };
            self.charge(shown.len());
            return shown;
        }
        let level = level + 1;
        self.seen.push(object.clone());
        self.current_depth = level;
        self.fill(object, &mut parts, level);
        self.seen.pop();
        if let Some(i) = self.circular.iter().position(|o| o == object) {
            let reference = format!("<ref *{}>", i + 1);
            parts.base = if parts.base.is_empty() {
                reference
            } else {
                format!("{reference} {}", parts.base)
            };
        }
        self.reduce(parts, level)
    }

    /// The braces and base of `object`, or its whole text when that needs no entries.
    fn shape(
        &mut self,
        object: &JsObject,
        constructor: &Option<String>,
        tag: &str,
    ) -> Result<Parts, String> {
        let mut parts = Parts {
            base: String::new(),
            open: "{".to_owned(),
            close: "}",
            entries: Vec::new(),
            extras: Extras::Object,
            numeric: false,
        };
        let has_keys = self.has_shown_keys(object);
        if object.is_array() {
            let length = array_length(object);
            let prefix = if constructor.as_deref() == Some("Array") && tag.is_empty() {
                String::new()
            } else {
                prefix(constructor, tag, "Array", &format!("({length})"))
            };
            parts.open = format!("{prefix}[");
            parts.close = "]";
            parts.extras = Extras::Array;
            parts.numeric = true;
            if length == 0 && !has_keys {
                return Err(format!("{prefix}[]"));
            }
            return Ok(parts);
        }
        if let Ok(typed) = JsTypedArray::from_object(object.clone()) {
            let length = typed.length(self.context).unwrap_or(0);
            let fallback = constructor
                .clone()
                .unwrap_or_else(|| "TypedArray".to_owned());
            let prefix = prefix(constructor, tag, &fallback, &format!("({length})"));
            parts.open = format!("{prefix}[");
            parts.close = "]";
            parts.extras = Extras::Array;
            parts.numeric = true;
            if length == 0 {
                return Err(format!("{prefix}[]"));
            }
            return Ok(parts);
        }
        if let Ok(set) = JsSet::from_object(object.clone()) {
            let prefix = prefix(constructor, tag, "Set", &format!("({})", set.size()));
            if set.size() == 0 && !has_keys {
                return Err(format!("{prefix}{{}}"));
            }
            parts.open = format!("{prefix}{{");
            return Ok(parts);
        }
        if let Ok(map) = JsMap::from_object(object.clone()) {
            let size = map
                .get_size(self.context)
                .ok()
                .and_then(|s| s.as_number())
                .unwrap_or(0.0);
            let prefix = prefix(constructor, tag, "Map", &format!("({size})"));
            if size == 0.0 && !has_keys {
                return Err(format!("{prefix}{{}}"));
            }
            parts.open = format!("{prefix}{{");
            return Ok(parts);
        }
        let default_braces = |parts: &mut Parts, fallback: &str| {
            parts.open = format!("{}{{", prefix(constructor, tag, fallback, ""));
        };
        if object.is_callable() {
            parts.base = self.function_base(object, constructor, tag);
            if !has_keys {
                return Err(parts.base);
            }
            return Ok(parts);
        }
        if let Ok(regexp) = JsRegExp::from_object(object.clone()) {
            parts.base = regexp
                .to_string(self.context)
                .unwrap_or_else(|_| "/(?:)/".to_owned());
            if !has_keys {
                return Err(parts.base);
            }
            return Ok(parts);
        }
        if let Ok(date) = JsDate::from_object(object.clone()) {
            let time = date
                .get_time(self.context)
                .ok()
                .and_then(|t| t.as_number())
                .unwrap_or(f64::NAN);
            parts.base = if time.is_nan() {
                "Invalid Date".to_owned()
            } else {
                date.to_iso_string(self.context)
                    .ok()
                    .and_then(|s| s.as_string().map(|s| s.to_std_string_escaped()))
                    .unwrap_or_else(|| "Invalid Date".to_owned())
            };
            if !has_keys {
                return Err(parts.base);
            }
            return Ok(parts);
        }
        if object.is::<ErrorData>() {
            parts.base = self.error_base(object);
            if !has_keys {
                return Err(parts.base);
            }
            return Ok(parts);
        }
        if JsPromise::from_object(object.clone()).is_ok() {
            default_braces(&mut parts, "Promise");
            return Ok(parts);
        }
        if JsWeakMap::from_object(object.clone()).is_ok()
            || JsWeakSet::from_object(object.clone()).is_ok()
        {
            let fallback = if JsWeakMap::from_object(object.clone()).is_ok() {
                "WeakMap"
            } else {
                "WeakSet"
            };
            return Err(format!(
                "{}{{ <items unknown> }}",
                prefix(constructor, tag, fallback, "")
            ));
        }
        if constructor.as_deref() == Some("Object") {
            if !tag.is_empty() {
                parts.open = format!("{}{{", prefix(constructor, tag, "Object", ""));
            }
        } else {
            default_braces(&mut parts, "Object");
        }
        if !has_keys {
            return Err(format!("{}}}", parts.open));
        }
        Ok(parts)
    }

    /// Formats the entries of `object` into `parts`.
    fn fill(&mut self, object: &JsObject, parts: &mut Parts, level: usize) {
        if object.is_array() {
            self.array_entries(object, parts, level);
        } else if let Ok(typed) = JsTypedArray::from_object(object.clone()) {
            self.typed_array_entries(&typed, parts, level);
            return;
        } else if let Ok(set) = JsSet::from_object(object.clone()) {
            let mut values = Vec::new();
            let _ = set.for_each_native(|value| {
                values.push(value);
                Ok(())
            });
            self.indentation += 2;
            self.list(&values, parts, level, |this, v, level| this.value(v, level));
            self.indentation -= 2;
        } else if let Ok(map) = JsMap::from_object(object.clone()) {
            let mut pairs = Vec::new();
            let _ = map.for_each_native(|key, value| {
                pairs.push((key, value));
                Ok(())
            });
            self.indentation += 2;
            self.list(&pairs, parts, level, |this, (k, v), level| {
                let key = this.value(k, level);
                let value = this.value(v, level);
                format!("{key} => {value}")
            });
            self.indentation -= 2;
        } else if let Ok(promise) = JsPromise::from_object(object.clone()) {
            self.indentation += 2;
            let entry = match promise.state() {
                PromiseState::Pending => "<pending>".to_owned(),
                PromiseState::Fulfilled(value) => self.value(&value, level),
                PromiseState::Rejected(value) => {
                    format!("<rejected> {}", self.value(&value, level))
                }
            };
            self.indentation -= 2;
            parts.entries.push(entry);
        }
        self.property_entries(object, parts, level);
    }

    /// Up to `MAX_ENTRIES` entries of a map or set, then `... N more items`.
    fn list<T>(
        &mut self,
        items: &[T],
        parts: &mut Parts,
        level: usize,
        mut show: impl FnMut(&mut Self, &T, usize) -> String,
    ) {
        for item in items.iter().take(MAX_ENTRIES) {
            if self.exhausted {
                break;
            }
            self.charge(self.indentation + 2);
            let entry = show(self, item, level);
            parts.entries.push(entry);
        }
        if items.len() > MAX_ENTRIES {
            parts.entries.push(more_items(items.len() - MAX_ENTRIES));
        }
    }

    fn array_entries(&mut self, object: &JsObject, parts: &mut Parts, level: usize) {
        let length = array_length(object);
        let mut indices: Vec<u32> = object.borrow().properties().index_property_keys().collect();
        indices.sort_unstable();
        let mut next = 0u64;
        for index in indices {
            if u64::from(index) >= length || parts.entries.len() >= MAX_ENTRIES || self.exhausted {
                break;
            }
            if u64::from(index) > next {
                parts.entries.push(empty_items(u64::from(index) - next));
                parts.numeric = false;
                if parts.entries.len() >= MAX_ENTRIES {
                    break;
                }
            }
            let descriptor = object.borrow().properties().get(&PropertyKey::from(index));
            let value = descriptor.as_ref().and_then(|d| d.value()).cloned();
            if !value
                .as_ref()
                .is_some_and(|v| v.is_number() || v.is_bigint())
            {
                parts.numeric = false;
            }
            self.charge(self.indentation + 2);
            let entry = self.property_value(descriptor.as_ref(), level, 2);
            parts.entries.push(entry);
            next = u64::from(index) + 1;
        }
        let remaining = length.saturating_sub(next);
        if remaining > 0 {
            if parts.entries.len() < MAX_ENTRIES && !self.exhausted {
                parts.entries.push(empty_items(remaining));
                parts.numeric = false;
            } else {
                parts.entries.push(more_items_u64(remaining));
            }
        }
    }

    fn typed_array_entries(&mut self, typed: &JsTypedArray, parts: &mut Parts, level: usize) {
        let length = typed.length(self.context).unwrap_or(0);
        for index in 0..length.min(MAX_ENTRIES) {
            if self.exhausted {
                break;
            }
            let value = typed.at(index as i64, self.context).unwrap_or_default();
            self.charge(self.indentation + 2);
            let entry = self.value(&value, level);
            parts.entries.push(entry);
        }
        if length > MAX_ENTRIES {
            parts.entries.push(more_items(length - MAX_ENTRIES));
        }
    }

    /// `key: value` for the own properties shown (not array indices).
    fn property_entries(&mut self, object: &JsObject, parts: &mut Parts, level: usize) {
        // Every entry costs at least four bytes of the budget: more cannot be shown.
        let limit = self.budget / 4 + 1;
        for key in self.shown_keys(object, limit) {
            if self.exhausted {
                break;
            }
            let descriptor = own_descriptor(object, &key, self.context);
            let hidden = !descriptor
                .as_ref()
                .and_then(PropertyDescriptor::enumerable)
                .unwrap_or(true);
            let name = match &key {
                PropertyKey::String(s) => key_text(&s.to_std_string_escaped()),
                PropertyKey::Index(i) => format!("'{}'", i.get()),
                PropertyKey::Symbol(s) => {
                    format!("[{}]", s.descriptive_string().to_std_string_escaped())
                }
            };
            let name = if hidden { format!("[{name}]") } else { name };
            self.charge(self.indentation + name.len() + 4);
            let value = self.property_value(descriptor.as_ref(), level, 2);
            parts.entries.push(format!("{name}: {value}"));
            parts.numeric = false;
        }
    }

    /// A property's value, or `[Getter]` / `[Setter]` / `[Getter/Setter]`.
    fn property_value(
        &mut self,
        descriptor: Option<&PropertyDescriptor>,
        level: usize,
        indent: usize,
    ) -> String {
        let Some(descriptor) = descriptor else {
            return "undefined".to_owned();
        };
        if let Some(value) = descriptor.value() {
            self.indentation += indent;
            let text = self.value(value, level);
            self.indentation -= indent;
            return text;
        }
        let getter = descriptor.get().is_some_and(|g| !g.is_undefined());
        let setter = descriptor.set().is_some_and(|s| !s.is_undefined());
        match (getter, setter) {
            (true, true) => "[Getter/Setter]",
            (true, false) => "[Getter]",
            (false, true) => "[Setter]",
            (false, false) => "undefined",
        }
        .to_owned()
    }

    /// The first `limit` own keys shown as `key: value`: enumerable (all with
    /// `show_hidden`) string and symbol keys, without array indices.
    fn shown_keys(&mut self, object: &JsObject, limit: usize) -> Vec<PropertyKey> {
        let indexed = object.is_array() || JsTypedArray::from_object(object.clone()).is_ok();
        let is_error = object.is::<ErrorData>();
        let show_hidden = self.options.show_hidden;
        let Ok(keys) = object.own_property_keys(self.context) else {
            return Vec::new();
        };
        keys.into_iter()
            .filter(|key| !(indexed && matches!(key, PropertyKey::Index(_))))
            .filter(|key| {
                // An error's stack and message are its base already.
                !(is_error
                    && matches!(key, PropertyKey::String(s) if s == &js_string!("stack") || s == &js_string!("message")))
            })
            .filter(|key| {
                if show_hidden && !matches!(key, PropertyKey::Symbol(_)) {
                    return !(indexed && matches!(key, PropertyKey::String(s) if s == &js_string!("length")) && !object.is_array());
                }
                own_descriptor(object, key, self.context)
                    .and_then(|d| d.enumerable())
                    .unwrap_or(false)
            })
            .take(limit)
            .collect()
    }

    fn has_shown_keys(&mut self, object: &JsObject) -> bool {
        // A huge array's keys are not listed just to learn it has no extra ones.
        if object.is_array() && array_length(object) > 10_000 && !self.options.show_hidden {
            return false;
        }
        !self.shown_keys(object, 1).is_empty()
    }

    /// node's `reduceToSingleString`: one line if it fits, else one entry per line.
    fn reduce(&mut self, mut parts: Parts, level: usize) -> String {
        let entries = parts.entries.len();
        if parts.extras == Extras::Array && entries > 6 {
            parts.entries = self.group(parts.entries, parts.numeric);
        }
        let base = if parts.base.is_empty() {
            String::new()
        } else {
            format!("{} ", parts.base)
        };
        if self.current_depth - level < COMPACT && entries == parts.entries.len() {
            let start = parts.entries.len()
                + self.indentation
                + parts.open.chars().count()
                + parts.base.chars().count()
                + 10;
            if below_break_length(&parts.entries, start, &parts.base) {
                let joined = parts.entries.join(", ");
                if !joined.contains('\n') {
                    return format!("{base}{} {joined} {}", parts.open, parts.close);
                }
            }
        }
        let indentation = format!("\n{}", " ".repeat(self.indentation));
        format!(
            "{base}{}{indentation}  {}{indentation}{}",
            parts.open,
            parts.entries.join(&format!(",{indentation}  ")),
            parts.close
        )
    }

    /// node's `groupArrayElements`: many short entries in aligned columns.
    fn group(&self, output: Vec<String>, numeric: bool) -> Vec<String> {
        let mut output_length = output.len();
        let has_more = output.last().is_some_and(|l| l.starts_with("... "));
        if has_more {
            output_length -= 1;
        }
        let separator_space = 2;
        let lengths: Vec<usize> = output[..output_length]
            .iter()
            .map(|s| s.chars().count())
            .collect();
        let total_length: usize = lengths.iter().map(|l| l + separator_space).sum();
        let max_length = lengths.iter().copied().max().unwrap_or(0);
        let actual_max = max_length + separator_space;
        if actual_max * 3 + self.indentation < BREAK_LENGTH
            && (total_length as f64 / actual_max as f64 > 5.0 || max_length <= 6)
        {
            let average_bias =
                (actual_max as f64 - total_length as f64 / output.len() as f64).sqrt();
            let biased_max = (actual_max as f64 - 3.0 - average_bias).max(1.0);
            let columns = ((2.5 * biased_max * output_length as f64).sqrt() / biased_max)
                .round()
                .min(((BREAK_LENGTH - self.indentation) / actual_max) as f64)
                .min((COMPACT * 4) as f64)
                .min(15.0) as usize;
            if columns <= 1 {
                return output;
            }
            let max_line_length: Vec<usize> = (0..columns)
                .map(|i| {
                    lengths
                        .iter()
                        .skip(i)
                        .step_by(columns)
                        .copied()
                        .max()
                        .unwrap_or(0)
                        + separator_space
                })
                .collect();
            let mut grouped = Vec::new();
            let mut i = 0;
            while i < output_length {
                let max = (i + columns).min(output_length);
                let mut line = String::new();
                for j in i..max - 1 {
                    let cell = format!("{}, ", output[j]);
                    line.push_str(&pad(&cell, max_line_length[j - i], numeric));
                }
                let last = max - 1;
                if numeric {
                    line.push_str(&pad(
                        &output[last],
                        max_line_length[last - i] - separator_space,
                        true,
                    ));
                } else {
                    line.push_str(&output[last]);
                }
                grouped.push(line);
                i += columns;
            }
            if has_more {
                grouped.push(output[output_length].clone());
            }
            return grouped;
        }
        output
    }

    /// `Symbol.toStringTag` if it is a string other than the constructor's name, read
    /// from data properties only.
    fn string_tag(&mut self, object: &JsObject, constructor: Option<&str>) -> String {
        let key = PropertyKey::from(boa_engine::JsSymbol::to_string_tag());
        let mut current = Some(object.clone());
        for _ in 0..MAX_CHAIN {
            let Some(o) = current else { break };
            let descriptor = o.borrow().properties().get(&key);
            if let Some(descriptor) = descriptor {
                // An own tag that is listed anyway is not shown twice.
                let own = &o == object;
                if own && (self.options.show_hidden || descriptor.enumerable() == Some(true)) {
                    return String::new();
                }
                let tag = descriptor
                    .value()
                    .and_then(JsValue::as_string)
                    .map(|s| s.to_std_string_escaped())
                    .unwrap_or_default();
                return if Some(tag.as_str()) == constructor {
                    String::new()
                } else {
                    tag
                };
            }
            current = o.prototype();
        }
        String::new()
    }

    /// `[Function: name]`, `[AsyncFunction (anonymous)]`, `[class Foo extends Bar]`.
    fn function_base(
        &mut self,
        object: &JsObject,
        constructor: &Option<String>,
        tag: &str,
    ) -> String {
        let name = own_string(object, "name").unwrap_or_default();
        if is_class(object) {
            let mut base = format!(
                "[class {}",
                if name.is_empty() {
                    "(anonymous)"
                } else {
                    &name
                }
            );
            let function_prototype = self
                .context
                .intrinsics()
                .constructors()
                .function()
                .prototype();
            if let Some(parent) = object.prototype()
                && parent != function_prototype
            {
                let parent_name = own_string(&parent, "name").unwrap_or_default();
                if !parent_name.is_empty() {
                    base.push_str(&format!(" extends {parent_name}"));
                }
            }
            if let Some(c) = constructor
                && c != "Function"
            {
                base.push_str(&format!(" [{c}]"));
            }
            base.push(']');
            return base;
        }
        const KINDS: &[&str] = &[
            "AsyncFunction",
            "GeneratorFunction",
            "AsyncGeneratorFunction",
        ];
        let kind = constructor
            .as_deref()
            .filter(|c| KINDS.contains(c))
            .unwrap_or("Function");
        let mut base = format!("[{kind}");
        if constructor.is_none() {
            base.push_str(" (null prototype)");
        }
        if name.is_empty() {
            base.push_str(" (anonymous)");
        } else {
            base.push_str(&format!(": {name}"));
        }
        base.push(']');
        if let Some(c) = constructor
            && c != kind
            && c != "Function"
        {
            base.push_str(&format!(" {c}"));
        }
        if !tag.is_empty() && constructor.as_deref() != Some(tag) {
            base.push_str(&format!(" [{tag}]"));
        }
        base
    }

    /// An error as its name and message, then its stack frames, indented to the level.
    fn error_base(&mut self, object: &JsObject) -> String {
        let name = chain_string(object, "name").unwrap_or_else(|| "Error".to_owned());
        let message = chain_string(object, "message").unwrap_or_default();
        let header = if message.is_empty() {
            name
        } else {
            format!("{name}: {message}")
        };
        let stack = object
            .get(js_string!("stack"), self.context)
            .ok()
            .and_then(|s| s.as_string().map(|s| s.to_std_string_escaped()))
            .map(|s| s.trim_end().to_owned())
            .filter(|s| !s.is_empty());
        let text = match stack {
            Some(stack) => format!("{header}\n{stack}"),
            None => format!("[{header}]"),
        };
        if self.indentation == 0 {
            text
        } else {
            text.replace('\n', &format!("\n{}", " ".repeat(self.indentation)))
        }
    }
}

/// Whether `object` was made by a `class` declaration or expression: a script function
/// whose `prototype` cannot be written (an ordinary function's can). The engine does not
/// keep a class's source text, so `Function.prototype.toString` cannot tell.
fn is_class(object: &JsObject) -> bool {
    object.is::<OrdinaryFunction>()
        && object
            .borrow()
            .properties()
            .get(&PropertyKey::from(js_string!("prototype")))
            .is_some_and(|d| d.writable() == Some(false))
}

/// node's `isBelowBreakLength`.
fn below_break_length(output: &[String], start: usize, base: &str) -> bool {
    let mut total = output.len() + start;
    if total + output.len() > BREAK_LENGTH {
        return false;
    }
    for entry in output {
        total += entry.chars().count();
        if total > BREAK_LENGTH {
            return false;
        }
    }
    base.is_empty() || !base.contains('\n')
}

fn pad(text: &str, width: usize, start: bool) -> String {
    let length = text.chars().count();
    if length >= width {
        return text.to_owned();
    }
    let fill = " ".repeat(width - length);
    if start {
        format!("{fill}{text}")
    } else {
        format!("{text}{fill}")
    }
}

/// node's `getPrefix`: `Foo(2) [tag] `, `[Object: null prototype] `.
fn prefix(constructor: &Option<String>, tag: &str, fallback: &str, size: &str) -> String {
    match constructor {
        None if !tag.is_empty() && tag != fallback => {
            format!("[{fallback}{size}: null prototype] [{tag}] ")
        }
        None => format!("[{fallback}{size}: null prototype] "),
        Some(c) if !tag.is_empty() && c != tag => format!("{c}{size} [{tag}] "),
        Some(c) => format!("{c}{size} "),
    }
}

/// The name of the first constructor on the prototype chain (node's
/// `getConstructorName`), `None` for a null prototype.
fn constructor_name(object: &JsObject) -> Option<String> {
    let key = PropertyKey::from(js_string!("constructor"));
    let mut current = Some(object.clone());
    for _ in 0..MAX_CHAIN {
        let o = current?;
        let descriptor = o.borrow().properties().get(&key);
        if let Some(constructor) = descriptor
            .and_then(|d| d.value().cloned())
            .and_then(|v| v.as_object())
            .filter(JsObject::is_callable)
        {
            let name = own_string(&constructor, "name").unwrap_or_default();
            if !name.is_empty() {
                return Some(name);
            }
        }
        current = o.prototype();
    }
    None
}

/// An own data property that is a string.
fn own_string(object: &JsObject, key: &str) -> Option<String> {
    object
        .borrow()
        .properties()
        .get(&PropertyKey::from(JsString::from(key)))
        .and_then(|d| d.value().and_then(JsValue::as_string))
        .map(|s| s.to_std_string_escaped())
}

/// A data property that is a string, own or inherited.
fn chain_string(object: &JsObject, key: &str) -> Option<String> {
    let mut current = Some(object.clone());
    for _ in 0..MAX_CHAIN {
        let o = current?;
        let found = o
            .borrow()
            .properties()
            .get(&PropertyKey::from(JsString::from(key)));
        if let Some(descriptor) = found {
            return descriptor
                .value()
                .and_then(JsValue::as_string)
                .map(|s| s.to_std_string_escaped());
        }
        current = o.prototype();
    }
    None
}

/// An own property's descriptor; exotic objects (proxies, typed arrays) that keep theirs
/// elsewhere are asked for the value.
fn own_descriptor(
    object: &JsObject,
    key: &PropertyKey,
    context: &mut Context,
) -> Option<PropertyDescriptor> {
    let stored = object.borrow().properties().get(key);
    if stored.is_some() {
        return stored;
    }
    let value = object.get(key.clone(), context).ok()?;
    Some(
        PropertyDescriptor::builder()
            .value(value)
            .enumerable(true)
            .build(),
    )
}

fn array_length(object: &JsObject) -> u64 {
    object
        .borrow()
        .properties()
        .get(&PropertyKey::from(js_string!("length")))
        .and_then(|d| d.value().and_then(JsValue::as_number))
        .map_or(0, |n| n as u64)
}

fn empty_items(count: u64) -> String {
    format!("<{count} empty item{}>", if count > 1 { "s" } else { "" })
}

fn more_items(count: usize) -> String {
    more_items_u64(count as u64)
}

fn more_items_u64(count: u64) -> String {
    format!("... {count} more item{}", if count > 1 { "s" } else { "" })
}

/// A property name: bare if it is a simple identifier, else quoted.
fn key_text(key: &str) -> String {
    let mut chars = key.chars();
    let simple = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if simple { key.to_owned() } else { quote(key) }
}

/// node's `strEscape`: single quotes unless the text has them (then double quotes, or
/// backticks), control characters escaped.
pub(crate) fn quote(text: &str) -> String {
    let quote = if !text.contains('\'') {
        '\''
    } else if !text.contains('"') {
        '"'
    } else if !text.contains('`') && !text.contains("${") {
        '`'
    } else {
        '\''
    };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\\' => out.push_str("\\\\"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02X}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// A number as JavaScript prints it, with `-0` kept.
pub(crate) fn number_text(n: f64) -> String {
    if n == 0.0 && n.is_sign_negative() {
        return "-0".to_owned();
    }
    JsValue::new(n).display().to_string()
}

/// node's `util.format` of one console call's arguments: `%s %d %i %f %j %o %O %c %%` in
/// a leading string, the other arguments inspected (strings as they are) and joined by
/// spaces. Stops at `budget` bytes and ends a cut output with [`CUT_MARK`].
pub(crate) fn format_arguments(args: &[JsValue], budget: usize, context: &mut Context) -> String {
    if let [only] = args
        && let Some(text) = only.as_string()
    {
        // A lone string is printed as it is, `%` and all.
        return text.to_std_string_escaped();
    }
    let mut inspector = Inspector::new(context, budget);
    let mut out = String::new();
    let mut rest = args;
    let mut separator = "";
    if let Some(first) = args.first().and_then(JsValue::as_string) {
        let first = first.to_std_string_escaped();
        rest = &args[1..];
        out = substitute(&first, &mut rest, &mut inspector);
        inspector.charge(out.len());
        separator = " ";
    }
    for value in rest {
        if inspector.exhausted() {
            break;
        }
        out.push_str(separator);
        separator = " ";
        match value.as_string() {
            Some(s) => {
                let s = s.to_std_string_escaped();
                inspector.charge(s.len());
                out.push_str(&s);
            }
            None => out.push_str(&inspector.inspect(value, Options::DEFAULT)),
        }
    }
    if inspector.exhausted() {
        out.push_str(CUT_MARK);
    }
    out
}

/// Replaces the format specifiers of `format`, taking their arguments from `args`.
fn substitute(format: &str, args: &mut &[JsValue], inspector: &mut Inspector<'_>) -> String {
    let mut out = String::with_capacity(format.len());
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(&spec) = chars.peek() else {
            out.push('%');
            break;
        };
        if spec == '%' {
            chars.next();
            out.push('%');
            continue;
        }
        let Some((arg, remaining)) = args.split_first() else {
            out.push('%');
            continue;
        };
        let text = match spec {
            's' => Some(string_specifier(arg, inspector)),
            'd' => Some(number_specifier(arg, inspector, Conversion::Number)),
            'i' => Some(number_specifier(arg, inspector, Conversion::ParseInt)),
            'f' => Some(number_specifier(arg, inspector, Conversion::ParseFloat)),
            'j' => Some(json_specifier(arg, inspector)),
            'o' => Some(inspector.inspect(arg, Options::DETAILED)),
            'O' => Some(inspector.inspect(arg, Options::DEFAULT)),
            'c' => Some(String::new()),
            _ => None,
        };
        match text {
            Some(text) => {
                chars.next();
                *args = remaining;
                out.push_str(&text);
            }
            None => out.push('%'),
        }
    }
    out
}

/// `%s`: numbers and bigints as inspected, objects without their own `toString`
/// inspected one level deep, everything else through `String(value)`.
fn string_specifier(arg: &JsValue, inspector: &mut Inspector<'_>) -> String {
    if arg.is_number() || arg.is_bigint() {
        return inspector.inspect(arg, Options::DEFAULT);
    }
    if let Some(object) = arg.as_object()
        && has_builtin_to_string(&object)
    {
        return inspector.inspect(arg, Options::SHALLOW);
    }
    if let Some(symbol) = arg.as_symbol() {
        return symbol.descriptive_string().to_std_string_escaped();
    }
    arg.to_string(inspector.context())
        .map(|s| s.to_std_string_escaped())
        .unwrap_or_else(|_| "[object]".to_owned())
}

/// node's `hasBuiltInToString`: the `toString` an object would use is a built-in's.
fn has_builtin_to_string(object: &JsObject) -> bool {
    const BUILTINS: &[&str] = &[
        "Object", "Array", "Error", "Date", "RegExp", "Map", "Set", "Function", "Promise",
        "WeakMap", "WeakSet", "Number", "String", "Boolean", "Symbol", "BigInt",
    ];
    let key = PropertyKey::from(js_string!("toString"));
    let mut current = Some(object.clone());
    for _ in 0..MAX_CHAIN {
        let Some(o) = current else { return true };
        if o.borrow().properties().get(&key).is_some() {
            if &o == object {
                return false;
            }
            let constructor = o
                .borrow()
                .properties()
                .get(&PropertyKey::from(js_string!("constructor")))
                .and_then(|d| d.value().cloned())
                .and_then(|v| v.as_object());
            return constructor
                .and_then(|c| own_string(&c, "name"))
                .is_some_and(|name| BUILTINS.contains(&name.as_str()));
        }
        current = o.prototype();
    }
    true
}

#[derive(Clone, Copy)]
enum Conversion {
    /// `Number(value)` (`%d`).
    Number,
    /// `parseInt(String(value))` (`%i`).
    ParseInt,
    /// `parseFloat(String(value))` (`%f`).
    ParseFloat,
}

/// `%d`, `%i` and `%f`: symbols as `NaN`, bigints as `1n` (but for `%f`), else the number
/// `conversion` makes.
fn number_specifier(
    arg: &JsValue,
    inspector: &mut Inspector<'_>,
    conversion: Conversion,
) -> String {
    if arg.as_symbol().is_some() {
        return "NaN".to_owned();
    }
    if let Some(n) = arg.as_bigint()
        && !matches!(conversion, Conversion::ParseFloat)
    {
        return format!("{n}n");
    }
    let context = inspector.context();
    let text = |context: &mut Context| {
        arg.to_string(context)
            .map(|s| s.to_std_string_escaped())
            .unwrap_or_default()
    };
    let number = match conversion {
        Conversion::Number => arg.to_number(context).unwrap_or(f64::NAN),
        Conversion::ParseInt => parse_int(&text(context)),
        Conversion::ParseFloat => parse_float(&text(context)),
    };
    number_text(number)
}

/// `%j`: `JSON.stringify` through the intrinsic; `[Circular]` when it cannot.
fn json_specifier(arg: &JsValue, inspector: &mut Inspector<'_>) -> String {
    let context = inspector.context();
    let json = context.intrinsics().objects().json();
    let stringify = json
        .get(js_string!("stringify"), context)
        .ok()
        .and_then(|f| f.as_function());
    let Some(stringify) = stringify else {
        return "undefined".to_owned();
    };
    match stringify.call(&json.clone().into(), std::slice::from_ref(arg), context) {
        Ok(value) => value
            .as_string()
            .map_or_else(|| "undefined".to_owned(), |s| s.to_std_string_escaped()),
        Err(_) => "[Circular]".to_owned(),
    }
}

/// `parseInt(text)` for base 10 (what `%i` does).
fn parse_int(text: &str) -> f64 {
    let trimmed = text.trim_start();
    let (sign, digits) = match trimmed.as_bytes().first() {
        Some(b'-') => (-1.0, &trimmed[1..]),
        Some(b'+') => (1.0, &trimmed[1..]),
        _ => (1.0, trimmed),
    };
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    if end == 0 {
        return f64::NAN;
    }
    digits[..end].parse::<f64>().map_or(f64::NAN, |n| sign * n)
}

/// `parseFloat(text)`: the longest leading decimal literal, or `Infinity`.
fn parse_float(text: &str) -> f64 {
    let trimmed = text.trim_start();
    for (prefix, value) in [
        ("Infinity", f64::INFINITY),
        ("+Infinity", f64::INFINITY),
        ("-Infinity", f64::NEG_INFINITY),
    ] {
        if trimmed.starts_with(prefix) {
            return value;
        }
    }
    let bytes = trimmed.as_bytes();
    let mut end = 0;
    let mut best = None;
    let mut seen_dot = false;
    let mut seen_exp = false;
    if matches!(bytes.first(), Some(b'-' | b'+')) {
        end = 1;
    }
    while end < bytes.len() {
        match bytes[end] {
            b'0'..=b'9' => {
                end += 1;
                best = Some(end);
                continue;
            }
            b'.' if !seen_dot && !seen_exp => seen_dot = true,
            b'e' | b'E' if !seen_exp && best.is_some() => {
                seen_exp = true;
                if matches!(bytes.get(end + 1), Some(b'-' | b'+')) {
                    end += 1;
                }
            }
            _ => break,
        }
        end += 1;
    }
    best.and_then(|end| trimmed[..end].parse().ok())
        .unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use boa_engine::object::builtins::JsArray;
    use boa_engine::{Context, JsValue, Source};

    use super::{CUT_MARK, format_arguments};

    const PRELUDE: &str = "class Foo { constructor() { this.x = 1; } } class Bar extends Foo {} const circ = { name: 'c' }; circ.self = circ;";

    /// `console.log(ARGS)` and what node 20 prints for it (`util.format(ARGS)`).
    const NODE_OUTPUT: &[(&str, &str)] = &[
        (r#"'plain string', 'second'"#, r#"plain string second"#),
        (r#"{ a: 1, b: 'x' }"#, r#"{ a: 1, b: 'x' }"#),
        (r#"[1, 2, 3]"#, r#"[ 1, 2, 3 ]"#),
        (
            r#"{ a: { b: { c: { d: 1 } } } }"#,
            r#"{ a: { b: { c: [Object] } } }"#,
        ),
        (r#"[[1, [2, [3, [4]]]]]"#, r#"[ [ 1, [ 2, [Array] ] ] ]"#),
        (r#"new Map([[1, 2]])"#, r#"Map(1) { 1 => 2 }"#),
        (r#"new Set([1, 2])"#, r#"Set(2) { 1, 2 }"#),
        (
            r#"new Map(), new Set(), [], {}"#,
            r#"Map(0) {} Set(0) {} [] {}"#,
        ),
        (
            r#"new Date(Date.UTC(2026, 0, 1))"#,
            r#"2026-01-01T00:00:00.000Z"#,
        ),
        (r#"new Date(NaN)"#, r#"Invalid Date"#),
        (r#"new Foo()"#, r#"Foo { x: 1 }"#),
        (
            r#"new Bar(), class Baz {}, Bar, function named() {}, () => 1, async function af() {}"#,
            r#"Bar { x: 1 } [class Baz] [class Bar extends Foo] [Function: named] [Function (anonymous)] [AsyncFunction: af]"#,
        ),
        (r#"circ"#, r#"<ref *1> { name: 'c', self: [Circular *1] }"#),
        (
            r#"Symbol('s'), 10n, -0, 0, NaN, null, undefined, true"#,
            r#"Symbol(s) 10n -0 0 NaN null undefined true"#,
        ),
        (
            r#"{ s: "it's", t: "q\"'", n: 'a\nb' }"#,
            r#"{ s: "it's", t: `q"'`, n: 'a\nb' }"#,
        ),
        (
            r#"{ 'a-b': 1, [Symbol('k')]: 2, 3: 'three' }"#,
            r#"{ '3': 'three', 'a-b': 1, [Symbol(k)]: 2 }"#,
        ),
        (
            r#"Array.from({ length: 30 }, (_, i) => i)"#,
            r#"[
   0,  1,  2,  3,  4,  5,  6,  7,  8,
   9, 10, 11, 12, 13, 14, 15, 16, 17,
  18, 19, 20, 21, 22, 23, 24, 25, 26,
  27, 28, 29
]"#,
        ),
        (
            r#"Array.from({ length: 120 }, (_, i) => i)"#,
            r#"[
   0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11,
  12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23,
  24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35,
  36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47,
  48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59,
  60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 71,
  72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 83,
  84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95,
  96, 97, 98, 99,
  ... 20 more items
]"#,
        ),
        (
            r#"{ alpha: 'aaaaaaaaaaaaaaa', beta: 'bbbbbbbbbbbbbbbbbb', gamma: 'ccccccccccccccccc', delta: 1 }"#,
            r#"{
  alpha: 'aaaaaaaaaaaaaaa',
  beta: 'bbbbbbbbbbbbbbbbbb',
  gamma: 'ccccccccccccccccc',
  delta: 1
}"#,
        ),
        (
            r#"'%s is %d years and %i, %f', 'Bob', 42.5, 42.9, '3.5'"#,
            r#"Bob is 42.5 years and 42, 3.5"#,
        ),
        (
            r#"'%j %o %O', { a: [1] }, { b: 2 }, { c: { d: { e: {} } } }"#,
            r#"{"a":[1]} { b: 2 } { c: { d: { e: {} } } }"#,
        ),
        (
            r#"'%c styled', 'color: red', 'extra', 5"#,
            r#" styled extra 5"#,
        ),
        (r#"'100%', 'done', '%s'"#, r#"100% done %s"#),
        (r#"'100%% alone'"#, r#"100%% alone"#),
        (r#"'%s and %s', 'one'"#, r#"one and %s"#),
        (
            r#"[1, , 3], new Array(5)"#,
            r#"[ 1, <1 empty item>, 3 ] [ <5 empty items> ]"#,
        ),
        (
            r#"{ get g() { return 1; }, set s(v) {}, get gs() { return 1; }, set gs(v) {} }"#,
            r#"{ g: [Getter], s: [Setter], gs: [Getter/Setter] }"#,
        ),
        (
            r#"Object.create(null), Object.assign(Object.create(null), { a: 1 })"#,
            r#"[Object: null prototype] {} [Object: null prototype] { a: 1 }"#,
        ),
        (r#"/ab+c/gi"#, r#"/ab+c/gi"#),
        (r#"Promise.resolve(4)"#, r#"Promise { 4 }"#),
        (
            r#"new Uint8Array([1, 2, 3])"#,
            r#"Uint8Array(3) [ 1, 2, 3 ]"#,
        ),
        (
            r#"'%s', { a: { b: 1 } }, [1, [2]]"#,
            r#"{ a: [Object] } [ 1, [ 2 ] ]"#,
        ),
        (r#"'%d %i', '12abc', '12abc'"#, r#"NaN 12"#),
        (
            r#"{ list: Array.from({ length: 10 }, (_, i) => 'item' + i) }"#,
            r#"{
  list: [
    'item0', 'item1',
    'item2', 'item3',
    'item4', 'item5',
    'item6', 'item7',
    'item8', 'item9'
  ]
}"#,
        ),
        (
            r#"[new Map([['k', { v: [1, 2] }]])]"#,
            r#"[ Map(1) { 'k' => { v: [Array] } } ]"#,
        ),
        (
            r#"Object.assign(() => {}, { extra: 1 })"#,
            r#"[Function (anonymous)] { extra: 1 }"#,
        ),
        (
            r#"{ und: undefined, long: 'x'.repeat(100) }"#,
            r#"{
  und: undefined,
  long: 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'
}"#,
        ),
        (
            r#"{ a: { b: { c: new Foo() } } }"#,
            r#"{ a: { b: { c: [Foo] } } }"#,
        ),
        (
            r#"[{ a: 1, b: 2 }, { a: 3, b: 4 }, { a: 5, b: 6 }, { a: 7, b: 8 }, { a: 9, b: 10 }, { a: 11, b: 12 }, { a: 13 }]"#,
            r#"[
  { a: 1, b: 2 },
  { a: 3, b: 4 },
  { a: 5, b: 6 },
  { a: 7, b: 8 },
  { a: 9, b: 10 },
  { a: 11, b: 12 },
  { a: 13 }
]"#,
        ),
        (
            r#"new Map([['alpha', { one: 1, two: 2 }], ['beta', { three: 3, four: [4, 5, 6] }], ['gamma', 'x'.repeat(20)]])"#,
            r#"Map(3) {
  'alpha' => { one: 1, two: 2 },
  'beta' => { three: 3, four: [ 4, 5, 6 ] },
  'gamma' => 'xxxxxxxxxxxxxxxxxxxx'
}"#,
        ),
        (
            r#"['a\nb', 'a'.repeat(80) + '\nsecond line']"#,
            r#"[
  'a\nb',
  'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n' +
    'second line'
]"#,
        ),
        (
            r#"[1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n]"#,
            r#"[
  1n, 2n, 3n, 4n,
  5n, 6n, 7n, 8n
]"#,
        ),
        (
            r#"{ [Symbol.toStringTag]: 'Custom', v: 1 }"#,
            r#"{ v: 1, [Symbol(Symbol.toStringTag)]: 'Custom' }"#,
        ),
        (
            r#"new WeakMap(), new WeakSet()"#,
            r#"WeakMap { <items unknown> } WeakSet { <items unknown> }"#,
        ),
        (r#"'%o', [1, 2]"#, r#"[ 1, 2, [length]: 2 ]"#),
        (r#"'%s %s', 5n, -0"#, r#"5n -0"#),
        (r#"'%j', circ"#, r#"[Circular]"#),
        (
            r#"{ 'key with space': 1, valid_id: 2, $dollar: 3 }"#,
            r#"{ 'key with space': 1, valid_id: 2, '$dollar': 3 }"#,
        ),
        (
            r#"1e21, 0.1 + 0.2, -5, 1 / 3"#,
            r#"1e+21 0.30000000000000004 -5 0.3333333333333333"#,
        ),
    ];

    fn arguments(args: &str, context: &mut Context) -> Vec<JsValue> {
        let source = format!("{PRELUDE} [{args}]");
        let value = context
            .eval(Source::from_bytes(&source))
            .unwrap_or_else(|e| panic!("{args}: {e}"));
        let array = JsArray::from_object(value.as_object().expect("an array")).expect("an array");
        let length = array.length(context).expect("a length");
        (0..length)
            .map(|i| array.get(i, context).expect("an element"))
            .collect()
    }

    #[test]
    fn values_print_as_node_prints_them() {
        let mut failures = Vec::new();
        for (args, expected) in NODE_OUTPUT {
            let mut context = Context::default();
            let values = arguments(args, &mut context);
            let got = format_arguments(&values, 1 << 20, &mut context);
            if got != *expected {
                failures.push(format!(
                    "console.log({args})\n  node: {expected:?}\n  got:  {got:?}"
                ));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn a_huge_value_stops_at_the_budget_and_says_so() {
        let mut context = Context::default();
        let values = arguments(
            "Array.from({ length: 2000 }, (_, i) => ({ ['key' + i]: 'v'.repeat(50), n: [i, { i }] }))",
            &mut context,
        );
        let got = format_arguments(&values, 4096, &mut context);
        assert!(got.ends_with(CUT_MARK), "{got}");
        assert!(got.len() < 4096 + 1024, "{} bytes", got.len());

        // An object with many keys is cut the same way.
        let mut context = Context::default();
        let values = arguments(
            "Object.fromEntries(Array.from({ length: 50000 }, (_, i) => ['k' + i, i]))",
            &mut context,
        );
        let got = format_arguments(&values, 1000, &mut context);
        assert!(got.ends_with(CUT_MARK), "{got}");
        assert!(got.len() < 2000, "{} bytes", got.len());
    }

    #[test]
    fn a_budget_that_is_not_reached_changes_nothing() {
        let mut context = Context::default();
        let values = arguments("{ a: [1, 2, 3], b: 'x' }", &mut context);
        assert_eq!(
            format_arguments(&values, 64, &mut context),
            "{ a: [ 1, 2, 3 ], b: 'x' }"
        );
    }
}
