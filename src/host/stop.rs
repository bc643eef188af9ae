//! The host's shutdown of every module at once.
//!
//! Stopping one module is mostly waiting (its shutdown(), then its serve and
//! notify threads, each bounded by its `shutdown_timeout`), and ending its
//! interpreter is CPU work under that interpreter's GIL. So each module is
//! stopped on a thread of its own, all of them started before any is waited
//! for: the waits overlap, and a module that hangs costs its own timeout and
//! holds up no other. Modules on a shared GIL are let into their stop a
//! few at a time (`StopGate`), or hundreds of threads would take turns
//! waking to ask for that one GIL. Ending interpreters goes through lanes: own-GIL ones
//! end as many at a time as there are CPUs, each under its own GIL; shared
//! and main ones one by one, as they share one GIL and CPython's teardown of
//! one must not interleave with another's at a GIL switch.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

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
    /// Modules on the shared GIL being stopped.
    gate: StopGate,
}

/// Modules on a shared GIL stopped at once, and how long one counts.
/// Measured with 500 modules on 3.11 and two cores kept busy by four other
/// processes: width 2, 4 and 8 stopped in the same time (2.0-2.3 s,
/// against 2.4-2.9 s with no gate), with a third to a half of the context
/// switches; 100 ms is many times what a trivial module's stop takes there.
const GATE_WIDTH: usize = 4;
const GATE_GRACE: Duration = Duration::from_millis(100);

/// Lets modules on a shared GIL into their stop a few at a time.
///
/// Every thread that waits for 3.11's GIL wakes on its own each switch
/// interval (5 ms) to ask for it, so with every module stopped at once the
/// wakeups grow with the number of waiters (two per module: its shutdown()
/// and its serve thread) times the time the GIL is busy: the stop spent
/// most of its CPU in futex calls. The gate lets `width` modules in at a
/// time. A module still inside after `grace` (a shutdown() that sleeps or
/// hangs) no longer counts, so a slow module delays the others by at most
/// `grace`, shared among `width`, and never by its own timeout.
pub(crate) struct StopGate {
    inside: Mutex<GateState>,
    room: Condvar,
    width: usize,
    grace: Duration,
}

#[derive(Default)]
struct GateState {
    next: u64,
    /// (ticket, when it entered) of those that still count: one past its
    /// grace is dropped here at the next `enter`, or by its pass.
    entered: Vec<(u64, Instant)>,
}

/// A place inside the gate, given back when dropped.
pub(crate) struct Pass<'a> {
    gate: &'a StopGate,
    ticket: u64,
}

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        let mut state = self.gate.inside.lock().unwrap_or_else(|p| p.into_inner());
        state.entered.retain(|(ticket, _)| *ticket != self.ticket);
        // One leaves, one may enter: waking them all would be the convoy again.
        self.gate.room.notify_one();
    }
}

impl StopGate {
    pub(crate) fn new(width: usize, grace: Duration) -> StopGate {
        StopGate { inside: Mutex::default(), room: Condvar::new(), width: width.max(1), grace }
    }

    /// Waits until fewer than `width` modules entered within `grace`.
    pub(crate) fn enter(&self) -> Pass<'_> {
        let mut state = self.inside.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let now = Instant::now();
            state.entered.retain(|(_, at)| now.duration_since(*at) < self.grace);
            if state.entered.len() < self.width {
                let ticket = state.next;
                state.next += 1;
                state.entered.push((ticket, now));
                return Pass { gate: self, ticket };
            }
            // Room comes when one leaves (a notify), or when the one that
            // entered first stops counting (the gate is full: there is one).
            let first = state.entered.iter().map(|(_, at)| *at).min().unwrap_or(now);
            let until = (first + self.grace).saturating_duration_since(now);
            state = self.room.wait_timeout(state, until).unwrap_or_else(|p| p.into_inner()).0;
        }
    }
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
            gate: StopGate::new(GATE_WIDTH, GATE_GRACE),
        }
    }

    /// For a module on a shared GIL, a place in the stop gate; own-GIL
    /// modules go in at once.
    pub(crate) fn stopping(&self, isolation: Isolation) -> Option<Pass<'_>> {
        (isolation != Isolation::OwnGil).then(|| self.gate.enter())
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

    #[test]
    fn the_gate_lets_in_no_more_than_its_width() {
        let gate = Arc::new(StopGate::new(2, Duration::from_secs(600)));
        let (inside, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let stoppers: Vec<_> = (0..8)
            .map(|_| {
                let (gate, inside, most) = (Arc::clone(&gate), Arc::clone(&inside), Arc::clone(&most));
                std::thread::spawn(move || {
                    let _pass = gate.enter();
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(10));
                    inside.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        stoppers.into_iter().for_each(|t| t.join().unwrap());
        assert!(most.load(Ordering::SeqCst) <= 2, "the gate let in more than its width");
    }

    #[test]
    fn one_inside_past_its_grace_no_longer_holds_the_gate() {
        let gate = Arc::new(StopGate::new(1, Duration::from_millis(50)));
        let hung = gate.enter();
        // The second stays out while the first counts, then goes in though
        // the first never left: a hung shutdown() costs the others its
        // grace, not its timeout.
        let (entered, told) = std::sync::mpsc::channel();
        let second = {
            let gate = Arc::clone(&gate);
            std::thread::spawn(move || {
                let _pass = gate.enter();
                entered.send(()).unwrap();
            })
        };
        told.recv_timeout(Duration::from_secs(60)).expect("the second never entered while the first was inside");
        second.join().unwrap();
        drop(hung);
        assert!(gate.inside.lock().unwrap().entered.is_empty(), "a pass was not given back");
    }
}
