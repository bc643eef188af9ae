//! The raw C-API baseline for `pyhost bench` (compat/bench_baseline.c),
//! wrapped here because only this layer touches raw Python pointers.

use std::time::{Duration, Instant};

use super::error::{Error, Result};
use super::gil::{self, c_string};
use super::object::OwnedObj;
use super::{ffi, runtime};

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
    let status = unsafe { ffi::ph_bench_raw_calls(lease.ts(), object.as_ptr(), method.as_ptr(), count) };
    let elapsed = started.elapsed();
    drop(lease);
    if status < 0 {
        return Err(Error::Usage(format!("the baseline's call to {method:?} raised")));
    }
    Ok(elapsed)
}
