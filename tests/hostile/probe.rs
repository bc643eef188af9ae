//! The placement probe streams its verdicts: a module loads as soon as its
//! own verdict is in, while the probe still works on the modules after it.

use std::time::{Duration, Instant};

use crate::harness::Setup;

/// Loads at once; the witness of the overlap.
const FINE: &str =
    "import pyhost\n\n\nclass Fine(pyhost.Module):\n    def serve(self):\n        self.stopping.wait()\n";

/// At import, records the pid of the first process to import it, then
/// waits for the file `release` beside it (for ever, if need be).
const WAITS_FOR_RELEASE: &str = records_first_importer!(
    r#"while not os.path.exists(os.path.join(_here, 'release')):
    time.sleep(0.02)


class Waits(pyhost.Module):
    pass
"#
);

const LONG: Duration = Duration::from_secs(120);

#[test]
fn modules_load_while_the_probe_still_waits_on_a_later_one() {
    let setup = Setup::new();
    setup.module("a_fine", FINE).module("z_waits", WAITS_FOR_RELEASE);
    let folder = setup.modules.join("z_waits");
    // Long enough that the probe cannot give up on z_waits before a_fine
    // has loaded; before verdicts streamed, a_fine waited out all of it.
    let host = setup.config("[modules.z_waits]\nload_timeout = 60").start(&[]);
    let deadline = Instant::now() + LONG;
    loop {
        assert!(Instant::now() < deadline, "a_fine never ran during the probe\n{}", host.stderr_so_far());
        std::thread::sleep(Duration::from_millis(50));
        if !host.ctl_raw(&["status"]).status.success() {
            continue; // the control socket is not up yet
        }
        let status = host.ctl(&["status"]);
        let state = |name: &str| crate::harness::module(&status, name)["state"].clone();
        // The probe may not have reached z_waits yet when the others run.
        let probing_z_waits = folder.join("importer").exists();
        if probing_z_waits && state("a_fine") == "running" && state("witness") == "running" {
            // The probe is still inside z_waits's import: nothing released it.
            assert_eq!(state("z_waits"), "pending", "{status}");
            break;
        }
    }
    let importer: i32 = std::fs::read_to_string(folder.join("importer")).unwrap().parse().unwrap();
    assert_ne!(importer, host.pid(), "z_waits was imported by the host, not by the probe");
    std::fs::write(folder.join("release"), b"").unwrap();
    let loaded = host.wait_for_state("z_waits", "running", LONG);
    assert!(loaded["error"].is_null(), "{loaded}");
    host.assert_witness_alive(Duration::from_secs(10));
    let (finished, _) = host.stop();
    assert_eq!(finished.code(), 0, "{finished}");
    assert!(!finished.stderr.contains("Fatal Python error"), "{finished}");
}

/// Kills the process that imports it if that is the placement probe's child
/// (`pyhost __probe`, or the copy of it each module is imported in); in the
/// host it is a fine module.
const KILLS_THE_PROBE: &str = r#"
import os
import signal

import pyhost

with open('/proc/self/cmdline', 'rb') as _cmdline:
    if b'__probe' in _cmdline.read().split(b'\0'):
        os.kill(os.getpid(), signal.SIGKILL)


class Survives(pyhost.Module):
    def serve(self):
        self.stopping.wait()
"#;

#[test]
fn a_module_that_kills_its_probe_copy_costs_only_its_own_verdict() {
    let setup = Setup::new();
    setup.module("a_fine", FINE).module("b_kills_the_probe", KILLS_THE_PROBE).module("c_fine", FINE);
    let host = setup.start(&[]);
    host.wait_started(LONG);
    for name in ["a_fine", "c_fine", "witness"] {
        host.wait_for_state(name, "running", LONG);
    }
    // Each module is imported in a copy of the probe's process: the kill
    // ends b's copy, the probe goes on to c, and b, whose import killed
    // the process it ran in, is not imported in the host.
    let killed = host.wait_for_state("b_kills_the_probe", "unloadable", LONG);
    let error = killed["error"].as_str().unwrap_or_default();
    assert!(error.contains("killed the placement probe's copy of the process with SIGKILL"), "{killed}");
    host.assert_witness_alive(Duration::from_secs(10));
    let (finished, _) = host.stop();
    assert_eq!(finished.code(), 0, "{finished}");
    assert!(!finished.stderr.contains("placement probe failed"), "{finished}");
    assert!(!finished.stderr.contains("has no verdict on"), "every module had its verdict: {finished}");
    assert!(!finished.stderr.contains("Fatal Python error"), "{finished}");
}

/// Crashes whatever process imports it: a read at address 0 (a signal
/// sent with kill() would not do: Rust's own SIGSEGV handler, there for
/// stack overflows, returns from one that no fault raised).
const CRASHES_AT_IMPORT: &str = r#"
import ctypes

import pyhost

ctypes.string_at(0)


class NeverLoaded(pyhost.Module):
    pass
"#;

#[test]
fn a_module_whose_import_crashes_is_unloadable_and_the_host_runs_on() {
    let setup = Setup::new();
    setup.module("a_crashes", CRASHES_AT_IMPORT).module("b_fine", FINE);
    let host = setup.start(&[]);
    host.wait_started(LONG);
    // Before the probe's copies, this import ended the host at its load.
    let crashed = host.wait_for_state("a_crashes", "unloadable", LONG);
    assert!(crashed["error"].as_str().unwrap_or_default().contains("with SIGSEGV"), "{crashed}");
    host.wait_for_state("b_fine", "running", LONG);
    host.assert_witness_alive(Duration::from_secs(10));
    let (finished, report) = host.stop();
    assert_eq!(finished.code(), 0, "{finished}");
    assert_eq!(crate::harness::module(&report, "a_crashes")["state"], "unloadable", "{report}");
    assert!(!finished.stderr.contains("Fatal Python error"), "{finished}");
}

/// At import, leaves a mark in its interpreter's builtins and in
/// sys.modules.
const LEAVES_A_MARK: &str = r#"
import sys

import pyhost

try:
    import builtins
except ImportError:  # 2.7
    import __builtin__ as builtins
builtins.pyhost_probe_mark = True
sys.modules['pyhost_probe_mark'] = sys


class Marks(pyhost.Module):
    def serve(self):
        self.stopping.wait()
"#;

/// Refuses a sub-interpreter, as an extension that does not support one
/// does, if it finds a mark left by another module's import.
const REFUSES_IF_MARKED: &str = r#"
import sys

import pyhost

try:
    import builtins
except ImportError:  # 2.7
    import __builtin__ as builtins
if getattr(builtins, 'pyhost_probe_mark', False) or 'pyhost_probe_mark' in sys.modules:
    raise ImportError('marked: does not support loading in subinterpreters')


class Clean(pyhost.Module):
    def serve(self):
        self.stopping.wait()
"#;

#[test]
fn what_one_module_imports_in_the_probe_is_not_seen_by_the_next() {
    let setup = Setup::new();
    // In name order: the probe imports a_marks first.
    setup.module("a_marks", LEAVES_A_MARK).module("b_checks", REFUSES_IF_MARKED);
    let host = setup.start(&[]);
    host.wait_started(LONG);
    for name in ["a_marks", "b_checks"] {
        host.wait_for_state(name, "running", LONG);
    }
    let (finished, report) = host.stop();
    assert_eq!(finished.code(), 0, "{finished}");
    let checked = crate::harness::module(&report, "b_checks");
    assert_ne!(checked["isolation"], "main", "the probe saw a_marks's mark in b_checks's import: {checked}");
    assert!(checked["placement"].is_null(), "{checked}");
}
