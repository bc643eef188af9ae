//! What build.rs learned about the interpreter this binary was built against.

use serde::Serialize;

use super::Isolation;
use super::error::Error;
use super::ffi;

#[derive(Debug, Clone, Serialize)]
pub struct BuildInfo {
    pub version: &'static str,
    pub hexversion: u64,
    pub executable: &'static str,
    pub prefix: &'static str,
    pub include_dir: &'static str,
    pub lib_dir: &'static str,
    pub library: &'static str,
    pub abiflags: &'static str,
    pub gil_disabled: bool,
}

pub const BUILD: BuildInfo = BuildInfo {
    version: env!("PYHOST_BUILD_PYTHON_VERSION"),
    hexversion: parse_u64(env!("PYHOST_BUILD_PYTHON_HEXVERSION")),
    executable: env!("PYHOST_BUILD_PYTHON_EXECUTABLE"),
    prefix: env!("PYHOST_BUILD_PYTHON_PREFIX"),
    include_dir: env!("PYHOST_BUILD_PYTHON_INCLUDE_DIR"),
    lib_dir: env!("PYHOST_BUILD_PYTHON_LIB_DIR"),
    library: env!("PYHOST_BUILD_PYTHON_LIBRARY"),
    abiflags: env!("PYHOST_BUILD_PYTHON_ABIFLAGS"),
    gil_disabled: matches!(env!("PYHOST_BUILD_PYTHON_GIL_DISABLED").as_bytes(), b"true"),
};

const fn parse_u64(text: &str) -> u64 {
    let bytes = text.as_bytes();
    let mut value = 0u64;
    let mut i = 0;
    while i < bytes.len() {
        value = value * 10 + (bytes[i] - b'0') as u64;
        i += 1;
    }
    value
}

/// "3.11" for "3.11.2": how manifests, site folders and target folders
/// name an interpreter.
pub fn minor_of(version: &str) -> String {
    version.split('.').take(2).collect::<Vec<_>>().join(".")
}

impl BuildInfo {
    /// This build's interpreter as "major.minor".
    pub fn minor_version(&self) -> String {
        minor_of(self.version)
    }
}

/// `Py_GetVersion()` of the libpython actually loaded, which can differ from
/// the headers' version if the library was swapped under the binary.
pub fn runtime_version() -> String {
    // SAFETY: Py_GetVersion returns a static NUL-terminated string and may be
    // called before initialization.
    unsafe { std::ffi::CStr::from_ptr(ffi::ph_runtime_version()) }.to_string_lossy().into_owned()
}

/// The isolation modes this build supports, best first.
pub fn supported_isolations() -> Vec<Isolation> {
    // SAFETY: a constant answer compiled into compat; no Python state touched.
    let own_gil = unsafe { ffi::ph_supports_own_gil() } != 0;
    let mut modes = Vec::new();
    if own_gil {
        modes.push(Isolation::OwnGil);
    }
    modes.extend([Isolation::Shared, Isolation::Main]);
    modes
}

/// Ok when this build can make interpreters of that isolation; otherwise
/// the error that says what to do instead.
pub fn check_supported(isolation: Isolation) -> Result<(), Error> {
    if supported_isolations().contains(&isolation) {
        return Ok(());
    }
    Err(Error::Usage(format!(
        "isolation `{isolation}` needs Python 3.12 or later; this pyhost embeds Python {}. Use `shared` \
         or `main`, or build pyhost against a newer interpreter (PYHOST_PYTHON=python3.13 cargo build)",
        BUILD.version
    )))
}

/// The isolation a module or `pyhost exec` gets when none is asked for.
pub fn default_isolation() -> Isolation {
    supported_isolations()[0]
}
