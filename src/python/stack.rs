//! Where another thread sits in Python: the stack of a host thread that is
//! stuck in an interpreter (a hung import, a shutdown() that never returns),
//! read from a second thread of the same interpreter.
//!
//! Not `sys._current_frames()`: on 3.x it walks the threads of *every*
//! interpreter and makes frame objects for them, which for an interpreter
//! with its own GIL is a data race with that interpreter's threads. This
//! reads one thread state, of the interpreter whose GIL is held.

use std::thread::ThreadId;

use super::error::Result;
use super::ffi;
use super::gil::Gil;

impl Gil<'_> {
    /// The Python stack of `thread` in this interpreter, one string per
    /// frame as a traceback formats it, outermost call first; None when that
    /// thread has no state here or runs no Python code now.
    pub fn stack_of(&self, thread: ThreadId) -> Result<Option<Vec<String>>> {
        let Some(ts) = self.interpreter().inner.state_of(thread) else {
            return Ok(None);
        };
        // SAFETY: this thread holds the interpreter's GIL, and the state was
        // not yet given up (`gone` is set before any disposal starts). Its
        // disposal needs this GIL (an exiting thread clears its own state
        // under it; an ender holds it), so the state stays valid while this
        // guard lives; its frames change only under the GIL too.
        let frame = self.own(unsafe { ffi::api().ph_tstate_frame(ts) })?;
        if frame.is_none() {
            return Ok(None);
        }
        let lines = self.import("traceback")?.call_method("format_stack", vec![frame])?;
        let frames = lines.items()?.iter().map(|frame| frame.to_text()).collect::<Result<Vec<_>>>()?;
        Ok(Some(frames))
    }
}
