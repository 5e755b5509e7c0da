//! Who may hold a connection to the control socket, and how many bytes of answers may
//! wait for clients. The accept loop admits each connection here; the connection reports
//! when it waits idle and when it turns into a follower. When every seat is taken, the
//! connection idle longest is closed to make room, so connected clients cannot lock the
//! operator out; followers have seats of their own.
//!
//! It owns only counters and decisions: it must not read or write sockets.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

/// Connections that send requests, served at once. When all are taken, the one idle
/// longest is closed; when none is idle (every one waits for a drain, a restart or a job),
/// a new connection is told the daemon is busy.
pub(crate) const MAX_CONNECTIONS: usize = 1024;
/// `logs --follow` streams, counted apart: a stream is never idle, so it cannot be
/// evicted, and it must not take a seat the operator's `status` needs.
pub(crate) const MAX_FOLLOWERS: usize = 64;
/// Encoded answers (and events) written to clients but not yet taken by them, all
/// connections together. A connection has at most one answer queued: the next request is
/// not read before the answer to the last one is written.
pub(crate) const ANSWER_BYTES_TOTAL: usize = 64 << 20;

/// Why a connection or a stream was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Every seat is held by a connection waiting for an answer.
    Connections,
    /// Every follower seat is taken.
    Followers,
}

impl Refusal {
    pub(crate) fn message(self) -> String {
        match self {
            Refusal::Connections => format!(
                "the daemon is busy: all {MAX_CONNECTIONS} control connections wait for answers (drain, restart, enqueue --wait) and none is idle; try again when some end"
            ),
            Refusal::Followers => format!(
                "the daemon is busy: {MAX_FOLLOWERS} clients already follow its events (the most at once); stop one `jobvisor logs --follow` and try again"
            ),
        }
    }
}

/// The seats and the answer budget, shared by the accept loop and the connections.
pub(crate) struct Admission {
    table: Mutex<Table>,
    answer_bytes: Arc<Semaphore>,
}

#[derive(Default)]
struct Table {
    next_id: u64,
    requesters: HashMap<u64, Requester>,
    followers: usize,
}

struct Requester {
    /// `None` while a request is being answered.
    idle_since: Option<Instant>,
    evict: Arc<Notify>,
}

impl Admission {
    pub(crate) fn new() -> Arc<Admission> {
        Arc::new(Admission {
            table: Mutex::new(Table::default()),
            answer_bytes: Arc::new(Semaphore::new(ANSWER_BYTES_TOTAL)),
        })
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        // The table holds counters only: one left by a panicking holder is still usable.
        self.table
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A seat for a new connection (idle until its first request), evicting the
    /// longest-idle connection if every seat is taken.
    pub(crate) fn admit(self: &Arc<Self>) -> Result<Seat, Refusal> {
        let mut table = self.table();
        if table.requesters.len() >= MAX_CONNECTIONS {
            let longest_idle = table
                .requesters
                .iter()
                .filter_map(|(id, r)| r.idle_since.map(|since| (since, *id)))
                .min();
            let Some((_, id)) = longest_idle else {
                return Err(Refusal::Connections);
            };
            if let Some(evicted) = table.requesters.remove(&id) {
                evicted.evict.notify_one();
            }
        }
        let id = table.next_id;
        table.next_id += 1;
        let evict = Arc::new(Notify::new());
        table.requesters.insert(
            id,
            Requester {
                idle_since: Some(Instant::now()),
                evict: evict.clone(),
            },
        );
        Ok(Seat {
            admission: self.clone(),
            id,
            evict,
            following: false,
        })
    }

    /// Reserves `bytes` of the answer budget; `None` when the answers already queued for
    /// clients that do not read leave no room.
    pub(crate) fn reserve_answer(&self, bytes: usize) -> Option<OwnedSemaphorePermit> {
        let bytes = u32::try_from(bytes).ok()?;
        self.answer_bytes.clone().try_acquire_many_owned(bytes).ok()
    }

    /// Seats held by request connections and by followers.
    #[cfg(test)]
    fn held(&self) -> (usize, usize) {
        let table = self.table();
        (table.requesters.len(), table.followers)
    }
}

/// One connection's seat; given back when dropped.
pub(crate) struct Seat {
    admission: Arc<Admission>,
    id: u64,
    evict: Arc<Notify>,
    following: bool,
}

impl Seat {
    /// The connection waits for its next request: it may be evicted from now on.
    pub(crate) fn idle(&self) {
        self.set_idle_since(Some(Instant::now()));
    }

    /// The connection has a request in hand: it is not evicted until it is answered.
    pub(crate) fn busy(&self) {
        self.set_idle_since(None);
    }

    fn set_idle_since(&self, since: Option<Instant>) {
        if let Some(seat) = self.admission.table().requesters.get_mut(&self.id) {
            seat.idle_since = since;
        }
    }

    /// Fires once this seat was given to a newer connection.
    pub(crate) async fn evicted(&self) {
        self.evict.notified().await;
    }

    /// Moves the connection to a follower seat, giving its request seat back.
    pub(crate) fn follow(&mut self) -> Result<(), Refusal> {
        let mut table = self.admission.table();
        if table.followers >= MAX_FOLLOWERS {
            return Err(Refusal::Followers);
        }
        table.followers += 1;
        table.requesters.remove(&self.id);
        self.following = true;
        Ok(())
    }

    pub(crate) fn admission(&self) -> Arc<Admission> {
        self.admission.clone()
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        let mut table = self.admission.table();
        if self.following {
            table.followers -= 1;
        } else {
            table.requesters.remove(&self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_table_evicts_the_longest_idle_and_refuses_when_none_is_idle() {
        let admission = Admission::new();
        let seats: Vec<Seat> = (0..MAX_CONNECTIONS)
            .map(|_| admission.admit().expect("a free seat"))
            .collect();
        for seat in &seats[1..] {
            seat.busy();
        }
        let newcomer = admission.admit().expect("the idle seat is evicted");
        assert_eq!(admission.held(), (MAX_CONNECTIONS, 0));
        newcomer.busy();
        assert_eq!(admission.admit().err(), Some(Refusal::Connections));
        drop(seats);
        assert_eq!(admission.held(), (1, 0));
    }

    #[test]
    fn followers_have_their_own_seats() {
        let admission = Admission::new();
        let mut followers = Vec::new();
        for _ in 0..MAX_FOLLOWERS {
            let mut seat = admission.admit().expect("a free seat");
            seat.follow().expect("a follower seat");
            followers.push(seat);
        }
        let mut one_more = admission.admit().expect("request seats are free");
        assert_eq!(one_more.follow(), Err(Refusal::Followers));
        assert_eq!(admission.held(), (1, MAX_FOLLOWERS));
        drop(followers);
        drop(one_more);
        assert_eq!(admission.held(), (0, 0));
    }

    #[test]
    fn the_answer_budget_is_shared_and_given_back() {
        let admission = Admission::new();
        let most = admission
            .reserve_answer(ANSWER_BYTES_TOTAL - 10)
            .expect("room");
        assert!(admission.reserve_answer(11).is_none());
        drop(most);
        assert!(admission.reserve_answer(ANSWER_BYTES_TOTAL).is_some());
    }
}
