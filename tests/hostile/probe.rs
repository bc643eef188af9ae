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
/// (`pyhost __probe`); in the host it is a fine module.
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
fn a_probe_that_dies_mid_stream_leaves_the_rest_to_the_fallback() {
    let setup = Setup::new();
    setup.module("a_fine", FINE).module("b_kills_the_probe", KILLS_THE_PROBE).module("c_fine", FINE);
    let host = setup.start(&[]);
    host.wait_started(LONG);
    for name in ["a_fine", "b_kills_the_probe", "c_fine", "witness"] {
        host.wait_for_state(name, "running", LONG);
    }
    host.assert_witness_alive(Duration::from_secs(10));
    let (finished, _) = host.stop();
    assert_eq!(finished.code(), 0, "{finished}");
    assert!(finished.stderr.contains("placement probe failed"), "{finished}");
    assert!(finished.stderr.contains("SIGKILL"), "{finished}");
    assert!(finished.stderr.contains("has no verdict on, after the others"), "{finished}");
    assert!(!finished.stderr.contains("Fatal Python error"), "{finished}");
}
