//! The daemon's signals as events: SIGTERM and SIGINT are [`SignalKind::Stop`] (the first
//! drains, a second kills what still runs), SIGHUP is [`SignalKind::Hangup`] (logged,
//! never a stop). A [`SignalSource`] says where they come from: the process (`Os`),
//! nowhere (`Noop`: a daemon run in-process by a test must not take the test runner's
//! signals), or a channel a test sends them on.
//!
//! Must not: reap orphans or do any other periodic work; that is its own tick in `serve`.

use tokio::signal::unix::{Signal, SignalKind as Sig, signal};
use tokio::sync::mpsc;
use tracing::error;

/// A signal, as the dispatcher sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalKind {
    /// SIGTERM or SIGINT.
    Stop,
    Hangup,
}

/// Where the daemon's signals come from. Nothing is installed until [`SignalSource::listen`]:
/// a signal that comes before keeps its default action, as it did before the daemon was
/// ready to drain.
#[derive(Debug)]
pub enum SignalSource {
    /// SIGTERM, SIGINT and SIGHUP of this process.
    Os,
    /// No signal ever: the daemon stops only when asked over its control socket.
    Noop,
    /// Whatever is sent on the channel (for tests).
    Channel(mpsc::UnboundedReceiver<SignalKind>),
}

impl SignalSource {
    /// A source fed by the returned sender.
    pub fn channel() -> (mpsc::UnboundedSender<SignalKind>, SignalSource) {
        let (tx, rx) = mpsc::unbounded_channel();
        (tx, SignalSource::Channel(rx))
    }

    /// Starts listening. If the process's handlers cannot be installed, that is logged
    /// and the daemon runs on without them (it can still be drained over the socket).
    pub fn listen(self) -> Signals {
        let inner = match self {
            SignalSource::Os => match (
                signal(Sig::terminate()),
                signal(Sig::interrupt()),
                signal(Sig::hangup()),
            ) {
                (Ok(term), Ok(int), Ok(hup)) => Inner::Os { term, int, hup },
                _ => {
                    error!("cannot install signal handlers");
                    Inner::Noop
                }
            },
            SignalSource::Noop => Inner::Noop,
            SignalSource::Channel(rx) => Inner::Channel(rx),
        };
        Signals { inner }
    }
}

/// Signals being listened to.
#[derive(Debug)]
pub struct Signals {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    Os {
        term: Signal,
        int: Signal,
        hup: Signal,
    },
    Noop,
    Channel(mpsc::UnboundedReceiver<SignalKind>),
}

impl Signals {
    /// The next signal; `None` once no more can come (a channel whose senders are gone).
    /// A `Noop` source never answers. Cancel safe: a signal is never lost to a `select!`.
    pub async fn recv(&mut self) -> Option<SignalKind> {
        match &mut self.inner {
            Inner::Os { term, int, hup } => tokio::select! {
                Some(()) = term.recv() => Some(SignalKind::Stop),
                Some(()) = int.recv() => Some(SignalKind::Stop),
                Some(()) = hup.recv() => Some(SignalKind::Hangup),
                else => None,
            },
            Inner::Noop => std::future::pending().await,
            Inner::Channel(rx) => rx.recv().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_channel_source_delivers_its_signals_in_order_then_ends() {
        let (tx, source) = SignalSource::channel();
        let mut signals = source.listen();
        tx.send(SignalKind::Hangup).unwrap();
        tx.send(SignalKind::Stop).unwrap();
        drop(tx);
        assert_eq!(signals.recv().await, Some(SignalKind::Hangup));
        assert_eq!(signals.recv().await, Some(SignalKind::Stop));
        assert_eq!(signals.recv().await, None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_noop_source_never_delivers() {
        let mut signals = SignalSource::Noop.listen();
        let waited =
            tokio::time::timeout(std::time::Duration::from_secs(3600), signals.recv()).await;
        assert!(waited.is_err(), "a noop source delivered {waited:?}");
    }
}
