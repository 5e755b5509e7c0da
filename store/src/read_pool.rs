//! A few read-only connections shared by every read (jobs, scripts, queues, schedules), so
//! that one slow read (a `status` count over a big table) does not hold up the others.
//! Each connection is opened on first use; `close` closes them all (the writer must be
//! the last connection, so that it removes the WAL when it closes).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, TryLockError};

use rusqlite::Connection;

use super::StoreOptions;
use super::error::StoreError;
use super::schema;

/// Read connections per store: enough that a scan does not stall a `jobs show`, few
/// enough that their page caches stay small.
pub(crate) const READ_CONNECTIONS: usize = 3;

enum Slot {
    Unopened,
    Open(Connection),
    Closed,
}

pub(crate) struct ReadPool {
    path: PathBuf,
    options: StoreOptions,
    slots: Vec<Mutex<Slot>>,
    /// Where the next read starts looking for a free connection.
    next: AtomicUsize,
}

/// A read connection held for one read.
pub(crate) struct ReadConn<'a>(MutexGuard<'a, Slot>);

impl std::ops::Deref for ReadConn<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        // `ReadPool::conn` only hands out a guard of an open slot.
        match &*self.0 {
            Slot::Open(conn) => conn,
            Slot::Unopened | Slot::Closed => unreachable!("checked in ReadPool::conn"),
        }
    }
}

impl std::ops::DerefMut for ReadConn<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        match &mut *self.0 {
            Slot::Open(conn) => conn,
            Slot::Unopened | Slot::Closed => unreachable!("checked in ReadPool::conn"),
        }
    }
}

impl ReadPool {
    /// `first`: an already open read connection (the open checks it settings).
    pub(crate) fn new(path: PathBuf, options: StoreOptions, first: Connection) -> Self {
        let mut slots = vec![Mutex::new(Slot::Open(first))];
        slots.extend((1..READ_CONNECTIONS).map(|_| Mutex::new(Slot::Unopened)));
        Self {
            path,
            options,
            slots,
            next: AtomicUsize::new(0),
        }
    }

    /// The store clock's now, for reads that hide expired rows.
    pub(crate) fn now_ms(&self) -> i64 {
        self.options.clock.now_ms()
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// A free connection if there is one, else waits for one (a panic while one was held
    /// cannot leave a read-only connection inconsistent, so poisoning is ignored).
    pub(crate) fn conn(&self) -> Result<ReadConn<'_>, StoreError> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let count = self.slots.len();
        let mut guard = None;
        for offset in 0..count {
            match self.slots[(start + offset) % count].try_lock() {
                Ok(slot) => {
                    guard = Some(slot);
                    break;
                }
                Err(TryLockError::Poisoned(poisoned)) => {
                    guard = Some(poisoned.into_inner());
                    break;
                }
                Err(TryLockError::WouldBlock) => {}
            }
        }
        let mut guard = match guard {
            Some(guard) => guard,
            None => self.slots[start % count]
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        };
        match &*guard {
            Slot::Open(_) => {}
            Slot::Closed => return Err(StoreError::Closed),
            Slot::Unopened => *guard = Slot::Open(schema::open_reader(&self.path, &self.options)?),
        }
        Ok(ReadConn(guard))
    }

    pub(crate) fn close(&self) {
        for slot in &self.slots {
            *slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Slot::Closed;
        }
    }
}
