//! `console.*` for handlers: every line goes to the attempt's [`Outbox`], never to stdout.

use std::rc::Rc;

use boa_engine::{Context, JsResult};
use boa_gc::{Finalize, Trace};
use boa_runtime::{ConsoleState, Logger};
use jobvisor_protocol::worker::LogLevel;

use crate::outbox::Outbox;

/// The console logger installed in every context.
#[derive(Trace, Finalize)]
pub(crate) struct CapturedConsole {
    #[unsafe_ignore_trace]
    outbox: Rc<Outbox>,
}

impl CapturedConsole {
    pub(crate) fn new(outbox: Rc<Outbox>) -> Self {
        CapturedConsole { outbox }
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
