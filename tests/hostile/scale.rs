//! Many modules started at once (issue 11): own-GIL modules load in
//! parallel on 3.12+, and that changes nothing a user sees but the time:
//! each module ends in the state a one-by-one start gives it, a module that
//! raises, exits, hangs or does not compile costs only itself, and the
//! witness beats throughout. Before 3.12 (no own-GIL interpreters) modules
//! load one by one whatever `start_jobs` says.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::common;
use crate::harness::{Setup, module};

const FINE: &str =
    "import pyhost\n\n\nclass Fine(pyhost.Module):\n    def serve(self):\n        self.stopping.wait()\n";
const RAISES: &str =
    "import pyhost\n\n\nclass Raises(pyhost.Module):\n    def __init__(self):\n        raise ValueError('no')\n";
const EXITS: &str = "import os\nimport pyhost\n\nos._exit(3)\n";
const SYNTAX: &str = "import pyhost\n\nclass Broken(pyhost.Module)\n    pass\n";
const HANGS: &str = "import time\nimport pyhost\n\ntime.sleep(3600)\n";

fn own_gil() -> bool {
    common::isolations().iter().any(|i| i == "own-gil")
}

/// Starts the host with ten fine modules and four bad ones, `start_jobs`
/// as given; returns each module's (state, isolation, error's kind) and the
/// host's stderr.
fn start_many(start_jobs: usize) -> (BTreeMap<String, (String, String, String)>, String) {
    let setup = Setup::new();
    for i in 0..10 {
        setup.module(&format!("fine{i:02}"), FINE);
    }
    setup.module("raises", RAISES).module("exits", EXITS).module("syntax", SYNTAX).module("hangs", HANGS);
    let host = setup.config(&format!("start_jobs = {start_jobs}\n[modules.hangs]\nload_timeout = 2.0")).start(&[]);
    host.wait_started(Duration::from_secs(240));
    // Every module has its verdict once none is pending or loading.
    let deadline = std::time::Instant::now() + Duration::from_secs(240);
    loop {
        let status = host.ctl(&["status"]);
        let busy =
            status["modules"].as_array().unwrap().iter().any(|m| m["state"] == "pending" || m["state"] == "loading");
        if !busy {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "modules still loading: {status}");
        std::thread::sleep(Duration::from_millis(100));
    }
    host.assert_witness_alive(Duration::from_secs(10));
    let (finished, report) = host.stop();
    assert_eq!(finished.code(), 0, "{finished}");
    assert!(!finished.stderr.contains("Fatal Python error"), "{finished}");
    let mut states = BTreeMap::new();
    for entry in report["modules"].as_array().unwrap() {
        let name = entry["name"].as_str().unwrap().to_string();
        let error = entry["error"].as_str().unwrap_or("");
        let kind = ["import did not finish", "ValueError: no", "os._exit(3)", "SyntaxError"]
            .iter()
            .find(|k| error.contains(*k))
            .map_or(if error.is_empty() { "" } else { "other" }, |k| k)
            .to_string();
        states.insert(name, (entry["state"].as_str().unwrap().to_string(), entry["isolation"].to_string(), kind));
    }
    let _ = module(&report, "witness");
    (states, finished.stderr)
}

#[test]
fn a_parallel_start_ends_every_module_as_a_serial_one_does() {
    let (serial, serial_log) = start_many(1);
    let (parallel, parallel_log) = start_many(4);
    assert_eq!(parallel, serial, "parallel start (left) against one by one (right)");
    // What each bad module costs is itself only.
    for i in 0..10 {
        assert_eq!(parallel[&format!("fine{i:02}")].0, "stopped", "{parallel:?}");
    }
    assert_eq!(parallel["witness"].0, "stopped");
    assert_eq!(parallel["raises"], ("failed".into(), parallel["raises"].1.clone(), "ValueError: no".into()));
    assert_eq!(parallel["exits"].0, "failed", "{parallel:?}");
    assert_eq!(parallel["exits"].2, "os._exit(3)", "{parallel:?}");
    assert_eq!(parallel["syntax"].0, "unloadable", "{parallel:?}");
    assert_eq!(parallel["syntax"].2, "SyntaxError", "{parallel:?}");
    assert_eq!(parallel["hangs"].0, "unloadable", "{parallel:?}");
    assert_eq!(parallel["hangs"].2, "import did not finish", "{parallel:?}");
    let announced = |log: &str| log.contains("own-gil modules,") && log.contains("at a time");
    assert!(!announced(&serial_log), "start_jobs = 1 loads one by one:\n{serial_log}");
    if own_gil() {
        assert!(announced(&parallel_log), "own-gil modules load in parallel:\n{parallel_log}");
        assert_eq!(parallel["fine00"].1, "\"own-gil\"");
    } else {
        // Before 3.12 there is no own-GIL interpreter: one by one, always.
        assert!(!announced(&parallel_log), "{parallel_log}");
        assert_eq!(parallel["fine00"].1, "\"shared\"");
    }
}
