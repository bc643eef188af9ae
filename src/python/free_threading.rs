//! What a free-threaded build (3.13t) says about an interpreter's GIL: off
//! until an extension module that did not declare it can run without it is
//! imported, then on for good in that interpreter (and in those sharing its
//! GIL). The host reports it per module.

use serde::{Deserialize, Serialize};

use super::gil::Gil;
use super::{ffi, text};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GilStatus {
    /// `sys._is_gil_enabled()` in the module's interpreter.
    pub enabled: bool,
    /// The extension modules in that interpreter that did not declare
    /// `Py_MOD_GIL_NOT_USED`: importing any of them turns the GIL on.
    /// Empty while `enabled` means another interpreter sharing this GIL did.
    pub because: Vec<String>,
}

/// Whether the interpreter runs free-threaded (Py_GIL_DISABLED).
pub fn free_threaded() -> bool {
    // SAFETY: a constant compiled into compat; touches no Python state.
    unsafe { ffi::api().ph_free_threaded() != 0 }
}

impl Gil<'_> {
    /// This interpreter's GIL on a free-threaded build; None on a build with a GIL.
    pub fn gil_status(&self) -> Option<GilStatus> {
        let mut needed_by = std::ptr::null_mut();
        // SAFETY: the guard has this interpreter's thread state attached;
        // needed_by is a valid out-parameter.
        let enabled = unsafe { ffi::api().ph_gil_status(&mut needed_by) };
        // SAFETY: NULL or a NUL-terminated buffer from compat, freed here.
        let names = unsafe { text::owned_c_str_lossy(needed_by) };
        (enabled >= 0).then(|| GilStatus {
            enabled: enabled == 1,
            because: names.lines().filter(|l| !l.is_empty()).map(String::from).collect(),
        })
    }
}
