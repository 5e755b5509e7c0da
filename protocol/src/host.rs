//! Host calls: what a running job asks of the supervisor, and the answers.
//!
//! A worker has no network, no files and no clock beyond its timers; every capability a
//! script uses beyond the language is one [`HostOp`] sent as
//! [`crate::worker::FromWorker::HostCall`] and answered by one [`HostResult`] in
//! [`crate::worker::ToWorker::HostReply`]. The supervisor's host service decides each call
//! under the policy of the job's script. Both sides cap what they accept: a call or a
//! reply larger than [`MAX_HOST_CALL_BYTES`], or more than [`MAX_HOST_CALLS_IN_FLIGHT`]
//! calls unanswered, ends the attempt as a protocol error.
//!
//! New ops are appended at the end of [`HostOp`] (bincode encodes the variant index).

use serde::{Deserialize, Serialize};

/// Largest encoded `HostCall` or `HostReply` frame either side accepts, in bytes.
pub const MAX_HOST_CALL_BYTES: usize = 1024 * 1024;

/// Most host calls one worker may have unanswered at a time.
pub const MAX_HOST_CALLS_IN_FLIGHT: usize = 64;

/// One request to the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum HostOp {
    /// Answers `Value` with the same text. Proves the path end to end; costs the host
    /// nothing.
    Echo { text: String },
}

/// The host's answer to one call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum HostResult {
    /// The op's value (for `Echo`: the text sent).
    Value { text: String },
    /// The host refused or failed the call; `message` says why, for the script's error.
    Refused {
        kind: HostErrorKind,
        message: String,
    },
}

/// Why a host call was not answered with a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HostErrorKind {
    /// The script's policy does not allow this call.
    Denied,
    /// The call was well formed but its arguments are not acceptable.
    Invalid,
    /// The host could not do it (an I/O error, a time-out).
    Failed,
}
