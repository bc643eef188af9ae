//! Strict modes, as sshd has them: the host runs module code, often as root,
//! so that code must not be writable by anyone but root and the host's own
//! user. Otherwise any local user who can write a module folder, a
//! `module.py`, or a `python_path` folder (whose `.pth` files run code at
//! start) runs code as the host.
//!
//! The rule, for each path the host loads code from (module directories,
//! each enabled module's folder and `module.py`, `python_path` folders,
//! their `.pth` files and the folders those add), both as written and
//! with symlinks resolved:
//! - the path itself and every folder above it up to `/` must be owned by
//!   root or by the host's user (a symlink too: its owner can re-point it);
//! - the path itself must not be writable by group or others;
//! - a folder above it may be, only if it is sticky (`/tmp`, mode 1777):
//!   in a sticky folder nobody but the entry's owner, the folder's owner
//!   and root can rename or delete an entry, and both owners are already
//!   required to be root or the host's user. So `/tmp/x/modules` with
//!   `/tmp/x` the user's own is accepted, and `/tmp/modules` world-writable
//!   is not: anyone could add a module there, sticky or not.
//!
//! sshd checks the same bits (022) and owners, and stops at the user's home;
//! here the walk goes to `/`, which sticky folders make workable.
//! `strict_modes = false` (or `--no-strict-modes`) loads such paths with a
//! warning for each.

use std::path::{Path, PathBuf};

use super::config::HostConfig;
pub use crate::ownership::{Checker, Problem};

/// One refused path: what the host wanted to load from it, and why not.
#[derive(Debug)]
pub struct Finding {
    /// "module directory", "module `echo`", "python_path folder", ...
    pub what: String,
    pub path: PathBuf,
    pub problem: Problem,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} {}; fix: {}", self.what, self.path.display(), self.problem, self.problem.fix(&self.path))
    }
}

/// Strict modes refused these paths; nothing was loaded.
#[derive(Debug, thiserror::Error)]
#[error(
    "refusing to load code that others can change:\n{}\n\
     (or, to load it anyway, set strict_modes = false in the config or pass --no-strict-modes)",
    findings.iter().map(|f| format!("  {f}")).collect::<Vec<_>>().join("\n")
)]
pub struct Refused {
    pub findings: Vec<Finding>,
}

/// Every path the host will load code from, with what it is for: the
/// module directories, the enabled modules' folders and files, and the
/// python_path folders with their .pth files and the folders those add.
pub fn paths_to_check(config: &HostConfig, modules: &[(String, PathBuf)]) -> Vec<(String, PathBuf)> {
    let mut paths: Vec<(String, PathBuf)> =
        config.module_dirs.iter().map(|d| ("module directory".to_string(), d.clone())).collect();
    paths.extend(module_paths(modules));
    for dir in &config.python_path {
        // A folder that does not exist adds nothing to sys.path.
        if !dir.is_dir() {
            continue;
        }
        paths.push(("python_path folder".into(), dir.clone()));
        for pth in pth_files(dir) {
            for added in pth_folders(dir, &pth) {
                paths.push((format!("folder added by {}", pth.display()), added));
            }
            paths.push((".pth file (its `import` lines run at start)".into(), pth));
        }
    }
    paths
}

/// A module's folder (anyone who can write it can add code module.py
/// imports) and its module.py.
pub fn module_paths(modules: &[(String, PathBuf)]) -> Vec<(String, PathBuf)> {
    let mut paths = Vec::new();
    for (name, module_py) in modules {
        if let Some(folder) = module_py.parent() {
            paths.push((format!("module `{name}`"), folder.to_path_buf()));
        }
        paths.push((format!("module `{name}`"), module_py.clone()));
    }
    paths
}

/// The `*.pth` files site.addsitedir reads in `dir`, sorted as it does.
fn pth_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "pth"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// The existing folders a .pth file adds to sys.path (its lines that are
/// neither comments nor `import` statements, relative to the site folder).
fn pth_folders(site: &Path, pth: &Path) -> Vec<PathBuf> {
    let Ok(text) = std::fs::read_to_string(pth) else { return Vec::new() };
    text.lines()
        .map(str::trim_end)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter(|line| !(line.starts_with("import ") || line.starts_with("import\t")))
        .map(|line| site.join(line))
        .filter(|path| path.is_dir())
        .collect()
}

/// Checks `paths`; with `strict` a problem refuses them all, without it
/// each is logged as a warning and loading goes on.
pub fn enforce(paths: &[(String, PathBuf)], strict: bool) -> Result<(), Refused> {
    let checker = Checker::for_this_process();
    let mut findings: Vec<Finding> = Vec::new();
    for (what, path) in paths {
        for (path, problem) in checker.check(path) {
            // The folders above several paths are the same: name each once.
            if !findings.iter().any(|f| f.path == path) {
                findings.push(Finding { what: what.clone(), path, problem });
            }
        }
    }
    if findings.is_empty() {
        return Ok(());
    }
    if strict {
        return Err(Refused { findings });
    }
    for finding in &findings {
        tracing::warn!("strict_modes = false: loading anyway, although {finding}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_names_the_path_and_the_fix() {
        let finding = Finding {
            what: "module `evil`".into(),
            path: PathBuf::from("/srv/mods/evil"),
            problem: Problem::Writable { who: "others", mode: 0o777 },
        };
        let refused = Refused { findings: vec![finding] }.to_string();
        assert!(refused.contains("module `evil`: /srv/mods/evil is writable by others (mode 0777)"), "{refused}");
        assert!(refused.contains("fix: chmod go-w /srv/mods/evil"), "{refused}");
        assert!(refused.contains("strict_modes = false"), "{refused}");
        assert_eq!(Problem::Owner { owner: 7, host: 0 }.fix(Path::new("/a b")), "chown 0 '/a b'");
    }

    #[test]
    fn pth_files_and_the_folders_they_add_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let site = dir.path().join("site");
        std::fs::create_dir_all(site.join("extra")).unwrap();
        std::fs::write(site.join("a.pth"), "# comment\nimport os\nextra\nmissing\n").unwrap();
        std::fs::write(site.join("not-a-pth.txt"), "").unwrap();
        let config = HostConfig { python_path: vec![site.clone(), dir.path().join("absent")], ..HostConfig::default() };
        let listed: Vec<PathBuf> = paths_to_check(&config, &[]).into_iter().map(|(_, p)| p).collect();
        assert_eq!(listed, vec![site.clone(), site.join("extra"), site.join("a.pth")]);
    }
}
