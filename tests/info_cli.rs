//! `pyhost info` reports the interpreter pyhost really runs.

mod common;

use std::process::Command;

use common::{info, pyhost, run};

/// Asks the interpreter named in the report for its own version.
fn version_of(executable: &str) -> String {
    let mut command = Command::new(executable);
    command.args(["-c", "import sys; print('%d.%d.%d' % tuple(sys.version_info[:3]))"]);
    let finished = run(command);
    assert_eq!(finished.code(), 0, "{finished}");
    finished.stdout.trim().to_string()
}

#[test]
fn json_matches_the_interpreter_it_names() {
    let info = info();
    let version = info["version"].as_str().unwrap();
    assert_eq!(version, version_of(info["executable"].as_str().unwrap()));
    assert!(
        info["runtime_version"].as_str().unwrap().starts_with(version),
        "the loaded libpython is not the one built against: {info}"
    );
    for key in ["include_dir", "lib_dir", "library"] {
        let path = info[key].as_str().unwrap();
        assert!(std::path::Path::new(path).exists(), "{key} {path} does not exist");
    }
    // scripts/test-all says which interpreter each build must be against.
    // A trailing "t" (3.13t) asks for the free-threaded build of that version.
    if let Ok(expected) = std::env::var("PYHOST_EXPECT_VERSION") {
        let free_threaded = expected.ends_with('t');
        let expected = expected.trim_end_matches('t');
        assert!(
            version == expected || version.starts_with(&format!("{expected}.")),
            "built against {version}, expected {expected}"
        );
        assert_eq!(info["gil_disabled"], free_threaded, "free-threaded or not, as test-all asked: {info}");
    }
}

#[test]
fn isolation_modes_follow_the_version() {
    let info = info();
    let hex = info["hexversion"].as_u64().unwrap();
    let modes: Vec<&str> = info["isolation_modes"].as_array().unwrap().iter().map(|m| m.as_str().unwrap()).collect();
    // 3.12.0-3.12.3 refuse own-gil: their own-GIL interpreters double-free
    // as they end (compat/util.c, ph_own_gil_refusal).
    let own_gil = hex >= 0x030c_0400;
    assert_eq!(modes.contains(&"own-gil"), own_gil, "{modes:?} for {hex:#x}");
    assert!(modes.contains(&"shared") && modes.contains(&"main"));
    assert_eq!(info["default_isolation"], if own_gil { "own-gil" } else { "shared" });
}

#[test]
fn text_output_names_the_version() {
    let finished = run(pyhost(["info"]));
    assert_eq!(finished.code(), 0, "{finished}");
    let version = info()["version"].as_str().unwrap().to_string();
    let first = finished.stdout.lines().next().unwrap_or_default();
    assert_eq!(first, format!("pyhost {}, running Python {version}", env!("CARGO_PKG_VERSION")));
}
