//! pyhost's compat header for users' legacy C extensions
//! (include/pyhost/legacy_compat.h) and the vendored headers it builds on,
//! compiled into the binary and written out to a folder of their own, so an
//! installed pyhost without its source tree can give the `-I` folder too.
//!
//! The folder is `<cache>/pyhost/include/<pyhost version>-<content hash>`:
//! it never changes under a build that uses it, and a new pyhost with other
//! headers gets another folder.

use std::path::PathBuf;

use super::ToolError;

macro_rules! shipped {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_str!(concat!("../../include/", $path)))),*]
    };
}

/// (path under the include folder, content).
pub const FILES: &[(&str, &str)] = shipped![
    "pyhost/legacy_compat.h",
    "py3c.h",
    "py3c/capsulethunk.h",
    "py3c/comparison.h",
    "py3c/compat.h",
    "py3c/fileshim.h",
    "py3c/py3shims.h",
    "py3c/tpflags.h",
    "pythoncapi_compat.h",
    "VENDORED",
];

/// The header users include: `#include <pyhost/legacy_compat.h>`.
pub const HEADER: &str = "pyhost/legacy_compat.h";

/// Written last: a folder without it is not trusted.
const COMPLETE: &str = ".complete";

/// FNV-1a over every path and content: names the folder.
fn content_hash() -> u64 {
    FILES
        .iter()
        .flat_map(|(path, text)| [path.as_bytes(), b"\0", text.as_bytes(), b"\0"])
        .fold(0xcbf2_9ce4_8422_2325, |hash, bytes| {
            bytes.iter().fold(hash, |h, b| (h ^ *b as u64).wrapping_mul(0x0100_0000_01b3))
        })
}

/// The folder to pass with -I, written on first use.
pub fn include_dir() -> Result<PathBuf, ToolError> {
    let io = |what: String| move |source| ToolError::Io { what, source };
    let root = crate::cache::dir().unwrap_or_else(std::env::temp_dir).join("pyhost/include");
    let dir = root.join(format!("{}-{:016x}", env!("CARGO_PKG_VERSION"), content_hash()));
    if dir.join(COMPLETE).is_file() {
        return Ok(dir);
    }
    std::fs::create_dir_all(&root).map_err(io(format!("cannot create {}", root.display())))?;
    // Written into a fresh folder beside it, then renamed into place in one
    // step, so no build ever sees half the headers.
    let fresh = tempfile::Builder::new()
        .prefix(".incoming-")
        .tempdir_in(&root)
        .map_err(io(format!("cannot create a folder in {}", root.display())))?;
    for (path, text) in FILES {
        let file = fresh.path().join(path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent).map_err(io(format!("cannot create {}", parent.display())))?;
        }
        std::fs::write(&file, text).map_err(io(format!("cannot write {}", file.display())))?;
    }
    std::fs::write(fresh.path().join(COMPLETE), "").map_err(io("cannot finish the headers' folder".into()))?;
    let fresh = fresh.keep();
    if std::fs::rename(&fresh, &dir).is_err() {
        // Another pyhost got there first (or a broken folder is in the way).
        let _ = std::fs::remove_dir_all(&fresh);
        if !dir.join(COMPLETE).is_file() {
            std::fs::remove_dir_all(&dir).map_err(io(format!("cannot replace {}", dir.display())))?;
            return include_dir();
        }
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    /// Writes into the real cache folder, as pyhost does: the same content always lands in the same folder.
    #[test]
    fn the_folder_holds_every_header_as_shipped() {
        let first = super::include_dir().unwrap();
        assert_eq!(super::include_dir().unwrap(), first, "a second call finds the same folder");
        for (path, text) in super::FILES {
            assert_eq!(std::fs::read_to_string(first.join(path)).unwrap(), *text, "{path}");
        }
    }
}
