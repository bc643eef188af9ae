//! Processes forked from the host: `os.fork()` or multiprocessing's 'fork'
//! start method, in a module of the main interpreter (or any module on 2.7).
//!
//! Such a child is a copy of the whole host with one thread, the one that
//! forked. Every other thread, and every lock or GIL they held, is gone. The
//! host's own machinery there can only hang: a thread-local destructor that
//! disposes of a thread state waits for a GIL no thread will give back, which
//! left children running for ever, holding the host's files and ports. So in
//! a child the host does nothing of its own: thread exits leave Python alone,
//! guards are refused, and when the module's code returns to the host the
//! child ends, as a child of a plain Python script ends with the script.

use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

use super::error::{Error, Result};
use super::gil::Gil;

static FORKED: AtomicBool = AtomicBool::new(false);

extern "C" fn mark_child() {
    // Async-signal-safe: a plain store.
    FORKED.store(true, Ordering::Relaxed);
}

/// Arms the detection; called once Python runs in this process.
pub(crate) fn watch() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: mark_child is a valid `extern "C" fn()` for the life of the
        // process and only stores to an atomic.
        unsafe { libc::pthread_atfork(None, None, Some(mark_child)) };
    });
}

/// Whether this process is a child forked from the host.
pub fn in_forked_child() -> bool {
    FORKED.load(Ordering::Relaxed)
}

pub(crate) fn ensure_not_forked() -> Result<()> {
    if in_forked_child() { Err(Error::ForkedChild) } else { Ok(()) }
}

/// Ends a forked child whose module code returned to the host, with the
/// status a script would have: 0, a `SystemExit`'s code, or 1 after the
/// traceback of any other exception. Streams are flushed first; nothing of
/// the host's runs (no destructors, no atexit handlers).
pub fn end_forked_child<T>(gil: &Gil<'_>, outcome: &Result<T>) -> ! {
    let status = match outcome {
        Ok(_) => 0,
        Err(Error::Python(exception)) => match &exception.exit {
            Some(exit) => exit.code,
            None => {
                write_stderr(&exception.traceback);
                1
            }
        },
        Err(other) => {
            write_stderr(&format!("{other}\n"));
            1
        }
    };
    gil.flush_std_streams();
    // SAFETY: _exit ends the process at once; nothing after it runs.
    unsafe { libc::_exit(status) }
}

/// Writes to the process's stderr without Rust's stderr lock or any other:
/// in a forked child a lock some vanished thread held at the fork is held for
/// ever, and the host's log writes take several.
pub fn write_stderr(text: &str) {
    let mut rest = text.as_bytes();
    while !rest.is_empty() {
        // SAFETY: the pointer and length describe `rest`, valid for the call.
        let written = unsafe { libc::write(libc::STDERR_FILENO, rest.as_ptr().cast(), rest.len()) };
        if written <= 0 {
            return;
        }
        rest = &rest[written as usize..];
    }
}
