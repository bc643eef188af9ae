//! The Python side's unit tests (port/tests/test_rules.py: a positive, a
//! negative and a shadowed-name case per rule, and the rewrites;
//! port/tests/test_mappings.py: every rename and move of the rule table
//! against the real 2.7, 3.9, 3.11 and 3.13), run under the Python 3 that
//! `pyhost port` itself uses with this build.

use std::process::Command;

mod common;

#[test]
fn every_rule_has_passing_unit_tests() {
    let tool = pyhost::port::tool::locate().unwrap_or_else(|e| panic!("{e}"));
    let root = env!("CARGO_MANIFEST_DIR");
    let mut command = Command::new(&tool.python);
    command
        .args(["-E", "-s", "-B", "-c"])
        .arg("import sys; sys.path[:0] = sys.argv[1:3]; del sys.argv[1:3]; import unittest; unittest.main(module=None)")
        .arg(format!("{root}/port"))
        .arg(&tool.tools)
        .args(["discover", "-s", &format!("{root}/port/tests"), "-t", &format!("{root}/port"), "-v"])
        // test_mappings.py runs the rules' renames under every interpreter scripts/install-pythons put there.
        .env("PYHOST_PYTHONS", pyhost::cache::dir().unwrap().join("pyhost/pythons.txt"));
    let finished = common::run(command);
    assert_eq!(finished.code(), 0, "{finished}");
    let ran = finished.stderr.lines().find_map(|l| l.strip_prefix("Ran ")).expect("unittest's summary");
    let count: usize = ran.split_whitespace().next().unwrap().parse().unwrap();
    assert!(count >= 3 * pyhost::port::rules::python().count(), "only {count} tests ran:\n{finished}");
    assert!(!finished.stderr.contains("skipped"), "a test was skipped:\n{finished}");
}
