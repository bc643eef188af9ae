//! Free-threaded CPython (3.13t): an extension module that does not declare
//! Py_MOD_GIL_NOT_USED turns the GIL on when it is imported, in its
//! interpreter and every interpreter sharing that GIL; the report says so
//! per module, naming the extension. Builds with a GIL report nothing.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common;
use crate::harness::{Setup, module};

/// rustext (PyO3 0.27, which does not declare the module free-threading-safe
/// unless asked to) on 3.x; 2.7 has no rustext.
const NEEDS_GIL: &str = r#"
import sys
import pyhost
if sys.version_info[0] >= 3:
    import rustext


class NeedsGil(pyhost.Module):
    pass
"#;

/// Extension modules of the standard library, which declare that they run without the GIL.
const DECLARES_FREE: &str = r#"
import _json
import math
import pyhost


class DeclaresFree(pyhost.Module):
    pass
"#;

const NEIGHBOUR: &str = r#"
import pyhost


class Neighbour(pyhost.Module):
    pass
"#;

fn free_threaded() -> bool {
    common::info()["gil_disabled"].as_bool().unwrap()
}

fn gil(status: &Value) -> Value {
    status.get("gil").cloned().unwrap_or(Value::Null)
}

#[test]
fn the_report_names_the_extension_that_turned_the_gil_on() {
    let setup = Setup::new().config(
        "python_path = [\"{cache}/pyhost/site/{python_version}\"]\n[modules.shared_neighbour]\nisolation = \"shared\"",
    );
    setup.module("needs_gil", NEEDS_GIL).module("declares_free", DECLARES_FREE).module("shared_neighbour", NEIGHBOUR);
    let host = setup.start(&[]);
    host.wait_started(Duration::from_secs(120));
    for name in ["needs_gil", "declares_free", "shared_neighbour"] {
        host.wait_for_state(name, "running", Duration::from_secs(60));
    }
    let status = host.ctl(&["status"]);
    let (finished, report) = host.stop();
    assert_eq!(finished.code(), 0, "{finished}");

    if !free_threaded() {
        // A build with a GIL: nothing to say, and the key is absent.
        for name in ["witness", "needs_gil", "declares_free", "shared_neighbour"] {
            assert_eq!(gil(module(&status, name)), Value::Null, "{status}");
            assert_eq!(gil(module(&report, name)), Value::Null, "{report}");
        }
        assert!(!finished.stderr.contains("runs with the GIL"), "{finished}");
        return;
    }

    // rustext refuses a second interpreter, so the probe places needs_gil in
    // main; main's GIL is the one every `shared` interpreter uses.
    assert_eq!(module(&report, "needs_gil")["isolation"], "main", "{report}");
    let turned_on = json!({ "enabled": true, "because": ["rustext"] });
    let off = json!({ "enabled": false, "because": [] });
    for view in [&status, &report] {
        assert_eq!(gil(module(view, "needs_gil")), turned_on, "{view}");
        // Own-GIL interpreters have a GIL of their own, still off; _json and
        // math declared Py_MOD_GIL_NOT_USED, and so did _pyhost.
        assert_eq!(gil(module(view, "declares_free")), off, "{view}");
        assert_eq!(gil(module(view, "witness")), off, "{view}");
    }
    // The shared interpreter has nothing of its own that needs the GIL, yet
    // runs with it: needs_gil turned on the GIL it shares. Its load may come
    // before needs_gil's, so the report at its stop is the one to read.
    assert_eq!(gil(module(&report, "shared_neighbour")), json!({ "enabled": true, "because": [] }), "{report}");
    assert!(finished.stderr.contains("has been enabled to load module 'rustext'"), "{finished}");
    assert!(finished.stderr.contains("[needs_gil] runs with the GIL: enabled by rustext"), "{finished}");
}
