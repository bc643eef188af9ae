//! A module's lifecycle under modules that do not cooperate: a shutdown()
//! or an import that never returns, a listener too slow for its events, a
//! failure that arrives after a restart, a serve() that returns, a notify()
//! still running at exit, and `ctl restart` of a module never enabled.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{Host, Setup, module, path_str};

const STARTED: Duration = Duration::from_secs(90);

fn leftover_names(module: &Value) -> Vec<String> {
    module["leftover_threads"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap().to_string()).collect()
}

fn error_of(module: &Value) -> String {
    module["error"].as_str().unwrap_or_default().to_string()
}

/// Polls `probe` until it is true; a generous deadline only detects a hang.
fn wait_until(host: &Host, what: &str, mut probe: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while !probe() {
        assert!(Instant::now() < deadline, "{what} never happened\n{}", host.stderr_so_far());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The host process's resident memory, in bytes.
fn rss(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}

const STUCK_SHUTDOWN: &str = r#"
import time
import pyhost


class StuckShutdown(pyhost.Module):
    def serve(self):
        self.stopping.wait(3600)

    def shutdown(self):
        time.sleep(3600)
"#;

#[test]
fn a_shutdown_that_never_returns_is_given_up_and_the_report_written() {
    let setup = Setup::new();
    setup.module("stuck_shutdown", STUCK_SHUTDOWN).module("stuck_shutdown_main", STUCK_SHUTDOWN);
    let host = setup.config("shutdown_timeout = 2\n[modules.stuck_shutdown_main]\nisolation = \"main\"").start(&[]);
    host.wait_started(STARTED);
    host.wait_for_state("stuck_shutdown", "running", STARTED);
    host.wait_for_state("stuck_shutdown_main", "running", STARTED);
    host.assert_witness_alive(Duration::from_secs(10));
    // Before: the host waited for shutdown() for ever (the harness calls
    // that a hang), and only SIGKILL ended it, with no report.
    let (finished, report) = host.stop();
    assert_eq!(finished.code(), 0, "{finished}");
    for name in ["stuck_shutdown", "stuck_shutdown_main"] {
        let stuck = module(&report, name);
        assert_eq!(stuck["state"], "stopped", "{name}: {report}");
        let error = error_of(stuck);
        assert!(error.contains("shutdown() had not returned") && error.contains("(2 s)"), "{name}: {error}");
        assert!(leftover_names(stuck).iter().any(|t| t == "shutdown() (did not return)"), "{name}: {report}");
        assert!(finished.stderr.contains(&format!("[{name}] shutdown() did not return")), "{finished}");
    }
    let witness = module(&report, "witness");
    assert_eq!(witness["state"], "stopped", "{report}");
    assert!(witness["error"].is_null(), "{report}");
    assert_eq!(report["finalized"], false, "a thread is still inside two interpreters: {report}");
}

const HANGS_AT_IMPORT: &str = r#"import time
time.sleep(3600)

import pyhost


class HangsAtImport(pyhost.Module):
    pass
"#;

fn assert_hung_import(status: &Value, module_py: &Path, seconds: &str) {
    assert_eq!(status["state"], "unloadable", "{status}");
    let error = error_of(status);
    assert!(error.contains(&format!("import did not finish in {seconds}")), "{error}");
    // The stack where it sat, from the module's own file on.
    assert!(error.contains(&format!("{}\", line 2", module_py.display())), "{error}");
    assert!(error.contains("time.sleep(3600)"), "{error}");
}

#[test]
fn an_import_that_hangs_is_unloadable_with_its_stack_and_the_others_run() {
    let setup = Setup::new();
    setup.module("hangs_at_import", HANGS_AT_IMPORT).module("hangs_in_main", HANGS_AT_IMPORT);
    let modules = setup.modules.clone();
    // hangs_in_main is not probed (main is not a sub-interpreter): its real
    // import hangs. hangs_at_import hangs in the probe already.
    let config = "load_timeout = 2\n[modules.hangs_in_main]\nisolation = \"main\"\nload_timeout = 1";
    let host = setup.config(config).start(&[]);
    // Before: the probe waited 60 s and then the import for ever; the
    // witness (loaded after both, alphabetically) never started.
    host.wait_started(STARTED);
    host.assert_witness_alive(Duration::from_secs(10));
    let probed = host.module_status("hangs_at_import");
    assert_hung_import(&probed, &modules.join("hangs_at_import/module.py"), "2 s");
    assert!(error_of(&probed).contains("placement probe"), "{probed}");
    let loaded = host.module_status("hangs_in_main");
    assert_hung_import(&loaded, &modules.join("hangs_in_main/module.py"), "1 s");
    assert!(leftover_names(&loaded).iter().any(|t| t == "import (did not finish)"), "{loaded}");
    let (finished, report) = host.stop();
    assert_eq!(finished.code(), 0, "{finished}");
    assert_eq!(module(&report, "witness")["state"], "stopped", "{report}");
    assert_eq!(module(&report, "hangs_in_main")["state"], "unloadable", "{report}");
    assert_eq!(report["finalized"], false, "a thread still sits in the main interpreter: {report}");
}

#[test]
fn an_import_that_hangs_without_the_probe_leaves_its_interpreter_and_teardown_goes_on() {
    let setup = Setup::new();
    setup.module("hangs_at_import", HANGS_AT_IMPORT);
    let module_py = setup.modules.join("hangs_at_import/module.py");
    let host = setup.config("probe = false\nload_timeout = 1").start(&[]);
    host.wait_started(STARTED);
    host.assert_witness_alive(Duration::from_secs(10));
    let status = host.module_status("hangs_at_import");
    assert_hung_import(&status, &module_py, "1 s");
    assert!(!error_of(&status).contains("placement probe"), "{status}");
    // The abandoned sub-interpreter still has the import's thread inside:
    // the teardown keeps it rather than abort ("not the last thread").
    let (finished, report) = host.stop();
    assert_eq!(finished.code(), 0, "{finished}");
    assert!(leftover_names(module(&report, "hangs_at_import")).iter().any(|t| t == "import (did not finish)"));
    assert_eq!(report["finalized"], false, "{report}");
}

const FLOODER: &str = r#"
import os
import pyhost


class Flooder(pyhost.Module):
    OPTIONS = {'go': '', 'done': ''}

    def serve(self):
        while not os.path.exists(self.get_option('go')):
            if self.stopping.wait(0.05):
                return
        pad = 'x' * 10000
        for i in range(10000):
            self.set_state('flood', '%d:%s' % (i, pad))
        open(self.get_option('done'), 'w').close()
        self.stopping.wait(3600)
"#;

const SLOW_LISTENER: &str = r#"
import time
import pyhost


class SlowListener(pyhost.Module):
    OPTIONS = {'log': ''}
    NOTIFY_TYPES = ['state']

    def _record(self, line):
        with open(self.get_option('log'), 'a') as log:
            log.write(line + '\n')

    def notify(self, event, payload):
        self._record('notify %s' % payload['value'].split(':')[0])
        time.sleep(0.05)

    def shutdown(self):
        self._record('shutdown')
"#;

#[test]
fn a_notify_flood_to_a_slow_listener_is_bounded_and_stops_at_unload() {
    let setup = Setup::new();
    setup.module("flooder", FLOODER).module("slow_listener", SLOW_LISTENER);
    let dir = setup.dir.path().to_path_buf();
    let (go, done, log) = (dir.join("go"), dir.join("done"), dir.join("listener.log"));
    let config = format!(
        "[modules.flooder.options]\ngo = {:?}\ndone = {:?}\n[modules.slow_listener.options]\nlog = {:?}",
        path_str(&go),
        path_str(&done),
        path_str(&log)
    );
    let host = setup.config(&config).start(&[]);
    host.wait_started(STARTED);
    host.wait_for_state("slow_listener", "running", STARTED);
    let before = rss(host.pid());
    std::fs::write(&go, "").unwrap();
    wait_until(&host, "the flood", || done.exists());
    let growth = rss(host.pid()).saturating_sub(before);
    println!("the host grew by {} KiB during the flood", growth >> 10);
    host.assert_witness_alive(Duration::from_secs(10));
    // 10,000 events of 10 kB: about 100 MB when every one waited (before);
    // at most the default 1,000 of them now.
    assert!(growth < 50 << 20, "the host grew by {} MiB for a slow listener", growth >> 20);
    let status = host.module_status("slow_listener");
    assert!(status["notifications_dropped"].as_u64().unwrap() > 0, "{status}");

    // Its queue is full: unloading it must deliver none of it.
    host.ctl(&["disable", "slow_listener"]);
    let lines: Vec<String> = std::fs::read_to_string(&log).unwrap().lines().map(String::from).collect();
    let shutdown = lines.iter().position(|l| l == "shutdown").expect("shutdown() was called");
    assert!(shutdown > 0, "notify() was called before the unload: {lines:?}");
    let after: Vec<&String> = lines[shutdown + 1..].iter().collect();
    assert!(after.is_empty(), "notify() was called after shutdown(): {after:?}");
    let (finished, report) = host.stop();
    assert_eq!(finished.code(), 0, "{finished}");
    let listener = module(&report, "slow_listener");
    assert_eq!(listener["state"], "disabled", "{report}");
    assert!(listener["notifications_dropped"].as_u64().unwrap() > 0, "{report}");
}

const RAISES_ON_SHUTDOWN: &str = r#"
import pyhost


class RaisesOnShutdown(pyhost.Module):
    def serve(self):
        self.stopping.wait(3600)

    def shutdown(self):
        raise RuntimeError('shutdown refuses')
"#;

/// Fails on every `boom`; restarted at once (backoff 0) each time.
const CANARY: &str = r#"
import pyhost


class Canary(pyhost.Module):
    NOTIFY_TYPES = ['boom']

    def notify(self, event, payload):
        raise RuntimeError('boom')
"#;

#[test]
fn a_stale_failure_never_fails_the_restarted_instance() {
    let setup = Setup::new();
    setup.module("raises_on_shutdown", RAISES_ON_SHUTDOWN).module("canary", CANARY);
    let config = "[restart]\npolicy = \"never\"\nbackoff = 0\nlimit = 1000\n[modules.canary]\nrestart = \"on-failure\"";
    let host = setup.config(config).start(&[]);
    host.wait_started(STARTED);
    host.wait_for_state("raises_on_shutdown", "running", STARTED);
    host.wait_for_state("canary", "running", STARTED);
    for round in 1..=20u64 {
        // The old instance's shutdown() raises: a failure of that instance
        // reaches the supervisor after the new one is running.
        let reply = host.ctl(&["restart", "raises_on_shutdown"]);
        assert_eq!(reply["state"], "running", "round {round}: {reply}");
        // The supervisor handles events in order: once it has restarted the
        // canary, failed after the restart, it has handled the stale one.
        host.ctl(&["notify", "boom"]);
        wait_until(&host, &format!("round {round}: the canary's restart"), || {
            let canary = host.module_status("canary");
            canary["restarts"].as_u64() == Some(round) && canary["state"] == "running"
        });
        let status = host.module_status("raises_on_shutdown");
        assert_eq!(status["state"], "running", "round {round}: a stale failure failed the new instance: {status}");
    }
    host.assert_witness_alive(Duration::from_secs(10));
    let (finished, report) = host.stop();
    assert_eq!(finished.code(), 0, "{finished}");
    assert_eq!(module(&report, "raises_on_shutdown")["restarts"], 20, "{report}");
}

const SERVES_ONCE: &str = r#"
import pyhost


class ServesOnce(pyhost.Module):
    OPTIONS = {'seen': ''}
    NOTIFY_TYPES = ['hello']

    def serve(self):
        self.log.info('nothing to serve')

    def notify(self, event, payload):
        with open(self.get_option('seen'), 'w') as seen:
            seen.write(event)
"#;

const NO_SERVE: &str = r#"
import pyhost


class NoServe(pyhost.Module):
    pass
"#;

#[test]
fn a_module_whose_serve_returned_is_running_and_not_serving() {
    let setup = Setup::new();
    setup.module("serves_once", SERVES_ONCE).module("no_serve", NO_SERVE);
    let seen = setup.dir.path().join("seen");
    let host = setup.config(&format!("[modules.serves_once.options]\nseen = {:?}", path_str(&seen))).start(&[]);
    host.wait_started(STARTED);
    wait_until(&host, "serve() returning", || host.module_status("serves_once")["serving"] == false);
    let status = host.module_status("serves_once");
    assert_eq!(status["state"], "running", "{status}");
    assert_eq!(status["serving"], false, "{status}");
    assert_eq!(host.module_status("no_serve")["serving"], false);
    assert_eq!(host.module_status("witness")["serving"], true);
    // Still loaded: it gets its events.
    host.ctl(&["notify", "hello"]);
    wait_until(&host, "notify() of a module whose serve() returned", || seen.exists());
    let (finished, report) = host.stop();
    assert_eq!(finished.code(), 0, "{finished}");
    assert_eq!(module(&report, "serves_once")["state"], "stopped", "{report}");
    assert_eq!(module(&report, "witness")["serving"], false, "stopped: {report}");
}

const STUCK_NOTIFY: &str = r#"
import time
import pyhost


class StuckNotify(pyhost.Module):
    OPTIONS = {'entered': ''}
    NOTIFY_TYPES = ['hang']

    def notify(self, event, payload):
        open(self.get_option('entered'), 'w').close()
        time.sleep(3600)
"#;

#[test]
fn a_notify_still_running_is_in_the_final_report_after_a_restart() {
    let setup = Setup::new();
    setup.module("stuck_notify", STUCK_NOTIFY);
    let entered = setup.dir.path().join("entered");
    let config = format!("shutdown_timeout = 1\n[modules.stuck_notify.options]\nentered = {:?}", path_str(&entered));
    let host = setup.config(&config).start(&[]);
    host.wait_started(STARTED);
    host.wait_for_state("stuck_notify", "running", STARTED);
    host.ctl(&["notify", "hang"]);
    wait_until(&host, "notify() starting", || entered.exists());
    // The first instance's notify() is left running; the second runs.
    let reply = host.ctl(&["restart", "stuck_notify"]);
    assert_eq!(reply["state"], "running", "{reply}");
    assert!(leftover_names(&reply).iter().any(|t| t == "notify() (did not return)"), "{reply}");
    let (finished, report) = host.stop();
    assert_eq!(finished.code(), 0, "{finished}");
    let stuck = module(&report, "stuck_notify");
    assert_eq!(stuck["state"], "stopped", "{report}");
    // Before: the restart cleared the list, and the report said nothing.
    assert!(leftover_names(stuck).iter().any(|t| t == "notify() (did not return)"), "{report}");
    assert_eq!(report["finalized"], false, "{report}");
}

/// Records the pid of every process that imports it, beside its module.py.
const RECORDS_IMPORTS: &str = r#"
import os
import pyhost

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'imported_by'), 'a') as f:
    f.write('%d\n' % os.getpid())


class RecordsImports(pyhost.Module):
    pass
"#;

#[test]
fn restarting_a_module_never_enabled_probes_it_first() {
    let setup = Setup::new();
    setup.module("later", RECORDS_IMPORTS);
    let imported_by = setup.modules.join("later/imported_by");
    let host = setup.start(&["--enable", "witness"]);
    host.wait_started(STARTED);
    assert_eq!(host.module_status("later")["state"], "disabled");
    let reply = host.ctl(&["restart", "later"]);
    assert_eq!(reply["state"], "running", "{reply}");
    let pids: Vec<i32> =
        std::fs::read_to_string(&imported_by).unwrap().lines().map(|l| l.trim().parse().unwrap()).collect();
    let host_pid = host.pid();
    // The probe child imported it first, as `ctl enable` would have; before,
    // only the host did.
    assert!(pids.len() >= 2 && pids[0] != host_pid, "imported by {pids:?}; the host is {host_pid}");
    assert_eq!(pids.last(), Some(&host_pid), "imported by {pids:?}; the host is {host_pid}");
    let (finished, report) = host.stop();
    assert_eq!(finished.code(), 0, "{finished}");
    assert_eq!(module(&report, "later")["state"], "stopped", "{report}");
}

#[test]
fn ctl_waits_as_long_as_a_restart_may_take_to_load() {
    let setup = Setup::new();
    setup.module("slow_to_load", NO_SERVE);
    let host =
        setup.config("shutdown_timeout = 1\nload_timeout = 2\n[modules.slow_to_load]\nload_timeout = 5").start(&[]);
    host.wait_started(STARTED);
    // What `pyhost ctl` asks before an enable, disable or restart, to size
    // its wait. Before: shutdown_timeout alone, so a restart whose import
    // took longer than 30 s plus that was given up by ctl while it ran.
    let mut stream = std::os::unix::net::UnixStream::connect(&host.setup.socket).unwrap();
    stream.write_all(b"{\"command\": \"limits\"}\n").unwrap();
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line).unwrap();
    let limits: Value = serde_json::from_str(&line).unwrap();
    let bound = limits["result"]["module_request_seconds"].as_f64().unwrap();
    // Unloading (1 s), then loading the slowest module, in its interpreter
    // and again in main (5 s each), at the least; probing it comes on top.
    assert!(bound >= 1.0 + 5.0 + 5.0, "{limits}");
    host.stop();
}
