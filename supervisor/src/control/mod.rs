//! The control socket: how the CLI talks to the daemon.

mod admission;
mod connection;
pub mod server;
