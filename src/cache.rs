//! The per-user cache folder the project's scripts fill: interpreters
//! (pyhost/pythons), their list (pyhost/pythons.txt), fixture packages
//! (pyhost/site/<version>), and what the host keeps itself (compat objects,
//! interpreter probes, placement verdicts). Same rule as the scripts:
//! $XDG_CACHE_HOME, else ~/.cache.

use std::path::{Path, PathBuf};

pub fn dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
}

/// Creates `folder` and any missing parents for this user alone (0700,
/// whatever the umask): the host loads or trusts what it keeps there
/// (compat objects, interpreter probes, placement verdicts), so under
/// umask 000 no other user may add to it, as no other user's code is loaded
/// (README, "Failure model"). A folder that was there already is used only
/// if it passes `untrusted`: an error (PermissionDenied) names the fix.
pub fn create_private_dir(folder: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(folder)?;
    match untrusted(folder) {
        None => Ok(()),
        Some(why) => Err(std::io::Error::new(std::io::ErrorKind::PermissionDenied, why)),
    }
}

/// Why the host must not load or trust what is in `folder`, if it must not:
/// another user could change it (ownership.rs, the rule strict modes apply
/// to module code). The message names the path, the problem and its fix.
pub fn untrusted(folder: &Path) -> Option<String> {
    let (path, problem) = crate::ownership::Checker::for_this_process().check(folder).into_iter().next()?;
    Some(format!(
        "{} {problem}, so another user could put there what pyhost loads; fix: {} (or set XDG_CACHE_HOME to a \
         folder of your own)",
        path.display(),
        problem.fix(&path)
    ))
}

/// Where the host keeps its placement verdicts (host/kept_verdicts.rs):
/// $PYHOST_PLACEMENT_CACHE, else pyhost/placement in `dir()`. The variable
/// lets tests and the bench use a folder of their own without moving the
/// other caches (compat objects, fixture packages).
pub fn placement_dir() -> Option<PathBuf> {
    match std::env::var_os("PYHOST_PLACEMENT_CACHE").filter(|d| !d.is_empty()) {
        Some(folder) => Some(PathBuf::from(folder)),
        None => Some(dir()?.join("pyhost/placement")),
    }
}

/// FNV-1a over the parts, each preceded by its length.
pub fn hash(parts: &[Vec<u8>]) -> u64 {
    parts.iter().fold(0xcbf2_9ce4_8422_2325, |hash, part| {
        // The length first, so that ("ab", "c") and ("a", "bc") differ.
        let hash = (part.len() as u64).to_le_bytes().iter().fold(hash, fnv);
        part.iter().fold(hash, fnv)
    })
}

fn fnv(hash: u64, byte: &u8) -> u64 {
    (hash ^ *byte as u64).wrapping_mul(0x0100_0000_01b3)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_private_folder_and_its_new_parents_are_the_users_alone() {
        let root = tempfile::tempdir().unwrap();
        let folder = root.path().join("a/b/c");
        create_private_dir(&folder).unwrap();
        for made in [root.path().join("a"), root.path().join("a/b"), folder.clone()] {
            let mode = std::fs::metadata(&made).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode & 0o077, 0, "{} is {mode:o}", made.display());
        }
        create_private_dir(&folder).unwrap(); // there already: fine
    }

    #[test]
    fn a_folder_others_can_write_is_refused_with_its_fix() {
        let root = tempfile::tempdir().unwrap();
        let folder = root.path().join("shared/compat");
        std::fs::create_dir_all(&folder).unwrap();
        let shared = root.path().join("shared");
        // Made by another session under umask 000, say: anyone can replace `compat`.
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
        let error = create_private_dir(&folder).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::PermissionDenied);
        let message = error.to_string();
        assert!(message.contains(&format!("{} is writable by group and others", shared.display())), "{message}");
        assert!(message.contains(&format!("chmod go-w {}", shared.display())), "{message}");
        assert!(untrusted(&folder).is_some());
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert_eq!(untrusted(&folder), None);
        create_private_dir(&folder).unwrap();
    }
}
