//! The control socket: how the CLI talks to the daemon.

pub mod server;
