//! What this process knows about the interpreter it runs: the probe's facts
//! about the chosen interpreter (see loader.rs), where its pieces were
//! loaded from, and what it supports.

use std::sync::OnceLock;

use serde::Serialize;

use super::Isolation;
use super::error::Error;
use super::ffi;
use super::loader::{self, ChosenBy};
use super::text::owned_c_str_lossy;

#[derive(Debug, Clone, Serialize)]
pub struct InterpreterInfo {
    pub version: String,
    pub hexversion: u64,
    pub executable: String,
    pub prefix: String,
    pub include_dir: String,
    pub lib_dir: String,
    /// The libpython loaded (with global symbols).
    pub library: String,
    /// The compat object built for this interpreter and loaded.
    pub compat_object: String,
    pub abiflags: String,
    pub gil_disabled: bool,
    /// What was asked for (a path, a command or a version), and by whom.
    pub requested: String,
    pub chosen_by: ChosenBy,
}

/// The loaded interpreter's facts. Python must be loaded already (the CLI
/// loads it before running a command; `Python::initialize` does too).
pub fn info() -> &'static InterpreterInfo {
    static INFO: OnceLock<InterpreterInfo> = OnceLock::new();
    INFO.get_or_init(|| {
        ffi::api(); // loads, or says why it cannot
        let loaded = loader::load().expect("loaded just above");
        let py = &loaded.interpreter;
        InterpreterInfo {
            version: py.version.clone(),
            hexversion: py.hexversion,
            executable: py.executable.display().to_string(),
            prefix: py.prefix.clone(),
            include_dir: py.include_dir.display().to_string(),
            lib_dir: py.lib_dir.display().to_string(),
            library: py.library_file().display().to_string(),
            compat_object: loaded.compat_object.display().to_string(),
            abiflags: py.abiflags.clone(),
            gil_disabled: py.gil_disabled,
            requested: py.requested.clone(),
            chosen_by: loaded.by,
        }
    })
}

/// "3.11" for "3.11.2": how manifests, site folders and matrix columns
/// name an interpreter.
pub fn minor_of(version: &str) -> String {
    version.split('.').take(2).collect::<Vec<_>>().join(".")
}

impl InterpreterInfo {
    /// This interpreter as "major.minor".
    pub fn minor_version(&self) -> String {
        minor_of(&self.version)
    }
}

/// `Py_GetVersion()` of the libpython actually loaded, which can differ from
/// the headers' version if the library was swapped under the binary.
pub fn runtime_version() -> String {
    // SAFETY: Py_GetVersion returns a static NUL-terminated string and may be
    // called before initialization.
    unsafe { std::ffi::CStr::from_ptr(ffi::api().ph_runtime_version()) }.to_string_lossy().into_owned()
}

/// The isolation modes this interpreter supports, best first.
pub fn supported_isolations() -> Vec<Isolation> {
    // SAFETY: a constant answer compiled into compat; no Python state touched.
    let own_gil = unsafe { ffi::api().ph_supports_own_gil() } != 0;
    let mut modes = Vec::new();
    if own_gil {
        modes.push(Isolation::OwnGil);
    }
    modes.extend([Isolation::Shared, Isolation::Main]);
    modes
}

/// Ok when this interpreter can make interpreters of that isolation; otherwise
/// the error that says what to do instead.
pub fn check_supported(isolation: Isolation) -> Result<(), Error> {
    if supported_isolations().contains(&isolation) {
        return Ok(());
    }
    // Only own-gil is ever missing from the list.
    let reason = own_gil_refusal().unwrap_or_else(|| "not supported by this interpreter".into());
    Err(Error::IsolationUnsupported { isolation, reason })
}

/// Why this interpreter cannot make own-gil interpreters, for people; None
/// when it can. Compat decides: it alone knows which versions lack the mode
/// or have it broken.
pub fn own_gil_refusal() -> Option<String> {
    // SAFETY: returns NULL or a NUL-terminated buffer from compat, which
    // owned_c_str_lossy frees; no Python state touched.
    let reason = unsafe { owned_c_str_lossy(ffi::api().ph_own_gil_refusal()) };
    (!reason.is_empty()).then_some(reason)
}

/// The isolation a module or `pyhost exec` gets when none is asked for.
pub fn default_isolation() -> Isolation {
    supported_isolations()[0]
}
