//! `pyhost matrix`: every module under every interpreter, in one grid.
//!
//! One binary runs every interpreter: for each, this binary builds (or finds
//! in its cache) the compat object for it (see builds.rs), then each
//! module's self_test runs in a child process of this binary told to run that
//! interpreter, with a timeout (see selftest.rs). Each cell gets one outcome, judged against the module's
//! manifest; the exit status says whether every cell was as expected.

pub mod builds;
pub mod doctor;
pub mod manifest;
pub mod native;
pub mod outcome;
pub mod render;
pub mod selftest;

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use self::manifest::{Expectation, Manifest, State};
use self::outcome::{Outcome, judge};
use self::selftest::{CellSpec, Runner, run_cell_until};

/// A column: one interpreter, and how building against it went.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Column {
    /// "3.11", as in the manifests.
    pub label: String,
    pub version: Option<String>,
    pub executable: Option<String>,
    /// Why there are no results: the interpreter is missing, or the build failed.
    pub problem: Option<String>,
    pub build_seconds: f64,
    /// Not one of the versions CI requires: found on this machine and tested too.
    #[serde(default)]
    pub extra: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Row {
    /// "<folder>/<module>", e.g. "py2-fixtures/legacy_print".
    pub id: String,
    pub description: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cell {
    pub module: String,
    pub interpreter: String,
    pub outcome: Outcome,
    /// Whether the outcome is what the manifest expects.
    pub expected: bool,
    pub expectation: Expectation,
    pub detail: Option<String>,
    pub seconds: f64,
    /// Free-threaded builds: whether the module ran with the GIL, and which
    /// extension modules turned it on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gil: Option<crate::python::GilStatus>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MatrixResult {
    pub interpreters: Vec<Column>,
    pub modules: Vec<Row>,
    pub cells: Vec<Cell>,
    /// Extras found that pyhost cannot embed, with why: not in the grid,
    /// and never counted as a pass.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left_out: Vec<Column>,
}

impl MatrixResult {
    pub fn all_expected(&self) -> bool {
        self.cells.iter().all(|c| c.expected)
    }

    pub fn cell(&self, module: &str, interpreter: &str) -> Option<&Cell> {
        self.cells.iter().find(|c| c.module == module && c.interpreter == interpreter)
    }
}

pub struct Options {
    pub pythons: Vec<String>,
    pub module_dirs: Vec<PathBuf>,
    pub jobs: usize,
    /// (k, n): run the k-th of n stable subsets (1-based).
    pub shard: Option<(usize, usize)>,
    pub timeout: Duration,
    pub progress: bool,
    /// Judge the cells by the manifests' [ported.expect] (a ported copy).
    pub state: State,
    /// Once set (SIGINT or SIGTERM), the running children are ended, their
    /// process groups with them, and nothing more is started.
    pub cancel: Option<Arc<AtomicBool>>,
}

/// A module as the matrix sees it.
pub struct Module {
    pub id: String,
    pub name: String,
    pub path: PathBuf,
    pub manifest: Manifest,
}

/// Every module in the folders, with its manifest, sorted by id.
pub fn modules(dirs: &[PathBuf]) -> anyhow::Result<Vec<Module>> {
    let mut out = Vec::new();
    for dir in dirs {
        let folder =
            dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| dir.display().to_string());
        for (name, path) in crate::host::discovery::discover(std::slice::from_ref(dir))? {
            let manifest = Manifest::for_module(&path)?;
            out.push(Module { id: format!("{folder}/{name}"), name, path, manifest });
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// Where scripts/fetch-fixture-packages put packages for this interpreter.
pub fn fixture_site(minor: &str) -> Option<PathBuf> {
    let dir = crate::cache::dir()?.join("pyhost/site").join(minor);
    dir.is_dir().then_some(dir)
}

/// What the child needs to run one module.
pub fn cell_spec(module: &Module, python_path: Vec<PathBuf>) -> CellSpec {
    let run = &module.manifest.run;
    CellSpec {
        modules_dir: module.path.parent().and_then(Path::parent).map(Path::to_path_buf).unwrap_or_default(),
        name: module.name.clone(),
        needs: run.needs.clone(),
        options: run.options.clone(),
        restart: run.restart.clone(),
        python_path,
    }
}

pub fn cell_timeout(module: &Module, default: Duration) -> Duration {
    module.manifest.timeout().unwrap_or(default)
}

/// FNV-1a: a stable hash, so a shard holds the same cells on every machine.
fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3))
}

fn in_shard(shard: Option<(usize, usize)>, interpreter: &str, module: &str) -> bool {
    match shard {
        None => true,
        Some((k, n)) => stable_hash(&format!("{interpreter}/{module}")) % n as u64 == (k - 1) as u64,
    }
}

/// The grid's interpreters, and those found but left out of it.
struct Columns {
    /// Each column, with the interpreter to build against (None: missing).
    chosen: Vec<(Column, Option<PathBuf>)>,
    /// Found, but pyhost cannot embed them: reported, never counted as a pass.
    left_out: Vec<Column>,
}

fn column_of(found: &doctor::Found, label: String, extra: bool) -> (Column, Option<PathBuf>) {
    let column = Column {
        label,
        version: found.version.clone(),
        executable: Some(found.executable.display().to_string()),
        problem: found.problem.clone(),
        build_seconds: 0.0,
        extra,
    };
    (column, found.embeddable.then(|| found.executable.clone()))
}

fn missing_column(version: &str, problem: String) -> (Column, Option<PathBuf>) {
    let column = Column {
        label: version.to_string(),
        version: None,
        executable: None,
        problem: Some(problem),
        build_seconds: 0.0,
        extra: false,
    };
    (column, None)
}

/// The default columns: every required version (a missing one is a column
/// of failures that names the fix) and every embeddable extra found.
fn default_columns(discovery: &doctor::Discovery) -> Columns {
    let mut chosen = Vec::new();
    for version in doctor::REQUIRED {
        match discovery.for_label(version) {
            Some(found) => chosen.push(column_of(found, version.to_string(), false)),
            None => {
                let unusable = discovery.interpreters.iter().find(|f| f.label.as_deref() == Some(version));
                let why = unusable.and_then(|f| f.problem.as_deref()).map(|p| format!(" ({p})")).unwrap_or_default();
                chosen.push(missing_column(
                    version,
                    format!("Python {version} is required and none that pyhost can embed was found{why}; install it: scripts/install-pythons"),
                ));
            }
        }
    }
    for found in discovery.columns().filter(|f| !f.required) {
        chosen.push(column_of(found, found.label.clone().unwrap_or_default(), true));
    }
    chosen.sort_by_key(|(c, _)| doctor::version_numbers(&c.label));
    let left_out = discovery
        .interpreters
        .iter()
        .filter(|f| !f.required && !f.embeddable)
        .filter_map(|f| {
            let label = f.label.clone()?;
            discovery.for_label(&label).is_none().then(|| column_of(f, label, true).0)
        })
        .collect();
    Columns { chosen, left_out }
}

/// The columns: interpreters named with --python (a path, a command or a
/// version such as 3.11), or the default set.
fn columns(pythons: &[String]) -> Columns {
    if pythons.is_empty() {
        return default_columns(&doctor::discover());
    }
    let discovery = std::cell::OnceCell::new();
    let mut labels: BTreeMap<String, usize> = BTreeMap::new();
    let chosen = pythons
        .iter()
        .map(|p| {
            let is_version = !p.is_empty() && p.trim_end_matches('t').chars().all(|c| c.is_ascii_digit() || c == '.');
            let (column, python) = if is_version {
                let found = discovery.get_or_init(doctor::discover).for_label(p);
                match found {
                    Some(found) => column_of(found, p.clone(), false),
                    None => missing_column(
                        p,
                        format!("no embeddable Python {p} found (see pyhost doctor); run scripts/install-pythons"),
                    ),
                }
            } else {
                let found = doctor::check(Path::new(p));
                column_of(&found, found.label.clone().unwrap_or_else(|| p.clone()), false)
            };
            // The same version twice (two paths): 3.11, 3.11#2.
            let count = labels.entry(column.label.clone()).or_default();
            *count += 1;
            let label = if *count == 1 { column.label.clone() } else { format!("{}#{count}", column.label) };
            (Column { label, ..column }, python)
        })
        .collect();
    Columns { chosen, left_out: Vec::new() }
}

/// An interpreter ready for cells: its column, and how to run pyhost under
/// it, or the outcome (and why) every one of its cells gets instead.
pub struct Prepared {
    pub column: Column,
    pub runner: Result<Runner, (Outcome, String)>,
}

/// Readies each interpreter (its compat object built or found in the
/// cache): those named (a path, a command or a version such as 3.11), or
/// the required ones and every extra found. `jobs` builds run at once.
pub fn prepare(
    pythons: &[String],
    jobs: usize,
    progress: &render::Progress,
    cancel: Option<&Arc<AtomicBool>>,
) -> Vec<Prepared> {
    prepare_with_left_out(pythons, jobs, progress, cancel).0
}

/// [`prepare`], and the interpreters found but left out of the grid.
///
/// The builds run `jobs` at once: each is a compiler in a child process
/// (or a cache hit), and one by one they were most of a cold matrix run.
pub fn prepare_with_left_out(
    pythons: &[String],
    jobs: usize,
    progress: &render::Progress,
    cancel: Option<&Arc<AtomicBool>>,
) -> (Vec<Prepared>, Vec<Column>) {
    let Columns { chosen, left_out } = columns(pythons);
    let to_build: Vec<(usize, PathBuf)> =
        chosen.iter().enumerate().filter_map(|(i, (_, python))| Some((i, python.clone()?))).collect();
    let bar = progress.bar(to_build.len(), "building the compat layer for each interpreter");
    let next = AtomicUsize::new(0);
    let built: Mutex<BTreeMap<usize, builds::Built>> = Mutex::default();
    std::thread::scope(|s| {
        for _ in 0..jobs.clamp(1, to_build.len().max(1)) {
            s.spawn(|| {
                while let Some((index, python)) = to_build.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let one = builds::build(python, cancel.cloned());
                    bar.inc();
                    built.lock().unwrap_or_else(|p| p.into_inner()).insert(*index, one);
                }
            });
        }
    });
    bar.finish();
    let mut built = built.into_inner().unwrap_or_else(|p| p.into_inner());
    let prepared = chosen
        .into_iter()
        .enumerate()
        .map(|(index, (mut column, python))| {
            let runner = match (python, built.remove(&index)) {
                (Some(_), Some(built)) => {
                    column.build_seconds = built.seconds;
                    built.runner.map_err(|error| {
                        column.problem = Some(error.clone());
                        (Outcome::BuildError, error)
                    })
                }
                _ => Err((Outcome::SkippedMissing, column.problem.clone().unwrap_or_else(|| "not found".into()))),
            };
            Prepared { column, runner }
        })
        .collect();
    (prepared, left_out)
}

/// This process's own interpreter as the only column: what `pyhost
/// selftest` and `port verify --this-build` run under.
pub fn this_build() -> Prepared {
    let chosen = crate::python::chosen();
    let column = Column {
        label: chosen.as_ref().map(|py| py.label()).unwrap_or_else(|_| "?".into()),
        version: chosen.as_ref().ok().map(|py| py.version.clone()),
        executable: chosen.as_ref().ok().map(|py| py.executable.display().to_string()),
        problem: chosen.as_ref().err().map(|e| e.to_string()),
        build_seconds: 0.0,
        extra: false,
    };
    let runner = match (chosen, std::env::current_exe()) {
        (Err(e), _) => Err((Outcome::BuildError, e.to_string())),
        (_, Err(e)) => Err((Outcome::BuildError, format!("cannot find this binary: {e}"))),
        (Ok(py), Ok(binary)) => Ok(Runner { binary, python: Some(py.executable.clone()) }),
    };
    Prepared { column, runner }
}

/// One cell to run: a module under pyhost running one interpreter.
pub struct Job<'a> {
    pub label: String,
    pub runner: Runner,
    pub module: &'a Module,
    pub timeout: Duration,
    /// The caller's mark (which state of the module this is, say).
    pub tag: usize,
}

impl<'a> Job<'a> {
    pub fn new(label: &str, runner: &Runner, module: &'a Module, default_timeout: Duration, tag: usize) -> Job<'a> {
        Job {
            label: label.to_string(),
            runner: runner.clone(),
            module,
            timeout: cell_timeout(module, default_timeout),
            tag,
        }
    }
}

/// Runs the cells, `jobs` at once, each in a child process; a set `cancel`
/// ends the running children and leaves the rest unrun. Results come in
/// the order the cells finished.
pub fn run_jobs<'a>(
    work: Vec<Job<'a>>,
    jobs: usize,
    bar: &render::Bar,
    cancel: Option<&Arc<AtomicBool>>,
) -> Vec<(Job<'a>, selftest::CellResult)> {
    let queue = Mutex::new(VecDeque::from(work));
    let done = Mutex::new(Vec::new());
    let cancelled = || cancel.is_some_and(|c| c.load(Ordering::SeqCst));
    // Native parts are built here, per cell, and removed with the folder.
    let scratch = tempfile::Builder::new().prefix("pyhost-native-").tempdir();
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1) {
            s.spawn(|| {
                loop {
                    if cancelled() {
                        return;
                    }
                    let Some(job) = queue.lock().unwrap().pop_front() else { return };
                    let result = match &scratch {
                        Ok(scratch) => run_job(&job, scratch.path(), cancel),
                        Err(e) => selftest::CellResult {
                            outcome: Outcome::Fail,
                            detail: Some(format!("cannot create a temporary folder: {e}")),
                            seconds: 0.0,
                            gil: None,
                        },
                    };
                    done.lock().unwrap().push((job, result));
                    bar.inc();
                }
            });
        }
    });
    done.into_inner().unwrap()
}

/// One cell: its native part built (if it has one), then its self_test.
fn run_job(job: &Job, scratch: &Path, cancel: Option<&Arc<AtomicBool>>) -> selftest::CellResult {
    let python_path = fixture_site(&job.label).into_iter().collect();
    run_module(job.module, &job.runner, python_path, job.timeout, scratch, cancel)
}

/// Builds the module's native part, if it has one, for the interpreter
/// `runner` runs (in a folder under `scratch`, put first on the
/// python_path), then runs its self_test with `runner` in a child process.
pub fn run_module(
    module: &Module,
    runner: &selftest::Runner,
    mut python_path: Vec<PathBuf>,
    timeout: Duration,
    scratch: &Path,
    cancel: Option<&Arc<AtomicBool>>,
) -> selftest::CellResult {
    let started = std::time::Instant::now();
    match native::build(module, runner, scratch) {
        Ok(native) => python_path.splice(0..0, native),
        Err((outcome, detail)) => {
            let seconds = started.elapsed().as_secs_f64();
            return selftest::CellResult { outcome, detail: Some(detail), seconds, gil: None };
        }
    };
    run_cell_until(runner, &cell_spec(module, python_path), timeout, cancel.cloned())
}

/// A cell that has no result because its whole column has none (pyhost did
/// not build against that interpreter, or it is missing): never as expected,
/// even for a module whose manifest expects its own native part to fail.
pub fn unmeasured_cell(module: &Module, label: &str, state: State, outcome: Outcome, detail: String) -> Cell {
    Cell { expected: false, ..judged_cell(module, label, state, outcome, Some(detail), 0.0) }
}

/// A judged cell.
pub fn judged_cell(
    module: &Module,
    label: &str,
    state: State,
    outcome: Outcome,
    detail: Option<String>,
    seconds: f64,
) -> Cell {
    let expectation = module.manifest.expectation_in(state, label);
    let (outcome, expected) = judge(outcome, &expectation);
    Cell {
        module: module.id.clone(),
        interpreter: label.to_string(),
        outcome,
        expected,
        expectation,
        detail,
        seconds,
        gil: None,
    }
}

/// Builds and runs the grid.
pub fn run(options: &Options) -> anyhow::Result<MatrixResult> {
    let modules = modules(&options.module_dirs)?;
    anyhow::ensure!(!modules.is_empty(), "no modules found in {:?}", options.module_dirs);
    let mut result = MatrixResult {
        modules: modules
            .iter()
            .map(|m| Row { id: m.id.clone(), description: m.manifest.description.clone() })
            .collect(),
        ..MatrixResult::default()
    };
    let progress = render::Progress::new(options.progress);
    let mut work = Vec::new();
    let cancel = options.cancel.as_ref();
    let (prepared, left_out) = prepare_with_left_out(&options.pythons, options.jobs, &progress, cancel);
    result.left_out = left_out;
    for prepared in prepared {
        let label = &prepared.column.label;
        let wanted = modules.iter().filter(|m| in_shard(options.shard, label, &m.id));
        for module in wanted {
            match &prepared.runner {
                Ok(runner) => work.push(Job::new(label, runner, module, options.timeout, 0)),
                Err((outcome, detail)) => {
                    result.cells.push(unmeasured_cell(module, label, options.state, *outcome, detail.clone()))
                }
            }
        }
        result.interpreters.push(prepared.column);
    }
    let bar = progress.bar(work.len(), "running self-tests");
    for (job, cell) in run_jobs(work, options.jobs, &bar, cancel) {
        let mut judged = judged_cell(job.module, &job.label, options.state, cell.outcome, cell.detail, cell.seconds);
        judged.gil = cell.gil;
        result.cells.push(judged);
    }
    bar.finish();
    sort_cells(&mut result);
    Ok(result)
}

fn sort_cells(result: &mut MatrixResult) {
    let order: BTreeMap<&str, usize> =
        result.interpreters.iter().enumerate().map(|(i, c)| (c.label.as_str(), i)).collect();
    let mut cells = std::mem::take(&mut result.cells);
    cells.sort_by(|a, b| {
        (a.module.as_str(), order.get(a.interpreter.as_str()))
            .cmp(&(b.module.as_str(), order.get(b.interpreter.as_str())))
    });
    result.cells = cells;
}

pub fn load(path: &Path) -> anyhow::Result<MatrixResult> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a pyhost matrix JSON result", path.display()))
}

/// Results of shards (or of separate runs) as one: interpreters and modules
/// by label and id, cells by (module, interpreter), later files winning.
pub fn merge(results: Vec<MatrixResult>) -> MatrixResult {
    let mut merged = MatrixResult::default();
    for result in results {
        for column in result.interpreters {
            match merged.interpreters.iter_mut().find(|c| c.label == column.label) {
                Some(existing) => {
                    if existing.problem.is_none() {
                        existing.problem = column.problem;
                    }
                    existing.build_seconds = existing.build_seconds.max(column.build_seconds);
                }
                None => merged.interpreters.push(column),
            }
        }
        for row in result.modules {
            if !merged.modules.iter().any(|r| r.id == row.id) {
                merged.modules.push(row);
            }
        }
        for column in result.left_out {
            if !merged.left_out.iter().any(|c| c.label == column.label) {
                merged.left_out.push(column);
            }
        }
        for cell in result.cells {
            merged.cells.retain(|c| !(c.module == cell.module && c.interpreter == cell.interpreter));
            merged.cells.push(cell);
        }
    }
    merged.interpreters.sort_by_key(|c| doctor::version_numbers(&c.label));
    merged.modules.sort_by(|a, b| a.id.cmp(&b.id));
    sort_cells(&mut merged);
    merged
}

/// What changed against an earlier result.
#[derive(Debug, Default, Serialize)]
pub struct Changes {
    /// As expected before, not now.
    pub regressions: Vec<(String, String, Outcome, Outcome)>,
    /// Not as expected before, as expected now.
    pub fixes: Vec<(String, String, Outcome, Outcome)>,
}

pub fn compare(before: &MatrixResult, now: &MatrixResult) -> Changes {
    let mut changes = Changes::default();
    for cell in &now.cells {
        let Some(old) = before.cell(&cell.module, &cell.interpreter) else { continue };
        let entry = (cell.module.clone(), cell.interpreter.clone(), old.outcome, cell.outcome);
        if old.expected && !cell.expected {
            changes.regressions.push(entry);
        } else if !old.expected && cell.expected {
            changes.fixes.push(entry);
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(module: &str, interpreter: &str, outcome: Outcome, expected: bool) -> Cell {
        Cell {
            module: module.into(),
            interpreter: interpreter.into(),
            outcome,
            expected,
            expectation: Expectation { outcome: Outcome::Pass, reason: None },
            detail: None,
            seconds: 0.0,
            gil: None,
        }
    }

    fn column(label: &str) -> Column {
        Column { label: label.into(), version: None, executable: None, problem: None, build_seconds: 0.0, extra: false }
    }

    fn found(version: &str, embeddable: bool, column: bool) -> doctor::Found {
        let label = version.rsplit_once('.').map(|(minor, _)| minor.to_string()).unwrap();
        doctor::Found {
            required: doctor::REQUIRED.contains(&label.as_str()),
            label: Some(label),
            version: Some(version.into()),
            executable: PathBuf::from(format!("/x/python{version}")),
            prefix: Some(PathBuf::from("/x")),
            found_in: vec![doctor::Source::Pyenv],
            found_as: Vec::new(),
            column,
            embeddable,
            include_dir: None,
            library: None,
            gil_disabled: false,
            problem: (!embeddable).then(|| "no libpython; fix: rebuild with --enable-shared".to_string()),
        }
    }

    #[test]
    fn the_default_columns_are_the_required_versions_and_every_embeddable_extra() {
        let discovery = doctor::Discovery {
            interpreters: vec![
                found("2.7.18", true, true),
                found("3.8.18", true, true),
                found("3.9.2", false, false),
                found("3.11.2", true, true),
                found("3.11.7", true, false),
                found("3.12.1", false, false),
                found("3.13.5", true, true),
            ],
            missing_required: vec!["3.9".into(), "3.13t".into()],
            probed: 7,
            seconds: 0.1,
        };
        let Columns { chosen, left_out } = default_columns(&discovery);
        let labels: Vec<(&str, bool, bool)> =
            chosen.iter().map(|(c, python)| (c.label.as_str(), c.extra, python.is_some())).collect();
        // 3.9 and 3.13t are required: columns without an interpreter, whose cells are failures.
        assert_eq!(
            labels,
            [
                ("2.7", false, true),
                ("3.8", true, true),
                ("3.9", false, false),
                ("3.11", false, true),
                ("3.13", false, true),
                ("3.13t", false, false)
            ]
        );
        let (missing, _) = &chosen[2];
        let problem = missing.problem.as_deref().unwrap();
        assert!(problem.contains("scripts/install-pythons") && problem.contains("no libpython"), "{problem}");
        assert_eq!(chosen[3].1.as_deref(), Some(Path::new("/x/python3.11.2")), "the column interpreter, not 3.11.7");
        // 3.12 cannot be embedded: reported beside the grid, not a column.
        assert_eq!(left_out.iter().map(|c| c.label.as_str()).collect::<Vec<_>>(), ["3.12"]);
        assert!(left_out[0].problem.as_deref().unwrap().contains("no libpython"));
    }

    #[test]
    fn shards_partition_the_cells() {
        let keys: Vec<(String, String)> =
            (0..50).flat_map(|m| ["2.7", "3.13"].map(move |i| (i.to_string(), format!("m{m}")))).collect();
        let mut seen = 0;
        for k in 1..=3 {
            seen += keys.iter().filter(|(i, m)| in_shard(Some((k, 3)), i, m)).count();
        }
        assert_eq!(seen, keys.len());
        assert!(keys.iter().filter(|(i, m)| in_shard(Some((1, 3)), i, m)).count() < keys.len());
    }

    #[test]
    fn merging_and_comparing() {
        let a = MatrixResult {
            interpreters: vec![column("3.11")],
            modules: vec![Row { id: "d/x".into(), description: String::new() }],
            cells: vec![cell("d/x", "3.11", Outcome::Pass, true)],
            left_out: Vec::new(),
        };
        let b = MatrixResult {
            interpreters: vec![column("2.7")],
            modules: vec![Row { id: "d/x".into(), description: String::new() }],
            cells: vec![cell("d/x", "2.7", Outcome::Fail, false)],
            left_out: vec![column("3.12")],
        };
        let merged = merge(vec![a.clone(), b]);
        assert_eq!(merged.interpreters.iter().map(|c| c.label.as_str()).collect::<Vec<_>>(), ["2.7", "3.11"]);
        assert_eq!(merged.cells.len(), 2);
        assert_eq!(merged.left_out.len(), 1, "an extra left out of one result stays reported");
        let table = render::table(&merged, false);
        assert!(table.contains("not in the grid: Python 3.12"), "{table}");
        assert!(!merged.all_expected());
        let mut later = a.clone();
        later.cells[0] = cell("d/x", "3.11", Outcome::Crash, false);
        let changes = compare(&a, &later);
        assert_eq!(changes.regressions, vec![("d/x".into(), "3.11".into(), Outcome::Pass, Outcome::Crash)]);
        assert!(compare(&later, &a).fixes.len() == 1);
    }
}
