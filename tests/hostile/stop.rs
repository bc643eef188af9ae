//! The host's shutdown stops every module at once (issue 11): the stops
//! overlap, a module slow or hung in shutdown() holds up no other, `ctl
//! status` shows which one is slow, and one that exits in shutdown() is
//! failed as before. No timing thresholds: overlap is proved by a barrier
//! that only opens once every module's shutdown() has begun.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common;
use crate::harness::{Host, Setup, module, path_str};

const STARTED: Duration = Duration::from_secs(120);

/// shutdown() says it arrived (a file named after the module in `dir`), then
/// waits until `count` modules have: a barrier across interpreters that only
/// the last arrival opens. A shutdown() that never sees it raises.
const AT_BARRIER: &str = r#"
import os
import time

import pyhost


class AtBarrier(pyhost.Module):
    OPTIONS = {'dir': '', 'count': 0}

    def serve(self):
        self.stopping.wait()

    def shutdown(self):
        folder = self.get_option('dir')
        open(os.path.join(folder, self.name), 'w').close()
        deadline = time.time() + 300
        while len(os.listdir(folder)) < self.get_option('count'):
            if time.time() > deadline:
                raise RuntimeError('the barrier never opened')
            time.sleep(0.02)
"#;

/// shutdown() writes `entered`, then waits for `release` (up to 300 s).
const SLOW_SHUTDOWN: &str = r#"
import os
import time

import pyhost


class SlowShutdown(pyhost.Module):
    OPTIONS = {'entered': '', 'release': ''}

    def serve(self):
        self.stopping.wait()

    def shutdown(self):
        open(self.get_option('entered'), 'w').close()
        deadline = time.time() + 300
        while not os.path.exists(self.get_option('release')) and time.time() < deadline:
            time.sleep(0.02)
"#;

const HEALTHY: &str = r#"
import pyhost


class Healthy(pyhost.Module):
    def serve(self):
        self.stopping.wait()
"#;

const HANGS_IN_SHUTDOWN: &str = r#"
import time

import pyhost


class HangsInShutdown(pyhost.Module):
    def serve(self):
        self.stopping.wait()

    def shutdown(self):
        time.sleep(3600)
"#;

const EXITS_IN_SHUTDOWN: &str = r#"
import os

import pyhost


class ExitsInShutdown(pyhost.Module):
    def serve(self):
        self.stopping.wait()

    def shutdown(self):
        os._exit(3)
"#;

fn leftover_names(module: &Value) -> Vec<String> {
    module["leftover_threads"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap().to_string()).collect()
}

fn assert_stopped_cleanly(report: &Value, name: &str) {
    let entry = module(report, name);
    assert_eq!(entry["state"], "stopped", "{name}: {report}");
    assert!(entry["error"].is_null(), "{name}: {report}");
    assert!(leftover_names(entry).is_empty(), "{name}: {report}");
}

/// `[modules.NAME] isolation = ...` for each (name, isolation).
fn placements(modules: &[(String, String)]) -> String {
    modules.iter().map(|(name, isolation)| format!("[modules.{name}]\nisolation = \"{isolation}\"\n")).collect()
}

fn wait_running(host: &Host, names: &[String]) {
    host.wait_started(STARTED);
    for name in names {
        host.wait_for_state(name, "running", STARTED);
    }
}

#[test]
fn every_module_is_told_to_stop_before_any_is_waited_for() {
    let setup = Setup::new();
    let barrier = setup.dir.path().join("barrier");
    std::fs::create_dir(&barrier).unwrap();
    // One module per isolation the build has, and a second of the default
    // one: shared, main and (3.12+) own-gil stops all overlap.
    let mut modules: Vec<(String, String)> =
        common::isolations().into_iter().map(|i| (format!("at_barrier_{}", i.replace('-', "_")), i)).collect();
    modules.push(("at_barrier_default".into(), String::new()));
    for (name, _) in &modules {
        setup.module(name, AT_BARRIER);
    }
    let mut config = String::from("shutdown_timeout = 20\nprobe = false\n");
    for (name, isolation) in &modules {
        if !isolation.is_empty() {
            config.push_str(&format!("[modules.{name}]\nisolation = \"{isolation}\"\n"));
        }
        let dir = path_str(&barrier);
        config.push_str(&format!("[modules.{name}.options]\ndir = {dir:?}\ncount = {}\n", modules.len()));
    }
    let host = setup.config(&config).start(&[]);
    let names: Vec<String> = modules.iter().map(|(n, _)| n.clone()).collect();
    wait_running(&host, &names);
    // Before: modules were stopped one after the other, so the first
    // shutdown() waited alone at the barrier until its shutdown_timeout, and
    // every module but the last ended with "shutdown() had not returned".
    let (finished, report) = host.stop();
    assert_eq!(finished.code(), 0, "{finished}");
    for name in names.iter().chain(std::iter::once(&"witness".to_string())) {
        assert_stopped_cleanly(&report, name);
    }
    assert_eq!(report["finalized"], true, "{report}");
}

/// Modules on a shared GIL enter their stop a few at a time (the host's
/// stop gate lets in 4), but one still inside after a short grace no longer
/// counts. Six shared modules at the barrier: each shutdown() waits until
/// all six have begun, so they all stop cleanly only if the ones waiting
/// gave their places up; a gate that held its places until its modules
/// returned would leave the last two outside until the first four timed out.
#[test]
fn more_shared_modules_than_the_stop_gate_admits_all_reach_shutdown() {
    assert!(common::isolations().contains(&"shared".to_string()), "this build has no shared isolation");
    let setup = Setup::new();
    let barrier = setup.dir.path().join("barrier");
    std::fs::create_dir(&barrier).unwrap();
    let names: Vec<String> = (1..=6).map(|i| format!("shared_at_barrier_{i}")).collect();
    let mut config = String::from("shutdown_timeout = 20\nprobe = false\nisolation = \"shared\"\n");
    for name in &names {
        setup.module(name, AT_BARRIER);
        let dir = path_str(&barrier);
        config.push_str(&format!("[modules.{name}.options]\ndir = {dir:?}\ncount = {}\n", names.len()));
    }
    let host = setup.config(&config).start(&[]);
    wait_running(&host, &names);
    let (finished, report) = host.stop();
    assert_eq!(finished.code(), 0, "{finished}");
    for name in &names {
        assert_stopped_cleanly(&report, name);
    }
    assert_eq!(report["finalized"], true, "{report}");
}

#[test]
fn a_module_slow_to_stop_holds_up_no_other_and_status_names_it() {
    let setup = Setup::new();
    let (entered, release) = (setup.dir.path().join("entered"), setup.dir.path().join("release"));
    // First by name: a serial stop would take it first.
    setup.module("a_slow", SLOW_SHUTDOWN).module("healthy_1", HEALTHY).module("healthy_2", HEALTHY);
    let mut modules = vec![("healthy_1".to_string(), "main".to_string())];
    if let Some(isolation) = common::isolations().into_iter().find(|i| i != "main") {
        modules.push(("healthy_2".to_string(), isolation));
    }
    let config = format!(
        "shutdown_timeout = 120\nprobe = false\n[modules.a_slow.options]\nentered = {:?}\nrelease = {:?}\n{}",
        path_str(&entered),
        path_str(&release),
        placements(&modules)
    );
    let host = setup.config(&config).start(&[]);
    wait_running(&host, &["a_slow".into(), "healthy_1".into(), "healthy_2".into()]);
    host.ctl(&["stop"]);
    // Before: the others stayed `running` until a_slow's shutdown()
    // returned, here never (it waits for the release this test gives only
    // once they are stopped), so this loop ran out.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let status = host.ctl(&["status"]);
        let state = |name: &str| module(&status, name)["state"].as_str().unwrap_or_default().to_string();
        let others_done = ["healthy_1", "healthy_2", "witness"].iter().all(|n| state(n) == "stopped");
        if others_done && entered.exists() {
            // Still in its shutdown(): status shows which module the host waits for.
            assert_eq!(state("a_slow"), "running", "{status}");
            assert_eq!(module(&status, "a_slow")["serving"], false, "{status}");
            break;
        }
        assert!(Instant::now() < deadline, "the other modules never stopped: {status}\n{}", host.stderr_so_far());
        std::thread::sleep(Duration::from_millis(50));
    }
    std::fs::write(&release, "").unwrap();
    let (finished, report) = host.wait();
    assert_eq!(finished.code(), 0, "{finished}");
    for name in ["a_slow", "healthy_1", "healthy_2", "witness"] {
        assert_stopped_cleanly(&report, name);
    }
}

#[test]
fn a_hung_and_an_exiting_shutdown_among_healthy_modules_are_each_reported() {
    for isolation in common::isolations() {
        eprintln!("--- isolation {isolation}");
        let setup = Setup::new();
        setup
            .module("a_hangs", HANGS_IN_SHUTDOWN)
            .module("b_exits", EXITS_IN_SHUTDOWN)
            .module("healthy_1", HEALTHY)
            .module("healthy_2", HEALTHY);
        let names = ["a_hangs", "b_exits", "healthy_1", "healthy_2"];
        let config = format!("shutdown_timeout = 3\nprobe = false\nisolation = \"{isolation}\"\n");
        let host = setup.config(&config).start(&[]);
        wait_running(&host, &names.map(String::from));
        let (finished, report) = host.stop();
        assert_eq!(finished.code(), 0, "{finished}");
        let hung = module(&report, "a_hangs");
        assert_eq!(hung["state"], "stopped", "{report}");
        let error = hung["error"].as_str().unwrap_or_default();
        assert!(error.contains("shutdown() had not returned") && error.contains("(3 s)"), "{error}");
        assert!(leftover_names(hung).iter().any(|t| t == "shutdown() (did not return)"), "{report}");
        assert!(finished.stderr.contains("[a_hangs] shutdown() did not return"), "{finished}");
        let exited = module(&report, "b_exits");
        assert_eq!(exited["state"], "failed", "{report}");
        assert!(exited["error"].as_str().unwrap_or_default().contains("os._exit(3)"), "{report}");
        for name in ["healthy_1", "healthy_2", "witness"] {
            assert_stopped_cleanly(&report, name);
        }
        assert_eq!(report["finalized"], false, "a thread is still inside a_hangs' interpreter: {report}");
    }
}
