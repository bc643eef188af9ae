//! Ending interpreters and finalizing Python after modules left objects in
//! CPython's process-wide state: whatever a module imported or called, the
//! host ends cleanly, in the default isolation.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{Host, Setup, is_py2, module, path_str};

const STARTED: Duration = Duration::from_secs(90);

/// Keyword calls into Argument Clinic functions of extension modules. Where
/// such a module is built outside libpython (every one in a shared-libpython
/// build such as pyenv's), the first keyword call makes a keyword tuple in the
/// calling interpreter and keeps it in static storage, and Py_Finalize frees
/// it: on 3.12.0-3.12.3 an own-GIL interpreter's tuple went to the main
/// interpreter's allocator ("double free or corruption" at exit, no report;
/// CPython gh-119213). asyncio's import makes one (ssl calls
/// _ssl.txt2obj(name=...)), which is how py3-fixtures/modern_asyncio_serve
/// crashed the host on 3.12.1. Each load writes the calls it made and its
/// generation to the file `out`.
const KEYWORD_CALLS: &str = r#"
import json
import os
import ssl
import sys
import zlib

import pyhost


class KeywordCalls(pyhost.Module):
    OPTIONS = {'out': ''}

    def serve(self):
        made = ['ssl']
        if sys.version_info >= (3, 5):
            import asyncio
            import math
            assert math.isclose(1.0, 1.0 + 1e-12, rel_tol=1e-9)
            made.append('math.isclose(rel_tol=)')
            packed = zlib.compressobj(level=1, wbits=15)
            assert zlib.decompress(packed.compress(b'x' * 100) + packed.flush()) == b'x' * 100
            made.append('zlib.compressobj(level=, wbits=)')
            # Running a loop only from 3.10: 3.9's _asyncio caches the running
            # loop's holder process-wide, keyed by a thread-state id that each
            # interpreter counts from 1, and the holder dies with its
            # interpreter; after a restart the next instance's thread can read
            # the dead one ("Cannot run the event loop while another loop is
            # running", seen once in CI under load). The import is what makes
            # ssl's keyword tuple, which is this test's point.
            if sys.version_info >= (3, 10):
                loop = asyncio.new_event_loop()
                try:
                    assert loop.run_until_complete(asyncio.sleep(0, result='slept')) == 'slept'
                finally:
                    loop.close()
            made.append('asyncio')
        out = self.get_option('out')
        generation = 1
        if os.path.exists(out):
            with open(out) as f:
                generation = json.load(f)['generation'] + 1
        with open(out + '.tmp', 'w') as f:
            json.dump({'made': made, 'generation': generation}, f)
        os.rename(out + '.tmp', out)
        self.stopping.wait()
"#;

fn read_result(host: &Host, path: &Path, generation: u64) -> Value {
    let deadline = Instant::now() + STARTED;
    loop {
        if let Some(result) = std::fs::read_to_string(path).ok().and_then(|t| serde_json::from_str::<Value>(&t).ok())
            && result["generation"] == generation
        {
            return result;
        }
        let status = host.module_status("keyword_calls");
        assert!(!matches!(status["state"].as_str(), Some("failed" | "unloadable")), "{status}");
        assert!(Instant::now() < deadline, "no result {generation} at {}\n{}", path.display(), host.stderr_so_far());
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn keyword_calls_into_extension_modules_end_cleanly_in_the_default_isolation() {
    let setup = Setup::new();
    setup.module("keyword_calls", KEYWORD_CALLS);
    let out = setup.dir.path().join("keyword_calls.json");
    // No isolation set: own-gil on 3.12+, shared before.
    let host = setup.config(&format!("[modules.keyword_calls.options]\nout = {:?}", path_str(&out))).start(&[]);
    host.wait_started(STARTED);
    let first = read_result(&host, &out, 1);
    let expected: Vec<&str> = if is_py2() {
        vec!["ssl"]
    } else {
        vec!["ssl", "math.isclose(rel_tol=)", "zlib.compressobj(level=, wbits=)", "asyncio"]
    };
    assert_eq!(first["made"], serde_json::json!(expected), "{first}");
    // A restart ends that interpreter while its tuples stay in static
    // storage, and the next one uses them.
    host.ctl(&["restart", "keyword_calls"]);
    read_result(&host, &out, 2);
    host.assert_witness_alive(Duration::from_secs(10));
    let isolation = host.module_status("keyword_calls")["isolation"].clone();
    // Before the fix (3.12.1, own-gil): the host aborted in Py_Finalize with
    // "free(): invalid pointer" and wrote no report.
    let (finished, report) = host.stop();
    assert_eq!(finished.code(), 0, "{finished}");
    let keyword_calls = module(&report, "keyword_calls");
    assert_eq!(keyword_calls["state"], "stopped", "{report}");
    assert!(keyword_calls["error"].is_null(), "{report}");
    assert_eq!(module(&report, "witness")["state"], "stopped", "{report}");
    assert_eq!(report["finalized"], true, "no thread was left, so Python is finalized: {report}");
    let default = if crate::common::isolations().iter().any(|i| i == "own-gil") { "own-gil" } else { "shared" };
    assert_eq!(isolation, default, "{report}");
    for sign in ["free(", "double free", "corruption", "Fatal Python error"] {
        assert!(!finished.stderr.contains(sign), "{sign}: {finished}");
    }
}
