//! systemd notifications (`sd_notify`): READY, STOPPING, WATCHDOG and STATUS, sent to
//! `$NOTIFY_SOCKET` when the daemon runs under `Type=notify`. Does nothing otherwise.

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::{Duration, Instant};

use tracing::warn;

pub struct Notifier {
    socket: Option<(UnixDatagram, SocketAddr)>,
    watchdog_every: Option<Duration>,
    last_watchdog: Instant,
}

impl Notifier {
    /// Reads `NOTIFY_SOCKET` and `WATCHDOG_USEC` from the environment.
    pub fn from_env() -> Notifier {
        let socket = std::env::var_os("NOTIFY_SOCKET").and_then(|path| {
            let path = path.to_string_lossy().into_owned();
            let addr = match path.strip_prefix('@') {
                Some(name) => SocketAddr::from_abstract_name(name.as_bytes()),
                None => SocketAddr::from_pathname(&path),
            };
            match (UnixDatagram::unbound(), addr) {
                (Ok(socket), Ok(addr)) => Some((socket, addr)),
                (Err(e), _) | (_, Err(e)) => {
                    warn!(error = %e, "NOTIFY_SOCKET is set but unusable");
                    None
                }
            }
        });
        let watchdog_every = std::env::var("WATCHDOG_USEC")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|usec| *usec > 0)
            .map(|usec| Duration::from_micros(usec / 2));
        Notifier {
            socket,
            watchdog_every,
            last_watchdog: Instant::now(),
        }
    }

    fn send(&self, message: &str) {
        if let Some((socket, addr)) = &self.socket
            && let Err(e) = socket.send_to_addr(message.as_bytes(), addr)
        {
            warn!(error = %e, message, "sd_notify failed");
        }
    }

    pub fn ready(&self, status: &str) {
        self.send(&format!("READY=1\nSTATUS={status}"));
    }

    pub fn stopping(&self) {
        self.send("STOPPING=1\nSTATUS=draining");
    }

    /// How often the caller must call [`Notifier::watchdog`] so that pings go out about
    /// every half watchdog period (a quarter of it: the check itself lands between
    /// ticks).
    pub fn watchdog_check_every(&self) -> Option<Duration> {
        self.watchdog_every.map(|every| every / 2)
    }

    /// Pings the watchdog when half its period has passed. Called from the dispatcher's
    /// loop, so a stuck loop stops the pings.
    pub fn watchdog(&mut self) {
        if let Some(every) = self.watchdog_every
            && self.last_watchdog.elapsed() >= every
        {
            self.send("WATCHDOG=1");
            self.last_watchdog = Instant::now();
        }
    }
}
