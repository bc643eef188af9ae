//! `pyhost port`: porting Python 2 modules to Python 3.
//!
//! [`check`] finds what breaks on which Python; [`fix`] rewrites files
//! (without writing them) and [`write`] puts the rewrites in place. The
//! scanning and rewriting is the Python side, port/pyhost_port, on fissix,
//! run in child processes (tool.rs); the rules are one table,
//! port/rules/python.toml (rules.rs). C and C++ sources are checked in
//! process by the C side (c/), against port/rules/c.toml, and rewritten by
//! its mechanical rewrites (c/fix.rs). No clap here:
//! src/cli/port.rs is the command line.

pub mod build_check;
pub mod c;
pub mod files;
pub mod render;
pub mod rules;
pub mod tool;
pub mod udiff;
pub mod verify;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use rules::{Breaks, Kind, Rule, Version};
pub use tool::Tool;

#[derive(Debug, thiserror::Error)]
pub enum PortError {
    #[error(
        "pyhost port runs its tool in a Python 3, and this pyhost runs Python {embedded}: {why}. \
         Install one (scripts/install-pythons) or name one with {}=/path/to/python3",
        tool::PYTHON_ENV
    )]
    NoPython3 { embedded: String, why: String },
    #[error("fissix (the library pyhost port is built on) is not installed in {}: run scripts/fetch-port-tools", .dir.display())]
    ToolsMissing { dir: PathBuf },
    #[error("no Python interpreter found to target: pass --target (e.g. --target 2.7,3.13)")]
    NoTargets,
    #[error("cannot read {}: {source}", .path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write {}: {source}; the file was left as it was", .path.display())]
    Write { path: PathBuf, source: std::io::Error },
    #[error("{} changed since it was read; not overwritten (run pyhost port fix again)", .path.display())]
    Changed { path: PathBuf },
    #[error("the port tool ({}) failed: {source}", .python.display())]
    Tool { python: PathBuf, source: crate::child::ChildError },
    #[error("the port tool answered something unexpected: {detail}")]
    Protocol { detail: String },
}

/// A path in JSON: as text, with bytes that are not UTF-8 shown as U+FFFD
/// (JSON has no other way; the text output and the files keep every byte).
fn lossy_path<S: serde::Serializer>(path: &Path, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&path.to_string_lossy())
}

/// How `fix` rewrites.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Style {
    /// Code that runs unchanged on 2.7 and 3.x.
    #[default]
    Dual,
    /// Python 3 only; shims that only 2.7 needed are removed.
    Py3,
}

impl Style {
    fn name(self) -> &'static str {
        match self {
            Style::Dual => "dual",
            Style::Py3 => "py3",
        }
    }
}

/// One construct that breaks on some Python.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    #[serde(serialize_with = "lossy_path")]
    pub path: PathBuf,
    pub line: u32,
    pub column: u32,
    pub rule: String,
    pub kind: Kind,
    pub message: String,
    /// What exactly was found, when the rule covers several names.
    pub detail: Option<String>,
    /// The versions the rule breaks (e.g. ">=3.12").
    pub breaks: Breaks,
    /// Which of the targets it breaks.
    pub breaks_targets: Vec<Version>,
    pub fix: String,
    /// Whether `pyhost port fix` rewrites it.
    pub auto: bool,
    /// C findings: what pyhost's compat header (pyhost/legacy_compat.h)
    /// provides for it; None when it provides nothing (or a Python finding).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compat: Option<String>,
}

/// A file the tool could not process at all (reported, never hidden).
#[derive(Debug, Clone, Serialize)]
pub struct FileError {
    #[serde(serialize_with = "lossy_path")]
    pub path: PathBuf,
    pub error: String,
}

#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// The versions to check against; None: every interpreter `pyhost doctor` finds.
    pub targets: Option<Vec<Version>>,
    /// Child processes at once; None: the number of CPUs.
    pub jobs: Option<usize>,
    /// A progress bar on stderr (shown only when stderr is a terminal).
    pub progress: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub targets: Vec<Version>,
    /// The Python side's tool; None when no .py file was checked.
    pub tool: Option<Tool>,
    pub files: usize,
    pub lines: u64,
    /// Findings that break at least one target, by file, line and column.
    pub findings: Vec<Finding>,
    /// Findings that break none of the targets (e.g. asyncore with targets up to 3.11).
    pub other_targets: usize,
    pub errors: Vec<FileError>,
    pub seconds: f64,
}

impl CheckReport {
    /// Whether anything breaks a target (the exit status of `port check`).
    pub fn breaks_any(&self) -> bool {
        !self.findings.is_empty() || !self.errors.is_empty()
    }
}

#[derive(Debug, Clone, Default)]
pub struct FixOptions {
    pub style: Style,
    pub targets: Option<Vec<Version>>,
    pub jobs: Option<usize>,
    pub progress: bool,
}

/// One file as `fix` would leave it.
#[derive(Debug, Clone)]
pub struct FixedFile {
    pub path: PathBuf,
    pub original: Vec<u8>,
    /// Equal to `original` when nothing changed.
    pub rewritten: Vec<u8>,
    /// A unified diff (a/PATH, b/PATH); empty when nothing changed.
    pub diff: Vec<u8>,
    /// What check finds in the original.
    pub findings: Vec<Finding>,
    /// What check finds in the rewrite: decisions and what no rewrite can do.
    pub remaining: Vec<Finding>,
    pub error: Option<String>,
}

impl FixedFile {
    pub fn changed(&self) -> bool {
        self.original != self.rewritten
    }
}

#[derive(Debug, Clone)]
pub struct FixOutcome {
    pub style: Style,
    pub targets: Vec<Version>,
    pub files: Vec<FixedFile>,
}

impl FixOutcome {
    pub fn changed(&self) -> impl Iterator<Item = &FixedFile> {
        self.files.iter().filter(|f| f.changed())
    }
}

/// The versions findings are judged against: the given ones, else every
/// interpreter `pyhost doctor` finds.
pub fn resolve_targets(targets: &Option<Vec<Version>>) -> Result<Vec<Version>, PortError> {
    let mut targets = match targets {
        Some(t) => t.clone(),
        None => crate::matrix::doctor::discover()
            .interpreters
            .into_iter()
            .filter_map(|f| f.label.and_then(|m| m.parse::<Version>().ok()))
            .collect(),
    };
    targets.sort();
    targets.dedup();
    if targets.is_empty() {
        return Err(PortError::NoTargets);
    }
    Ok(targets)
}

fn jobs(jobs: Option<usize>) -> usize {
    jobs.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)).max(1)
}

fn progress_bar(show: bool, total: usize, what: &str) -> indicatif::ProgressBar {
    if !show || total < 2 || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} files {elapsed}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}

fn finding(path: &Path, raw: &tool::RawFinding, targets: &[Version]) -> Finding {
    let rule = rules::get(&raw.rule).unwrap_or_else(|| panic!("the tool reported {}, which the table lacks", raw.rule));
    let mut found = Finding::of_rule(rule, path, (raw.line, raw.column), raw.detail.clone(), targets, |_| true);
    found.auto = raw.auto.unwrap_or(rule.auto);
    found
}

impl Finding {
    /// A finding of `rule` at `path:line:column`, breaking those of the
    /// targets the rule breaks and `applies` keeps.
    fn of_rule(
        rule: &Rule,
        path: &Path,
        (line, column): (u32, u32),
        detail: Option<String>,
        targets: &[Version],
        applies: impl Fn(Version) -> bool,
    ) -> Finding {
        Finding {
            path: path.to_path_buf(),
            line,
            column,
            rule: rule.id.clone(),
            kind: rule.kind,
            message: rule.message.clone(),
            detail,
            breaks: rule.breaks,
            breaks_targets: targets.iter().copied().filter(|t| rule.breaks.contains(*t) && applies(*t)).collect(),
            fix: rule.fix.clone(),
            auto: rule.auto,
            compat: rule.c.as_ref().map(|c| c.compat_pyhost.clone()).filter(|c| !c.is_empty()),
        }
    }
}

/// Checks every `.py`, `.c`, `.h`, `.cc`, `.cpp` (`.cxx`, `.hpp`) file under
/// `paths` against the targets: Python files through the Python side, C
/// and C++ files through the C side, into one report.
pub fn check(paths: &[PathBuf], options: &CheckOptions) -> Result<CheckReport, PortError> {
    let started = std::time::Instant::now();
    let targets = resolve_targets(&options.targets)?;
    let files = files::collect(paths)?;
    let (c_files, py_files): (Vec<PathBuf>, Vec<PathBuf>) = files.iter().cloned().partition(|p| c::is_c_source(p));
    let mut report = CheckReport {
        targets: targets.clone(),
        tool: None,
        files: files.len(),
        lines: 0,
        findings: Vec::new(),
        other_targets: 0,
        errors: Vec::new(),
        seconds: 0.0,
    };
    let keep = |report: &mut CheckReport, f: Finding| {
        if f.breaks_targets.is_empty() {
            report.other_targets += 1;
        } else {
            report.findings.push(f);
        }
    };
    if !py_files.is_empty() {
        let tool = tool::locate()?;
        let bar = progress_bar(options.progress, py_files.len(), "port check");
        let processed = tool::run(&tool, "check", "dual", &py_files, jobs(options.jobs), &|n| bar.inc(n as u64))?;
        bar.finish_and_clear();
        for (path, p) in py_files.iter().zip(processed) {
            report.lines += p.answer.lines;
            if let Some(error) = p.answer.error {
                report.errors.push(FileError { path: path.clone(), error });
            }
            for raw in &p.answer.findings {
                keep(&mut report, finding(path, raw, &targets));
            }
        }
        report.tool = Some(tool);
    }
    for path in &c_files {
        match std::fs::read(path) {
            Ok(source) => {
                let scan = c::scan_source(path.parent(), &source);
                // What `port fix` would rewrite, so each finding says whether it does.
                let fixed = c::fix::fix_source(path.parent(), &source);
                report.lines += scan.lines;
                for raw in scan.findings.iter().filter(|raw| !c_handled(raw)) {
                    let mut found = c_finding(path, raw, &targets);
                    found.auto = fixed.rewritten.contains(raw);
                    keep(&mut report, found);
                }
            }
            Err(e) => report.errors.push(FileError { path: path.clone(), error: format!("cannot read: {e}") }),
        }
    }
    // One order for both sides: by file (as collected), line, column.
    let order: std::collections::HashMap<&PathBuf, usize> = files.iter().enumerate().map(|(i, p)| (p, i)).collect();
    report.findings.sort_by_key(|f| (order.get(&f.path).copied(), f.line, f.column));
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Whether a C finding's code is compiled only for versions its rule does
/// not break (a PyString_* call in the `#else` of `#if PY_MAJOR_VERSION >= 3`):
/// handled by the file, so neither a finding nor one for other targets.
pub fn c_handled(raw: &c::CFinding) -> bool {
    let rule =
        rules::get(raw.rule).unwrap_or_else(|| panic!("the C side reported {}, which the table lacks", raw.rule));
    raw.versions.and(c::cond::Versions::from_fn(|v| rule.breaks.contains(v))).is_empty()
}

/// A C finding as a [`Finding`]: it breaks the targets its rule breaks and
/// its line is compiled for (a `#if PY_MAJOR_VERSION >= 3` branch never breaks 2.7).
pub fn c_finding(path: &Path, raw: &c::CFinding, targets: &[Version]) -> Finding {
    let rule =
        rules::get(raw.rule).unwrap_or_else(|| panic!("the C side reported {}, which the table lacks", raw.rule));
    Finding::of_rule(rule, path, (raw.line, raw.column), raw.detail.clone(), targets, |t| raw.versions.contains(t))
}

/// Rewrites every `.py` file under `paths` (through the Python side) and
/// every C source (c/fix.rs) in memory: nothing is written.
pub fn fix(paths: &[PathBuf], options: &FixOptions) -> Result<FixOutcome, PortError> {
    let targets = resolve_targets(&options.targets)?;
    let (c_files, files): (Vec<PathBuf>, Vec<PathBuf>) =
        files::collect(paths)?.into_iter().partition(|p| c::is_c_source(p));
    let mut out = Vec::new();
    for path in &c_files {
        out.push(fix_c(path, &targets)?);
    }
    if files.is_empty() {
        return Ok(FixOutcome { style: options.style, targets, files: out });
    }
    let tool = tool::locate()?;
    let mut originals = Vec::new();
    for path in &files {
        originals.push(std::fs::read(path).map_err(|source| PortError::Read { path: path.clone(), source })?);
    }
    let bar = progress_bar(options.progress, files.len(), "port fix");
    let processed = tool::run(&tool, "fix", options.style.name(), &files, jobs(options.jobs), &|n| bar.inc(n as u64))?;
    bar.finish_and_clear();
    for ((path, original), p) in files.iter().zip(originals).zip(processed) {
        let keep = |raws: &[tool::RawFinding]| -> Vec<Finding> {
            raws.iter().map(|r| finding(path, r, &targets)).filter(|f| !f.breaks_targets.is_empty()).collect()
        };
        out.push(FixedFile {
            path: path.clone(),
            rewritten: p.output.unwrap_or_else(|| original.clone()),
            original,
            diff: p.diff.unwrap_or_default(),
            findings: keep(&p.answer.findings),
            remaining: keep(&p.answer.remaining),
            error: p.answer.error,
        });
    }
    Ok(FixOutcome { style: options.style, targets, files: out })
}

/// One C source as c/fix.rs leaves it, with its findings before and after.
fn fix_c(path: &Path, targets: &[Version]) -> Result<FixedFile, PortError> {
    let original = std::fs::read(path).map_err(|source| PortError::Read { path: path.to_path_buf(), source })?;
    let fixed = c::fix::fix_source(path.parent(), &original);
    let judged = |source: &[u8], rewritten: &[c::CFinding]| -> Vec<Finding> {
        c::scan_source(path.parent(), source)
            .findings
            .iter()
            .filter(|raw| !c_handled(raw))
            .map(|raw| {
                let mut f = c_finding(path, raw, targets);
                f.auto = rewritten.contains(raw);
                f
            })
            .filter(|f| !f.breaks_targets.is_empty())
            .collect()
    };
    let label = path.to_string_lossy();
    let label = label.strip_prefix("./").unwrap_or(&label);
    Ok(FixedFile {
        path: path.to_path_buf(),
        diff: udiff::unified(label, &original, &fixed.source),
        findings: judged(&original, &fixed.rewritten),
        remaining: judged(&fixed.source, &[]),
        rewritten: fixed.source,
        original,
        error: None,
    })
}

/// Writes every changed file of `outcome` in place.
pub fn write(outcome: &FixOutcome) -> Result<(), PortError> {
    for file in outcome.changed() {
        write_file(&file.path, &file.original, &file.rewritten)?;
    }
    Ok(())
}

/// Replaces `path` by `content` atomically (a temporary file beside it,
/// with the same permissions, renamed over it), but only if it still holds
/// `expected`: a file changed since it was read is not overwritten. On any
/// error the original is left as it was. The verify step restores a file
/// with `write_file(path, rewritten, original)`.
pub fn write_file(path: &Path, expected: &[u8], content: &[u8]) -> Result<(), PortError> {
    let werr = |source| PortError::Write { path: path.to_path_buf(), source };
    let current = std::fs::read(path).map_err(|source| PortError::Read { path: path.to_path_buf(), source })?;
    if current != expected {
        return Err(PortError::Changed { path: path.to_path_buf() });
    }
    let meta = std::fs::metadata(path).map_err(werr)?;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new().prefix(".pyhost-port-").tempfile_in(dir).map_err(werr)?;
    tmp.write_all(content).and_then(|()| tmp.as_file().sync_all()).map_err(werr)?;
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(meta.permissions().mode())).map_err(werr)?;
    tmp.persist(path).map_err(|e| werr(e.error))?;
    Ok(())
}
