//! A host with a hostile module and a witness beside it.
//!
//! The witness (`witness`) writes a heartbeat counter to a file from its
//! serve() thread every 50 ms; "the other modules keep running" is checked by
//! watching that counter grow, which needs neither the control socket (often
//! the thing under attack) nor any port.
#![allow(dead_code)]

/// A module.py that, at import, writes the pid of the first process to
/// import it to the file `importer` beside it (the probe's child or the
/// host), then runs `$rest` (the rest of the module, as a literal).
macro_rules! records_first_importer {
    ($rest:literal) => {
        concat!(
            r#"
import os
import time

import pyhost

_here = os.path.dirname(os.path.abspath(__file__))
try:
    _fd = os.open(os.path.join(_here, 'importer.tmp'), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    os.write(_fd, str(os.getpid()).encode())
    os.close(_fd)
    os.rename(os.path.join(_here, 'importer.tmp'), os.path.join(_here, 'importer'))
except OSError:
    pass
"#,
            $rest
        )
    };
}

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{self, Finished, pyhost};

pub const WITNESS: &str = r#"
import os
import pyhost


class Witness(pyhost.Module):
    OPTIONS = {'beat_file': ''}

    def serve(self):
        path = self.get_option('beat_file')
        beats = 0
        while not self.stopping.wait(0.05):
            beats += 1
            tmp = path + '.tmp'
            with open(tmp, 'w') as f:
                f.write(str(beats))
            os.rename(tmp, path)

    @pyhost.expose
    def ping(self):
        return 'pong'
"#;

/// A module whose import writes `import-started` beside its module.py and
/// then waits (up to 300 s) for a file `release` there: a load the test controls.
pub const SLOW_IMPORT: &str = r#"
import os
import time

import pyhost

# At import: tell the test the import started, then wait for its release.
_here = os.path.dirname(os.path.abspath(__file__))
open(os.path.join(_here, 'import-started'), 'w').close()
_deadline = time.time() + 300
while not os.path.exists(os.path.join(_here, 'release')) and time.time() < _deadline:
    time.sleep(0.05)


class Slow(pyhost.Module):
    pass
"#;

/// A module folder in a temporary directory, with the witness in it.
pub struct Setup {
    pub dir: tempfile::TempDir,
    pub modules: PathBuf,
    pub socket: PathBuf,
    pub report: PathBuf,
    pub beat_file: PathBuf,
    config_extra: String,
}

impl Setup {
    pub fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let modules = dir.path().join("modules");
        let setup = Setup {
            socket: dir.path().join("control.sock"),
            report: dir.path().join("report.json"),
            beat_file: dir.path().join("beats"),
            modules,
            dir,
            config_extra: String::new(),
        };
        setup.module("witness", WITNESS);
        setup
    }

    /// Adds a module folder `name` holding `source` as its module.py.
    pub fn module(&self, name: &str, source: &str) -> &Setup {
        let folder = self.modules.join(name);
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join("module.py"), source).unwrap();
        self
    }

    /// TOML appended to the generated config (top-level keys first, then tables).
    pub fn config(mut self, extra: &str) -> Setup {
        self.config_extra.push_str(extra);
        self.config_extra.push('\n');
        self
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("pyhost.toml")
    }

    /// Writes the config: every module enabled, quick ticks, short timeouts.
    fn write_config(&self) -> PathBuf {
        let path = self.config_path();
        let (top, tables) =
            match self.config_extra.find("\n[").or_else(|| self.config_extra.starts_with('[').then_some(0)) {
                Some(at) => self.config_extra.split_at(at),
                None => (self.config_extra.as_str(), ""),
            };
        let body = format!(
            "module_dirs = [{modules:?}]\nenable = \"all\"\ntick_interval = 0.1\n{top}\n\
             [modules.witness.options]\nbeat_file = {beats:?}\n{tables}\n",
            modules = self.modules,
            beats = self.beat_file,
        );
        std::fs::write(&path, body).unwrap();
        path
    }

    /// Starts `pyhost run` with the control socket and report, plus `args`.
    pub fn start(self, args: &[&str]) -> Host {
        self.start_with(args, |_| {})
    }

    /// Like `start`, letting `adjust` change the command first (e.g. a pre_exec umask).
    pub fn start_with(self, args: &[&str], adjust: impl FnOnce(&mut std::process::Command)) -> Host {
        self.launch(&[], args, adjust)
    }

    /// Like `start`, with the environment variables `envs`, and run by the
    /// command `wrapper` (e.g. valgrind and its options) when it is not empty.
    pub fn start_wrapped(self, wrapper: &[&str], envs: &[(&str, &str)], args: &[&str]) -> Host {
        self.launch(wrapper, args, |command| {
            command.envs(envs.iter().copied());
        })
    }

    fn launch(self, wrapper: &[&str], args: &[&str], adjust: impl FnOnce(&mut std::process::Command)) -> Host {
        let config = self.write_config();
        let run = pyhost(["run", "--config"]);
        let mut command = match wrapper.split_first() {
            None => run,
            Some((program, options)) => {
                let mut wrapped = std::process::Command::new(program);
                wrapped.args(options).arg(run.get_program()).args(run.get_args()).env_remove("PYHOST_LOG");
                wrapped
            }
        };
        command.arg(&config).arg("--control").arg(&self.socket).arg("--report").arg(&self.report).args(args);
        // Kept placement verdicts stay in this setup's folder.
        command.env("PYHOST_PLACEMENT_CACHE", self.dir.path().join("placement"));
        adjust(&mut command);
        let running = common::spawn(command);
        Host { setup: self, running: Some(running) }
    }
}

pub struct Host {
    pub setup: Setup,
    running: Option<common::Running>,
}

impl Host {
    pub fn pid(&self) -> i32 {
        self.running.as_ref().unwrap().child.id() as i32
    }

    pub fn stderr_so_far(&self) -> String {
        self.running.as_ref().unwrap().stderr_so_far()
    }

    /// The witness's heartbeat count (0 before its first beat).
    pub fn beats(&self) -> u64 {
        std::fs::read_to_string(&self.setup.beat_file).ok().and_then(|t| t.trim().parse().ok()).unwrap_or(0)
    }

    /// Waits until the witness's heartbeat moves on from where it is now.
    pub fn assert_witness_alive(&self, within: Duration) {
        let before = self.beats();
        let deadline = Instant::now() + within;
        while self.beats() <= before {
            assert!(
                Instant::now() < deadline,
                "the witness stopped beating (at {before}) for {within:?}\n--- host stderr\n{}",
                self.stderr_so_far()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for the control socket and the witness's first beats.
    pub fn wait_started(&self, within: Duration) {
        let deadline = Instant::now() + within;
        while self.beats() < 2 {
            assert!(Instant::now() < deadline, "the witness never started\n{}", self.stderr_so_far());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `pyhost ctl SOCKET --json ARGS...`, expecting success.
    pub fn ctl(&self, args: &[&str]) -> Value {
        let finished = self.ctl_raw(args);
        assert_eq!(finished.code(), 0, "ctl {args:?}: {finished}");
        if finished.stdout.trim().is_empty() { Value::Null } else { serde_json::from_str(&finished.stdout).unwrap() }
    }

    pub fn ctl_raw(&self, args: &[&str]) -> Finished {
        let mut command = pyhost(["ctl"]);
        command.arg(&self.setup.socket).arg("--json").args(args);
        common::run(command)
    }

    /// The module's entry in `ctl status`.
    pub fn module_status(&self, name: &str) -> Value {
        module(&self.ctl(&["status"]), name).clone()
    }

    pub fn wait_for_state(&self, name: &str, state: &str, within: Duration) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let status = self.module_status(name);
            if status["state"] == state {
                return status;
            }
            assert!(Instant::now() < deadline, "{name} never became {state}: {status}\n{}", self.stderr_so_far());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn signal(&self, signal: i32) {
        // SAFETY (test code): sends a signal to our own child process.
        unsafe {
            libc::kill(self.pid(), signal);
        }
    }

    /// Waits for the host to exit (the common helper fails on a signal, a
    /// hang or "Fatal Python error"), and reads its report.
    pub fn wait(mut self) -> (Finished, Value) {
        let finished = self.running.take().unwrap().wait();
        let text = std::fs::read_to_string(&self.setup.report)
            .unwrap_or_else(|e| panic!("no report at {} ({e}):\n{finished}", self.setup.report.display()));
        let report = serde_json::from_str(&text).unwrap();
        (finished, report)
    }

    /// Waits for the host to exit, without expecting a report (a host that
    /// refused to start, say).
    pub fn finish(mut self) -> Finished {
        self.running.take().unwrap().wait()
    }

    /// Stops the host with `ctl stop` and waits for it.
    pub fn stop(self) -> (Finished, Value) {
        self.ctl(&["stop"]);
        self.wait()
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if let Some(running) = self.running.as_mut() {
            let _ = running.child.kill();
            let _ = running.child.wait();
        }
    }
}

pub fn module<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["modules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("{name} not in {report}"))
}

pub fn is_py2() -> bool {
    common::info()["version"].as_str().unwrap().starts_with("2.")
}

/// Whether the process `pid` still exists.
pub fn alive(pid: i32) -> bool {
    // SAFETY (test code): signal 0 only checks existence.
    unsafe { libc::kill(pid, 0) == 0 }
}

pub fn path_str(path: &Path) -> String {
    path.to_str().unwrap().to_string()
}
