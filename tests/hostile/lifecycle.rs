//! A module's lifecycle under modules that do not cooperate.

use std::time::{Duration, Instant};

use crate::harness::{Host, Setup, module};

const STARTED: Duration = Duration::from_secs(90);

/// Polls `probe` until it is true; a generous deadline only detects a hang.
fn wait_until(host: &Host, what: &str, mut probe: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while !probe() {
        assert!(Instant::now() < deadline, "{what} never happened\n{}", host.stderr_so_far());
        std::thread::sleep(Duration::from_millis(50));
    }
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
