//! The Python, C and C++ files under the paths given to `pyhost port`.

use std::path::{Path, PathBuf};

use super::PortError;

/// Folders never looked into: caches, version control, virtual environments.
const SKIPPED: &[&str] = &["__pycache__", ".git", ".hg", ".svn", ".tox", ".venv", "venv", "node_modules"];

/// Each path that is a file, and every `.py` file and C or C++ source
/// (super::c::EXTENSIONS) under each folder (sorted, so runs and their output are stable). Any file name,
/// UTF-8 or not, is kept as it is.
pub fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>, PortError> {
    let mut out = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|source| PortError::Read { path: path.clone(), source })?;
        if meta.is_dir() {
            walk(path, &mut out)?;
        } else {
            out.push(path.clone());
        }
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|p| seen.insert(p.clone()));
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), PortError> {
    let read = |source| PortError::Read { path: dir.to_path_buf(), source };
    let mut entries: Vec<_> = std::fs::read_dir(dir).map_err(read)?.collect::<Result<_, _>>().map_err(read)?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name();
        let file_type = entry.file_type().map_err(read)?;
        if file_type.is_dir() {
            if !SKIPPED.iter().any(|s| name == *s) {
                walk(&path, out)?;
            }
        } else if (path.extension().is_some_and(|e| e == "py") || super::c::is_c_source(&path))
            && (file_type.is_file() || path.is_file())
            // macOS metadata ("._name.py", AppleDouble) that some sdists carry: not source.
            && !name.as_encoded_bytes().starts_with(b"._")
        {
            out.push(path);
        }
    }
    Ok(())
}
