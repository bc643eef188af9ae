//! The GIL guard: what the talk's `Gil` class became once it could tell by
//! itself whether the current OS thread needs a new thread state.
//!
//! `interpreter.gil()` finds (or makes) this thread's state in that
//! interpreter, takes the interpreter's GIL with it and releases it on drop.
//! It never uses `PyGILState_*`, which assume one thread state per OS thread.
//! Guards do not nest: asking for a second one on a thread that holds one is
//! an error (`Error::NestedGil`), where the talk's class would deadlock.

use std::cell::Cell;
use std::ffi::{CString, OsString};
use std::marker::PhantomData;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::error::{Error, PyException, Result, SystemExit};
use super::interpreter::{Interpreter, Lease};
use super::object::Obj;
use super::{ffi, fork, runtime, text};

thread_local! {
    /// The interpreter whose GIL this thread holds through a guard: (key, id).
    static HELD: Cell<Option<(usize, i64)>> = const { Cell::new(None) };
}

/// Proof that the current thread holds `interpreter()`'s GIL.
pub struct Gil<'i> {
    interp: &'i Interpreter,
    /// Dropped after the GIL is released (fields drop after `drop`).
    _lease: Lease,
    /// A guard belongs to the thread that took it.
    _not_send: PhantomData<*const ()>,
}

impl Interpreter {
    /// Takes this interpreter's GIL on the current thread.
    pub fn gil(&self) -> Result<Gil<'_>> {
        self.gil_inner(false)
    }

    /// For the interpreter's own end, which must get in while it is closing.
    pub(crate) fn gil_for_close(&self) -> Result<Gil<'_>> {
        self.gil_inner(true)
    }

    fn gil_inner(&self, closing_ok: bool) -> Result<Gil<'_>> {
        if let Some((_, held)) = HELD.get() {
            return Err(Error::NestedGil { held, wanted: self.id() });
        }
        runtime::ensure_running()?;
        fork::ensure_not_forked()?;
        let lease = self.inner.checkout(closing_ok)?;
        // SAFETY: the lease's state is this thread's in this interpreter,
        // this thread holds no GIL (HELD is empty), and the interpreter
        // admitted the lease, so the state is live.
        unsafe { ffi::api().ph_tstate_acquire(lease.ts()) };
        HELD.set(Some((self.key(), self.id())));
        let gil = Gil { interp: self, _lease: lease, _not_send: PhantomData };
        gil.release_pending_decrefs();
        Ok(gil)
    }
}

impl Drop for Gil<'_> {
    fn drop(&mut self) {
        // SAFETY: this guard made its thread state current; releasing it
        // leaves no state current and the GIL free.
        unsafe { ffi::api().ph_tstate_release() };
        HELD.set(None);
    }
}

/// Whether the current thread holds `interp`'s GIL through a guard.
pub(crate) fn holds(interp: &Interpreter) -> bool {
    HELD.get().is_some_and(|(key, _)| key == interp.key())
}

/// Whether the current thread holds any GIL through a guard.
pub(crate) fn holds_any() -> bool {
    HELD.get().is_some()
}

/// Runs `f` as if this thread held no guard: for host calls, which compat
/// makes with the caller's GIL released, so the host can take other GILs.
pub(crate) fn suspended<R>(f: impl FnOnce() -> R) -> R {
    let saved = HELD.replace(None);
    let result = f();
    HELD.set(saved);
    result
}

impl<'i> Gil<'i> {
    pub fn interpreter(&self) -> &'i Interpreter {
        self.interp
    }

    /// Wraps a new reference returned by compat, or takes the exception.
    pub(crate) fn own(&self, ptr: *mut ffi::ph_obj) -> Result<Obj<'_>> {
        // SAFETY: ptr is NULL or a new reference made under this guard.
        unsafe { Obj::from_new(self, ptr) }.ok_or_else(|| self.take_error().into())
    }

    /// The pending Python exception, formatted; cleared from the interpreter.
    pub(crate) fn take_error(&self) -> PyException {
        let mut raw = ffi::ph_error {
            type_name: std::ptr::null_mut(),
            message: std::ptr::null_mut(),
            traceback: std::ptr::null_mut(),
            is_system_exit: 0,
            exit_code: 0,
            exit_message: std::ptr::null_mut(),
        };
        // SAFETY: the GIL is held; raw is a valid out-parameter.
        let found = unsafe { ffi::api().ph_error_fetch(&mut raw) } != 0;
        if !found {
            return PyException {
                type_name: "SystemError".into(),
                message: "a Python call failed without setting an exception".into(),
                traceback: "SystemError: a Python call failed without setting an exception\n".into(),
                exit: None,
            };
        }
        // SAFETY: ph_error_fetch filled the fields with NUL-terminated
        // strings (or NULL); ph_error_clear frees them after the copies.

        unsafe {
            let error = PyException {
                type_name: text::c_str_lossy(raw.type_name),
                message: text::c_str_lossy(raw.message),
                traceback: text::c_str_lossy(raw.traceback),
                exit: (raw.is_system_exit != 0).then(|| SystemExit {
                    code: raw.exit_code,
                    message: (!raw.exit_message.is_null()).then(|| text::c_str_lossy(raw.exit_message)),
                }),
            };
            ffi::api().ph_error_clear(&mut raw);
            error
        }
    }

    fn check(&self, status: i32) -> Result<()> {
        if status < 0 { Err(self.take_error().into()) } else { Ok(()) }
    }

    /// Evaluates a Python expression in `__main__`'s namespace.
    pub fn eval(&self, expression: &str) -> Result<Obj<'_>> {
        let expression = c_string(expression.as_bytes(), "the expression")?;
        // SAFETY: GIL held; expression is NUL-terminated.
        self.own(unsafe { ffi::api().ph_eval(expression.as_ptr(), std::ptr::null_mut()) })
    }

    /// Runs source code as `__main__` would: `filename` appears in tracebacks.
    pub fn exec(&self, source: &[u8], filename: &Path) -> Result<()> {
        let filename = c_string(filename.as_os_str().as_bytes(), "the file name")?;
        // SAFETY: GIL held; source is a valid slice, filename NUL-terminated.
        let status = unsafe {
            ffi::api().ph_exec(source.as_ptr().cast(), source.len(), filename.as_ptr(), std::ptr::null_mut())
        };
        self.check(status)
    }

    /// Runs a snippet of the host's own Python code in `__main__`.
    pub fn run(&self, code: &str) -> Result<()> {
        self.exec(code.as_bytes(), Path::new("<pyhost>"))
    }

    pub fn import(&self, module: &str) -> Result<Obj<'_>> {
        // SAFETY: GIL held; the name is NUL-terminated.
        self.own(with_c_str(module, "the module name", |name| unsafe { ffi::api().ph_import(name) })?)
    }

    /// The `__dict__` of this interpreter's `__main__` module.
    pub fn main_globals(&self) -> Result<Obj<'_>> {
        // SAFETY: GIL held; ph_main_dict returns a borrowed reference, which
        // is made an owned one before anything can drop it.
        unsafe {
            let dict = ffi::api().ph_main_dict();
            if dict.is_null() {
                return Err(self.take_error().into());
            }
            ffi::api().ph_incref(dict);
            self.own(dict)
        }
    }

    /// Binds `name` in `__main__`'s namespace.
    pub fn set_global(&self, name: &str, value: Obj<'_>) -> Result<()> {
        self.main_globals()?.call_method("__setitem__", vec![self.str(name)?, value])?;
        Ok(())
    }

    /// A native `str` (bytes on 2.x, text on 3.x) holding this text.
    pub fn str(&self, value: &str) -> Result<Obj<'_>> {
        // SAFETY: GIL held; the slice is valid for its length.
        self.own(unsafe { ffi::api().ph_str_from_utf8(value.as_ptr().cast(), value.len()) })
    }

    pub fn bytes(&self, value: &[u8]) -> Result<Obj<'_>> {
        // SAFETY: GIL held; the slice is valid for its length.
        self.own(unsafe { ffi::api().ph_bytes_from(value.as_ptr().cast(), value.len()) })
    }

    /// A native path from a file-system path, whatever bytes it holds.
    pub fn path(&self, value: &Path) -> Result<Obj<'_>> {
        let bytes = value.as_os_str().as_bytes();
        // SAFETY: GIL held; the slice is valid for its length.
        self.own(unsafe { ffi::api().ph_path_from_fs(bytes.as_ptr().cast(), bytes.len()) })
    }

    pub fn int(&self, value: i64) -> Result<Obj<'_>> {
        // SAFETY: GIL held.
        self.own(unsafe { ffi::api().ph_int_from_i64(value) })
    }

    pub fn none(&self) -> Obj<'_> {
        // SAFETY: GIL held; Py_None always exists.
        unsafe { Obj::from_new(self, ffi::api().ph_none()) }.expect("None exists")
    }

    /// A tuple of these items (the tuple takes them over).
    pub fn tuple(&self, items: Vec<Obj<'_>>) -> Result<Obj<'_>> {
        // SAFETY: GIL held.
        let tuple = self.own(unsafe { ffi::api().ph_tuple_new(items.len()) })?;
        for (index, item) in items.into_iter().enumerate() {
            // SAFETY: a fresh tuple of the right size; ph_tuple_set steals
            // the reference that into_raw gives up.
            let status = unsafe { ffi::api().ph_tuple_set(tuple.as_ptr(), index, item.into_raw()) };
            self.check(status)?;
        }
        Ok(tuple)
    }

    /// Sets `sys.argv` from file-system strings.
    pub fn set_argv(&self, argv: &[OsString]) -> Result<()> {
        let args = argv.iter().map(|a| c_string(a.as_bytes(), "an argument")).collect::<Result<Vec<_>>>()?;
        let pointers: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
        // SAFETY: GIL held; the pointers outlive the call.
        self.check(unsafe { ffi::api().ph_sys_set_argv(pointers.as_ptr(), pointers.len()) })
    }

    /// Flushes this interpreter's `sys.stdout` and `sys.stderr`.
    pub fn flush_std_streams(&self) {
        // SAFETY: GIL held; errors are swallowed inside.
        unsafe { ffi::api().ph_flush_std_streams() }
    }

    /// How many thread states the interpreter has, the host's included.
    pub fn thread_state_count(&self) -> usize {
        // SAFETY: GIL of this interpreter held.
        unsafe { ffi::api().ph_interp_thread_count(self.interp.inner.raw) }
    }

    /// Runs on every guard: a plain load, and the work only when needed.
    #[inline]
    fn release_pending_decrefs(&self) {
        if self.interp.inner.has_pending.load(std::sync::atomic::Ordering::Acquire) {
            self.release_pending_decrefs_now();
        }
    }

    #[cold]
    fn release_pending_decrefs_now(&self) {
        if !self.interp.inner.has_pending.swap(false, std::sync::atomic::Ordering::AcqRel) {
            return;
        }
        let pending = std::mem::take(&mut *self.interp.inner.pending_decrefs.lock().unwrap_or_else(|p| p.into_inner()));
        for address in pending {
            // SAFETY: each address is a reference owned by an OwnedObj of
            // this interpreter, handed over when it was dropped; the GIL of
            // this interpreter is held.
            unsafe { ffi::api().ph_decref(address as *mut ffi::ph_obj) };
        }
    }
}

pub(crate) fn c_string(bytes: &[u8], what: &'static str) -> Result<CString> {
    CString::new(bytes).map_err(|_| Error::Nul { what })
}

/// A name for the C API: `&str` (converted on the stack per call) or, on
/// hot paths, a `&CStr` literal such as `c"ping"` (no conversion at all).
pub trait CName {
    fn with<R>(&self, what: &'static str, f: impl FnOnce(*const libc::c_char) -> R) -> Result<R>;
}

impl CName for &str {
    fn with<R>(&self, what: &'static str, f: impl FnOnce(*const libc::c_char) -> R) -> Result<R> {
        with_c_str(self, what, f)
    }
}

impl CName for &std::ffi::CStr {
    #[inline]
    fn with<R>(&self, _what: &'static str, f: impl FnOnce(*const libc::c_char) -> R) -> Result<R> {
        Ok(f(self.as_ptr()))
    }
}

/// Runs `f` with `text` as a NUL-terminated C string, on the stack when it
/// is short: attribute and module names are, and a heap allocation per call
/// showed up in the host-to-module call's cost.
pub(crate) fn with_c_str<R>(text: &str, what: &'static str, f: impl FnOnce(*const libc::c_char) -> R) -> Result<R> {
    const SHORT: usize = 128;
    let bytes = text.as_bytes();
    if bytes.contains(&0) {
        return Err(Error::Nul { what });
    }
    if bytes.len() < SHORT {
        let mut buffer = std::mem::MaybeUninit::<[u8; SHORT]>::uninit();
        let start = buffer.as_mut_ptr().cast::<u8>();
        // SAFETY: len + 1 <= SHORT bytes are written, the text then its NUL,
        // and C reads no further than the NUL.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), start, bytes.len());
            start.add(bytes.len()).write(0);
        }
        return Ok(f(start.cast_const().cast()));
    }
    let owned = c_string(bytes, what)?;
    Ok(f(owned.as_ptr()))
}
