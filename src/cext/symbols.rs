//! The dynamic symbols of a shared object, read with binutils' `nm -D`
//! (binutils comes with gcc): what an extension needs from Python, against
//! what the target's libpython exports.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use super::ToolError;
use crate::child::{ChildError, ChildSpec};

/// `nm -D --defined-only` or `--undefined-only`: the names, without a
/// symbol version ("@GLIBC_2.2.5").
fn dynamic_symbols(path: &Path, which: &str) -> Result<BTreeSet<String>, ToolError> {
    let finished = ChildSpec::new("nm", Duration::from_secs(60))
        .args(["-D", which])
        .arg(path)
        .env("LC_ALL", "C")
        .run(b"")
        .map_err(|error| match error {
            ChildError::Spawn { source, .. } => ToolError::NoNm { source },
            other => ToolError::Symbols { path: path.to_path_buf(), detail: other.to_string() },
        })?;
    if !finished.status.success() {
        let detail = crate::child::last_lines(&finished.stderr, 3);
        return Err(ToolError::Symbols { path: path.to_path_buf(), detail });
    }
    Ok(finished
        .stdout
        .lines()
        .filter_map(|line| line.split_whitespace().last())
        .map(|name| name.split('@').next().unwrap_or(name).to_string())
        .collect())
}

/// What a libpython exports, read once per file for the life of the process.
fn exports(library: &Path) -> Result<Arc<BTreeSet<String>>, ToolError> {
    static CACHE: OnceLock<Mutex<HashMap<PathBuf, Arc<BTreeSet<String>>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(found) = cache.lock().unwrap().get(library) {
        return Ok(Arc::clone(found));
    }
    let names = Arc::new(dynamic_symbols(library, "--defined-only")?);
    cache.lock().unwrap().insert(library.to_path_buf(), Arc::clone(&names));
    Ok(names)
}

/// Whether a name belongs to Python's C API.
pub fn is_python_symbol(name: &str) -> bool {
    name.starts_with("Py") || name.starts_with("_Py")
}

/// The `Py*`/`_Py*` symbols `shared_object` needs that `library` does not export, sorted.
pub fn missing_python_symbols(shared_object: &Path, library: &Path) -> Result<Vec<String>, ToolError> {
    let exported = exports(library)?;
    let needed = dynamic_symbols(shared_object, "--undefined-only")?;
    Ok(needed.into_iter().filter(|n| is_python_symbol(n) && !exported.contains(n)).collect())
}
