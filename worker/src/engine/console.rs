//! `console.*` for handlers: every line goes to the attempt's [`Outbox`], never to stdout,
//! and values are shown as node shows them (see [`super::inspect`]).

use std::cell::Cell;
use std::rc::Rc;

use boa_engine::object::FunctionObjectBuilder;
use boa_engine::object::builtins::JsFunction;
use boa_engine::property::PropertyDescriptor;
use boa_engine::{Context, JsNativeError, JsResult, JsString, JsValue, NativeFunction, js_string};
use boa_gc::{Finalize, Trace};
use boa_runtime::{ConsoleState, Logger};
use jobvisor_protocol::worker::LogLevel;

use super::inspect::{CUT_MARK, Inspector, Options, format_arguments};
use crate::outbox::Outbox;

/// The console methods whose arguments are formatted as node formats them.
const FORMATTING_METHODS: &[&str] = &["log", "info", "debug", "warn", "error", "trace"];

/// The engine's `console.group` logs its label as `group: LABEL`; node logs `LABEL`, and
/// nothing for a group without one. The replaced `group` says so here just before the
/// engine logs the label, so the logger can tell that line from any other.
pub(crate) type GroupLabelNext = Rc<Cell<GroupLabel>>;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GroupLabel {
    /// The next info line is an ordinary one.
    #[default]
    None,
    /// The next info line is a group label to show without the engine's prefix.
    Show,
    /// The next info line is the empty label of a group without one: dropped.
    Drop,
}

/// The console logger installed in every context.
#[derive(Trace, Finalize)]
pub(crate) struct CapturedConsole {
    #[unsafe_ignore_trace]
    outbox: Rc<Outbox>,
    #[unsafe_ignore_trace]
    group_label_next: GroupLabelNext,
}

impl CapturedConsole {
    pub(crate) fn new(outbox: Rc<Outbox>, group_label_next: GroupLabelNext) -> Self {
        CapturedConsole {
            outbox,
            group_label_next,
        }
    }

    fn emit(&self, level: LogLevel, msg: String, state: &ConsoleState) {
        let indent = state.indent();
        if indent == 0 {
            self.outbox.log(level, msg);
        } else {
            self.outbox.log(level, format!("{:indent$}{msg}", ""));
        }
    }
}

impl std::fmt::Debug for CapturedConsole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CapturedConsole")
    }
}

impl Logger for CapturedConsole {
    fn debug(&self, msg: String, state: &ConsoleState, _: &mut Context) -> JsResult<()> {
        self.emit(LogLevel::Debug, msg, state);
        Ok(())
    }

    fn log(&self, msg: String, state: &ConsoleState, _: &mut Context) -> JsResult<()> {
        self.emit(LogLevel::Info, msg, state);
        Ok(())
    }

    fn info(&self, msg: String, state: &ConsoleState, _: &mut Context) -> JsResult<()> {
        let msg = match (self.group_label_next.take(), msg.strip_prefix("group: ")) {
            (GroupLabel::Show, Some(label)) => label.to_owned(),
            (GroupLabel::Drop, Some(_)) => return Ok(()),
            _ => msg,
        };
        self.emit(LogLevel::Info, msg, state);
        Ok(())
    }

    fn warn(&self, msg: String, state: &ConsoleState, _: &mut Context) -> JsResult<()> {
        self.emit(LogLevel::Warn, msg, state);
        Ok(())
    }

    fn error(&self, msg: String, state: &ConsoleState, _: &mut Context) -> JsResult<()> {
        self.emit(LogLevel::Error, msg, state);
        Ok(())
    }
}

/// What a replaced console method needs: the engine's own method, which it calls with the
/// formatted line (so levels and group indentation stay the engine console's), and the
/// outbox, whose room bounds the formatting work.
#[derive(Trace, Finalize)]
struct Formatting {
    original: JsFunction,
    #[unsafe_ignore_trace]
    outbox: Rc<Outbox>,
    #[unsafe_ignore_trace]
    group_label_next: GroupLabelNext,
}

/// Replaces `console.log` and its siblings, `assert` and `dir` with versions that format
/// their arguments with [`format_arguments`].
pub(crate) fn install_formatting(
    context: &mut Context,
    outbox: &Rc<Outbox>,
    group_label_next: &GroupLabelNext,
) -> JsResult<()> {
    let console = context
        .global_object()
        .get(js_string!("console"), context)?
        .as_object()
        .ok_or_else(|| JsNativeError::typ().with_message("console is missing"))?;
    let method = |name: &str, context: &mut Context| -> JsResult<JsFunction> {
        console
            .get(JsString::from(name), context)?
            .as_function()
            .ok_or_else(|| {
                JsNativeError::typ()
                    .with_message(format!("console.{name} is missing"))
                    .into()
            })
    };
    let replace =
        |name: &str,
         original: JsFunction,
         body: fn(&JsValue, &[JsValue], &Formatting, &mut Context) -> JsResult<JsValue>,
         context: &mut Context|
         -> JsResult<()> {
            let captures = Formatting {
                original,
                outbox: outbox.clone(),
                group_label_next: group_label_next.clone(),
            };
            let function = FunctionObjectBuilder::new(
                context.realm(),
                NativeFunction::from_copy_closure_with_captures(body, captures),
            )
            .name(JsString::from(name))
            .length(0)
            .build();
            console.define_property_or_throw(
                JsString::from(name),
                PropertyDescriptor::builder()
                    .value(function)
                    .writable(true)
                    .enumerable(true)
                    .configurable(true),
                context,
            )?;
            Ok(())
        };
    // The engine's own methods, taken before any is replaced.
    let warn = method("warn", context)?;
    let log = method("log", context)?;
    for name in FORMATTING_METHODS {
        let original = method(name, context)?;
        replace(name, original, formatted_call, context)?;
    }
    replace("assert", warn, formatted_assert, context)?;
    replace("dir", log, inspected_call, context)?;
    for name in ["group", "groupCollapsed"] {
        let original = method(name, context)?;
        replace(name, original, group_call, context)?;
    }
    Ok(())
}

/// How many bytes the attempt's console may still take; formatting stops there.
fn room(formatting: &Formatting) -> usize {
    // One byte more than the room, so a cut line is longer than the room and the outbox
    // marks the cut as it does for any long line.
    formatting.outbox.room().saturating_add(1)
}

fn formatted_call(
    this: &JsValue,
    args: &[JsValue],
    formatting: &Formatting,
    context: &mut Context,
) -> JsResult<JsValue> {
    let line = format_arguments(args, room(formatting), context);
    formatting
        .original
        .call(this, &[JsString::from(line).into()], context)
}

/// `console.assert(condition, ...data)`: nothing when the condition holds, else
/// `Assertion failed: <data>` as a warning line (as node does).
fn formatted_assert(
    this: &JsValue,
    args: &[JsValue],
    formatting: &Formatting,
    context: &mut Context,
) -> JsResult<JsValue> {
    if args.first().is_some_and(JsValue::to_boolean) {
        return Ok(JsValue::undefined());
    }
    let data = args.get(1..).unwrap_or_default();
    let mut data = data.to_vec();
    // node puts the first argument into the message as `String(value)`.
    let first = match data.first() {
        None => JsString::from("Assertion failed"),
        Some(value) => JsString::from(format!(
            "Assertion failed: {}",
            value.to_string(context)?.to_std_string_escaped()
        )),
    };
    match data.first_mut() {
        Some(slot) => *slot = first.into(),
        None => data.push(first.into()),
    }
    let line = format_arguments(&data, room(formatting), context);
    formatting
        .original
        .call(this, &[JsString::from(line).into()], context)
}

/// `console.group(...label)`: the label formatted and logged as it is, then the engine's
/// group (which indents the lines after it).
fn group_call(
    this: &JsValue,
    args: &[JsValue],
    formatting: &Formatting,
    context: &mut Context,
) -> JsResult<JsValue> {
    let label = format_arguments(args, room(formatting), context);
    formatting.group_label_next.set(if args.is_empty() {
        GroupLabel::Drop
    } else {
        GroupLabel::Show
    });
    let result = formatting
        .original
        .call(this, &[JsString::from(label).into()], context);
    formatting.group_label_next.set(GroupLabel::None);
    result
}

/// `console.dir(value)`: the value inspected (a string quoted), as a log line.
fn inspected_call(
    this: &JsValue,
    args: &[JsValue],
    formatting: &Formatting,
    context: &mut Context,
) -> JsResult<JsValue> {
    let value = args.first().cloned().unwrap_or_default();
    let mut inspector = Inspector::new(context, room(formatting));
    let mut line = inspector.inspect(&value, Options::DEFAULT);
    if inspector.exhausted() {
        line.push_str(CUT_MARK);
    }
    formatting
        .original
        .call(this, &[JsString::from(line).into()], context)
}
