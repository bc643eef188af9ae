//! The raw C-API baselines for `pyhost bench` and `pyhost bench soak`
//! (compat/bench_baseline.c), wrapped here because only this layer touches
//! raw Python pointers.

use std::time::{Duration, Instant};

use super::error::{Error, Result};
use super::gil::{self, c_string};
use super::interpreter::{Interpreter, Isolation};
use super::object::OwnedObj;
use super::{ffi, runtime, text};

/// Times `count` calls of `object.method()` made by the C baseline from the
/// current thread, with this thread's own state in the object's interpreter.
pub fn raw_calls(object: &OwnedObj, method: &str, count: usize) -> Result<Duration> {
    if gil::holds_any() {
        return Err(Error::Usage("the baseline must run without a GIL held".into()));
    }
    runtime::ensure_running()?;
    let method = c_string(method.as_bytes(), "the method name")?;
    let lease = object.interpreter().inner.checkout(false)?;
    let started = Instant::now();
    // SAFETY: the lease's state is this thread's in the object's interpreter,
    // not current since no guard is held; the object is alive (we hold a
    // reference) and belongs there.
    let status = unsafe { ffi::api().ph_bench_raw_calls(lease.ts(), object.as_ptr(), method.as_ptr(), count) };
    let elapsed = started.elapsed();
    drop(lease);
    if status < 0 {
        return Err(Error::Usage(format!("the baseline's call to {method:?} raised")));
    }
    Ok(elapsed)
}

/// One cycle of `pyhost bench soak`'s baseline, made by compat straight
/// through the C API on the calling thread: for a sub-interpreter isolation,
/// a new interpreter made as the host makes them, `script` run in it, the
/// interpreter ended; for `Main`, `script` run in a fresh namespace of
/// `main`. None of the host's machinery (guards, thread tables) is involved.
/// An exception from the script is an error carrying its traceback.
pub fn soak_cycle(main: &Interpreter, isolation: Isolation, script: &str) -> Result<()> {
    if !main.is_main() {
        return Err(Error::Usage("the soak's baseline starts from the main interpreter".into()));
    }
    if gil::holds_any() {
        return Err(Error::Usage("the baseline must run without a GIL held".into()));
    }
    runtime::ensure_running()?;
    let script = c_string(script.as_bytes(), "the soak script")?;
    let isolation = match isolation {
        Isolation::Main => ffi::PH_ISOLATION_MAIN as i32,
        other => other.to_ffi(),
    };
    let lease = main.inner.checkout(false)?;
    let mut err: *mut libc::c_char = std::ptr::null_mut();
    // SAFETY: the lease's state is this thread's in the main interpreter and
    // not current (no guard is held); compat takes and releases the GIL with
    // it and leaves no state current; the script is NUL-terminated.
    let status = unsafe { ffi::api().ph_bench_soak_cycle(lease.ts(), isolation, script.as_ptr(), &mut err) };
    drop(lease);
    if status < 0 {
        // SAFETY: on failure compat hands over a malloc'd message (or null).
        let message = unsafe { text::owned_c_str_lossy(err) };
        return Err(Error::Usage(format!("the soak's baseline script raised:\n{message}")));
    }
    Ok(())
}

/// Times the notify baseline from the current thread: for each event, the
/// GIL taken with this thread's own state in the object's interpreter,
/// `deliver(object, event, payload)` called, the GIL released
/// (compat/bench_baseline.c). `deliver` must be of the same interpreter.
pub fn raw_notify(deliver: &OwnedObj, object: &OwnedObj, events: &[(String, String)]) -> Result<Duration> {
    if gil::holds_any() {
        return Err(Error::Usage("the baseline must run without a GIL held".into()));
    }
    if deliver.interpreter() != object.interpreter() {
        return Err(Error::Usage("the baseline's function and object must share an interpreter".into()));
    }
    runtime::ensure_running()?;
    let texts = |pick: fn(&(String, String)) -> &String| {
        events.iter().map(|e| c_string(pick(e).as_bytes(), "an event")).collect::<Result<Vec<_>>>()
    };
    let (names, payloads) = (texts(|e| &e.0)?, texts(|e| &e.1)?);
    let name_ptrs: Vec<*const libc::c_char> = names.iter().map(|c| c.as_ptr()).collect();
    let payload_ptrs: Vec<*const libc::c_char> = payloads.iter().map(|c| c.as_ptr()).collect();
    let lease = object.interpreter().inner.checkout(false)?;
    let started = Instant::now();
    // SAFETY: the lease's state is this thread's in the objects' interpreter,
    // not current since no guard is held; both objects are alive (we hold
    // references) and belong there; every pointer is a NUL-terminated string
    // that outlives the call, `events.len()` of each.
    let status = unsafe {
        ffi::api().ph_bench_raw_notify(
            lease.ts(),
            deliver.as_ptr(),
            object.as_ptr(),
            name_ptrs.as_ptr(),
            payload_ptrs.as_ptr(),
            events.len(),
        )
    };
    let elapsed = started.elapsed();
    drop(lease);
    if status < 0 {
        return Err(Error::Usage("the notify baseline's call raised".into()));
    }
    Ok(elapsed)
}

/// A bare sub-interpreter of `pyhost bench scale`'s baseline: made and ended
/// by compat straight through the C API, on the thread that made it.
pub struct Bare {
    ts: *mut ffi::ph_tstate,
    isolation: i32,
    made_on: std::thread::ThreadId,
}

/// A new bare interpreter (`Shared` or `OwnGil`) that has run `script`: what
/// the host's module interpreters are set against. None of the host's
/// machinery (the native module, thread tables, guards) is in it.
pub fn bare_new(main: &Interpreter, isolation: Isolation, script: &str) -> Result<Bare> {
    if !main.is_main() || isolation == Isolation::Main {
        return Err(Error::Usage("a bare interpreter is a sub-interpreter, made from the main one".into()));
    }
    if gil::holds_any() {
        return Err(Error::Usage("the baseline must run without a GIL held".into()));
    }
    runtime::ensure_running()?;
    let script = c_string(script.as_bytes(), "the scale script")?;
    let lease = main.inner.checkout(false)?;
    let mut err: *mut libc::c_char = std::ptr::null_mut();
    // SAFETY: the lease's state is this thread's in the main interpreter and
    // not current (no guard is held); compat takes and releases the GIL and
    // leaves no state current; the script is NUL-terminated.
    let ts = unsafe { ffi::api().ph_bench_bare_new(lease.ts(), isolation.to_ffi(), script.as_ptr(), &mut err) };
    drop(lease);
    if ts.is_null() {
        // SAFETY: on failure compat hands over a malloc'd message (or null).
        let message = unsafe { text::owned_c_str_lossy(err) };
        return Err(Error::Usage(format!("the scale baseline's script failed:\n{message}")));
    }
    Ok(Bare { ts, isolation: isolation.to_ffi(), made_on: std::thread::current().id() })
}

/// Ends a bare interpreter, on the thread that made it.
pub fn bare_end(main: &Interpreter, bare: Bare) -> Result<()> {
    if bare.made_on != std::thread::current().id() {
        return Err(Error::Usage("a bare interpreter is ended by the thread that made it".into()));
    }
    if gil::holds_any() {
        return Err(Error::Usage("the baseline must run without a GIL held".into()));
    }
    runtime::ensure_running()?;
    let lease = main.inner.checkout(false)?;
    // SAFETY: bare.ts is the first state of a live interpreter this thread
    // made (checked above), not current; the lease's state is this thread's
    // main state, not current, through which a shared GIL is handed back.
    unsafe { ffi::api().ph_bench_bare_end(bare.ts, lease.ts(), bare.isolation) };
    drop(lease);
    Ok(())
}

/// Bare own-GIL interpreters made `jobs` at a time, as the host's parallel
/// start makes its modules' (`start_jobs`): `jobs` threads, each taking the
/// next script not yet taken and making a bare interpreter that runs it
/// ([`bare_new`]), each with its own thread state in the main interpreter and
/// each new interpreter under its own GIL. Once every script has its
/// interpreter, `when_made` runs on the calling thread (the interpreters all
/// alive); then each thread ends its own, and the count made is returned.
///
/// Only own-GIL interpreters run in parallel: on an interpreter that cannot
/// make them (before 3.12) this is [`Error::IsolationUnsupported`], before
/// any thread starts. Compat alone knows which versions can.
pub fn bare_parallel(main: &Interpreter, scripts: &[String], jobs: usize, when_made: impl FnOnce()) -> Result<usize> {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::mpsc;

    super::interpreter_info::check_supported(Isolation::OwnGil)?;
    if !main.is_main() {
        return Err(Error::Usage("bare interpreters are made from the main interpreter".into()));
    }
    if jobs == 0 {
        return Err(Error::Usage("the parallel baseline needs at least one thread".into()));
    }
    if gil::holds_any() {
        return Err(Error::Usage("the baseline must run without a GIL held".into()));
    }
    let jobs = jobs.min(scripts.len()).max(1);
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    std::thread::scope(|s| {
        // Each thread says how many it made (or why it failed), then waits
        // for its `go` sender to be dropped before ending them.
        let (made_tx, made_rx) = mpsc::channel::<Result<usize>>();
        let mut go = Vec::with_capacity(jobs);
        let mut workers = Vec::with_capacity(jobs);
        let mut spawn_error = None;
        for job in 0..jobs {
            let (go_tx, go_rx) = mpsc::channel::<()>();
            let made_tx = made_tx.clone();
            let (next, failed) = (&next, &failed);
            let started = super::threads::builder(format!("bare:{job}")).spawn_scoped(s, move || -> Result<()> {
                let mut mine = Vec::new();
                let outcome = loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(script) = scripts.get(index) else { break Ok(mine.len()) };
                    if failed.load(Ordering::Relaxed) {
                        break Ok(mine.len());
                    }
                    match bare_new(main, Isolation::OwnGil, script) {
                        Ok(bare) => mine.push(bare),
                        Err(error) => {
                            failed.store(true, Ordering::Relaxed);
                            break Err(error);
                        }
                    }
                };
                // Sent, then dropped: a thread that panicked before this
                // drops its sender too, so the caller never waits on it.
                let _ = made_tx.send(outcome);
                drop(made_tx);
                let _ = go_rx.recv();
                for bare in mine.into_iter().rev() {
                    bare_end(main, bare)?;
                }
                Ok(())
            });
            match started {
                Ok(worker) => {
                    workers.push(worker);
                    go.push(go_tx);
                }
                Err(error) => {
                    failed.store(true, Ordering::Relaxed);
                    spawn_error =
                        Some(Error::Usage(format!("could not start a thread of the parallel baseline: {error}")));
                    break;
                }
            }
        }
        drop(made_tx);
        let mut made = 0;
        let mut first_error = spawn_error;
        for answer in made_rx.iter().take(workers.len()) {
            match answer {
                Ok(count) => made += count,
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
        }
        if first_error.is_none() && made == scripts.len() {
            when_made();
        }
        drop(go);
        for worker in workers {
            match worker.join() {
                Ok(Ok(())) => {}
                Ok(Err(error)) => {
                    first_error.get_or_insert(error);
                }
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        match first_error {
            Some(error) => Err(error),
            None if made != scripts.len() => {
                Err(Error::Usage(format!("the parallel baseline made {made} of {} interpreters", scripts.len())))
            }
            None => Ok(made),
        }
    })
}
