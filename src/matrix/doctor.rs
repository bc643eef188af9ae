//! `pyhost doctor`: the interpreters on this machine that pyhost can embed,
//! and the exact fix for those it cannot. The matrix's default columns.
//!
//! The checks are the build script's own (the `interpreters` crate), so
//! doctor and the build never disagree about an interpreter.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Found {
    /// How it was found: a path from scripts/install-pythons or a command on PATH.
    pub candidate: PathBuf,
    pub executable: Option<PathBuf>,
    pub version: Option<String>,
    pub include_dir: Option<PathBuf>,
    pub library: Option<PathBuf>,
    pub embeddable: bool,
    /// A free-threaded build (3.13t): a column of its own, not a duplicate of 3.13.
    #[serde(skip)]
    pub gil_disabled: bool,
    /// What is wrong, and the fix.
    pub problem: Option<String>,
}

impl Found {
    /// "3.11" for "3.11.2", "3.13t" for a free-threaded 3.13: the matrix's column.
    pub fn minor(&self) -> Option<String> {
        let version = self.version.as_ref()?;
        let free_threaded = if self.gil_disabled { "t" } else { "" };
        Some(format!("{}{free_threaded}", crate::python::interpreter_info::minor_of(version)))
    }
}

/// Checks one interpreter, named by a path or a command.
pub fn check(candidate: &Path) -> Found {
    let mut found = Found {
        candidate: candidate.to_path_buf(),
        executable: None,
        version: None,
        include_dir: None,
        library: None,
        embeddable: false,
        gil_disabled: false,
        problem: None,
    };
    let stdout = match interpreters::probe(candidate) {
        Ok(stdout) => stdout,
        Err(why) => {
            found.problem = Some(format!("{why}; install the interpreters with scripts/install-pythons"));
            return found;
        }
    };
    if let Ok(facts) = serde_json::from_str::<serde_json::Value>(stdout.trim()) {
        found.version = facts["version"].as_str().map(String::from);
        found.gil_disabled = facts["gil_disabled"].as_bool().unwrap_or(false);
        found.executable = facts["executable"].as_str().map(PathBuf::from);
    }
    match interpreters::inspect(candidate.display().to_string(), "pyhost doctor", &stdout) {
        Ok(python) => {
            found.library = Some(python.library_file());
            found.include_dir = Some(python.include_dir);
            found.embeddable = true;
        }
        Err(message) => found.problem = Some(message.replace('\n', " ")),
    }
    found
}

/// Where interpreters may be: scripts/install-pythons' list first, then the
/// usual commands on PATH (and the folders install-pythons builds into).
fn candidates() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(list) = crate::cache::dir().map(|c| c.join("pyhost/pythons.txt"))
        && let Ok(text) = std::fs::read_to_string(list)
    {
        out.extend(text.lines().filter_map(|l| l.split_whitespace().nth(1)).map(PathBuf::from));
    }
    let mut commands = vec!["python2.7".to_string()];
    commands.extend((5..=15).map(|minor| format!("python3.{minor}")));
    commands.extend(["python3".to_string(), "python".to_string()]);
    for command in commands {
        out.extend(interpreters::candidates(&command).into_iter().filter(|p| p.is_file()));
    }
    out
}

/// Every interpreter found, each once (by its real executable).
pub fn scan() -> Vec<Found> {
    let mut seen_paths = BTreeSet::new();
    let mut seen_executables = BTreeSet::new();
    let mut out = Vec::new();
    for candidate in candidates() {
        let real = std::fs::canonicalize(&candidate).unwrap_or_else(|_| candidate.clone());
        if !seen_paths.insert(real) {
            continue;
        }
        let found = check(&candidate);
        if let Some(executable) = &found.executable {
            if !seen_executables.insert(executable.clone()) {
                continue;
            }
        } else if found.problem.as_deref().is_some_and(|p| p.contains("exit status: 127")) {
            continue; // a version manager's shim for a version it does not select
        }
        out.push(found);
    }
    out
}

/// One embeddable interpreter per minor version, in the order found: the
/// matrix's default columns.
pub fn default_interpreters() -> Vec<Found> {
    let mut minors = BTreeSet::new();
    let mut out: Vec<Found> = scan().into_iter().filter(|f| f.embeddable && minors.insert(f.minor())).collect();
    out.sort_by_key(|f| version_key(f.version.as_deref().unwrap_or_default()));
    out
}

/// "3.9.2" -> (3, 9, 2), for sorting 3.9 before 3.11.
pub fn version_key(version: &str) -> Vec<u32> {
    version.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}
