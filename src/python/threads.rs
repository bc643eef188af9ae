//! Threads the host starts to run Python code.
//!
//! Rust gives a spawned thread 2 MiB of stack; a thread Python starts gets
//! the platform's default (the soft `ulimit -s`, 8 MiB on most systems).
//! Python code that a Python thread survives, such as a deep `repr` with a
//! raised recursion limit or a long chain of calls between modules, overflowed
//! the smaller stack and aborted the whole process. Every thread the host
//! starts for Python code is made here, with the stack a Python thread gets
//! unless the host was configured otherwise.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

/// When the soft stack limit is unlimited (or unreadable): what glibc gives
/// a thread then on the common platforms, and the usual `ulimit -s`.
const FALLBACK: usize = 8 << 20;

/// Bytes for the threads made from now on; 0 until set (the default then).
static STACK_SIZE: AtomicUsize = AtomicUsize::new(0);

/// The stack a thread started by Python gets here: the soft `ulimit -s`.
pub fn default_stack_size() -> usize {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit only writes the struct it is given.
    let status = unsafe { libc::getrlimit(libc::RLIMIT_STACK, &mut limit) };
    if status != 0 || limit.rlim_cur == libc::RLIM_INFINITY {
        return FALLBACK;
    }
    usize::try_from(limit.rlim_cur).unwrap_or(FALLBACK)
}

/// The stack size of every thread `builder` makes from now on.
pub fn set_stack_size(bytes: usize) {
    STACK_SIZE.store(bytes, Ordering::Relaxed);
}

pub fn stack_size() -> usize {
    match STACK_SIZE.load(Ordering::Relaxed) {
        0 => default_stack_size(),
        bytes => bytes,
    }
}

/// A builder for a thread that will run Python code: named, with the
/// Python-sized stack. Use `.spawn` or `.spawn_scoped` on it.
pub fn builder(name: impl Into<String>) -> thread::Builder {
    thread::Builder::new().name(name.into()).stack_size(stack_size())
}

thread_local! {
    /// The lowest usable address of this thread's stack, once looked up.
    static STACK_END: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

/// Bytes of stack this thread has left below the caller's frame, when the
/// platform says where the stack ends.
pub(crate) fn stack_left() -> Option<usize> {
    let end = match STACK_END.get() {
        Some(end) => end,
        None => {
            let end = stack_end()?;
            STACK_END.set(Some(end));
            end
        }
    };
    let here = &end as *const usize as usize;
    Some(here.saturating_sub(end))
}

/// The low end of the calling thread's stack (stacks grow down here).
fn stack_end() -> Option<usize> {
    // SAFETY: attr is initialized by pthread_getattr_np before it is read
    // and destroyed after; the out-parameters are plain locals.
    unsafe {
        let mut attr = std::mem::MaybeUninit::<libc::pthread_attr_t>::uninit();
        if libc::pthread_getattr_np(libc::pthread_self(), attr.as_mut_ptr()) != 0 {
            return None;
        }
        let (mut addr, mut size) = (std::ptr::null_mut(), 0usize);
        let status = libc::pthread_attr_getstack(attr.as_ptr(), &mut addr, &mut size);
        libc::pthread_attr_destroy(attr.as_mut_ptr());
        (status == 0 && !addr.is_null()).then_some(addr as usize)
    }
}
