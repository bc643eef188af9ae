//! A Python callable that pulls pairs of text from Rust, one per call,
//! under the GIL its caller already holds (compat/pull.c). The host hands
//! a module a batch of events this way (host/delivery.rs): one call into
//! Python loops over the events, and each is taken from the host's queue
//! only when Python asks for it.

use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};

use super::error::Result;
use super::gil::Gil;
use super::object::Obj;
use super::{ffi, fork};

/// What a puller yields: two texts (an event and its JSON payload, say).
pub type Pair = (String, String);

struct Context<'a> {
    next: &'a mut dyn FnMut() -> Option<Pair>,
    /// The pair handed out last; compat copies it before the next pull.
    current: Option<Pair>,
}

unsafe extern "C" fn pull(
    ctx: *mut c_void,
    first: *mut *const libc::c_char,
    first_len: *mut usize,
    second: *mut *const libc::c_char,
    second_len: *mut usize,
) -> i32 {
    // SAFETY: ctx is the Context `with_puller` keeps alive, and touches no
    // other way, until it closes the puller (after which compat never calls
    // this again); compat calls it with the GIL held, so never twice at once.
    let context = unsafe { &mut *ctx.cast::<Context<'_>>() };
    // A child forked from module code in the middle of the pulling must not
    // take the host's items (the parent delivers them; a lock may be held
    // by a thread the child does not have): it gets nothing more, and its
    // return into the host ends it (fork.rs).
    if fork::in_forked_child() {
        return 0;
    }
    // A panic must not cross into C: it ends the pulling instead.
    let Ok(next) = catch_unwind(AssertUnwindSafe(|| (context.next)())) else { return 0 };
    context.current = next;
    match &context.current {
        None => 0,
        Some((a, b)) => {
            // SAFETY: compat passes valid out-pointers; the texts live in
            // context.current until the next call.
            unsafe {
                *first = a.as_ptr().cast();
                *first_len = a.len();
                *second = b.as_ptr().cast();
                *second_len = b.len();
            }
            1
        }
    }
}

impl Gil<'_> {
    /// Runs `body` with a callable that returns `next()`'s pairs as tuples
    /// of two `str`, then None once `next` returns None. The callable is
    /// closed when `body` returns: a reference Python kept gets None.
    pub fn with_puller<T>(
        &self,
        next: &mut dyn FnMut() -> Option<Pair>,
        body: impl FnOnce(Obj<'_>) -> Result<T>,
    ) -> Result<T> {
        let mut context = Context { next, current: None };
        let ctx: *mut Context<'_> = &mut context;
        // SAFETY: GIL held; ctx outlives the puller's use of it (closed below).
        let puller = self.own(unsafe { ffi::api().ph_puller_new(Some(pull), ctx.cast()) })?;
        // SAFETY: GIL held; a second reference, for `body` to pass on.
        let handed = unsafe {
            ffi::api().ph_incref(puller.as_ptr());
            Obj::from_new(self, puller.as_ptr()).expect("non-null")
        };
        let outcome = body(handed);
        // SAFETY: GIL held; puller is the object ph_puller_new made.
        unsafe { ffi::api().ph_puller_close(puller.as_ptr()) };
        outcome
    }
}
