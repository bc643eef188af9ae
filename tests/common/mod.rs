//! Helpers shared by the integration tests.
//!
//! Python can be initialized once per process, and a bug here may abort or
//! hang the process, so every test that embeds Python runs in a child
//! process of its own (`isolated`), and every test that runs the binary goes
//! through `run`: both fail on a signal, a timeout, or "Fatal Python error"
//! anywhere in the output.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Longer than any test should take; reaching it means a hang. A matrix test
/// may compile the compat layer for an interpreter (seconds on 2 idle cores,
/// much longer on a loaded machine), so this is generous.
const TIMEOUT: Duration = Duration::from_secs(600);
const CHILD_ENV: &str = "PYHOST_TEST_CHILD";

#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    pub fn code(&self) -> i32 {
        self.status.code().unwrap_or_else(|| panic!("killed by a signal: {self}"))
    }
}

impl std::fmt::Display for Finished {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}\n--- stdout\n{}\n--- stderr\n{}", self.status, self.stdout, self.stderr)
    }
}

/// A command running in the background, its output going to files.
pub struct Running {
    pub child: std::process::Child,
    description: String,
    _dir: tempfile::TempDir,
    out_path: std::path::PathBuf,
    err_path: std::path::PathBuf,
}

/// Starts a command; `Running::wait` collects it.
pub fn spawn(mut command: Command) -> Running {
    let dir = tempfile::tempdir().expect("temp dir");
    let out_path = dir.path().join("stdout");
    let err_path = dir.path().join("stderr");
    // Files, not pipes: a child blocked on a full pipe would look like a hang.
    command.stdin(Stdio::null()).stdout(File::create(&out_path).unwrap()).stderr(File::create(&err_path).unwrap());
    let child = command.spawn().expect("spawn");
    Running { child, description: format!("{command:?}"), _dir: dir, out_path, err_path }
}

fn read_lossy(path: &std::path::Path) -> String {
    let mut bytes = Vec::new();
    File::open(path).unwrap().read_to_end(&mut bytes).unwrap();
    String::from_utf8_lossy(&bytes).into_owned()
}

impl Running {
    /// What the command has written to stderr so far.
    pub fn stderr_so_far(&self) -> String {
        read_lossy(&self.err_path)
    }

    /// Waits for the command (killing it at TIMEOUT) and checks that it
    /// neither died by a signal nor printed "Fatal Python error".
    pub fn wait(mut self) -> Finished {
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            if started.elapsed() > TIMEOUT {
                self.child.kill().ok();
                self.child.wait().ok();
                panic!(
                    "{} hung: still running after {TIMEOUT:?}\n--- stderr\n{}",
                    self.description,
                    self.stderr_so_far()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let finished = Finished { status, stdout: read_lossy(&self.out_path), stderr: read_lossy(&self.err_path) };
        assert!(
            !finished.stdout.contains("Fatal Python error") && !finished.stderr.contains("Fatal Python error"),
            "Python aborted:\n{finished}"
        );
        assert!(finished.status.code().is_some(), "died by a signal:\n{finished}");
        finished
    }
}

/// A test that panics before `wait` (a failed assert while the command
/// runs) must not leave it running: a `pyhost run` would outlive the test
/// binary and load the machine for every later test.
impl Drop for Running {
    fn drop(&mut self) {
        // After `wait` the child is reaped and kill() does nothing (std keeps
        // its status, so a reused pid is never signalled).
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a command to completion (killing it at TIMEOUT) and checks that it
/// neither died by a signal nor printed "Fatal Python error".
pub fn run(command: Command) -> Finished {
    spawn(command).wait()
}

/// Where the hosts of this test process keep placement verdicts: never the
/// user's cache, and empty when the process starts, so that a test's first
/// start of a module folder probes it as it did before kept verdicts (a test
/// may set a folder of its own). In the target folder, left for `cargo clean`.
fn placement_cache() -> &'static Path {
    static DIR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::Builder::new().prefix("placement-").tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        dir.keep()
    })
}

/// The pyhost binary built for this test run.
pub fn pyhost<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut command = Command::new(env!("CARGO_BIN_EXE_pyhost"));
    command.args(args).env_remove("PYHOST_LOG");
    command.env("PYHOST_PLACEMENT_CACHE", placement_cache());
    command
}

/// Runs `body` in a child process of its own: this test binary again, asked
/// to run only the test `name`. In the child, `body` runs in-process.
pub fn isolated(name: &str, body: impl FnOnce()) {
    if std::env::var(CHILD_ENV).as_deref() == Ok(name) {
        body();
        return;
    }
    let mut command = Command::new(std::env::current_exe().unwrap());
    command.args([name, "--exact", "--nocapture", "--test-threads=1"]).env(CHILD_ENV, name);
    let finished = run(command);
    assert!(finished.status.success(), "test {name} failed in its child process:\n{finished}");
    assert!(finished.stdout.contains("1 passed"), "the child process did not run test {name}:\n{finished}");
    // Let the parent's output show what the child printed.
    print!("{}", finished.stdout);
    eprint!("{}", finished.stderr);
}

/// `pyhost info --json` of the binary under test.
pub fn info() -> serde_json::Value {
    let finished = run(pyhost(["info", "--json"]));
    assert_eq!(finished.code(), 0, "{finished}");
    serde_json::from_str(&finished.stdout).expect("info --json prints JSON")
}

/// How the interpreter under test names itself in matrix columns, manifests
/// and site folders: "3.11", or "3.13t" for a free-threaded build.
pub fn label() -> String {
    let info = info();
    let version = info["version"].as_str().unwrap().to_string();
    let minor = version.split('.').take(2).collect::<Vec<_>>().join(".");
    format!("{minor}{}", if info["gil_disabled"].as_bool().unwrap() { "t" } else { "" })
}

/// The isolation modes this build supports.
pub fn isolations() -> Vec<String> {
    info()["isolation_modes"].as_array().unwrap().iter().map(|m| m.as_str().unwrap().to_string()).collect()
}

/// Validates a SARIF log against the SARIF 2.1.0 schema with jsonschema,
/// both installed by scripts/fetch-port-tools; prints "valid" when it is.
pub fn validate_sarif(log: &std::path::Path) -> Finished {
    let tool = pyhost::port::tool::locate().unwrap_or_else(|e| panic!("{e}"));
    let mut command = Command::new(&tool.python);
    command
        .args(["-E", "-s", "-c"])
        .arg(
            "import sys, json; sys.path.insert(0, sys.argv[1]); import jsonschema; \
             schema = json.load(open(sys.argv[2])); log = json.load(open(sys.argv[3])); \
             jsonschema.validators.validator_for(schema)(schema).validate(log); print('valid')",
        )
        .arg(&tool.tools)
        .arg(tool.tools.join("sarif-schema-2.1.0.json"))
        .arg(log);
    run(command)
}
