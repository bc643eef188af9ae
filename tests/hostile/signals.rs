//! Signals: honoured while the host starts, a second one forces the exit
//! (with a report), and no module can take them over.

use std::time::{Duration, Instant};

use crate::harness::{Host, SLOW_IMPORT, Setup, module};

const LONG: Duration = Duration::from_secs(60);

fn wait_for(what: &str, host: &Host, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + LONG;
    while !done() {
        assert!(Instant::now() < deadline, "{what} never happened\n--- host stderr\n{}", host.stderr_so_far());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether `pid` is a process that still runs (a zombie does not).
fn running(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // "pid (comm) S ...": the state follows the last parenthesis.
        Ok(stat) => stat.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X'])),
        Err(_) => false,
    }
}

/// At import, records the pid of the first process to import it, then hangs.
const HANGS_ON_IMPORT: &str = records_first_importer!(
    r#"time.sleep(600)


class Hangs(pyhost.Module):
    pass
"#
);

#[test]
fn sigterm_during_the_probe_stops_the_host_and_the_probe() {
    let setup = Setup::new();
    setup.module("a_hangs", HANGS_ON_IMPORT);
    let importer = setup.modules.join("a_hangs").join("importer");
    let host = setup.start(&[]);
    wait_for("the probe importing a_hangs", &host, || importer.exists());
    let probe: i32 = std::fs::read_to_string(&importer).unwrap().parse().unwrap();
    assert_ne!(probe, host.pid(), "the module was imported by the host, not by the probe");
    host.signal(libc::SIGTERM);
    let (finished, report) = host.wait();
    assert_eq!(finished.code(), 0, "{finished}");
    assert!(!running(probe), "the probe (pid {probe}) outlived the host");
    for name in ["a_hangs", "witness"] {
        assert_eq!(module(&report, name)["state"], "pending", "{report}");
    }
}

/// The parent of `pid`, from /proc.
fn parent_of(pid: i32) -> i32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // "pid (comm) S ppid ...".
    stat.rsplit_once(')').unwrap().1.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn sigkill_during_the_probe_leaves_neither_the_probe_nor_its_copy_behind() {
    let setup = Setup::new();
    setup.module("a_hangs", HANGS_ON_IMPORT);
    let importer = setup.modules.join("a_hangs").join("importer");
    let host = setup.start(&[]);
    wait_for("the probe importing a_hangs", &host, || importer.exists());
    // The import runs in a copy (a fork) of the probe's child.
    let copy: i32 = std::fs::read_to_string(&importer).unwrap().parse().unwrap();
    let probe = parent_of(copy);
    assert_ne!(probe, host.pid(), "the module was imported by the host, not by the probe");
    assert_eq!(parent_of(probe), host.pid(), "the probe is the host's child");
    host.signal(libc::SIGKILL);
    drop(host); // reaps it
    // No one is left to end them but the kernel, told to when they began.
    let deadline = Instant::now() + Duration::from_secs(10);
    while running(copy) || running(probe) {
        assert!(
            Instant::now() < deadline,
            "outlived a SIGKILLed host: the probe (pid {probe}) {}, its copy (pid {copy}) {}",
            running(probe),
            running(copy)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_signal_ends_a_host_stuck_in_an_import() {
    let setup = Setup::new();
    setup.module("a_hangs", HANGS_ON_IMPORT);
    let importer = setup.modules.join("a_hangs").join("importer");
    let host = setup.config("probe = false").start(&[]);
    wait_for("the host importing a_hangs", &host, || importer.exists());
    // The import runs on a thread the host stops waiting for: one signal
    // is enough, and the import is left where it hangs.
    host.signal(libc::SIGTERM);
    let (finished, report) = host.wait();
    assert_eq!(finished.code(), 0, "{finished}");
    assert!(report["forced_exit"].is_null(), "{report}");
    let hangs = module(&report, "a_hangs");
    assert_eq!(hangs["state"], "stopped", "{report}");
    assert!(hangs["error"].as_str().unwrap().contains("had not finished when the host began to stop"), "{report}");
    assert_eq!(module(&report, "witness")["state"], "pending", "{report}");
    assert_eq!(report["finalized"], false, "{report}");
}

/// At import: tell the test, then wait for its release.
const NEXT: &str = r#"
import pyhost


class Next(pyhost.Module):
    pass
"#;

#[test]
fn a_signal_while_modules_load_stops_before_the_next_one() {
    let setup = Setup::new();
    setup.module("a_slow", SLOW_IMPORT).module("b_next", NEXT);
    let slow = setup.modules.join("a_slow");
    let host = setup.config("probe = false").start(&[]);
    wait_for("a_slow's import", &host, || slow.join("import-started").exists());
    host.signal(libc::SIGTERM);
    wait_for("the host taking SIGTERM", &host, || host.stderr_so_far().contains("SIGTERM (signal 15): stopping"));
    std::fs::write(slow.join("release"), "").unwrap();
    let (finished, report) = host.wait();
    assert_eq!(finished.code(), 0, "{finished}");
    assert!(!finished.stderr.contains("[b_next] running"), "b_next was loaded after SIGTERM:\n{}", finished.stderr);
    assert_eq!(module(&report, "a_slow")["state"], "stopped", "{report}");
    assert_eq!(module(&report, "b_next")["state"], "pending", "{report}");
    assert_eq!(module(&report, "witness")["state"], "pending", "{report}");
}

const NEVER_STOPS: &str = r#"
import time

import pyhost


class Stuck(pyhost.Module):
    OPTIONS = {'shutdown_called': ''}

    def shutdown(self):
        open(self.get_option('shutdown_called'), 'w').close()
        while True:
            time.sleep(1)
"#;

fn second_signal_forces_the_exit(first: i32, second: i32, second_name: &str) {
    let setup = Setup::new();
    let called = setup.dir.path().join("shutdown-called");
    setup.module("a_stuck", NEVER_STOPS);
    // Longer than the test: only the second signal can end this shutdown.
    let host = setup
        .config(&format!("shutdown_timeout = 600\n[modules.a_stuck.options]\nshutdown_called = {called:?}"))
        .start(&[]);
    host.wait_started(LONG);
    host.signal(first);
    wait_for("a_stuck's shutdown()", &host, || called.exists());
    // The modules stop at once: the witness is not held up by a_stuck.
    host.wait_for_state("witness", "stopped", LONG);
    host.signal(second);
    let (finished, report) = host.wait();
    assert_eq!(finished.code(), 0, "{finished}");
    assert!(report["forced_exit"].as_str().unwrap_or_default().contains(second_name), "{report}");
    assert_eq!(report["finalized"], false, "{report}");
    assert_eq!(module(&report, "a_stuck")["state"], "running", "{report}");
    assert_eq!(module(&report, "witness")["state"], "stopped", "{report}");
}

#[test]
fn a_second_sigterm_forces_the_exit_with_a_report() {
    second_signal_forces_the_exit(libc::SIGTERM, libc::SIGTERM, "SIGTERM");
}

#[test]
fn a_second_sigint_forces_the_exit_with_a_report() {
    second_signal_forces_the_exit(libc::SIGINT, libc::SIGINT, "SIGINT");
}

/// In the main interpreter, on the main thread: takes SIGTERM, ignores
/// SIGINT and SIGHUP.
const TAKES_SIGNALS: &str = r#"
import signal

import pyhost


class Catcher(pyhost.Module):
    OPTIONS = {'caught': ''}

    def __init__(self):
        super(Catcher, self).__init__()
        caught = self.get_option('caught')

        def handler(signum, frame):
            with open(caught, 'a') as f:
                f.write('%d\n' % signum)

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
"#;

fn signal_reaches_the_host_despite_the_module(signal: i32) {
    let setup = Setup::new();
    // Outside the setup's folder, which goes with the host.
    let folder = tempfile::tempdir().unwrap();
    let caught = folder.path().join("caught");
    setup.module("catcher", TAKES_SIGNALS);
    let host = setup
        .config(&format!("[modules.catcher]\nisolation = \"main\"\n[modules.catcher.options]\ncaught = {caught:?}"))
        .start(&[]);
    host.wait_started(LONG);
    assert_eq!(host.module_status("catcher")["state"], "running", "{}", host.module_status("catcher"));
    host.signal(signal);
    let (finished, report) = host.wait();
    assert_eq!(finished.code(), 0, "{finished}");
    assert_eq!(module(&report, "catcher")["state"], "stopped", "{report}");
    assert_eq!(module(&report, "witness")["state"], "stopped", "{report}");
    assert!(!caught.exists(), "the module's handler ran instead of the host's");
}

#[test]
fn a_module_cannot_take_sigterm_from_the_host() {
    signal_reaches_the_host_despite_the_module(libc::SIGTERM);
}

#[test]
fn a_module_cannot_make_the_host_ignore_sigint() {
    signal_reaches_the_host_despite_the_module(libc::SIGINT);
}

#[test]
fn a_module_cannot_make_the_host_ignore_sighup() {
    signal_reaches_the_host_despite_the_module(libc::SIGHUP);
}

/// Writes the blocked-signal mask of a child started the usual way (vfork
/// on 3.10+) and of one started with fork() (a preexec_fn forces it).
const STARTS_CHILDREN: &str = r#"
import os
import subprocess

import pyhost


def blocked_in_child(**options):
    out = subprocess.check_output(['grep', 'SigBlk', '/proc/self/status'], **options)
    return out.decode().split()[1]


class Parent(pyhost.Module):
    OPTIONS = {'out': ''}

    def __init__(self):
        super(Parent, self).__init__()
        for name, options in [('plain', {}), ('forked', {'preexec_fn': lambda: None})]:
            with open(os.path.join(self.get_option('out'), name), 'w') as f:
                f.write(blocked_in_child(**options))
"#;

/// The mask bits of SIGHUP, SIGINT and SIGTERM.
const HOST_SIGNALS: u64 = 1 << (libc::SIGHUP - 1) | 1 << (libc::SIGINT - 1) | 1 << (libc::SIGTERM - 1);

fn blocked_mask(status: &str) -> u64 {
    let line = status.lines().find(|l| l.starts_with("SigBlk:")).unwrap();
    u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
}

#[test]
fn every_host_thread_blocks_the_signals_and_module_children_do_not() {
    let setup = Setup::new();
    let out = setup.dir.path().to_path_buf();
    setup.module("parent", STARTS_CHILDREN);
    let host = setup
        .config(&format!("[modules.parent]\nisolation = \"main\"\n[modules.parent.options]\nout = {out:?}"))
        .start(&[]);
    host.wait_started(LONG);
    assert_eq!(host.module_status("parent")["state"], "running");
    let mut threads = 0;
    for task in std::fs::read_dir(format!("/proc/{}/task", host.pid())).unwrap() {
        let path = task.unwrap().path().join("status");
        let Ok(status) = std::fs::read_to_string(&path) else { continue }; // the thread ended
        threads += 1;
        if status.starts_with("Name:\tsignals\n") {
            continue; // it waits for them in sigwait, which unblocks them meanwhile
        }
        let mask = blocked_mask(&status);
        assert_eq!(mask & HOST_SIGNALS, HOST_SIGNALS, "{} blocks {mask:x}:\n{status}", path.display());
    }
    assert!(threads > 3, "only {threads} threads seen");
    // A module's children are processes of their own, which SIGTERM ends.
    for name in ["plain", "forked"] {
        let mask = u64::from_str_radix(std::fs::read_to_string(out.join(name)).unwrap().trim(), 16).unwrap();
        assert_eq!(mask & HOST_SIGNALS, 0, "a {name} child of a module starts with mask {mask:x}");
    }
    let (finished, _) = host.stop();
    assert_eq!(finished.code(), 0, "{finished}");
}
