//! Running the Python side (port/pyhost_port, compiled into this binary) in
//! a Python 3: this build's own interpreter when it is a 3.x, otherwise one
//! that `pyhost doctor` finds. fissix comes from scripts/fetch-port-tools.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::PortError;
use crate::child::ChildSpec;
use crate::matrix::doctor;

/// The package, as written next to each other in a temporary folder.
const PACKAGE: &[(&str, &str)] = &[
    ("pyhost_port/__init__.py", include_str!("../../port/pyhost_port/__init__.py")),
    ("pyhost_port/__main__.py", include_str!("../../port/pyhost_port/__main__.py")),
    ("pyhost_port/rules.py", include_str!("../../port/pyhost_port/rules.py")),
    ("pyhost_port/source.py", include_str!("../../port/pyhost_port/source.py")),
    ("pyhost_port/scope.py", include_str!("../../port/pyhost_port/scope.py")),
    ("pyhost_port/scan.py", include_str!("../../port/pyhost_port/scan.py")),
    ("pyhost_port/edit.py", include_str!("../../port/pyhost_port/edit.py")),
    ("pyhost_port/fix.py", include_str!("../../port/pyhost_port/fix.py")),
    ("pyhost_port/python.toml", super::rules::RULES_TOML),
];

/// Overrides the Python 3 the tool runs in.
pub const PYTHON_ENV: &str = "PYHOST_PORT_PYTHON";
/// Overrides the folder scripts/fetch-port-tools fills.
pub const TOOLS_ENV: &str = "PYHOST_PORT_TOOLS";

/// A child gets this long, plus a little per file, before it counts as hung.
const BASE_TIMEOUT: Duration = Duration::from_secs(120);
const PER_FILE: Duration = Duration::from_secs(5);

/// The Python 3 and the packages the tool runs with.
#[derive(Debug, Clone, Serialize)]
pub struct Tool {
    pub python: PathBuf,
    pub version: String,
    pub tools: PathBuf,
}

/// The folder scripts/fetch-port-tools fills.
pub fn tools_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(TOOLS_ENV) {
        return PathBuf::from(dir);
    }
    crate::cache::dir().unwrap_or_else(|| PathBuf::from(".cache")).join("pyhost/port-tools")
}

/// Finds the Python 3 to run the tool in, and checks that fissix is installed.
pub fn locate() -> Result<Tool, PortError> {
    let (python, version) = python3()?;
    let tools = tools_dir();
    if !tools.join("fissix").join("__init__.py").is_file() || !tools.join(".pyhost-port-tools").is_file() {
        return Err(PortError::ToolsMissing { dir: tools });
    }
    Ok(Tool { python, version, tools })
}

fn python3() -> Result<(PathBuf, String), PortError> {
    // The interpreter this pyhost runs (probed, not loaded: the tool runs in a child).
    let chosen = crate::python::chosen().ok();
    let embedded = chosen.map(|py| py.version.clone()).unwrap_or_else(|| "(none usable)".into());
    if let Some(python) = std::env::var_os(PYTHON_ENV) {
        let found = doctor::check(Path::new(&python));
        return match found.version {
            Some(v) if v.starts_with("3.") => Ok((found.executable, v)),
            _ => Err(PortError::NoPython3 {
                embedded,
                why: format!("{PYTHON_ENV}={} is not a Python 3 that runs", Path::new(&python).display()),
            }),
        };
    }
    // The interpreter this pyhost runs, when it is a Python 3 (fissix needs 3.8+).
    if let Some(py) = chosen
        && py.version.starts_with("3.")
        && version_at_least(&py.version, 3, 8)
        && py.executable.is_file()
    {
        return Ok((py.executable.clone(), py.version.clone()));
    }
    let mut found: Vec<_> = doctor::discover()
        .interpreters
        .into_iter()
        .filter_map(|f| match (f.executable, f.version) {
            (exe, Some(v)) if v.starts_with("3.") && version_at_least(&v, 3, 8) => Some((exe, v)),
            _ => None,
        })
        .collect();
    found.sort_by_key(|(_, v)| doctor::version_numbers(v));
    found
        .pop()
        .ok_or_else(|| PortError::NoPython3 { embedded, why: "`pyhost doctor` found no Python 3.8 or later".into() })
}

fn version_at_least(version: &str, major: u32, minor: u32) -> bool {
    let key = doctor::version_numbers(version);
    key.first().copied().unwrap_or(0) > major
        || (key.first().copied() == Some(major) && key.get(1).copied().unwrap_or(0) >= minor)
}

#[derive(Serialize)]
struct Request<'a> {
    mode: &'a str,
    style: &'a str,
    outdir: String,
    files: Vec<FileRef>,
}

#[derive(Serialize)]
struct FileRef {
    path: String,
    label: String,
}

#[derive(Deserialize)]
struct Answer {
    files: Vec<FileAnswer>,
}

/// What the Python side says about one file.
#[derive(Debug, Clone, Deserialize)]
pub struct FileAnswer {
    pub lines: u64,
    pub findings: Vec<RawFinding>,
    #[serde(default)]
    pub remaining: Vec<RawFinding>,
    #[serde(default)]
    pub changed: bool,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RawFinding {
    pub rule: String,
    pub line: u32,
    pub column: u32,
    pub detail: Option<String>,
    pub auto: Option<bool>,
}

/// One file's answer, with the new bytes and the diff when fixing changed it.
pub struct Processed {
    pub answer: FileAnswer,
    pub output: Option<Vec<u8>>,
    pub diff: Option<Vec<u8>>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs `mode` ("check" or "fix") over `files`, split across `jobs` child
/// processes, calling `progress` with the number of files each finished
/// chunk held. Results come back in the order of `files`.
pub fn run(
    tool: &Tool,
    mode: &str,
    style: &str,
    files: &[PathBuf],
    jobs: usize,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Vec<Processed>, PortError> {
    let work = tempfile::Builder::new()
        .prefix("pyhost-port-")
        .tempdir()
        .map_err(|source| PortError::Read { path: std::env::temp_dir(), source })?;
    for (name, text) in PACKAGE {
        let path = work.path().join(name);
        let write = |source| PortError::Read { path: path.clone(), source };
        std::fs::create_dir_all(path.parent().expect("inside the folder")).map_err(write)?;
        std::fs::write(&path, text).map_err(write)?;
    }
    // Chunks of about equal size in bytes; a few per job, so one slow file
    // does not leave a core idle and the progress bar moves.
    let sizes: Vec<u64> = files.iter().map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)).collect();
    let total: u64 = sizes.iter().sum::<u64>().max(1);
    let wanted = (jobs * 4).clamp(1, files.len().max(1)) as u64;
    let mut chunks: Vec<Vec<usize>> = vec![Vec::new()];
    let mut filled = 0u64;
    for (index, size) in sizes.iter().enumerate() {
        if filled >= total / wanted && !chunks.last().expect("one").is_empty() {
            chunks.push(Vec::new());
            filled = 0;
        }
        chunks.last_mut().expect("one").push(index);
        filled += size;
    }
    let queue = Mutex::new((0..chunks.len()).rev().collect::<Vec<_>>());
    let results: Mutex<Vec<Option<Processed>>> = Mutex::new((0..files.len()).map(|_| None).collect());
    let failure: Mutex<Option<PortError>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, chunks.len()) {
            scope.spawn(|| {
                while let Some(chunk) = queue.lock().unwrap().pop() {
                    if failure.lock().unwrap().is_some() {
                        return;
                    }
                    match run_chunk(tool, mode, style, files, &chunks[chunk], work.path(), chunk) {
                        Ok(processed) => {
                            let mut results = results.lock().unwrap();
                            for (index, p) in chunks[chunk].iter().zip(processed) {
                                results[*index] = Some(p);
                            }
                            drop(results);
                            progress(chunks[chunk].len());
                        }
                        Err(error) => {
                            failure.lock().unwrap().get_or_insert(error);
                            return;
                        }
                    }
                }
            });
        }
    });
    if let Some(error) = failure.into_inner().unwrap() {
        return Err(error);
    }
    Ok(results.into_inner().unwrap().into_iter().map(|p| p.expect("every chunk ran")).collect())
}

fn run_chunk(
    tool: &Tool,
    mode: &str,
    style: &str,
    files: &[PathBuf],
    chunk: &[usize],
    work: &Path,
    number: usize,
) -> Result<Vec<Processed>, PortError> {
    let outdir = work.join(format!("out-{number}"));
    std::fs::create_dir_all(&outdir).map_err(|source| PortError::Read { path: outdir.clone(), source })?;
    let request = Request {
        mode,
        style,
        outdir: hex(outdir.as_os_str().as_bytes()),
        files: chunk
            .iter()
            .map(|&i| FileRef {
                path: hex(files[i].as_os_str().as_bytes()),
                label: hex(files[i].as_os_str().as_bytes()),
            })
            .collect(),
    };
    let mut pythonpath = OsString::from(work.as_os_str());
    pythonpath.push(":");
    pythonpath.push(tool.tools.as_os_str());
    let timeout = BASE_TIMEOUT + PER_FILE * chunk.len() as u32;
    // -E and -s keep the user's PYTHONPATH and site-packages out: the tool
    // runs on the pinned packages only; PYTHONPATH is set through -c.
    let bootstrap = "import sys; sys.path[:0] = sys.argv[1].split(':'); sys.argv[1:] = []; \
                     from pyhost_port.__main__ import main; main()";
    let (answer, finished) = ChildSpec::new(&tool.python, timeout)
        .args(["-E", "-s", "-B", "-c", bootstrap])
        .arg(pythonpath)
        .env("PYTHONIOENCODING", "utf-8")
        .run_json::<_, Answer>(&request)
        .map_err(|source| PortError::Tool { python: tool.python.clone(), source })?;
    if answer.files.len() != chunk.len() {
        return Err(PortError::Protocol {
            detail: format!("{} answers for {} files", answer.files.len(), chunk.len()),
        });
    }
    let _ = finished;
    let mut out = Vec::new();
    for (position, answer) in answer.files.into_iter().enumerate() {
        let (output, diff) = if answer.changed {
            let read = |name: String| {
                let path = outdir.join(name);
                std::fs::read(&path).map_err(|source| PortError::Read { path, source })
            };
            (Some(read(format!("{position}.out"))?), Some(read(format!("{position}.diff"))?))
        } else {
            (None, None)
        };
        out.push(Processed { answer, output, diff });
    }
    Ok(out)
}
