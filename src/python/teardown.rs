//! Ending interpreters without ever aborting the process.
//!
//! What we measured, and what this module is shaped around:
//!  - Py_EndInterpreter is fatal ("not the last thread") while any other
//!    thread state of that interpreter exists, and it joins non-daemon
//!    threads first, so a stuck one hangs it;
//!  - Py_Finalize with sub-interpreters still alive aborts on 3.9 and 3.11
//!    ("PyInterpreterState_Delete: remaining subinterpreters");
//!  - a thread that wakes up while Python finalizes under it is how 2.7 and
//!    3.13 crash or hang at exit.
//!
//! So an interpreter is ended only when the host's state is its last; one
//! with threads still running (CherryPy's timeout monitor sleeping in
//! time.sleep(60)) is left alive, and then Python is not finalized at all:
//! streams are flushed and the process exits normally around it. That path
//! is the same on every version, and it is reported, never silent.

use std::thread;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::error::{Error, Result};
use super::gil::{self, Gil};
use super::interpreter::{Inner, Interpreter, Phase};
use super::{ffi, runtime};

/// A thread started by Python code (a `threading.Thread`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PyThread {
    pub name: String,
    pub daemon: bool,
}

/// Threads an interpreter still runs that are not the host's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Leftover {
    pub interpreter: i64,
    pub threads: Vec<PyThread>,
    /// Thread states that belong to no `threading.Thread` (started through
    /// `_thread` or by C code).
    pub unnamed: usize,
}

impl Leftover {
    pub fn is_empty(&self) -> bool {
        self.threads.is_empty() && self.unnamed == 0
    }

    fn describe(&self) -> String {
        let mut names: Vec<String> = self
            .threads
            .iter()
            .map(|t| format!("{} ({})", t.name, if t.daemon { "daemon" } else { "non-daemon" }))
            .collect();
        if self.unnamed > 0 {
            names.push(format!("{} without a threading.Thread", self.unnamed));
        }
        names.join(", ")
    }
}

#[derive(Debug, Clone)]
pub enum EndOutcome {
    Ended,
    /// Python threads still run in it; it was left alive.
    Left(Leftover),
    /// Another host thread is inside a guard for it.
    Busy,
}

/// What happened when Python was shut down.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Teardown {
    pub ended: Vec<i64>,
    pub left: Vec<Leftover>,
    pub busy: Vec<i64>,
    pub finalized: bool,
    /// Py_FinalizeEx's status: -1 when flushing buffered data failed.
    pub finalize_status: i32,
}

/// The `threading.Thread`s alive in the interpreter, not counting the
/// objects threading makes for threads it did not start (_MainThread for the
/// thread that imported it, _DummyThread for others), which are the host's.
const PYTHON_THREADS: &str = "(lambda threading: [(t.name, bool(t.daemon)) for t in threading.enumerate() \
     if not isinstance(t, (threading._MainThread, threading._DummyThread))] if threading else [])\
     (__import__('sys').modules.get('threading'))";

fn python_threads(gil: &Gil<'_>) -> Result<Leftover> {
    let mut threads = Vec::new();
    for pair in gil.eval(PYTHON_THREADS)?.items()? {
        threads.push(PyThread { name: pair.item(0)?.display(), daemon: pair.item(1)?.is_true()? });
    }
    let interpreter = gil.interpreter();
    let host = Inner::host_thread_count(&interpreter.inner.lock());
    let foreign = gil.thread_state_count().saturating_sub(host);
    Ok(Leftover { interpreter: interpreter.id(), unnamed: foreign.saturating_sub(threads.len()), threads })
}

/// Waits up to `grace` for the interpreter's non-daemon threads to finish
/// (daemon threads are not waited for, as Python itself does not), and
/// returns the threads still running.
pub(crate) fn wait_for_threads(interpreter: &Interpreter, grace: Duration) -> Result<Leftover> {
    let deadline = Instant::now() + grace;
    loop {
        let left = python_threads(&interpreter.gil()?)?;
        let waiting = left.threads.iter().any(|t| !t.daemon);
        let now = Instant::now();
        if !waiting || now >= deadline {
            return Ok(left);
        }
        thread::sleep((deadline - now).min(Duration::from_millis(10)));
    }
}

impl Interpreter {
    /// Ends this sub-interpreter if that is safe, after waiting up to `grace`
    /// for its non-daemon threads. Never aborts: with Python threads still
    /// running it is left alive and `EndOutcome::Left` names them.
    pub fn end(&self, grace: Duration) -> Result<EndOutcome> {
        let Some(parent) = self.inner.parent.clone() else {
            return Err(Error::Usage("the main interpreter ends when Python is finalized".into()));
        };
        if gil::holds_any() {
            return Err(Error::Usage("cannot end an interpreter while holding a GIL".into()));
        }
        runtime::ensure_running()?;
        if self.has_ended() {
            return Ok(EndOutcome::Ended);
        }
        wait_for_threads(self, grace)?;
        {
            // Closing first, then the depths: the order that pairs with the
            // guards' fast path (see Inner::checkout).
            let table = self.inner.lock();
            self.inner.set_phase(Phase::Closing); // no new guards from here on
            if Inner::busy_elsewhere(&table) {
                self.inner.set_phase(Phase::Open);
                return Ok(EndOutcome::Busy);
            }
        }
        let gil = loop {
            // Threads exiting right now dispose of their own states and need
            // the GIL to do it: let them finish before counting.
            self.inner.wait_for_disposals();
            let gil = self.gil_for_close()?;
            let others = Inner::take_other_states(&mut self.inner.lock());
            for ts in others {
                // SAFETY: these states belong to host threads that are not
                // inside a guard (checked while closing) and can no longer
                // enter one; this thread holds the interpreter's GIL.
                unsafe { ffi::api().ph_tstate_dispose_other(ts) };
            }
            let pinned = usize::from(Inner::pinned_elsewhere(&self.inner.lock()));
            if gil.thread_state_count() > 1 + pinned && self.inner.lock().disposing > 0 {
                continue; // one more started exiting meanwhile; drop the GIL for it
            }
            break gil;
        };
        let pinned = usize::from(Inner::pinned_elsewhere(&self.inner.lock()));
        if gil.thread_state_count() > 1 + pinned {
            let left = python_threads(&gil)?;
            gil.flush_std_streams();
            drop(gil);
            {
                let _table = self.inner.lock();
                self.inner.set_phase(Phase::Open);
            }
            return Ok(EndOutcome::Left(left));
        }
        // No Python thread is left: the first state can go now, as the end goes ahead.
        if let Some(ts) = Inner::take_pinned(&mut self.inner.lock()) {
            // SAFETY: as for the other states above: its thread is not in a
            // guard and can no longer enter one (the interpreter is closing),
            // and this thread holds the interpreter's GIL.
            unsafe { ffi::api().ph_tstate_dispose_other(ts) };
        }
        drop(gil);
        let parent_lease = parent.checkout(false)?;
        let own = {
            let mut table = self.inner.lock();
            self.inner.set_phase(Phase::Ended);
            Inner::take_own_state(&mut table)
        };
        if let Some(ts) = own {
            // SAFETY: ts is this thread's state and the interpreter's last;
            // parent_ts is this thread's main-interpreter state; no guard is
            // held, so neither is current.
            unsafe { ffi::api().ph_interpreter_end(ts, parent_lease.ts(), self.isolation().to_ffi()) };
        }
        drop(parent_lease);
        runtime::live().retain(|i| i != self);
        tracing::debug!(interpreter = self.id(), "ended interpreter");
        Ok(EndOutcome::Ended)
    }
}

/// Ends one interpreter for `Python::finalize`, recording the outcome.
pub(crate) fn end_into(interpreter: &Interpreter, grace: Duration, report: &mut Teardown) {
    match interpreter.end(grace) {
        Ok(EndOutcome::Ended) => report.ended.push(interpreter.id()),
        Ok(EndOutcome::Left(left)) => {
            tracing::warn!(
                "interpreter {} still runs threads started by Python: {}; it is left alive, \
                 since Py_EndInterpreter would abort the process",
                interpreter.id(),
                left.describe()
            );
            report.left.push(left);
        }
        Ok(EndOutcome::Busy) => {
            tracing::warn!("interpreter {} is in use by another host thread; it is left alive", interpreter.id());
            report.busy.push(interpreter.id());
        }
        Err(error) => {
            tracing::warn!("interpreter {} could not be ended: {error}", interpreter.id());
            report.busy.push(interpreter.id());
        }
    }
}

/// The path taken when some interpreter still runs threads: flush what can
/// be flushed and give Python up without finalizing it.
pub(crate) fn abandon(main: &Interpreter, report: &Teardown) {
    if let Ok(gil) = main.gil() {
        gil.flush_std_streams();
    }
    let who: Vec<String> = report
        .left
        .iter()
        .map(|l| format!("interpreter {}: {}", l.interpreter, l.describe()))
        .chain(report.busy.iter().map(|id| format!("interpreter {id}: in use")))
        .collect();
    tracing::warn!(
        "Python is not finalized, because threads are still running ({}); finalizing under \
         them would abort or hang, so the process exits without it",
        who.join("; ")
    );
    runtime::close();
}
