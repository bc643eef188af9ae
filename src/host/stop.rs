//! The host's shutdown of every module at once.
//!
//! Stopping one module is mostly waiting (its shutdown(), then its serve and
//! notify threads, each bounded by its `shutdown_timeout`), and ending its
//! interpreter is CPU work under that interpreter's GIL. So each module is
//! stopped on a thread of its own, all of them started before any is waited
//! for: the waits overlap, and a module that hangs costs its own timeout and
//! holds up no other. Ending interpreters goes through lanes: own-GIL ones
//! end as many at a time as there are CPUs, each under its own GIL; shared
//! and main ones one by one, as they share one GIL and CPython's teardown of
//! one must not interleave with another's at a GIL switch.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use crate::python::{Isolation, threads};

use super::supervisor::Shared;

/// Who may end an interpreter now.
pub(crate) struct EndLanes {
    /// Own-GIL interpreters being ended, at most `own_gil_jobs`.
    own_gil: Mutex<usize>,
    own_gil_free: Condvar,
    own_gil_jobs: usize,
    /// Held while a shared or main interpreter is ended (or its threads listed).
    one_by_one: Mutex<()>,
}

/// A place in a lane, given back when dropped.
pub(crate) enum Lane<'a> {
    OwnGil(&'a EndLanes),
    OneByOne { _held: MutexGuard<'a, ()> },
}

impl Drop for Lane<'_> {
    fn drop(&mut self) {
        if let Lane::OwnGil(lanes) = self {
            *lanes.own_gil.lock().unwrap_or_else(|p| p.into_inner()) -= 1;
            lanes.own_gil_free.notify_one();
        }
    }
}

impl EndLanes {
    pub(crate) fn new(own_gil_jobs: usize) -> EndLanes {
        EndLanes {
            own_gil: Mutex::new(0),
            own_gil_free: Condvar::new(),
            own_gil_jobs: own_gil_jobs.max(1),
            one_by_one: Mutex::new(()),
        }
    }

    /// Waits for a place to end an interpreter of this isolation.
    pub(crate) fn enter(&self, isolation: Isolation) -> Lane<'_> {
        if isolation != Isolation::OwnGil {
            return Lane::OneByOne { _held: self.one_by_one.lock().unwrap_or_else(|p| p.into_inner()) };
        }
        let mut busy = self.own_gil.lock().unwrap_or_else(|p| p.into_inner());
        while *busy >= self.own_gil_jobs {
            busy = self.own_gil_free.wait(busy).unwrap_or_else(|p| p.into_inner());
        }
        *busy += 1;
        Lane::OwnGil(self)
    }
}

/// Stops and unloads every module, each on a thread of its own, and returns
/// once all are done (each within its shutdown_timeout; what did not return
/// is left running and reported, as for a single unload).
pub(crate) fn stop_all(shared: &Arc<Shared>) {
    let jobs = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let lanes = Arc::new(EndLanes::new(jobs));
    let mut stoppers = Vec::with_capacity(shared.slots.len());
    for slot in shared.slots.values() {
        let (for_thread, shared_for_thread, lanes_for_thread) =
            (Arc::clone(slot), Arc::clone(shared), Arc::clone(&lanes));
        // The thread ends interpreters, so it gets a Python thread's stack.
        let started = threads::builder(format!("{}:stop", slot.name))
            .spawn(move || for_thread.unload_at_stop(&shared_for_thread, &lanes_for_thread));
        match started {
            Ok(handle) => stoppers.push(handle),
            Err(error) => {
                // Out of threads: this one is stopped here, the way before.
                tracing::warn!("could not start a thread to stop module {} in parallel: {error}", slot.name);
                slot.unload_at_stop(shared, &lanes);
            }
        }
    }
    // join, not a scope: it returns once each thread has exited, its
    // thread states disposed of, before Python is finalized.
    for stopper in stoppers {
        if stopper.join().is_err() {
            tracing::error!("a thread stopping a module panicked");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn own_gil_lanes_admit_as_many_as_jobs_and_others_one_at_a_time() {
        let lanes = Arc::new(EndLanes::new(2));
        let (inside, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let run = |isolation: Isolation| {
            let (lanes, inside, most) = (Arc::clone(&lanes), Arc::clone(&inside), Arc::clone(&most));
            std::thread::spawn(move || {
                let _lane = lanes.enter(isolation);
                let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(20));
                inside.fetch_sub(1, Ordering::SeqCst);
            })
        };
        let own: Vec<_> = (0..6).map(|_| run(Isolation::OwnGil)).collect();
        own.into_iter().for_each(|t| t.join().unwrap());
        assert!(most.load(Ordering::SeqCst) <= 2, "more own-gil ends at once than jobs");
        most.store(0, Ordering::SeqCst);
        let shared: Vec<_> = (0..4).map(|_| run(Isolation::Shared)).collect();
        shared.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(most.load(Ordering::SeqCst), 1, "shared interpreters ended side by side");
    }
}
