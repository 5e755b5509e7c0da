//! The console lines of the attempt in hand, and their caps.
//!
//! Lines become `Log` frames queued on the [`Channel`], which writes them when the attempt
//! ends, when the engine is about to wait, or when its buffer grows large: a chatty handler
//! costs few syscalls, and a long-waiting one still shows its lines as they happen. The
//! outbox owns the caps: lines past them are counted and dropped, and one marker line says
//! so.

use std::cell::RefCell;
use std::rc::Rc;

use jobvisor_protocol::worker::{FromWorker, JobLimits, LogLevel};

use crate::channel::Channel;

pub(crate) struct Outbox {
    channel: Rc<Channel>,
    state: RefCell<State>,
}

struct State {
    attempt: Option<(i64, u32)>,
    max_lines: u32,
    max_bytes: u32,
    lines: u32,
    bytes: u32,
    dropped: u32,
}

impl Outbox {
    pub(crate) fn new(channel: Rc<Channel>) -> Self {
        Outbox {
            channel,
            state: RefCell::new(State {
                attempt: None,
                max_lines: 0,
                max_bytes: 0,
                lines: 0,
                bytes: 0,
                dropped: 0,
            }),
        }
    }

    /// Starts capturing console lines for one attempt.
    pub(crate) fn begin(&self, job_id: i64, attempt: u32, limits: &JobLimits) {
        let mut s = self.state.borrow_mut();
        s.attempt = Some((job_id, attempt));
        s.max_lines = limits.max_log_lines;
        s.max_bytes = limits.max_log_bytes;
        s.lines = 0;
        s.bytes = 0;
        s.dropped = 0;
    }

    /// Stops capturing; returns how many lines were dropped.
    pub(crate) fn end(&self) -> u32 {
        let mut s = self.state.borrow_mut();
        s.attempt = None;
        s.dropped
    }

    /// How many more console bytes the attempt in hand may write (0 outside an attempt).
    pub(crate) fn room(&self) -> usize {
        let s = self.state.borrow();
        if s.attempt.is_none() || s.lines >= s.max_lines {
            return 0;
        }
        s.max_bytes.saturating_sub(s.bytes) as usize
    }

    /// Records one console line of the attempt in hand, within its caps. Lines outside
    /// an attempt (top-level module code) are dropped.
    pub(crate) fn log(&self, level: LogLevel, mut text: String) {
        let mut s = self.state.borrow_mut();
        let Some((job_id, attempt)) = s.attempt else {
            return;
        };
        if s.lines >= s.max_lines || s.bytes >= s.max_bytes {
            if s.dropped == 0 {
                let marker = format!(
                    "[jobvisor] console output truncated: this attempt reached its limit of {} lines / {} bytes; later lines are dropped",
                    s.max_lines, s.max_bytes
                );
                self.channel.queue(&FromWorker::Log {
                    job_id,
                    attempt,
                    level: LogLevel::Warn,
                    text: marker,
                });
            }
            s.dropped = s.dropped.saturating_add(1);
            return;
        }
        let room = (s.max_bytes - s.bytes) as usize;
        if text.len() > room {
            let cut = floor_char_boundary(&text, room);
            let lost = text.len() - cut;
            text.truncate(cut);
            text.push_str(&format!("… [truncated {lost} bytes]"));
        }
        s.lines += 1;
        s.bytes = s
            .bytes
            .saturating_add(u32::try_from(text.len()).unwrap_or(u32::MAX));
        self.channel.queue(&FromWorker::Log {
            job_id,
            attempt,
            level,
            text,
        });
    }
}

/// The largest index `<= at` that is a char boundary of `s`.
pub(crate) fn floor_char_boundary(s: &str, at: usize) -> usize {
    if at >= s.len() {
        return s.len();
    }
    let mut i = at;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}
