//! The soak in small (issue 8): a module that imports a few standard
//! modules, starts a daemon thread, serves a socket and answers remote() is
//! restarted 50 times and disabled and enabled 25 times, in each isolation,
//! while a second module keeps calling it. The host must end with the file
//! descriptors and threads it had: those are counts, so they are asserted;
//! memory is measured by `pyhost bench soak` (README, "Failure model").

use std::time::{Duration, Instant};

use crate::common::isolations;
use crate::harness::{Host, Setup, module, path_str};

const MODULE: &str = include_str!("../../src/bench/soak_module.py");
const PEER: &str = include_str!("../../src/bench/soak_peer.py");

const RESTARTS: usize = 50;
const TOGGLES: usize = 25;
const STARTED: Duration = Duration::from_secs(90);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counts {
    fds: usize,
    threads: usize,
}

fn counts(pid: i32) -> Counts {
    let entries = |what: &str| std::fs::read_dir(format!("/proc/{pid}/{what}")).unwrap().count();
    Counts { fds: entries("fd"), threads: entries("task") }
}

/// The counts once unchanged for half a second: a module just loaded may
/// still be opening its socket pair and starting its threads.
fn steady_counts(host: &Host) -> Counts {
    let deadline = Instant::now() + Duration::from_secs(30);
    let (mut last, mut same) = (counts(host.pid()), 0);
    while same < 5 {
        assert!(Instant::now() < deadline, "the host's counts never settled\n{}", host.stderr_so_far());
        std::thread::sleep(Duration::from_millis(100));
        let now = counts(host.pid());
        same = if now == last { same + 1 } else { 0 };
        last = now;
    }
    last
}

/// Waits for the counts to be back at `before`; the deadline only tells a
/// leak (counts that stay above) from threads still on their way out.
fn assert_back_to(host: &Host, before: Counts, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = counts(host.pid());
        if now == before {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "after {what} the host has {now:?}, where it had {before:?} before\n{}",
            host.stderr_so_far()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn soak(isolation: &str) {
    let setup = Setup::new();
    setup.module("soak", MODULE).module("peer", PEER);
    // Outside the setup's folder, which goes with the host.
    let kept = tempfile::tempdir().unwrap();
    let calls = kept.path().join("remote-calls");
    let config = format!("isolation = {isolation:?}\n[modules.peer.options]\ncount_file = {:?}", path_str(&calls));
    let host = setup.config(&config).start(&[]);
    host.wait_started(STARTED);
    host.wait_for_state("soak", "running", STARTED);
    host.wait_for_state("peer", "running", STARTED);
    let before = steady_counts(&host);
    for cycle in 1..=RESTARTS {
        host.ctl(&["restart", "soak"]);
        assert_eq!(host.module_status("soak")["state"], "running", "after restart {cycle}");
    }
    assert_back_to(&host, before, &format!("{RESTARTS} restarts"));
    for cycle in 1..=TOGGLES {
        host.ctl(&["disable", "soak"]);
        host.ctl(&["enable", "soak"]);
        assert_eq!(host.module_status("soak")["state"], "running", "after enable {cycle}");
    }
    assert_back_to(&host, before, &format!("{RESTARTS} restarts and {TOGGLES} disable/enable cycles"));
    host.assert_witness_alive(Duration::from_secs(10));
    let (finished, report) = host.stop();
    assert_eq!(finished.code(), 0, "{finished}");
    for name in ["soak", "peer", "witness"] {
        let status = module(&report, name);
        assert_eq!(status["state"], "stopped", "{name}: {report}");
        assert!(status["error"].is_null(), "{name}: {report}");
        assert_eq!(status["leftover_threads"].as_array().unwrap().len(), 0, "{name}: {report}");
    }
    assert_eq!(module(&report, "soak")["restarts"], RESTARTS as u64, "{report}");
    assert_eq!(report["finalized"], true, "{report}");
    // The peer's remote() calls reached the module across its restarts.
    let answered: u64 = std::fs::read_to_string(&calls).unwrap().trim().parse().unwrap();
    assert!(answered > 0, "soak never answered the peer's remote() calls\n{finished}");
}

#[test]
fn restarts_leave_no_descriptor_or_thread_behind_in_a_shared_interpreter() {
    soak("shared");
}

#[test]
fn restarts_leave_no_descriptor_or_thread_behind_in_the_main_interpreter() {
    soak("main");
}

#[test]
fn restarts_leave_no_descriptor_or_thread_behind_in_an_own_gil_interpreter() {
    if isolations().iter().any(|i| i == "own-gil") {
        soak("own-gil");
        return;
    }
    // Before 3.12 there is no own-GIL interpreter: the host refuses the config.
    let setup = Setup::new();
    setup.module("soak", MODULE);
    let finished = setup.config("isolation = \"own-gil\"").start(&[]).finish();
    assert_eq!(finished.code(), 2, "{finished}");
    assert!(finished.stderr.contains("own-gil needs "), "{finished}");
}

/// Counts, when it stops, the host's sys.stdout/sys.stderr stand-ins still
/// alive in the process after a collection (2.7 has one garbage collector
/// for every interpreter, so it sees the ended ones' objects too).
const CENSUS: &str = r#"
import gc
import pyhost


class Census(pyhost.Module):
    OPTIONS = {'count_file': ''}

    def serve(self):
        self.stopping.wait()
        gc.collect()
        alive = sum(1 for o in gc.get_objects() if type(o).__name__ == '_HostStream')
        with open(self.get_option('count_file'), 'w') as out:
            out.write(str(alive))
"#;

/// An ended interpreter must not leave pyhost's package behind. A reference
/// cycle through sys.stdout did on 2.7, whose sub-interpreters are not
/// collected when they end: about 22 KiB per restart, the whole module.
#[test]
fn restarts_leave_no_stream_of_an_ended_interpreter_behind() {
    const CYCLES: usize = 20;
    let setup = Setup::new();
    setup.module("soak", MODULE).module("census", CENSUS);
    let kept = tempfile::tempdir().unwrap();
    let count = kept.path().join("streams");
    let config = format!(
        "isolation = \"shared\"\n[modules.census]\nisolation = \"main\"\n[modules.census.options]\ncount_file = {:?}",
        path_str(&count)
    );
    let host = setup.config(&config).start(&[]);
    host.wait_started(STARTED);
    host.wait_for_state("soak", "running", STARTED);
    for cycle in 1..=CYCLES {
        host.ctl(&["restart", "soak"]);
        assert_eq!(host.module_status("soak")["state"], "running", "after restart {cycle}");
    }
    let (finished, report) = host.stop();
    assert_eq!(finished.code(), 0, "{finished}");
    assert_eq!(module(&report, "census")["state"], "stopped", "{report}");
    let alive: usize = std::fs::read_to_string(&count).unwrap().trim().parse().unwrap();
    // Two per interpreter still alive (main, soak's, the witness's) at most;
    // a leak keeps two per restart.
    assert!(alive <= 6, "{alive} host streams alive after {CYCLES} restarts\n{finished}");
}
