//! Interpreter handles and their per-thread state tables.
//!
//! Each interpreter keeps one table, OS thread -> thread state (the shape of
//! mod_wsgi's per-interpreter thread-state table). A thread's state is made on
//! its first use of that interpreter and kept until the thread exits or the
//! interpreter ends, rather than made and deleted around every call. The table
//! is also what lets the interpreter's end know which thread states are the
//! host's (and can be disposed of) and which belong to threads Python started.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::thread::{self, ThreadId};

use serde::{Deserialize, Serialize};

use super::error::{Error, Result};
use super::{ffi, runtime};

/// How a module's code is separated from everyone else's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Isolation {
    /// A sub-interpreter with its own GIL (Python 3.12+): runs in parallel.
    #[value(name = "own-gil")]
    OwnGil,
    /// A classic sub-interpreter: own modules and globals, shared GIL.
    Shared,
    /// The main interpreter, shared with everything else placed there.
    Main,
}

impl Isolation {
    pub fn name(self) -> &'static str {
        match self {
            Isolation::OwnGil => "own-gil",
            Isolation::Shared => "shared",
            Isolation::Main => "main",
        }
    }

    pub(crate) fn to_ffi(self) -> i32 {
        match self {
            Isolation::OwnGil => ffi::PH_ISOLATION_OWN_GIL as i32,
            Isolation::Shared | Isolation::Main => ffi::PH_ISOLATION_SHARED as i32,
        }
    }
}

impl fmt::Display for Isolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One OS thread's state in one interpreter.
struct ThreadEntry {
    ts: *mut ffi::ph_tstate,
    /// How many guards on that thread use it now; see `Gil` and host calls.
    depth: u32,
    /// The interpreter's first thread state, made with it. It is kept until
    /// the interpreter ends, even after its thread exits: on 3.11 an
    /// interpreter left with no thread state reuses its embedded first state
    /// for the next one without resetting it, and aborts ("init_threadstate:
    /// thread state already initialized"). Keeping it keeps the list non-empty.
    pinned: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Open,
    /// Its end is being attempted: no new guards, but the ender's own.
    Closing,
    Ended,
}

pub(crate) struct Table {
    entries: HashMap<ThreadId, ThreadEntry>,
    pub(crate) phase: Phase,
    /// States that exiting threads took out of the table and are disposing
    /// of right now: still in Python's list, no longer in ours. An ender
    /// waits for them rather than mistake them for Python's threads.
    pub(crate) disposing: usize,
}

pub(crate) struct Inner {
    pub(crate) id: i64,
    pub(crate) raw: *mut ffi::ph_interp,
    pub(crate) isolation: Isolation,
    /// The main interpreter, for a sub-interpreter: its end hands a shared
    /// GIL back through a main-interpreter thread state.
    pub(crate) parent: Option<Arc<Inner>>,
    table: Mutex<Table>,
    /// Objects whose owner dropped them where this interpreter's GIL could
    /// not be taken; released by the next guard (see `OwnedObj`).
    pub(crate) pending_decrefs: Mutex<Vec<usize>>,
}

// SAFETY: the raw pointers are Python's; they are only dereferenced by
// CPython, under this interpreter's GIL, by the thread whose state is
// current. The table itself is behind a mutex.
unsafe impl Send for Inner {}
unsafe impl Sync for Inner {}

/// A handle to one interpreter. Cheap to clone; the interpreter lives until
/// it is ended (`Interpreter::end`) or Python is finalized.
#[derive(Clone)]
pub struct Interpreter {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for Interpreter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Interpreter").field("id", &self.inner.id).field("isolation", &self.inner.isolation).finish()
    }
}

impl PartialEq for Interpreter {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Eq for Interpreter {}

impl Interpreter {
    /// Python's id for the interpreter (0 is the main one on 3.7+).
    pub fn id(&self) -> i64 {
        self.inner.id
    }

    pub fn isolation(&self) -> Isolation {
        self.inner.isolation
    }

    pub fn is_main(&self) -> bool {
        self.inner.parent.is_none()
    }

    pub fn has_ended(&self) -> bool {
        self.inner.lock().phase == Phase::Ended
    }

    /// An address that identifies this interpreter while a handle exists.
    pub(crate) fn key(&self) -> usize {
        Arc::as_ptr(&self.inner) as usize
    }
}

impl Inner {
    /// Wraps a freshly created interpreter whose first thread state belongs
    /// to the calling thread.
    pub(crate) fn new(first_ts: *mut ffi::ph_tstate, isolation: Isolation, parent: Option<Arc<Inner>>) -> Arc<Inner> {
        // SAFETY: first_ts is a live thread state just returned by compat.
        let raw = unsafe { ffi::ph_tstate_interp(first_ts) };
        // SAFETY: raw is a live interpreter; reading its id needs no GIL.
        let id = unsafe { ffi::ph_interp_id(raw) };
        let inner = Arc::new(Inner {
            id,
            raw,
            isolation,
            parent,
            table: Mutex::new(Table { entries: HashMap::new(), phase: Phase::Open, disposing: 0 }),
            pending_decrefs: Mutex::new(Vec::new()),
        });
        let entry = ThreadEntry { ts: first_ts, depth: 0, pinned: true };
        inner.lock().entries.insert(thread::current().id(), entry);
        remember_for_thread_exit(&inner);
        inner
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Table> {
        // A panic while holding the lock leaves the table consistent (every
        // change is a single insert/remove), so poisoning is ignored.
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// This thread's state in the interpreter, made on first use, marked in
    /// use until `checkin`. `closing_ok` lets the interpreter's ender in.
    pub(crate) fn checkout(self: &Arc<Self>, closing_ok: bool) -> Result<*mut ffi::ph_tstate> {
        let mut table = self.lock();
        match table.phase {
            Phase::Open => {}
            Phase::Closing if closing_ok => {}
            _ => return Err(Error::Ended(self.id)),
        }
        let me = thread::current().id();
        if let Some(entry) = table.entries.get_mut(&me) {
            entry.depth += 1;
            return Ok(entry.ts);
        }
        // SAFETY: the interpreter is open (checked under the lock that its
        // end takes), and PyThreadState_New needs no GIL.
        let ts = unsafe { ffi::ph_tstate_new(self.raw) };
        table.entries.insert(me, ThreadEntry { ts, depth: 1, pinned: false });
        drop(table);
        remember_for_thread_exit(self);
        Ok(ts)
    }

    pub(crate) fn checkin(&self) {
        let mut table = self.lock();
        if let Some(entry) = table.entries.get_mut(&thread::current().id()) {
            entry.depth = entry.depth.saturating_sub(1);
        }
    }

    /// Whether a thread other than this one is inside a guard right now.
    pub(crate) fn busy_elsewhere(table: &Table) -> bool {
        let me = thread::current().id();
        table.entries.iter().any(|(id, e)| *id != me && e.depth > 0)
    }

    /// Removes and returns the other threads' states (for disposal by the
    /// ender, who holds the GIL).
    pub(crate) fn take_other_states(table: &mut Table) -> Vec<*mut ffi::ph_tstate> {
        let me = thread::current().id();
        let others: Vec<ThreadId> = table.entries.keys().filter(|id| **id != me).copied().collect();
        others.into_iter().filter_map(|id| table.entries.remove(&id)).map(|e| e.ts).collect()
    }

    /// Removes this thread's entry and returns its state.
    pub(crate) fn take_own_state(table: &mut Table) -> Option<*mut ffi::ph_tstate> {
        table.entries.remove(&thread::current().id()).map(|e| e.ts)
    }

    pub(crate) fn host_thread_count(table: &Table) -> usize {
        table.entries.len()
    }

    /// Called on thread exit: dispose of this thread's state, if it is still
    /// ours to dispose of (the interpreter's end may have taken it already).
    /// A pinned state stays in the table, under a thread id that is never
    /// reused, for the interpreter's end to dispose of.
    fn forget_thread(&self) {
        let taken = {
            let mut table = self.lock();
            let me = thread::current().id();
            if table.phase == Phase::Ended || table.entries.get(&me).is_some_and(|e| e.pinned) {
                return;
            }
            let taken = Inner::take_own_state(&mut table);
            table.disposing += taken.is_some() as usize;
            taken
        };
        if let Some(ts) = taken {
            if runtime::is_running() {
                // SAFETY: the entry was removed under the lock, so no one else
                // will use or dispose of ts; it belongs to this thread and is
                // not current (a guard cannot outlive its thread); the
                // interpreter cannot end while `disposing` counts it.
                unsafe { ffi::ph_tstate_dispose_own(ts) };
            }
            self.lock().disposing -= 1;
        }
    }

    /// Waits until no exiting thread is disposing of a state here. Called
    /// with the phase already past Open, so no new disposal starts.
    pub(crate) fn wait_for_disposals(&self) {
        while self.lock().disposing > 0 {
            thread::sleep(std::time::Duration::from_millis(1));
        }
    }
}

/// The interpreters this OS thread has a state in; on thread exit each of
/// those states is disposed of, so that threads which come and go neither
/// leak states nor look like leftover Python threads when an interpreter ends.
struct ThreadStates(RefCell<Vec<Weak<Inner>>>);

impl Drop for ThreadStates {
    fn drop(&mut self) {
        for weak in self.0.borrow_mut().drain(..) {
            if let Some(inner) = weak.upgrade() {
                inner.forget_thread();
            }
        }
    }
}

thread_local! {
    static THREAD_STATES: ThreadStates = const { ThreadStates(RefCell::new(Vec::new())) };
}

fn remember_for_thread_exit(inner: &Arc<Inner>) {
    // try_with: during thread teardown the list may be gone already; the
    // state is then left for the interpreter's end to dispose of.
    let _ = THREAD_STATES.try_with(|states| {
        let mut states = states.0.borrow_mut();
        states.retain(|w| w.strong_count() > 0);
        if !states.iter().any(|w| std::ptr::eq(w.as_ptr(), Arc::as_ptr(inner))) {
            states.push(Arc::downgrade(inner));
        }
    });
}
