//! `pyhost port verify` and `pyhost port fix --write --verify`: the matrix
//! as the referee of a rewrite.
//!
//! The rewrite is made in memory ([`super::fix`]), then two copies of each
//! module folder are made in a temporary folder: one with the files as they
//! were read, one with the files as `fix` would leave them. Every module's
//! self_test runs on both copies under every interpreter, exactly as a
//! matrix cell (src/matrix: the builds in target/py<version>, the child
//! process, the manifests). A cell whose raw result ranks lower after the
//! rewrite ([`Outcome::rank`]) got worse.
//!
//! The user's files are not touched until every cell has run: [`write_kept`]
//! then writes the rewrite of each module none of whose cells got worse,
//! file by file atomically, a module at a time (a module whose write fails
//! midway has its written files put back). A module that got worse is never
//! written, so it stays byte for byte (and mode) as it was.

pub mod render;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::Serialize;

use super::{Finding, FixOptions, FixOutcome, PortError, Style};
use crate::matrix::manifest::State;
use crate::matrix::outcome::{Change, change};
use crate::matrix::render::Progress;
use crate::matrix::{self, Cell, Column, Job, Module, Prepared};

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Port(#[from] PortError),
    #[error("{}: neither a module folder (holding module.py) nor a folder of module folders", .0.display())]
    NotModules(PathBuf),
    #[error("cannot prepare the copies to verify: {0:#}")]
    Copy(anyhow::Error),
    #[error("{0:#}")]
    Modules(anyhow::Error),
    #[error("interrupted while the self-tests ran: nothing was written")]
    Interrupted,
}

/// Where the cells run: under each of some interpreters, or under this
/// process's own.
#[derive(Debug, Clone)]
pub enum Interpreters {
    /// Like `pyhost matrix --python`: paths, commands or versions; empty:
    /// every interpreter `pyhost doctor` finds.
    Each { pythons: Vec<String> },
    /// The interpreter this pyhost runs only.
    ThisBuild,
}

#[derive(Debug, Clone)]
pub struct VerifyOptions {
    pub fix: FixOptions,
    pub interpreters: Interpreters,
    /// Cells at once.
    pub jobs: usize,
    /// Seconds a cell may take (a manifest may set its own).
    pub timeout: Duration,
    pub progress: bool,
}

/// What became of a module's rewrite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// `fix` changes nothing in it.
    Unchanged,
    /// No cell got worse: the rewrite may be kept.
    Kept,
    /// A cell got worse: the rewrite is not kept.
    Rejected,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModuleResult {
    /// "<folder>/<module>", as in the matrix.
    pub id: String,
    pub description: String,
    #[serde(serialize_with = "super::lossy_path")]
    pub folder: PathBuf,
    /// The files the rewrite changes.
    #[serde(serialize_with = "lossy_paths")]
    pub changed: Vec<PathBuf>,
    /// What the rewrite leaves for a person (decisions among them), with file and line.
    pub remaining: Vec<Finding>,
    pub verdict: Verdict,
    /// Whether the rewrite was written into the module folder.
    pub written: bool,
}

/// One cell before and after the rewrite.
#[derive(Debug, Clone, Serialize)]
pub struct CellChange {
    pub module: String,
    pub interpreter: String,
    /// Judged by the manifest's [expect].
    pub before: Cell,
    /// Judged by the manifest's [ported.expect] (else its [expect]).
    pub after: Cell,
    pub change: Change,
    /// Whether the manifest declares [ported.expect] and `after` is not what it says.
    pub ported_unmet: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct VerifyResult {
    pub style: Style,
    pub interpreters: Vec<Column>,
    pub modules: Vec<ModuleResult>,
    pub cells: Vec<CellChange>,
    /// Files `fix` could not process (reported, left as they are).
    pub errors: Vec<super::FileError>,
    /// Files the rewrite changes outside every module folder: no self_test
    /// covers them, so they are never written by `fix --write --verify`.
    #[serde(serialize_with = "lossy_paths")]
    pub unverified: Vec<PathBuf>,
}

impl VerifyResult {
    pub fn worse(&self) -> impl Iterator<Item = &CellChange> {
        self.cells.iter().filter(|c| c.change == Change::Worse)
    }

    pub fn ported_unmet(&self) -> impl Iterator<Item = &CellChange> {
        self.cells.iter().filter(|c| c.ported_unmet)
    }

    /// The exit status's question: no cell got worse, and every module that
    /// declares what to expect after the port does it.
    pub fn ok(&self) -> bool {
        self.worse().next().is_none() && self.ported_unmet().next().is_none()
    }

    pub fn cell(&self, module: &str, interpreter: &str) -> Option<&CellChange> {
        self.cells.iter().find(|c| c.module == module && c.interpreter == interpreter)
    }
}

fn lossy_paths<S: serde::Serializer>(paths: &[PathBuf], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(paths.iter().map(|p| p.to_string_lossy()))
}

/// A verified rewrite, ready for [`write_kept`].
pub struct Verification {
    pub result: VerifyResult,
    fixed: FixOutcome,
    /// Per module of `result.modules`, the indices of its files in `fixed.files`.
    groups: Vec<Vec<usize>>,
}

/// A DIR as given: a folder of module folders, or one module folder.
struct Root {
    /// The folder that is copied (and rewritten).
    path: PathBuf,
    /// The folder the modules live in, and its name (the first part of a module's id).
    modules_dir: PathBuf,
    folder_name: String,
    /// A module folder: its name, and the modules it needs beside it (copied, not rewritten).
    only: Option<(String, Vec<String>)>,
}

fn root(dir: &Path) -> Result<Root, VerifyError> {
    let name_of = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
    if dir.join("module.py").is_file() {
        let absolute = std::path::absolute(dir).map_err(|e| VerifyError::Copy(e.into()))?;
        let modules_dir = absolute.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("/"));
        let name = name_of(&absolute).ok_or_else(|| VerifyError::NotModules(dir.to_path_buf()))?;
        let manifest = matrix::manifest::Manifest::for_module(&dir.join("module.py")).map_err(VerifyError::Modules)?;
        return Ok(Root {
            path: dir.to_path_buf(),
            folder_name: name_of(&modules_dir).unwrap_or_else(|| "modules".into()),
            modules_dir,
            only: Some((name, manifest.run.needs)),
        });
    }
    if !dir.is_dir() {
        return Err(VerifyError::NotModules(dir.to_path_buf()));
    }
    let absolute = std::path::absolute(dir).map_err(|e| VerifyError::Copy(e.into()))?;
    Ok(Root {
        path: dir.to_path_buf(),
        folder_name: name_of(&absolute).unwrap_or_else(|| "modules".into()),
        modules_dir: dir.to_path_buf(),
        only: None,
    })
}

/// Copies a folder, files by content (symbolic links followed), leaving out
/// what Python and version control leave behind.
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if [&b"__pycache__"[..], b".git", b".hg", b".svn"].contains(&name.as_encoded_bytes()) {
            continue;
        }
        let source = entry.path();
        let target = to.join(&name);
        if source.is_dir() {
            copy_tree(&source, &target)?;
        } else if source.extension().is_none_or(|e| e != "pyc" && e != "pyo") && source.is_file() {
            std::fs::copy(&source, &target)?;
        }
    }
    Ok(())
}

/// The modules of one copy, with the folder name of the original (so ids
/// are the same on both sides).
fn modules_of(copy_dir: &Path, root: &Root) -> anyhow::Result<Vec<Module>> {
    let mut found = Vec::new();
    for (name, path) in crate::host::discovery::discover(&[copy_dir.to_path_buf()])? {
        if root.only.as_ref().is_some_and(|(only, _)| *only != name) {
            continue;
        }
        let manifest = matrix::manifest::Manifest::for_module(&path)?;
        found.push(Module { id: format!("{}/{name}", root.folder_name), name, path, manifest });
    }
    Ok(found)
}

/// Rewrites the modules under `dirs` in memory and runs every module's
/// self_test before and after the rewrite. Nothing under `dirs` is written.
pub fn verify(
    dirs: &[PathBuf],
    options: &VerifyOptions,
    cancel: &Arc<AtomicBool>,
) -> Result<Verification, VerifyError> {
    let roots = dirs.iter().map(|d| root(d)).collect::<Result<Vec<_>, _>>()?;
    let fixed = super::fix(dirs, &options.fix)?;
    let work = tempfile::Builder::new().prefix("pyhost-verify-").tempdir().map_err(|e| VerifyError::Copy(e.into()))?;
    let copy = |e: std::io::Error| VerifyError::Copy(e.into());

    // Each root twice, as <temp>/<state>/<index>/<folder name>/..., so module
    // ids are as in the matrix and two roots of the same name do not meet.
    let mut sides: Vec<(Vec<Module>, Vec<Module>)> = Vec::new();
    for (index, root) in roots.iter().enumerate() {
        let mut module_sets = Vec::new();
        for state in ["before", "after"] {
            let base = work.path().join(state).join(index.to_string()).join(&root.folder_name);
            match &root.only {
                Some((name, needs)) => {
                    copy_tree(&root.path, &base.join(name)).map_err(copy)?;
                    for need in needs {
                        let folder = root.modules_dir.join(need);
                        if folder.is_dir() {
                            copy_tree(&folder, &base.join(need)).map_err(copy)?;
                        }
                    }
                }
                None => copy_tree(&root.path, &base).map_err(copy)?,
            }
            // The bytes `fix` read and the bytes it would write, whatever
            // happened to the files since.
            let copied_root = match &root.only {
                Some((name, _)) => base.join(name),
                None => base.clone(),
            };
            for file in &fixed.files {
                if let Ok(relative) = file.path.strip_prefix(&root.path) {
                    let content = if state == "before" { &file.original } else { &file.rewritten };
                    std::fs::write(copied_root.join(relative), content).map_err(copy)?;
                }
            }
            module_sets.push(modules_of(&base, root).map_err(VerifyError::Modules)?);
        }
        let after = module_sets.pop().expect("two sides");
        let before = module_sets.pop().expect("two sides");
        sides.push((before, after));
    }

    // Which files belong to which module: the module folder they are under.
    let mut modules = Vec::new();
    let mut groups = Vec::new();
    for (root, (before, _)) in roots.iter().zip(&sides) {
        let copied_base = |m: &Module| m.path.parent().map(Path::to_path_buf).unwrap_or_default();
        for module in before {
            let original_folder = match &root.only {
                Some(_) => root.path.clone(),
                None => root.path.join(copied_base(module).file_name().unwrap_or_default()),
            };
            let files: Vec<usize> = (0..fixed.files.len())
                .filter(|&i| {
                    fixed.files[i].path.starts_with(&original_folder) && fixed.files[i].path != original_folder
                })
                .collect();
            let changed = files.iter().filter(|&&i| fixed.files[i].changed()).map(|&i| fixed.files[i].path.clone());
            let remaining = files.iter().flat_map(|&i| fixed.files[i].remaining.iter().cloned()).collect();
            let changed: Vec<PathBuf> = changed.collect();
            modules.push(ModuleResult {
                id: module.id.clone(),
                description: module.manifest.description.clone(),
                folder: original_folder,
                verdict: if changed.is_empty() { Verdict::Unchanged } else { Verdict::Kept },
                changed,
                remaining,
                written: false,
            });
            groups.push(files);
        }
    }

    let progress = Progress::new(options.progress);
    let prepared: Vec<Prepared> = match &options.interpreters {
        Interpreters::ThisBuild => vec![matrix::this_build()],
        Interpreters::Each { pythons } => matrix::prepare(pythons, options.jobs, &progress, Some(cancel)),
    };
    let all: Vec<(&Module, &Module)> = sides.iter().flat_map(|(b, a)| b.iter().zip(a.iter())).collect();
    let mut jobs = Vec::new();
    let mut cells: BTreeMap<(String, String), (Option<Cell>, Option<Cell>)> = BTreeMap::new();
    for p in &prepared {
        let label = &p.column.label;
        for (index, (before, after)) in all.iter().enumerate() {
            match &p.runner {
                Ok(runner) => {
                    jobs.push(Job::new(label, runner, before, options.timeout, index * 2));
                    jobs.push(Job::new(label, runner, after, options.timeout, index * 2 + 1));
                }
                Err((outcome, detail)) => {
                    let cell = |m: &Module, state| matrix::unmeasured_cell(m, label, state, *outcome, detail.clone());
                    cells.insert(
                        (before.id.clone(), label.clone()),
                        (Some(cell(before, State::Original)), Some(cell(after, State::Ported))),
                    );
                }
            }
        }
    }
    let bar = progress.bar(jobs.len(), "running self-tests before and after the rewrite");
    let done = matrix::run_jobs(jobs, options.jobs, &bar, Some(cancel));
    bar.finish();
    if cancel.load(Ordering::SeqCst) {
        return Err(VerifyError::Interrupted);
    }
    for (job, result) in done {
        let state = if job.tag % 2 == 0 { State::Original } else { State::Ported };
        let cell = matrix::judged_cell(job.module, &job.label, state, result.outcome, result.detail, result.seconds);
        let entry = cells.entry((job.module.id.clone(), job.label.clone())).or_default();
        match state {
            State::Original => entry.0 = Some(cell),
            State::Ported => entry.1 = Some(cell),
        }
    }

    let declares: BTreeMap<&str, bool> =
        all.iter().map(|(_, after)| (after.id.as_str(), after.manifest.declares_ported())).collect();
    let order: BTreeMap<&str, usize> = prepared.iter().enumerate().map(|(i, p)| (p.column.label.as_str(), i)).collect();
    let mut changes: Vec<CellChange> = cells
        .into_iter()
        .filter_map(|((module, interpreter), (before, after))| {
            let (before, after) = (before?, after?);
            let ported_unmet = declares.get(module.as_str()).copied().unwrap_or(false) && !after.expected;
            Some(CellChange {
                change: change(before.outcome, after.outcome),
                module,
                interpreter,
                before,
                after,
                ported_unmet,
            })
        })
        .collect();
    changes.sort_by(|a, b| {
        (a.module.as_str(), order.get(a.interpreter.as_str()))
            .cmp(&(b.module.as_str(), order.get(b.interpreter.as_str())))
    });
    for module in &mut modules {
        let worse = changes.iter().any(|c| c.module == module.id && c.change == Change::Worse);
        if worse && module.verdict == Verdict::Kept {
            module.verdict = Verdict::Rejected;
        }
    }
    let errors = fixed
        .files
        .iter()
        .filter_map(|f| f.error.clone().map(|error| super::FileError { path: f.path.clone(), error }))
        .collect();
    let grouped: std::collections::HashSet<usize> = groups.iter().flatten().copied().collect();
    let unverified = (0..fixed.files.len())
        .filter(|i| !grouped.contains(i) && fixed.files[*i].changed())
        .map(|i| fixed.files[i].path.clone())
        .collect();
    let result = VerifyResult {
        unverified,
        style: fixed.style,
        interpreters: prepared.into_iter().map(|p| p.column).collect(),
        modules,
        cells: changes,
        errors,
    };
    Ok(Verification { result, fixed, groups })
}

/// Writes the rewrite of every module whose verdict is `Kept`, a module at
/// a time; each file atomically, and only if it still holds what `fix`
/// read. A module whose write fails midway gets its written files back as
/// they were, and the error is returned (modules written before it stay
/// written: each was verified on its own). Rejected modules are not touched.
pub fn write_kept(verification: &mut Verification) -> Result<(), PortError> {
    let Verification { result, fixed, groups } = verification;
    for (module, files) in result.modules.iter_mut().zip(groups.iter()) {
        if module.verdict != Verdict::Kept {
            continue;
        }
        let mut written: Vec<usize> = Vec::new();
        for &index in files {
            let file = &fixed.files[index];
            if !file.changed() {
                continue;
            }
            if let Err(error) = super::write_file(&file.path, &file.original, &file.rewritten) {
                for &back in written.iter().rev() {
                    let f = &fixed.files[back];
                    // Best effort: the file holds what was just written, unless someone changed it since.
                    let _ = super::write_file(&f.path, &f.rewritten, &f.original);
                }
                return Err(error);
            }
            written.push(index);
        }
        module.written = true;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed(path: &Path, original: &str, rewritten: &str) -> super::super::FixedFile {
        std::fs::write(path, original).unwrap();
        super::super::FixedFile {
            path: path.to_path_buf(),
            original: original.into(),
            rewritten: rewritten.into(),
            diff: Vec::new(),
            findings: Vec::new(),
            remaining: Vec::new(),
            error: None,
        }
    }

    fn module(id: &str, folder: &Path, verdict: Verdict) -> ModuleResult {
        ModuleResult {
            id: id.into(),
            description: String::new(),
            folder: folder.to_path_buf(),
            changed: Vec::new(),
            remaining: Vec::new(),
            verdict,
            written: false,
        }
    }

    /// A module whose second file changed since it was read: the first file,
    /// already written, is put back, and the rejected module is never touched.
    #[test]
    fn a_module_whose_write_fails_midway_is_put_back() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, c) = (dir.path().join("a.py"), dir.path().join("b.py"), dir.path().join("c.py"));
        let files = vec![
            fixed(&a, "print 'a'\n", "print('a')\n"),
            fixed(&b, "print 'b'\n", "print('b')\n"),
            fixed(&c, "print 'c'\n", "print('c')\n"),
        ];
        let mut verification = Verification {
            result: VerifyResult {
                style: Style::Dual,
                interpreters: Vec::new(),
                modules: vec![
                    module("m/rejected", dir.path(), Verdict::Rejected),
                    module("m/kept", dir.path(), Verdict::Kept),
                ],
                cells: Vec::new(),
                errors: Vec::new(),
                unverified: Vec::new(),
            },
            fixed: FixOutcome { style: Style::Dual, targets: Vec::new(), files },
            groups: vec![vec![2], vec![0, 1]],
        };
        std::fs::write(&b, "print 'edited meanwhile'\n").unwrap();
        let error = write_kept(&mut verification).unwrap_err();
        assert!(matches!(error, PortError::Changed { ref path } if *path == b), "{error}");
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "print 'a'\n", "put back");
        assert_eq!(std::fs::read_to_string(&b).unwrap(), "print 'edited meanwhile'\n", "not overwritten");
        assert_eq!(std::fs::read_to_string(&c).unwrap(), "print 'c'\n", "rejected: never written");
        assert!(!verification.result.modules[1].written);

        std::fs::write(&b, "print 'b'\n").unwrap();
        write_kept(&mut verification).unwrap();
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "print('a')\n");
        assert_eq!(std::fs::read_to_string(&b).unwrap(), "print('b')\n");
        assert_eq!(std::fs::read_to_string(&c).unwrap(), "print 'c'\n");
        assert!(verification.result.modules[1].written && !verification.result.modules[0].written);
    }
}
