//! The harness itself: a host with only the witness runs, beats, answers
//! `ctl`, and stops with a report.

use std::time::Duration;

use crate::harness::{Setup, module};

#[test]
fn the_witness_beats_and_the_host_stops_cleanly() {
    let host = Setup::new().start(&[]);
    host.wait_started(Duration::from_secs(60));
    host.assert_witness_alive(Duration::from_secs(10));
    assert_eq!(host.module_status("witness")["state"], "running");
    let (finished, report) = host.stop();
    assert_eq!(finished.code(), 0, "{finished}");
    assert_eq!(module(&report, "witness")["state"], "stopped", "{report}");
}
