//! Debugging switches a user may set in the environment while chasing a
//! memory problem (PYTHONTRACEMALLOC, PYTHONMALLOC=debug, PYTHONDEVMODE, ...):
//! the host never hangs or aborts under them. Where one makes an isolation
//! unsafe on the interpreter under test (tracemalloc: sub-interpreters hang
//! before 3.12, own-GIL ones abort at exit from 3.12), the module is refused
//! with a message that names the fix, and the witness keeps beating.

use serde_json::Value;

use crate::common::{self, Finished};
use crate::harness::{Setup, is_py2, module};

const SERVES_UNTIL_STOPPED: &str = r#"
import pyhost


class Traced(pyhost.Module):
    def serve(self):
        self.stopping.wait()
"#;

/// The interpreter's (major, minor), from `pyhost info`.
fn version() -> (u32, u32) {
    let info = common::info();
    let mut parts = info["version"].as_str().unwrap().split('.').map(|p| p.parse().unwrap());
    (parts.next().unwrap(), parts.next().unwrap())
}

/// Runs the host for a few seconds with `envs`, the module `traced` in
/// `isolation` and the witness in the main interpreter; `timeout` turns a hang
/// into a failing exit code long before the suite's own deadline.
fn run_with(envs: &[(&str, &str)], isolation: &str) -> (Finished, Option<Value>) {
    let mut setup = Setup::new()
        .config(&format!("isolation = \"main\"\nprobe = false\n[modules.traced]\nisolation = \"{isolation}\""));
    setup.module("traced", SERVES_UNTIL_STOPPED);
    // The report outlives the host's folder, which `finish` removes.
    let kept = tempfile::tempdir().unwrap();
    setup.report = kept.path().join("report.json");
    let host = setup.start_wrapped(&["timeout", "-s", "KILL", "300"], envs, &["--for", "3"]);
    let finished = host.finish();
    let report =
        std::fs::read_to_string(kept.path().join("report.json")).ok().map(|t| serde_json::from_str(&t).unwrap());
    for bad in ["Fatal Python error", "double free", "corruption", "invalid pointer", "Aborted"] {
        assert!(!finished.stdout.contains(bad) && !finished.stderr.contains(bad), "{bad} with {envs:?}:\n{finished}");
    }
    (finished, report)
}

/// The module ran and was stopped at the end, beside a witness that beat.
fn assert_ran(envs: &[(&str, &str)], isolation: &str) {
    let (finished, report) = run_with(envs, isolation);
    assert_eq!(finished.code(), 0, "{envs:?} {isolation}: {finished}");
    let report = report.unwrap_or_else(|| panic!("no report: {finished}"));
    assert_eq!(module(&report, "traced")["state"], "stopped", "{envs:?} {isolation}: {report}\n{finished}");
    assert_eq!(module(&report, "witness")["state"], "stopped", "{envs:?} {isolation}: {report}");
}

/// The module was refused with a message naming the env var and the isolation
/// that works; the host and the witness went on and exited normally.
fn assert_refused(envs: &[(&str, &str)], isolation: &str, use_instead: &str) {
    let (finished, report) = run_with(envs, isolation);
    assert_eq!(finished.code(), 0, "{envs:?} {isolation}: {finished}");
    let report = report.unwrap_or_else(|| panic!("no report: {finished}"));
    let traced = module(&report, "traced");
    assert_eq!(traced["state"], "failed", "{envs:?} {isolation}: {report}\n{finished}");
    let error = traced["error"].as_str().unwrap();
    assert!(error.contains("Unset PYTHONTRACEMALLOC"), "{error}");
    assert!(error.contains(&format!("isolation = \"{use_instead}\"")), "{error}");
    assert_eq!(module(&report, "witness")["state"], "stopped", "{report}");
}

/// own-gil where the interpreter has it; elsewhere the host's existing
/// refusal at start (2.7, 3.9, 3.11), which these switches must not change.
fn own_gil_or_its_refusal(envs: &[(&str, &str)], when_supported: impl FnOnce()) {
    if common::isolations().iter().any(|i| i == "own-gil") {
        when_supported();
    } else {
        let (finished, _) = run_with(envs, "own-gil");
        assert_eq!(finished.code(), 2, "{finished}");
        assert!(finished.stderr.contains("isolation `own-gil` is not available"), "{finished}");
    }
}

#[test]
fn tracemalloc_never_hangs_or_aborts_the_host() {
    let envs = [("PYTHONTRACEMALLOC", "1")];
    let (major, minor) = version();
    own_gil_or_its_refusal(&envs, || assert_refused(&envs, "own-gil", "shared"));
    if is_py2() || (major, minor) >= (3, 12) {
        // 2.7 has no tracemalloc; from 3.12 shared sub-interpreters are safe.
        assert_ran(&envs, "shared");
    } else {
        assert_refused(&envs, "shared", "main");
    }
    assert_ran(&envs, "main");
}

#[test]
fn other_debugging_switches_change_nothing() {
    let switches = [
        ("PYTHONMALLOC", "debug"),
        ("PYTHONDEVMODE", "1"),
        ("PYTHONFAULTHANDLER", "1"),
        ("PYTHONPROFILEIMPORTTIME", "1"),
        ("PYTHONASYNCIODEBUG", "1"),
    ];
    for switch in switches {
        let envs = [switch];
        own_gil_or_its_refusal(&envs, || assert_ran(&envs, "own-gil"));
        assert_ran(&envs, "shared");
        assert_ran(&envs, "main");
    }
}
