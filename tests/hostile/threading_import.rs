//! pyhost imports `threading` in a module's interpreter only when the module
//! does (issue 11: it was most of what a module cost beyond a bare
//! interpreter). What threading gave pyhost must hold either way: `stopping`
//! behaves as a threading.Event, and a module's threads are reported
//! whenever it imports threading, at load (tests/host_run.rs, leaves_thread:
//! started non-daemon) or later on another thread.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{Setup, is_py2, module, path_str};

const STARTED: Duration = Duration::from_secs(90);

/// Starts no thread and imports nothing. serve() writes what it saw to
/// `out`: whether threading is imported, and how `stopping` answered before
/// the stop; after the stop, how `wait()` returned.
const NO_THREADS: &str = r#"
import json
import os
import sys

import pyhost


class NoThreads(pyhost.Module):
    OPTIONS = {'out': ''}

    def serve(self):
        seen = {
            'threading_imported': 'threading' in sys.modules,
            'wait_with_timeout': self.stopping.wait(0.01),
            'wait_with_zero': self.stopping.wait(0),
            'is_set': self.stopping.is_set(),
        }
        self.write(seen)
        seen['wait_returned'] = self.stopping.wait()
        seen['is_set_after'] = self.stopping.is_set()
        seen['threading_imported_at_stop'] = 'threading' in sys.modules
        self.write(seen)

    def write(self, seen):
        with open(self.get_option('out') + '.tmp', 'w') as f:
            json.dump(seen, f)
        os.rename(self.get_option('out') + '.tmp', self.get_option('out'))
"#;

/// Imports threading for the first time on its serve thread, long after its
/// load, and starts a thread there that outlives the stop.
const IMPORTS_THREADING_LATE: &str = r#"
import os
import sys
import time

import pyhost


class ImportsThreadingLate(pyhost.Module):
    OPTIONS = {'out': ''}

    def serve(self):
        before = 'threading' in sys.modules
        import threading
        worker = threading.Thread(target=time.sleep, args=(3600,), name='late-sleeper')
        worker.start()
        # Renamed into place: the test waits for `out` to exist.
        with open(self.get_option('out') + '.tmp', 'w') as f:
            f.write('imported before serve: %s\n' % before)
        os.rename(self.get_option('out') + '.tmp', self.get_option('out'))
        self.stopping.wait()
"#;

fn read_json(context: &dyn Fn() -> String, path: &Path, until: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + STARTED;
    loop {
        if let Some(seen) = std::fs::read_to_string(path).ok().and_then(|t| serde_json::from_str::<Value>(&t).ok())
            && until(&seen)
        {
            return seen;
        }
        assert!(Instant::now() < deadline, "{} never said what the module saw:\n{}", path.display(), context());
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_module_that_starts_no_thread_never_imports_threading_and_stopping_still_works() {
    let setup = Setup::new();
    setup.module("no_threads", NO_THREADS);
    // Outside the setup's folder, which goes with the host.
    let kept = tempfile::tempdir().unwrap();
    let out = kept.path().join("seen.json");
    let host = setup.config(&format!("[modules.no_threads.options]\nout = {:?}", path_str(&out))).start(&[]);
    host.wait_started(STARTED);
    let before = read_json(&|| host.stderr_so_far(), &out, |_| true);
    // 2.7 keeps threading.Event for stopping (2.7's locks take no timeout),
    // so there pyhost imports threading up front.
    assert_eq!(before["threading_imported"], is_py2(), "{before}");
    assert_eq!(before["wait_with_timeout"], false, "{before}");
    assert_eq!(before["wait_with_zero"], false, "{before}");
    assert_eq!(before["is_set"], false, "{before}");

    let (finished, report) = host.stop();
    let after = read_json(&|| format!("{report}\n{finished}"), &out, |seen| seen.get("wait_returned").is_some());
    assert_eq!(after["wait_returned"], true, "stopping.wait() returns True once set: {after}");
    assert_eq!(after["is_set_after"], true, "{after}");
    assert_eq!(after["threading_imported_at_stop"], is_py2(), "{after}\n{finished}");
    let m = module(&report, "no_threads");
    assert_eq!(m["state"], "stopped", "{m}\n{finished}");
    assert_eq!(m["leftover_threads"], serde_json::json!([]), "{m}");
}

#[test]
fn a_module_that_imports_threading_late_has_its_threads_reported() {
    let setup = Setup::new();
    setup.module("late", IMPORTS_THREADING_LATE);
    let out = setup.dir.path().join("late.txt");
    let host =
        setup.config(&format!("shutdown_timeout = 2\n[modules.late.options]\nout = {:?}", path_str(&out))).start(&[]);
    host.wait_started(STARTED);
    let deadline = Instant::now() + STARTED;
    while !out.exists() {
        assert!(Instant::now() < deadline, "serve() never started its thread");
        std::thread::sleep(Duration::from_millis(50));
    }
    let said = std::fs::read_to_string(&out).unwrap();
    assert_eq!(said.trim(), format!("imported before serve: {}", if is_py2() { "True" } else { "False" }));
    host.assert_witness_alive(Duration::from_secs(30));

    let (finished, report) = host.stop();
    let m = module(&report, "late");
    // threading's first import on the serve thread, not the load thread,
    // changes nothing the host reports: the thread is listed, the host ends
    // cleanly. (Its daemon flag is the serve thread's, which differs between
    // versions.)
    let names: Vec<&Value> = m["leftover_threads"].as_array().unwrap().iter().map(|t| &t["name"]).collect();
    assert_eq!(names, [&Value::from("late-sleeper")], "{m}\n{finished}");
}
