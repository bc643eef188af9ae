//! Owned references to Python objects.
//!
//! `Obj<'g>` lives no longer than the guard it was made under, so it is
//! always released under the right interpreter's GIL. `OwnedObj` outlives
//! guards (a module instance kept between calls); it remembers its
//! interpreter and is released under that interpreter's GIL, never another's.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;
use std::ptr::NonNull;

use super::error::{Error, Result};
use super::gil::{self, CName, Gil, c_string, with_c_str};
use super::interpreter::Interpreter;
use super::{ffi, runtime, text};

/// A new reference, valid while the guard `'g` is held.
pub struct Obj<'g> {
    ptr: NonNull<ffi::ph_obj>,
    gil: &'g Gil<'g>,
}

impl<'g> Obj<'g> {
    /// # Safety
    /// `ptr` must be NULL or a new reference made under `gil`'s interpreter.
    pub(crate) unsafe fn from_new(gil: &'g Gil<'_>, ptr: *mut ffi::ph_obj) -> Option<Obj<'g>> {
        NonNull::new(ptr).map(|ptr| Obj { ptr, gil })
    }

    pub(crate) fn as_ptr(&self) -> *mut ffi::ph_obj {
        self.ptr.as_ptr()
    }

    /// Gives up the reference (for APIs that steal it).
    pub(crate) fn into_raw(self) -> *mut ffi::ph_obj {
        let ptr = self.ptr.as_ptr();
        std::mem::forget(self);
        ptr
    }

    pub fn getattr(&self, name: &str) -> Result<Obj<'g>> {
        // SAFETY: GIL held (the guard outlives self); name NUL-terminated.
        let ptr = with_c_str(name, "an attribute name", |name| unsafe { ffi::api().ph_getattr(self.as_ptr(), name) })?;
        self.gil.own(ptr)
    }

    pub fn setattr(&self, name: &str, value: &Obj<'_>) -> Result<()> {
        let name = c_string(name.as_bytes(), "an attribute name")?;
        // SAFETY: GIL held; both objects live.
        let status = unsafe { ffi::api().ph_setattr(self.as_ptr(), name.as_ptr(), value.as_ptr()) };
        if status < 0 { Err(self.gil.take_error().into()) } else { Ok(()) }
    }

    /// `self(*args)`.
    pub fn call(&self, args: Vec<Obj<'g>>) -> Result<Obj<'g>> {
        let args = self.gil.tuple(args)?;
        // SAFETY: GIL held; args is a tuple.
        self.gil.own(unsafe { ffi::api().ph_call(self.as_ptr(), args.as_ptr()) })
    }

    /// `self.name(*args)`.
    pub fn call_method(&self, name: &str, args: Vec<Obj<'g>>) -> Result<Obj<'g>> {
        if args.is_empty() {
            return self.call_method0(name);
        }
        self.getattr(name)?.call(args)
    }

    /// `self.name()`.
    pub fn call_method0(&self, name: impl CName) -> Result<Obj<'g>> {
        // SAFETY: GIL held; name NUL-terminated.
        let ptr = name.with("a method name", |name| unsafe { ffi::api().ph_call_method0(self.as_ptr(), name) })?;
        self.gil.own(ptr)
    }

    /// The text of a `str` (2.x: `str` or `unicode`), strictly as UTF-8.
    pub fn to_text(&self) -> Result<String> {
        let bytes = self.buffer(ffi::api().ph_str_to_utf8)?;
        String::from_utf8(bytes).map_err(|e| Error::Usage(format!("Python returned invalid UTF-8: {e}")))
    }

    /// `str(self)` for display; never fails.
    pub fn display(&self) -> String {
        // SAFETY: GIL held; ph_str_of returns a malloc'd NUL-terminated
        // string, which owned_c_str frees.
        unsafe { text::owned_c_str_lossy(ffi::api().ph_str_of(self.as_ptr())) }
    }

    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        self.buffer(ffi::api().ph_bytes_to)
    }

    /// The raw file-system bytes of a path object.
    pub fn to_path(&self) -> Result<PathBuf> {
        Ok(PathBuf::from(OsString::from_vec(self.buffer(ffi::api().ph_path_to_fs)?)))
    }

    pub fn to_i64(&self) -> Result<i64> {
        let mut value = 0i64;
        // SAFETY: GIL held; value is a valid out-parameter.
        let status = unsafe { ffi::api().ph_int_as_i64(self.as_ptr(), &mut value) };
        if status < 0 { Err(self.gil.take_error().into()) } else { Ok(value) }
    }

    pub fn is_true(&self) -> Result<bool> {
        // SAFETY: GIL held.
        match unsafe { ffi::api().ph_is_true(self.as_ptr()) } {
            n if n < 0 => Err(self.gil.take_error().into()),
            n => Ok(n > 0),
        }
    }

    pub fn is_none(&self) -> bool {
        // SAFETY: GIL held; a pointer comparison.
        unsafe { ffi::api().ph_is_none(self.as_ptr()) != 0 }
    }

    fn len(&self) -> Result<usize> {
        // SAFETY: GIL held.
        let len = unsafe { ffi::api().ph_len(self.as_ptr()) };
        if len < 0 { Err(self.gil.take_error().into()) } else { Ok(len as usize) }
    }

    pub fn item(&self, index: usize) -> Result<Obj<'g>> {
        // SAFETY: GIL held.
        self.gil.own(unsafe { ffi::api().ph_item(self.as_ptr(), index) })
    }

    /// Every item of a sequence.
    pub fn items(&self) -> Result<Vec<Obj<'g>>> {
        (0..self.len()?).map(|i| self.item(i)).collect()
    }

    /// Keeps the reference beyond this guard.
    pub fn into_owned(self) -> OwnedObj {
        let interpreter = self.gil.interpreter().clone();
        OwnedObj { ptr: NonNull::new(self.into_raw()).expect("non-null"), interpreter }
    }

    fn buffer(
        &self,
        convert: unsafe extern "C" fn(*mut ffi::ph_obj, *mut *mut libc::c_char, *mut usize) -> i32,
    ) -> Result<Vec<u8>> {
        let mut data: *mut libc::c_char = std::ptr::null_mut();
        let mut len = 0usize;
        // SAFETY: GIL held; on success compat hands over a malloc'd buffer
        // of len bytes, which take_buffer copies and frees.
        let status = unsafe { convert(self.as_ptr(), &mut data, &mut len) };
        if status < 0 {
            return Err(self.gil.take_error().into());
        }
        // SAFETY: see above.
        Ok(unsafe { text::take_buffer(data, len) })
    }
}

impl Drop for Obj<'_> {
    fn drop(&mut self) {
        // SAFETY: a new reference owned by self; the guard is still held.
        unsafe { ffi::api().ph_decref(self.ptr.as_ptr()) }
    }
}

/// A reference kept across guards, bound to its interpreter.
pub struct OwnedObj {
    ptr: NonNull<ffi::ph_obj>,
    interpreter: Interpreter,
}

// SAFETY: the pointer is only dereferenced under its interpreter's GIL
// (bind checks the guard's interpreter; Drop takes or defers to it).
unsafe impl Send for OwnedObj {}
unsafe impl Sync for OwnedObj {}

impl OwnedObj {
    pub fn interpreter(&self) -> &Interpreter {
        &self.interpreter
    }

    pub(crate) fn as_ptr(&self) -> *mut ffi::ph_obj {
        self.ptr.as_ptr()
    }

    fn check_interpreter(&self, gil: &Gil<'_>) -> Result<()> {
        if gil.interpreter() != &self.interpreter {
            return Err(Error::Usage(format!(
                "an object of interpreter {} was used under interpreter {}'s GIL; \
                 objects never cross interpreters",
                self.interpreter.id(),
                gil.interpreter().id()
            )));
        }
        Ok(())
    }

    /// `self.name()`, without making a new reference first: the host's
    /// cheapest call into a module.
    pub fn call_method0<'g>(&self, gil: &'g Gil<'_>, name: impl CName) -> Result<Obj<'g>> {
        self.check_interpreter(gil)?;
        // SAFETY: GIL of the object's interpreter held; self keeps the object
        // alive for the call; name NUL-terminated.
        let ptr = name.with("a method name", |name| unsafe { ffi::api().ph_call_method0(self.as_ptr(), name) })?;
        gil.own(ptr)
    }

    /// A new reference under a guard of the same interpreter.
    pub fn bind<'g>(&self, gil: &'g Gil<'_>) -> Result<Obj<'g>> {
        self.check_interpreter(gil)?;
        // SAFETY: GIL of the object's interpreter held.
        unsafe {
            ffi::api().ph_incref(self.ptr.as_ptr());
            Ok(Obj::from_new(gil, self.ptr.as_ptr()).expect("non-null"))
        }
    }
}

impl Drop for OwnedObj {
    fn drop(&mut self) {
        if !runtime::is_running() || self.interpreter.has_ended() {
            return; // the object went with its interpreter
        }
        if gil::holds(&self.interpreter) {
            // SAFETY: this thread holds the object's interpreter's GIL.
            unsafe { ffi::api().ph_decref(self.ptr.as_ptr()) };
            return;
        }
        if !gil::holds_any()
            && let Ok(_gil) = self.interpreter.gil()
        {
            // SAFETY: the guard holds the object's interpreter's GIL.
            unsafe { ffi::api().ph_decref(self.ptr.as_ptr()) };
            return;
        }
        // This thread holds another interpreter's GIL: taking this one would
        // nest. The next guard of the right interpreter releases it.
        let inner = &self.interpreter.inner;
        inner.pending_decrefs.lock().unwrap_or_else(|p| p.into_inner()).push(self.ptr.as_ptr() as usize);
        inner.has_pending.store(true, std::sync::atomic::Ordering::Release);
    }
}
