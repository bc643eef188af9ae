//! Who may change a path: the rule strict modes apply to module code
//! (host/strict_modes.rs) and the cache applies to what the host keeps and
//! loads itself (cache.rs). A path is trusted when it and every folder above
//! it are owned by root or the host's user, and none is writable by group or
//! others, except a sticky folder above it (`/tmp`), whose entries only
//! their owners can rename or delete.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Why a path is refused.
#[derive(Debug, thiserror::Error)]
pub enum Problem {
    #[error("is writable by {who} (mode {mode:04o})")]
    Writable { who: &'static str, mode: u32 },
    #[error("is owned by uid {owner}, not by root or the host's user (uid {host})")]
    Owner { owner: u32, host: u32 },
    #[error("cannot be checked: {0}")]
    Unreadable(std::io::Error),
}

impl Problem {
    /// The command that fixes it.
    pub fn fix(&self, path: &Path) -> String {
        let quoted = shell_quote(path);
        match self {
            Problem::Writable { mode, .. } => {
                let who = match (mode & 0o020 != 0, mode & 0o002 != 0) {
                    (true, true) => "go",
                    (true, false) => "g",
                    _ => "o",
                };
                format!("chmod {who}-w {quoted}")
            }
            Problem::Owner { host, .. } => format!("chown {host} {quoted}"),
            Problem::Unreadable(_) => format!("make {quoted} readable by the host"),
        }
    }
}

/// Checks paths on behalf of one user: root and `host_uid` are trusted.
pub struct Checker {
    host_uid: u32,
}

impl Checker {
    pub fn for_this_process() -> Checker {
        Checker { host_uid: effective_uid() }
    }

    pub fn with_uid(host_uid: u32) -> Checker {
        Checker { host_uid }
    }

    /// Problems of `target` and of every folder above it, as written and
    /// with symlinks resolved; empty when it is safe to load from.
    pub fn check(&self, target: &Path) -> Vec<(PathBuf, Problem)> {
        let literal = match std::path::absolute(target) {
            Ok(path) => path,
            Err(error) => return vec![(target.to_path_buf(), Problem::Unreadable(error))],
        };
        let mut problems = self.walk(&literal);
        if let Ok(real) = std::fs::canonicalize(&literal)
            && real != literal
        {
            for (path, problem) in self.walk(&real) {
                if !problems.iter().any(|(seen, _)| *seen == path) {
                    problems.push((path, problem));
                }
            }
        }
        problems
    }

    fn walk(&self, target: &Path) -> Vec<(PathBuf, Problem)> {
        let mut problems = Vec::new();
        for (depth, path) in target.ancestors().enumerate() {
            let meta = match std::fs::symlink_metadata(path) {
                Ok(meta) => meta,
                Err(error) => {
                    problems.push((path.to_path_buf(), Problem::Unreadable(error)));
                    continue;
                }
            };
            if meta.uid() != 0 && meta.uid() != self.host_uid {
                problems.push((path.to_path_buf(), Problem::Owner { owner: meta.uid(), host: self.host_uid }));
            }
            if meta.file_type().is_symlink() {
                continue; // a symlink's own mode is always 0777 and means nothing
            }
            let mode = meta.mode() & 0o7777;
            let sticky_folder_above = depth > 0 && meta.is_dir() && mode & 0o1000 != 0;
            if mode & 0o022 != 0 && !sticky_folder_above {
                let who = if mode & 0o022 == 0o022 {
                    "group and others"
                } else if mode & 0o020 != 0 {
                    "its group"
                } else {
                    "others"
                };
                problems.push((path.to_path_buf(), Problem::Writable { who, mode }));
            }
        }
        problems
    }
}

/// The user the host runs as.
pub fn effective_uid() -> u32 {
    // SAFETY: geteuid takes no arguments, cannot fail and touches no memory of ours.
    unsafe { libc::geteuid() }
}

/// A path as the shell reads it, for the fix we print.
fn shell_quote(path: &Path) -> String {
    let text = path.to_string_lossy();
    if text.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+,:@%".contains(c)) {
        text.into_owned()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    use super::*;

    fn chmod(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    /// A private folder (0700, ours) under the system's temp folder, with
    /// `a/b/module.py` in it, all 0755 / 0644.
    fn tree() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let b = dir.path().join("a/b");
        std::fs::create_dir_all(&b).unwrap();
        chmod(&dir.path().join("a"), 0o755);
        chmod(&b, 0o755);
        std::fs::write(b.join("module.py"), "").unwrap();
        chmod(&b.join("module.py"), 0o644);
        (dir, b.join("module.py"))
    }

    fn paths(problems: &[(PathBuf, Problem)]) -> Vec<PathBuf> {
        problems.iter().map(|(p, _)| p.clone()).collect()
    }

    #[test]
    fn a_private_tree_under_a_sticky_tmp_is_accepted() {
        let (_dir, module) = tree();
        let checker = Checker::for_this_process();
        assert!(checker.check(&module).is_empty(), "{:?}", checker.check(&module));
    }

    #[test]
    fn writable_by_group_or_others_is_refused_at_any_level() {
        let (dir, module) = tree();
        let checker = Checker::for_this_process();
        for (path, mode, who) in [
            (module.clone(), 0o646, "others"),
            (module.clone(), 0o664, "its group"),
            (module.parent().unwrap().to_path_buf(), 0o777, "group and others"),
            (dir.path().join("a"), 0o757, "others"),
        ] {
            let before = std::fs::metadata(&path).unwrap().mode() & 0o7777;
            chmod(&path, mode);
            let problems = checker.check(&module);
            assert_eq!(paths(&problems), vec![path.clone()], "{problems:?}");
            assert!(matches!(problems[0].1, Problem::Writable { who: w, .. } if w == who), "{problems:?}");
            chmod(&path, before);
        }
        assert!(checker.check(&module).is_empty());
    }

    #[test]
    fn a_sticky_folder_is_accepted_above_the_target_but_not_as_it() {
        let (dir, module) = tree();
        let checker = Checker::for_this_process();
        let a = dir.path().join("a");
        chmod(&a, 0o1777);
        assert!(checker.check(&module).is_empty(), "{:?}", checker.check(&module));
        let problems = checker.check(&a);
        assert_eq!(paths(&problems), vec![a.clone()], "{problems:?}");
        // Without the sticky bit, anyone could rename b away and put theirs there.
        chmod(&a, 0o777);
        assert_eq!(paths(&checker.check(&module)), vec![a.clone()]);
    }

    #[test]
    fn a_symlink_is_checked_as_written_and_as_resolved() {
        let (dir, module) = tree();
        let checker = Checker::for_this_process();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(module.parent().unwrap(), &link).unwrap();
        assert!(checker.check(&link.join("module.py")).is_empty());
        chmod(module.parent().unwrap(), 0o777);
        let problems = checker.check(&link.join("module.py"));
        assert_eq!(paths(&problems), vec![module.parent().unwrap().to_path_buf()], "{problems:?}");
    }

    #[test]
    fn the_owner_must_be_root_or_the_host_user() {
        let (_dir, module) = tree();
        let me = effective_uid();
        if me == 0 {
            // Root trusts itself and root: give the file to somebody else.
            std::os::unix::fs::chown(&module, Some(4242), None).unwrap();
            let problems = Checker::for_this_process().check(&module);
            assert_eq!(paths(&problems), vec![module.clone()], "{problems:?}");
            assert!(matches!(problems[0].1, Problem::Owner { owner: 4242, host: 0 }), "{problems:?}");
        } else {
            // Our own files, checked for another user, are not theirs to trust.
            let problems = Checker::with_uid(me + 1).check(&module);
            assert!(paths(&problems).contains(&module), "{problems:?}");
            assert!(problems.iter().all(|(_, p)| matches!(p, Problem::Owner { .. })), "{problems:?}");
        }
    }
}
