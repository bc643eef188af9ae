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
