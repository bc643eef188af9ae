//! Event delivery in batches (host/delivery.rs): a module's events reach
//! notify() in order, under the queue's bound and drop-the-oldest policy as
//! before, an exception in the middle of a batch fails the module as one
//! delivered alone did, and a module stuck in notify() delays no other
//! module.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::harness::{Host, Setup, module, path_str};

const STARTED: Duration = Duration::from_secs(90);

/// Polls `probe` until it is true; a generous deadline only detects a hang.
fn wait_until(host: &Host, what: &str, mut probe: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while !probe() {
        assert!(Instant::now() < deadline, "{what} never happened\n{}", host.stderr_so_far());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Holds its notify thread in a `gate` event until a `release` file
/// exists, so the test can queue events behind it; then logs each `ev`'s
/// number, raising at `raise_at`.
const GATED: &str = r#"
import os
import time
import pyhost


class Gated(pyhost.Module):
    OPTIONS = {'dir': '', 'raise_at': -1}
    NOTIFY_TYPES = ['gate', 'ev']

    def notify(self, event, payload):
        folder = self.get_option('dir')
        if event == 'gate':
            open(os.path.join(folder, 'entered'), 'w').close()
            deadline = time.time() + 120
            while not os.path.exists(os.path.join(folder, 'release')) and time.time() < deadline:
                time.sleep(0.02)
            return
        with open(os.path.join(folder, 'seen'), 'a') as seen:
            seen.write('%d\n' % payload['n'])
        if payload['n'] == self.get_option('raise_at'):
            raise RuntimeError('bad event %d' % payload['n'])
"#;

fn seen(dir: &Path) -> Vec<u64> {
    std::fs::read_to_string(dir.join("seen")).unwrap_or_default().lines().map(|l| l.trim().parse().unwrap()).collect()
}

/// Starts a host with `gated` (`keys` in its config table, `options` among
/// its options), holds its notify thread in the gate, and queues `count`
/// events `ev` behind it.
fn gated_with_waiting(keys: &str, options: &str, count: u64) -> Host {
    let setup = Setup::new();
    setup.module("gated", GATED);
    let dir = path_str(setup.dir.path());
    let config =
        format!("[modules.gated]\nrestart = \"never\"\n{keys}\n[modules.gated.options]\ndir = {dir:?}\n{options}\n");
    let host = setup.config(&config).start(&[]);
    host.wait_started(STARTED);
    host.wait_for_state("gated", "running", STARTED);
    host.ctl(&["notify", "gate"]);
    let entered = host.setup.dir.path().join("entered");
    wait_until(&host, "notify() entering the gate", || entered.exists());
    for n in 0..count {
        host.ctl(&["notify", "ev", &format!("{{\"n\": {n}}}")]);
    }
    host
}

fn release(host: &Host) {
    std::fs::write(host.setup.dir.path().join("release"), "").unwrap();
}

#[test]
fn a_batch_keeps_the_queue_bound_and_drops_the_oldest() {
    let host = gated_with_waiting("notify_queue_limit = 5", "", 12);
    release(&host);
    let dir = host.setup.dir.path().to_path_buf();
    wait_until(&host, "the last event", || seen(&dir).last() == Some(&11));
    // The 5 newest waited; the 7 older ones were dropped, as before batches.
    assert_eq!(seen(&dir), [7, 8, 9, 10, 11]);
    assert_eq!(host.module_status("gated")["notifications_dropped"], 7);
    host.assert_witness_alive(Duration::from_secs(10));
    let (finished, report) = host.stop();
    assert_eq!(finished.code(), 0, "{finished}");
    assert_eq!(module(&report, "gated")["state"], "stopped", "{report}");
}

#[test]
fn an_exception_mid_batch_fails_the_module_as_for_a_single_event() {
    let host = gated_with_waiting("notify_queue_limit = 100", "raise_at = 3", 8);
    release(&host);
    let status = host.wait_for_state("gated", "failed", STARTED);
    let error = status["error"].as_str().unwrap_or_default();
    assert!(error.contains("RuntimeError: bad event 3") && error.contains("in notify"), "{status}");
    // Events before it were delivered, in order; none after it (the failed
    // module's queue is closed, as when each event was delivered alone).
    let dir = host.setup.dir.path().to_path_buf();
    assert_eq!(seen(&dir), [0, 1, 2, 3]);
    assert_eq!(status["notifications_dropped"], 0, "{status}");
    host.assert_witness_alive(Duration::from_secs(10));
    assert_eq!(seen(&dir), [0, 1, 2, 3], "events were delivered to the failed module");
    let (finished, report) = host.stop();
    assert_eq!(finished.code(), 0, "{finished}");
    assert_eq!(module(&report, "gated")["state"], "failed", "{report}");
}

/// Sets state `seq` to 0..COUNT as fast as it can once `go` exists.
const FLOODER: &str = r#"
import os
import pyhost

COUNT = 3000


class Flooder(pyhost.Module):
    OPTIONS = {'go': ''}

    def serve(self):
        while not os.path.exists(self.get_option('go')):
            if self.stopping.wait(0.05):
                return
        for i in range(COUNT):
            self.set_state('seq', i)
        self.stopping.wait(3600)
"#;

/// Keeps every `seq` value it is notified of; writes them out at the last.
const IN_ORDER: &str = r#"
import os
import pyhost


class InOrder(pyhost.Module):
    OPTIONS = {'out': ''}
    NOTIFY_TYPES = ['state']

    def __init__(self):
        super(InOrder, self).__init__()
        self.values = []

    def notify(self, event, payload):
        if payload['key'] != 'seq':
            return
        self.values.append(payload['value'])
        if payload['value'] == 2999:
            # Renamed into place: the test waits for `out` to exist.
            out = self.get_option('out')
            with open(out + '.tmp', 'w') as partial:
                partial.write(' '.join(str(v) for v in self.values))
            os.rename(out + '.tmp', out)
"#;

#[test]
fn a_flood_reaches_notify_whole_and_in_order() {
    let setup = Setup::new();
    setup.module("flooder", FLOODER).module("in_order", IN_ORDER);
    let dir = setup.dir.path().to_path_buf();
    let (go, out) = (dir.join("go"), dir.join("out"));
    let config = format!(
        "[modules.in_order]\nnotify_queue_limit = 10000\n[modules.in_order.options]\nout = {:?}\n\
         [modules.flooder.options]\ngo = {:?}\n",
        path_str(&out),
        path_str(&go)
    );
    let host = setup.config(&config).start(&[]);
    host.wait_started(STARTED);
    host.wait_for_state("in_order", "running", STARTED);
    host.wait_for_state("flooder", "running", STARTED);
    std::fs::write(&go, "").unwrap();
    wait_until(&host, "the last event", || out.exists());
    let values: Vec<u64> =
        std::fs::read_to_string(&out).unwrap().split_whitespace().map(|v| v.parse().unwrap()).collect();
    assert_eq!(values, (0..3000).collect::<Vec<u64>>());
    assert_eq!(host.module_status("in_order")["notifications_dropped"], 0);
    let (finished, report) = host.stop();
    assert_eq!(finished.code(), 0, "{finished}");
    assert_eq!(module(&report, "in_order")["state"], "stopped", "{report}");
}

const SLEEPS_IN_NOTIFY: &str = r#"
import pyhost


class SleepsInNotify(pyhost.Module):
    NOTIFY_TYPES = ['ev']

    def notify(self, event, payload):
        self.stopping.wait(3600)
"#;

const COUNTS: &str = r#"
import os
import pyhost


class Counts(pyhost.Module):
    OPTIONS = {'out': ''}
    NOTIFY_TYPES = ['ev']

    def __init__(self):
        super(Counts, self).__init__()
        self.count = 0

    def notify(self, event, payload):
        self.count += 1
        tmp = self.get_option('out') + '.tmp'
        with open(tmp, 'w') as out:
            out.write(str(self.count))
        os.rename(tmp, self.get_option('out'))
"#;

/// A module stuck in notify() with events waiting behind it, in a batch
/// that never ends, beside one that gets every event. (A notify() that
/// spins in Python without ever blocking is another matter: on 3.9-3.13 a
/// thread of one shared-GIL interpreter never hands the GIL to another
/// interpreter's thread, batches or not; see the README.)
#[test]
fn a_module_stuck_in_notify_delays_no_other() {
    let setup = Setup::new();
    setup.module("sleeps", SLEEPS_IN_NOTIFY).module("counts", COUNTS);
    let out = setup.dir.path().join("count");
    // One GIL for all, so a batch that held it would show.
    let config =
        format!("isolation = \"shared\"\nshutdown_timeout = 5\n[modules.counts.options]\nout = {:?}\n", path_str(&out));
    let host = setup.config(&config).start(&[]);
    host.wait_started(STARTED);
    for name in ["sleeps", "counts"] {
        host.wait_for_state(name, "running", STARTED);
    }
    for n in 0..20 {
        host.ctl(&["notify", "ev", &n.to_string()]);
    }
    let count = || std::fs::read_to_string(&out).ok().and_then(|t| t.trim().parse::<u64>().ok());
    wait_until(&host, "every event reaching the module beside the stuck ones", || count() == Some(20));
    host.assert_witness_alive(Duration::from_secs(10));
    let (finished, report) = host.stop();
    assert_eq!(finished.code(), 0, "{finished}");
    for name in ["sleeps", "counts"] {
        let m = module(&report, name);
        assert_eq!(m["state"], "stopped", "{report}");
        assert_eq!(m["leftover_threads"].as_array().unwrap().len(), 0, "{report}");
    }
}

/// Holds its notify thread in `gate` until `release` exists, so that
/// `fork` and the events after it wait together and start one batch; forks
/// in `fork`, the child returning into the host as a script's child would
/// run off its end. Logs each `ev` with the pid that delivered it.
const FORKS_IN_NOTIFY: &str = r#"
import os
import time
import pyhost


class ForksInNotify(pyhost.Module):
    OPTIONS = {'dir': ''}
    NOTIFY_TYPES = ['gate', 'fork', 'ev']

    def notify(self, event, payload):
        folder = self.get_option('dir')
        if event == 'ev':
            with open(os.path.join(folder, 'seen'), 'a') as seen:
                seen.write('%d\n' % os.getpid())
            return
        if event == 'gate':
            open(os.path.join(folder, 'entered'), 'w').close()
            deadline = time.time() + 120
            while not os.path.exists(os.path.join(folder, 'release')) and time.time() < deadline:
                time.sleep(0.02)
            return
        pid = os.fork()
        if pid == 0:
            return
        _, status = os.waitpid(pid, 0)
        # Renamed into place: the test waits for `child` to exist.
        with open(os.path.join(folder, 'child.tmp'), 'w') as child:
            child.write('%d' % status)
        os.rename(os.path.join(folder, 'child.tmp'), os.path.join(folder, 'child'))
"#;

/// A child forked in notify() that returns into the host ends there (0),
/// and gets none of the events waiting behind in the batch: those reach
/// the parent's module only. Everything runs in the main interpreter: on
/// 3.x a child forked there while a thread of a sub-interpreter runs (the
/// witness's, in `shared`) hangs in a lock, with per-event delivery too
/// (seen on 3.11; see the README).
#[test]
fn a_child_forked_in_notify_ends_at_its_return_and_takes_no_events() {
    let setup = Setup::new();
    setup.module("forks_in_notify", FORKS_IN_NOTIFY);
    let dir = setup.dir.path().to_path_buf();
    let config = format!("isolation = \"main\"\n[modules.forks_in_notify.options]\ndir = {:?}\n", path_str(&dir));
    let host = setup.config(&config).start(&[]);
    host.wait_started(STARTED);
    host.wait_for_state("forks_in_notify", "running", STARTED);
    host.ctl(&["notify", "gate"]);
    wait_until(&host, "notify() entering the gate", || dir.join("entered").exists());
    host.ctl(&["notify", "fork"]);
    for n in 0..3 {
        host.ctl(&["notify", "ev", &n.to_string()]);
    }
    std::fs::write(dir.join("release"), "").unwrap();
    wait_until(&host, "the child's end", || dir.join("child").exists());
    let seen_by = |dir: &Path| -> Vec<i32> {
        std::fs::read_to_string(dir.join("seen")).unwrap_or_default().lines().map(|l| l.parse().unwrap()).collect()
    };
    wait_until(&host, "the three events", || seen_by(&dir).len() >= 3);
    let status: i32 = std::fs::read_to_string(dir.join("child")).unwrap().trim().parse().unwrap();
    assert_eq!(status, 0, "the child's wait status");
    host.assert_witness_alive(Duration::from_secs(10));
    assert_eq!(seen_by(&dir), vec![host.pid(); 3], "events delivered in the child");
    let (finished, report) = host.stop();
    assert_eq!(finished.code(), 0, "{finished}");
    assert_eq!(module(&report, "forks_in_notify")["state"], "stopped", "{report}");
}

/// Names of the host's threads (Linux truncates them to 15 bytes).
fn thread_names(pid: i32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|name| name.trim_end().to_string())
        .collect()
}

/// Listens for `poke` (not `tick`, which the host sends every tick_interval)
/// and writes each one's payload to the file `out`.
const LISTENS: &str = r#"
import pyhost


class Listens(pyhost.Module):
    OPTIONS = {'out': ''}
    NOTIFY_TYPES = ['poke']

    def notify(self, event, payload):
        with open(self.get_option('out'), 'a') as f:
            f.write('%s %s\n' % (event, payload))
"#;

/// Defines notify() but listens for nothing.
const DEAF: &str = r#"
import pyhost


class Deaf(pyhost.Module):
    def serve(self):
        self.stopping.wait()

    def notify(self, event, payload):
        raise RuntimeError('a module that listens for nothing got %r' % event)
"#;

#[test]
fn a_module_that_listens_for_no_event_gets_no_notify_thread() {
    let setup = Setup::new();
    setup.module("listens", LISTENS).module("deaf", DEAF);
    let out = setup.dir.path().join("ticks");
    let host = setup.config(&format!("[modules.listens.options]\nout = {:?}", path_str(&out))).start(&[]);
    host.wait_started(STARTED);
    let names = thread_names(host.pid());
    assert!(names.iter().any(|n| n == "listens:notify"), "{names:?}");
    assert!(names.iter().any(|n| n == "deaf:serve"), "{names:?}");
    assert!(!names.iter().any(|n| n.starts_with("deaf:notify")), "{names:?}");
    assert!(!names.iter().any(|n| n.starts_with("witness:notify")), "the witness listens for nothing: {names:?}");

    host.ctl(&["notify", "poke", "7"]);
    let delivered = || std::fs::read_to_string(&out).unwrap_or_default();
    let deadline = Instant::now() + STARTED;
    while delivered() != "poke 7\n" {
        assert!(Instant::now() < deadline, "the poke never arrived: {:?}\n{}", delivered(), host.stderr_so_far());
        std::thread::sleep(Duration::from_millis(50));
    }
    let (finished, report) = host.stop();
    for name in ["listens", "deaf", "witness"] {
        let m = module(&report, name);
        assert_eq!(m["state"], "stopped", "{name}: {m}\n{finished}");
        assert_eq!(m["error"], serde_json::Value::Null, "{name}: {m}");
    }
}
