//! [`ReadOnlyStore`]: the SQLite backend opened for reading only, by a process that is not
//! the store's writer (the end-to-end tests after or beside the daemon, a maintenance
//! tool). It offers the reads of [`JobStoreRead`] on the same read pool and queries as
//! [`SqliteStore`], and the SQLite-only `quick_check`.
//!
//! Must not: write in any way. No file is created, no migration runs, no epoch is
//! started: every connection is opened with `SQLITE_OPEN_READ_ONLY`, so SQLite itself
//! refuses a write. (A WAL database still needs its `-shm` index to be read; SQLite
//! creates that next to the file when the writer is gone, as for any reader.)

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::api::JobStoreRead;
use crate::contract::spawn_read;
use crate::effects::*;
use crate::read::Reader;
use crate::read_pool::ReadPool;
use crate::schedule::{ScheduleDetail, ScheduleInfo};
use crate::schedules::ScheduleReader;
use crate::types::*;
use crate::{SqliteStore, StoreError, StoreOptions, schema};

/// Cheap-clone read-only handle to an SQLite store; see the module docs. Its reads are
/// those of [`JobStoreRead`] (async, on tokio's blocking pool).
#[derive(Clone)]
pub struct ReadOnlyStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    reader: Reader,
    schedule_reader: ScheduleReader,
    pool: Arc<ReadPool>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.pool.close();
    }
}

impl std::fmt::Debug for ReadOnlyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadOnlyStore")
            .field("path", &self.inner.path)
            .finish()
    }
}

impl SqliteStore {
    /// Opens the store at `path` for reading only, writing nothing at all (see
    /// [`ReadOnlyStore`]). Refused, with the file left as it is: a missing or empty file
    /// (`Open`), a file that is not SQLite (`NotADatabase`) or another application's
    /// database (`ForeignDatabase`), and a schema newer (`SchemaTooNew`) or older
    /// (`SchemaTooOld`: only a writer migrates) than this binary's. Unlike [`SqliteStore::open`]
    /// it runs no `quick_check` at open (call [`ReadOnlyStore::quick_check`] for that).
    /// Of `options` only the connection settings are used (busy timeout, synchronous).
    pub fn open_read_only(
        path: impl AsRef<Path>,
        options: StoreOptions,
    ) -> Result<ReadOnlyStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        schema::check_existing_file(&path)?;
        let first = schema::open_reader(&path, &options)?;
        schema::check_readable(&path, &first)?;
        let pool = Arc::new(ReadPool::new(path.clone(), options, first));
        Ok(ReadOnlyStore {
            inner: Arc::new(Inner {
                reader: Reader::new(pool.clone()),
                schedule_reader: ScheduleReader::new(pool.clone()),
                path,
                pool,
            }),
        })
    }
}

impl ReadOnlyStore {
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// SQLite's `PRAGMA quick_check` of the whole file (a full read: for checks after a
    /// fault, not for a hot loop). Blocking.
    pub fn quick_check(&self) -> Result<(), StoreError> {
        self.inner.reader.quick_check()
    }

    fn read<T, F>(&self, read: F) -> impl Future<Output = Result<T, StoreError>> + Send + use<T, F>
    where
        T: Send + 'static,
        F: FnOnce(&ReadOnlyStore) -> Result<T, StoreError> + Send + 'static,
    {
        spawn_read(self, self.path(), read)
    }
}

impl JobStoreRead for ReadOnlyStore {
    fn get_job(
        &self,
        id: JobId,
    ) -> impl Future<Output = Result<Option<JobDetail>, StoreError>> + Send + use<> {
        self.read(move |store| store.inner.reader.get_job(id))
    }

    fn list_jobs(
        &self,
        filter: JobFilter,
    ) -> impl Future<Output = Result<Vec<JobInfo>, StoreError>> + Send + use<> {
        self.read(move |store| store.inner.reader.list_jobs(&filter))
    }

    fn list_scripts(
        &self,
    ) -> impl Future<Output = Result<Vec<ScriptInfo>, StoreError>> + Send + use<> {
        self.read(|store| store.inner.reader.list_scripts())
    }

    fn script_source(
        &self,
        name: &str,
        hash: &str,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send + use<> {
        let (name, hash) = (name.to_owned(), hash.to_owned());
        self.read(move |store| store.inner.reader.script_source(&name, &hash))
    }

    fn list_queues(
        &self,
    ) -> impl Future<Output = Result<Vec<QueueInfo>, StoreError>> + Send + use<> {
        self.read(|store| store.inner.reader.list_queues())
    }

    /// The epoch is the last writer's (this handle has none of its own).
    fn counts(&self) -> impl Future<Output = Result<StatusCounts, StoreError>> + Send + use<> {
        self.read(|store| {
            Ok(StatusCounts {
                epoch: store.inner.reader.current_epoch()?,
                queues: store.inner.reader.counts()?,
            })
        })
    }

    fn list_schedules(
        &self,
    ) -> impl Future<Output = Result<Vec<ScheduleInfo>, StoreError>> + Send + use<> {
        self.read(|store| store.inner.schedule_reader.list_schedules())
    }

    fn get_schedule(
        &self,
        name: &str,
        recent_runs: u32,
    ) -> impl Future<Output = Result<Option<ScheduleDetail>, StoreError>> + Send + use<> {
        let name = name.to_owned();
        self.read(move |store| store.inner.schedule_reader.get_schedule(&name, recent_runs))
    }

    fn state_get(
        &self,
        namespace: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<StateEntry>, StoreError>> + Send + use<> {
        let (namespace, key) = (namespace.to_owned(), key.to_owned());
        self.read(move |store| store.inner.reader.state_get(&namespace, &key))
    }

    fn state_list(
        &self,
        query: StateQuery,
    ) -> impl Future<Output = Result<StatePage, StoreError>> + Send + use<> {
        self.read(move |store| store.inner.reader.state_list(&query))
    }
}
