//! Interpreter handles and their per-thread state tables.
//!
//! Each interpreter keeps one table, OS thread -> thread state (the shape of
//! mod_wsgi's per-interpreter thread-state table). A thread's state is made on
//! its first use of that interpreter and kept until the thread exits or the
//! interpreter ends, rather than made and deleted around every call. The table
//! is also what lets the interpreter's end know which thread states are the
//! host's (and can be disposed of) and which belong to threads Python started.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::thread::{self, ThreadId};

use serde::{Deserialize, Serialize};

use super::error::{Error, Result};
use super::{ffi, fork, runtime};

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

/// One OS thread's state in one interpreter, shared by that thread's cache
/// and the interpreter's table.
pub(crate) struct ThreadSlot {
    ts: *mut ffi::ph_tstate,
    /// How many guards (or leases) on that thread use it now.
    depth: AtomicU32,
    /// Set, under the table lock, once the state is disposed of; the owning
    /// thread's cache then lets go of it.
    gone: AtomicBool,
    /// The interpreter's first thread state, made with it. It is kept until
    /// the interpreter ends, even after its thread exits: on 3.11 an
    /// interpreter left with no thread state reuses its embedded first state
    /// for the next one without resetting it, and aborts ("init_threadstate:
    /// thread state already initialized"). Keeping it keeps the list non-empty.
    pinned: bool,
}

// SAFETY: ts is only handed to CPython by the thread that owns it, or by an
// ender holding the table lock after that thread's depth was seen at zero.
unsafe impl Send for ThreadSlot {}
unsafe impl Sync for ThreadSlot {}

/// The right to use this thread's state in an interpreter: while a lease
/// lives, the interpreter's end sees the thread as busy and leaves the state
/// alone. Dropping it gives the right back.
///
/// It points at the slot rather than holding an Arc: the guard's path is
/// hot, and the slot cannot go while the lease lives (the table keeps it
/// until an ender takes it, which it does not while depth > 0, and the
/// lease's depth is in it).
pub(crate) struct Lease {
    slot: *const ThreadSlot,
}

impl Lease {
    fn new(slot: &Arc<ThreadSlot>) -> Lease {
        Lease { slot: Arc::as_ptr(slot) }
    }

    fn slot(&self) -> &ThreadSlot {
        // SAFETY: see the type's comment: the slot outlives the lease.
        unsafe { &*self.slot }
    }

    pub(crate) fn ts(&self) -> *mut ffi::ph_tstate {
        self.slot().ts
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        // Only the owning thread writes its depth, so a plain store will do;
        // Release is enough, as an ender that still reads the old, higher
        // value only concludes "busy", which is safe.
        let depth = &self.slot().depth;
        depth.store(depth.load(Ordering::Relaxed) - 1, Ordering::Release);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Phase {
    Open = 0,
    /// Its end is being attempted: no new guards, but the ender's own.
    Closing = 1,
    Ended = 2,
}

pub(crate) struct Table {
    entries: Vec<(ThreadId, Arc<ThreadSlot>)>,
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
    /// A Phase. Changed under the table lock; read without it on the fast
    /// path, where it pairs with the slot's depth (see `checkout`).
    phase: AtomicU8,
    table: Mutex<Table>,
    /// Objects whose owner dropped them where this interpreter's GIL could
    /// not be taken; released by the next guard (see `OwnedObj`).
    pub(crate) pending_decrefs: Mutex<Vec<usize>>,
    pub(crate) has_pending: AtomicBool,
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
        self.inner.phase() == Phase::Ended
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
        let raw = unsafe { ffi::api().ph_tstate_interp(first_ts) };
        // SAFETY: raw is a live interpreter; reading its id needs no GIL.
        let id = unsafe { ffi::api().ph_interp_id(raw) };
        let inner = Arc::new(Inner {
            id,
            raw,
            isolation,
            parent,
            phase: AtomicU8::new(Phase::Open as u8),
            table: Mutex::new(Table { entries: Vec::new(), disposing: 0 }),
            pending_decrefs: Mutex::new(Vec::new()),
            has_pending: AtomicBool::new(false),
        });
        let slot =
            Arc::new(ThreadSlot { ts: first_ts, depth: AtomicU32::new(0), gone: AtomicBool::new(false), pinned: true });
        inner.lock().entries.push((me(), Arc::clone(&slot)));
        cache_slot(&inner, slot);
        inner
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Table> {
        // A panic while holding the lock leaves the table consistent (every
        // change is a single push/remove), so poisoning is ignored.
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn phase(&self) -> Phase {
        match self.phase.load(Ordering::SeqCst) {
            0 => Phase::Open,
            1 => Phase::Closing,
            _ => Phase::Ended,
        }
    }

    /// Callers hold the table lock when the change must be atomic with what
    /// they read from the table.
    pub(crate) fn set_phase(&self, phase: Phase) {
        self.phase.store(phase as u8, Ordering::SeqCst);
    }

    fn admits(&self, closing_ok: bool) -> bool {
        match self.phase() {
            Phase::Open => true,
            Phase::Closing => closing_ok,
            Phase::Ended => false,
        }
    }

    /// This thread's state in the interpreter, made on first use, leased
    /// until the lease drops. `closing_ok` lets the interpreter's ender in.
    ///
    /// The fast path takes no lock: it raises the slot's depth, then reads
    /// the phase, both SeqCst; an ender sets the phase, then reads every
    /// depth, also SeqCst. So either the ender sees this thread busy, or this
    /// thread sees the interpreter closing and backs off; never neither.
    pub(crate) fn checkout(self: &Arc<Self>, closing_ok: bool) -> Result<Lease> {
        let fast = CACHE.try_with(|cache| {
            let last = cache.last.get();
            let slot: &ThreadSlot = if last.0 == Arc::as_ptr(self) as usize {
                // SAFETY: `last` names an entry of the cache's list, whose Arc
                // keeps the slot alive; it is cleared whenever the list changes.
                unsafe { &*last.1 }
            } else {
                let entries = cache.entries.borrow();
                let (_, slot) = entries.iter().find(|(owner, _)| std::ptr::eq(owner.as_ptr(), Arc::as_ptr(self)))?;
                cache.last.set((Arc::as_ptr(self) as usize, Arc::as_ptr(slot)));
                // SAFETY: as above; the list's Arc outlives this borrow.
                unsafe { &*Arc::as_ptr(slot) }
            };
            // Only this thread writes its depth: a SeqCst store (the one
            // fence the pairing with the ender needs), not a locked RMW.
            let depth = slot.depth.load(Ordering::Relaxed);
            slot.depth.store(depth + 1, Ordering::SeqCst);
            if !slot.gone.load(Ordering::SeqCst) && self.admits(closing_ok) {
                return Some(Ok(Lease { slot }));
            }
            slot.depth.store(depth, Ordering::SeqCst);
            // A slot disposed of by an ender: the slow path says why.
            (!slot.gone.load(Ordering::SeqCst)).then(|| Err(Error::Ended(self.id)))
        });
        if let Ok(Some(result)) = fast {
            return result;
        }
        self.checkout_slow(closing_ok)
    }

    fn checkout_slow(self: &Arc<Self>, closing_ok: bool) -> Result<Lease> {
        let table = self.lock();
        if !self.admits(closing_ok) {
            return Err(Error::Ended(self.id));
        }
        let me = me();
        if let Some((_, slot)) = table.entries.iter().find(|(id, _)| *id == me) {
            slot.depth.fetch_add(1, Ordering::SeqCst);
            let slot = Arc::clone(slot);
            drop(table);
            cache_slot(self, Arc::clone(&slot));
            return Ok(Lease::new(&slot));
        }
        let mut table = table;
        // SAFETY: the interpreter is open (checked under the lock that its
        // end takes), and PyThreadState_New needs no GIL.
        let ts = unsafe { ffi::api().ph_tstate_new(self.raw) };
        let slot = Arc::new(ThreadSlot { ts, depth: AtomicU32::new(1), gone: AtomicBool::new(false), pinned: false });
        table.entries.push((me, Arc::clone(&slot)));
        drop(table);
        cache_slot(self, Arc::clone(&slot));
        Ok(Lease::new(&slot))
    }

    /// Whether a thread other than this one holds a lease right now.
    pub(crate) fn busy_elsewhere(table: &Table) -> bool {
        let me = me();
        table.entries.iter().any(|(id, s)| *id != me && s.depth.load(Ordering::SeqCst) > 0)
    }

    /// Removes and returns the other threads' states (for disposal by the
    /// ender, who holds the GIL), all but the pinned first state: an end
    /// that finds Python threads still running leaves the interpreter alive,
    /// and with the first state gone, the ender's own state gone when its
    /// thread exits (a stop thread does) and those threads ended, the list
    /// would be empty and the next state made there would abort on 3.11 and
    /// 3.12 (see `ThreadSlot::pinned`). [`Inner::take_pinned`] takes it once
    /// the end goes ahead.
    pub(crate) fn take_other_states(table: &mut Table) -> Vec<*mut ffi::ph_tstate> {
        let me = me();
        let mut taken = Vec::new();
        table.entries.retain(|(id, slot)| {
            if *id == me || slot.pinned {
                return true;
            }
            slot.gone.store(true, Ordering::SeqCst);
            taken.push(slot.ts);
            false
        });
        taken
    }

    /// Whether another thread's pinned first state is still in the table.
    pub(crate) fn pinned_elsewhere(table: &Table) -> bool {
        let me = me();
        table.entries.iter().any(|(id, slot)| *id != me && slot.pinned)
    }

    /// Removes and returns another thread's pinned first state, for the
    /// ender to dispose of just before the interpreter ends.
    pub(crate) fn take_pinned(table: &mut Table) -> Option<*mut ffi::ph_tstate> {
        let me = me();
        let index = table.entries.iter().position(|(id, slot)| *id != me && slot.pinned)?;
        let (_, slot) = table.entries.swap_remove(index);
        slot.gone.store(true, Ordering::SeqCst);
        Some(slot.ts)
    }

    /// Removes this thread's entry and returns its state.
    pub(crate) fn take_own_state(table: &mut Table) -> Option<*mut ffi::ph_tstate> {
        let me = me();
        let index = table.entries.iter().position(|(id, _)| *id == me)?;
        let (_, slot) = table.entries.swap_remove(index);
        slot.gone.store(true, Ordering::SeqCst);
        Some(slot.ts)
    }

    /// `thread`'s state here, unless it was given up already (`gone` is set
    /// under the table lock before any disposal starts).
    pub(crate) fn state_of(&self, thread: ThreadId) -> Option<*mut ffi::ph_tstate> {
        let table = self.lock();
        let (_, slot) = table.entries.iter().find(|(id, _)| *id == thread)?;
        (!slot.gone.load(Ordering::SeqCst)).then_some(slot.ts)
    }

    pub(crate) fn host_thread_count(table: &Table) -> usize {
        table.entries.len()
    }

    /// Called on thread exit: dispose of this thread's state, if it is still
    /// ours to dispose of (the interpreter's end may have taken it already).
    /// A pinned state stays in the table, under a thread id that is never
    /// reused, for the interpreter's end to dispose of.
    fn forget_thread(&self, slot: &Arc<ThreadSlot>) {
        let taken = {
            let mut table = self.lock();
            if self.phase() == Phase::Ended || slot.gone.load(Ordering::SeqCst) || slot.pinned {
                return;
            }
            let Some(index) = table.entries.iter().position(|(_, s)| Arc::ptr_eq(s, slot)) else {
                return;
            };
            table.entries.swap_remove(index);
            slot.gone.store(true, Ordering::SeqCst);
            table.disposing += 1;
            slot.ts
        };
        if runtime::is_running() {
            // SAFETY: the entry was removed under the lock, so no one else
            // will use or dispose of ts; it belongs to this thread and is not
            // current (a guard cannot outlive its thread); the interpreter
            // cannot end while `disposing` counts it.
            unsafe { ffi::api().ph_tstate_dispose_own(taken) };
        }
        self.lock().disposing -= 1;
    }

    /// Waits until no exiting thread is disposing of a state here. Called
    /// with the phase already past Open, so no new disposal starts.
    pub(crate) fn wait_for_disposals(&self) {
        while self.lock().disposing > 0 {
            thread::sleep(std::time::Duration::from_millis(1));
        }
    }
}

/// This thread's slots, by interpreter: the guard's fast path, and, on
/// thread exit, the states to dispose of, so that threads which come and go
/// neither leak states nor look like leftover Python threads when an
/// interpreter ends. The Weak keeps each Inner's address from being reused
/// while it is a key here.
struct ThreadCache {
    entries: RefCell<Vec<(Weak<Inner>, Arc<ThreadSlot>)>>,
    /// The entry used last (Inner address, slot), the common case being one
    /// thread calling one interpreter over and over; (0, null) when unset.
    last: Cell<(usize, *const ThreadSlot)>,
}

impl Drop for ThreadCache {
    fn drop(&mut self) {
        self.last.set((0, std::ptr::null()));
        if fork::in_forked_child() {
            // The GILs and locks belong to threads this process does not
            // have: disposing of the states would wait for ever.
            self.entries.borrow_mut().clear();
            return;
        }
        for (owner, slot) in self.entries.borrow_mut().drain(..) {
            if let Some(inner) = owner.upgrade() {
                inner.forget_thread(&slot);
            }
        }
    }
}

thread_local! {
    static CACHE: ThreadCache = const {
        ThreadCache { entries: RefCell::new(Vec::new()), last: Cell::new((0, std::ptr::null())) }
    };
    static ME: ThreadId = thread::current().id();
}

fn me() -> ThreadId {
    ME.with(|id| *id)
}

fn cache_slot(inner: &Arc<Inner>, slot: Arc<ThreadSlot>) {
    // try_with: during thread teardown the cache may be gone already; the
    // state is then left for the interpreter's end to dispose of.
    let _ = CACHE.try_with(|cache| {
        cache.last.set((0, std::ptr::null())); // the list changes
        let mut entries = cache.entries.borrow_mut();
        entries.retain(|(owner, slot)| owner.strong_count() > 0 && !slot.gone.load(Ordering::SeqCst));
        match entries.iter_mut().find(|(owner, _)| std::ptr::eq(owner.as_ptr(), Arc::as_ptr(inner))) {
            Some(entry) => entry.1 = slot,
            None => entries.push((Arc::downgrade(inner), slot)),
        }
    });
}
