//! The engine's process-wide state that is built lazily on first use, built on purpose
//! before the sandbox is entered.
//!
//! Some engine facilities initialise a process-global the first time a script uses them,
//! and that initialisation may touch the filesystem. Inside the sandbox such a touch
//! kills the worker, at a moment only the script chooses. Each one is used here once, in
//! the throwaway context of [`super::Engine::warm_up`].

use boa_engine::{Context, Source};

/// JavaScript that touches each lazily initialised engine facility once.
///
/// - `Symbol.for` / `Symbol.keyFor`: the global symbol registry is a process-wide concurrent
///   map whose shard count comes from the number of CPUs, which the standard library reads
///   from `/proc/self/cgroup` and `/sys/fs/cgroup`.
///
/// The time zone is loaded by the sandbox itself (`tzset`); the other built-ins (Unicode
/// RegExp properties, `Math.random`, locale-free formatting, `normalize`) were traced and
/// make no system call beyond the allow-list.
const WARM_UP_SCRIPT: &str = r#"Symbol.keyFor(Symbol.for("jobvisor.warm-up"));"#;

/// Runs [`WARM_UP_SCRIPT`] in `context`. A failure is ignored: it only means the facility
/// is initialised later, where the sandbox reports it as a crash instead of hiding it.
pub(super) fn initialise_lazy_state(context: &mut Context) {
    let _ = context.eval(Source::from_bytes(WARM_UP_SCRIPT));
}
