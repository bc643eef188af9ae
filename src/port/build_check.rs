//! `pyhost port check --build FILE.c...`: each C file compiled against every
//! target interpreter's headers and its Python symbols checked against that
//! interpreter's libpython (see crate::cext), shown as the matrix's grid:
//! a `pass` or `build-error` cell per file and interpreter, the first error
//! lines below it.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::Version;
use crate::cext::{self, BuildFailure, BuildSpec, Target};
use crate::matrix::doctor;
use crate::matrix::outcome::Outcome;

#[derive(Debug, thiserror::Error)]
pub enum BuildCheckError {
    #[error(transparent)]
    Tool(#[from] cext::ToolError),
    #[error("no Python {version} found (see pyhost doctor); install it with scripts/install-pythons")]
    NoInterpreter { version: Version },
    #[error("Python {version} at {}: {problem}", .executable.display())]
    Unusable { version: Version, executable: PathBuf, problem: String },
    #[error("no Python interpreter found to build against: pass --target (e.g. --target 2.7,3.13)")]
    NoTargets,
    #[error("{} is not a C file to build (give .c files with --build)", .path.display())]
    NotC { path: PathBuf },
    #[error("cannot create a temporary folder for the builds: {0}")]
    Temp(std::io::Error),
}

#[derive(Debug, Clone, Default)]
pub struct BuildCheckOptions {
    /// None: every embeddable interpreter `pyhost doctor` finds.
    pub targets: Option<Vec<Version>>,
    /// Put pyhost's compat header folder on the include path.
    pub compat: bool,
    /// More include folders (-I), after the compat header's.
    pub include_dirs: Vec<PathBuf>,
    /// Macros (-D NAME or NAME=VALUE).
    pub defines: Vec<String>,
    /// Compilers at once; None: the number of CPUs.
    pub jobs: Option<usize>,
    pub timeout: Duration,
}

#[derive(Debug, Clone, Serialize)]
pub struct BuildCell {
    pub file: String,
    pub interpreter: String,
    /// `pass` or `build-error`.
    pub outcome: Outcome,
    /// Why not, when it did not build.
    pub failure: Option<BuildFailure>,
    pub seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct BuildReport {
    pub interpreters: Vec<Target>,
    pub files: Vec<String>,
    pub cells: Vec<BuildCell>,
    /// The compiler and its flags (before -I, -o and the file).
    pub command: Vec<String>,
    /// The compat header's folder, with --compat.
    pub compat_include_dir: Option<PathBuf>,
    pub seconds: f64,
}

impl BuildReport {
    pub fn cell(&self, file: &str, interpreter: &str) -> Option<&BuildCell> {
        self.cells.iter().find(|c| c.file == file && c.interpreter == interpreter)
    }

    pub fn all_pass(&self) -> bool {
        self.cells.iter().all(|c| c.outcome == Outcome::Pass)
    }
}

/// The interpreters to build against, with their headers and libpython.
fn targets(wanted: &Option<Vec<Version>>) -> Result<Vec<Target>, BuildCheckError> {
    let target = |found: &doctor::Found, label: String| Target {
        label,
        version: found.version.clone().unwrap_or_default(),
        include_dir: found.include_dir.clone().unwrap_or_default(),
        library: found.library.clone().unwrap_or_default(),
    };
    let Some(wanted) = wanted else {
        let found: Vec<Target> =
            doctor::discover().columns().filter_map(|f| f.label.clone().map(|label| target(f, label))).collect();
        return if found.is_empty() { Err(BuildCheckError::NoTargets) } else { Ok(found) };
    };
    let scanned = doctor::discover().interpreters;
    let mut out = Vec::new();
    for version in wanted {
        let label = version.to_string();
        let mut candidates = scanned.iter().filter(|f| f.label.as_deref() == Some(label.as_str()));
        let Some(first) = candidates.clone().next() else {
            return Err(BuildCheckError::NoInterpreter { version: *version });
        };
        match candidates.find(|f| f.embeddable) {
            Some(found) => out.push(target(found, label)),
            None => {
                let executable = first.executable.clone();
                let problem = first.problem.clone().unwrap_or_else(|| "cannot be built against".into());
                return Err(BuildCheckError::Unusable { version: *version, executable, problem });
            }
        }
    }
    Ok(out)
}

/// Builds every file against every target, `jobs` compilers at once.
pub fn check_build(files: &[PathBuf], options: &BuildCheckOptions) -> Result<BuildReport, BuildCheckError> {
    let started = Instant::now();
    for path in files {
        if path.extension().is_none_or(|e| e != "c") {
            return Err(BuildCheckError::NotC { path: path.clone() });
        }
    }
    let targets = targets(&options.targets)?;
    let compat_include_dir = if options.compat { Some(cext::header::include_dir()?) } else { None };
    let include_dirs: Vec<PathBuf> =
        compat_include_dir.iter().cloned().chain(options.include_dirs.iter().cloned()).collect();
    let scratch = tempfile::Builder::new().prefix("pyhost-build-").tempdir().map_err(BuildCheckError::Temp)?;
    let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    let mut work = VecDeque::new();
    for (index, file) in files.iter().enumerate() {
        for target in &targets {
            work.push_back((index, file, target));
        }
    }
    let queue = Mutex::new(work);
    let done: Mutex<Vec<(usize, BuildCell)>> = Mutex::new(Vec::new());
    let first_error: Mutex<Option<cext::ToolError>> = Mutex::new(None);
    let jobs = options.jobs.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2));
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1) {
            s.spawn(|| {
                loop {
                    if first_error.lock().unwrap().is_some() {
                        return;
                    }
                    let Some((index, file, target)) = queue.lock().unwrap().pop_front() else { return };
                    let output = scratch.path().join(format!("{index}-{}.so", target.label));
                    let spec = BuildSpec {
                        sources: std::slice::from_ref(file),
                        output: &output,
                        include_dirs: &include_dirs,
                        defines: &options.defines,
                        timeout: options.timeout,
                    };
                    let began = Instant::now();
                    match cext::build(&spec, target) {
                        Err(error) => {
                            first_error.lock().unwrap().get_or_insert(error);
                        }
                        Ok(built) => done.lock().unwrap().push((
                            index,
                            BuildCell {
                                file: names[index].clone(),
                                interpreter: target.label.clone(),
                                outcome: if built.is_ok() { Outcome::Pass } else { Outcome::BuildError },
                                failure: built.err(),
                                seconds: began.elapsed().as_secs_f64(),
                            },
                        )),
                    }
                }
            });
        }
    });
    if let Some(error) = first_error.into_inner().unwrap() {
        return Err(error.into());
    }
    let order = |label: &str| targets.iter().position(|t| t.label == label);
    let mut cells = done.into_inner().unwrap();
    cells.sort_by_key(|(index, cell)| (*index, order(&cell.interpreter)));
    let mut command: Vec<String> = cext::compile::compiler().iter().map(|a| a.to_string_lossy().into_owned()).collect();
    command.extend(["-shared", "-fPIC", "-O1"].map(String::from));
    command.extend(cext::compile::WERROR.map(String::from));
    command.extend(options.defines.iter().map(|d| format!("-D{d}")));
    command.extend(options.include_dirs.iter().map(|d| format!("-I{}", d.display())));
    Ok(BuildReport {
        interpreters: targets,
        files: names,
        cells: cells.into_iter().map(|(_, cell)| cell).collect(),
        command,
        compat_include_dir,
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn labels(report: &BuildReport) -> Vec<&str> {
    report.interpreters.iter().map(|t| t.label.as_str()).collect()
}

fn cell_text(report: &BuildReport, file: &str, interpreter: &str) -> String {
    report.cell(file, interpreter).map(|c| c.outcome.to_string()).unwrap_or_else(|| "-".into())
}

/// The failures below a grid: each cell's first error lines.
fn failures(report: &BuildReport) -> String {
    let mut out = String::new();
    for cell in report.cells.iter().filter(|c| c.outcome != Outcome::Pass) {
        let Some(failure) = &cell.failure else { continue };
        let _ = writeln!(out, "\n{} on {}:", cell.file, cell.interpreter);
        for line in &failure.lines {
            let _ = writeln!(out, "  {line}");
        }
    }
    out
}

fn summary(report: &BuildReport) -> String {
    let passed = report.cells.iter().filter(|c| c.outcome == Outcome::Pass).count();
    let mut out = format!(
        "{} files, {} cells: {passed} pass, {} build-error; {}",
        report.files.len(),
        report.cells.len(),
        report.cells.len() - passed,
        report.command.join(" ")
    );
    if let Some(dir) = &report.compat_include_dir {
        let _ = write!(out, " -I{}", dir.display());
    }
    out
}

/// The grid for people, as `pyhost matrix` prints it.
pub fn text(report: &BuildReport) -> String {
    let labels = labels(report);
    let width = report.files.iter().map(|f| f.len()).max().unwrap_or(4).max(4);
    let cell_width = labels.iter().map(|l| l.len()).chain([11]).max().unwrap_or(11);
    let mut out = format!("{:<width$}", "file");
    for label in &labels {
        let _ = write!(out, "  {label:<cell_width$}");
    }
    out = out.trim_end().to_string() + "\n";
    for file in &report.files {
        let _ = write!(out, "{file:<width$}");
        for label in &labels {
            let _ = write!(out, "  {:<cell_width$}", cell_text(report, file, label));
        }
        out = out.trim_end().to_string() + "\n";
    }
    let _ = writeln!(out, "\n{}", summary(report));
    out + &failures(report)
}

/// The same grid in Markdown (the matrix's markdown_grid).
pub fn markdown(report: &BuildReport) -> String {
    let labels = labels(report);
    let mut out = crate::matrix::render::markdown_grid(&labels, report.files.iter().map(String::as_str), |f, i| {
        cell_text(report, f, i)
    });
    let _ = writeln!(out, "\n{}.", summary(report));
    if !report.all_pass() {
        let _ = writeln!(out, "\n```{}```", failures(report));
    }
    out
}

pub fn json(report: &BuildReport) -> String {
    serde_json::to_string_pretty(report).expect("a report serializes") + "\n"
}
