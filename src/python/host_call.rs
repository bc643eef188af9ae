//! Calls from Python into the host: `_pyhost.call(method, payload)`.
//!
//! compat releases the caller's GIL around the call, so a handler may take
//! other interpreters' GILs (a cross-module call) without deadlocking.

use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, RwLock};

use super::{ffi, gil, text, threads};

/// One request from Python code.
#[derive(Debug)]
pub struct HostCall<'a> {
    /// Python's id of the calling interpreter.
    pub interpreter: i64,
    pub method: &'a str,
    pub payload: &'a [u8],
}

type Handler = dyn Fn(&HostCall<'_>) -> Result<String, String> + Send + Sync;

static HANDLER: RwLock<Option<Arc<Handler>>> = RwLock::new(None);

/// Routes every `_pyhost.call` to `handler` from now on.
pub fn set_handler(handler: impl Fn(&HostCall<'_>) -> Result<String, String> + Send + Sync + 'static) {
    *HANDLER.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(handler));
}

/// What the host answers before a handler is set.
fn builtin(call: &HostCall<'_>) -> Result<String, String> {
    match call.method {
        "echo" => Ok(String::from_utf8_lossy(call.payload).into_owned()),
        other => Err(format!("the host has no method `{other}` (it answers: echo)")),
    }
}

pub(crate) fn install() {
    // SAFETY: trampoline has the signature compat expects and stays valid
    // for the life of the process.
    unsafe { ffi::api().ph_native_set_host_call(Some(trampoline)) };
}

/// A host call may run another module's code, which may call the host again
/// (two modules calling each other through remote()). Each such hop takes
/// stack, and running out aborts the whole process; so a call made with less
/// than this left is refused, and the chain ends in an exception instead.
const STACK_RESERVE: usize = 1 << 20;

unsafe extern "C" fn trampoline(
    interpreter: i64,
    method: *const libc::c_char,
    payload: *const libc::c_char,
    payload_len: usize,
    reply: *mut *mut libc::c_char,
    reply_len: *mut usize,
) -> i32 {
    // SAFETY: compat passes a NUL-terminated method name and a payload of
    // payload_len bytes, both valid for the duration of the call.
    let (method, payload) =
        unsafe { (text::c_str_lossy(method), std::slice::from_raw_parts(payload.cast::<u8>(), payload_len)) };
    let call = HostCall { interpreter, method: &method, payload };
    let handler = HANDLER.read().unwrap_or_else(|p| p.into_inner()).clone();
    let outcome = if threads::stack_left().is_some_and(|left| left < STACK_RESERVE) {
        Err(format!(
            "the host refused `{method}`: this thread has less than {} KiB of stack left (calls between \
             modules nested too deep)",
            STACK_RESERVE >> 10
        ))
    } else {
        panic::catch_unwind(AssertUnwindSafe(|| {
            gil::suspended(|| match &handler {
                Some(handler) => handler(&call),
                None => builtin(&call),
            })
        }))
        .unwrap_or_else(|_| Err(format!("the host panicked while answering `{method}`")))
    };
    let (status, text) = match outcome {
        Ok(text) => (0, text),
        Err(text) => (1, text),
    };
    // SAFETY: compat frees the reply with free(); it gets len bytes plus NUL.
    unsafe {
        let buffer = libc::malloc(text.len() + 1).cast::<libc::c_char>();
        if buffer.is_null() {
            *reply = std::ptr::null_mut();
            *reply_len = 0;
            return 1;
        }
        std::ptr::copy_nonoverlapping(text.as_ptr().cast::<libc::c_char>(), buffer, text.len());
        *buffer.add(text.len()) = 0;
        *reply = buffer;
        *reply_len = text.len();
    }
    status
}
