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
