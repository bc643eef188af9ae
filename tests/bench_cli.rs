//! `pyhost bench` runs and reports every figure, with a ratio for each
//! target. No timing is asserted here (shared machines are noisy); the
//! figures themselves are in the README.

mod common;

use common::{isolations, pyhost, run};

#[test]
fn bench_reports_every_figure_as_json() {
    let finished = run(pyhost(["bench", "--json", "--calls", "2000", "--work", "20000"]));
    assert_eq!(finished.code(), 0, "{finished}");
    let report: serde_json::Value = serde_json::from_str(&finished.stdout).unwrap();
    let call = &report["call"];
    assert!(call["baseline_ns"].as_f64().unwrap() > 0.0 && call["pyhost_ns"].as_f64().unwrap() > 0.0, "{report}");
    assert!(call["ratio"].as_f64().unwrap() > 0.0);
    let modes = isolations();
    let started: Vec<&str> =
        report["startup"].as_array().unwrap().iter().map(|s| s["isolation"].as_str().unwrap()).collect();
    let expected: Vec<&str> = modes.iter().map(String::as_str).filter(|m| *m != "main").collect();
    assert_eq!(started, expected);
    assert_eq!(report["memory"].as_array().unwrap().len(), modes.len());
    let own_gil = modes.iter().any(|m| m == "own-gil");
    assert_eq!(report["parallel"].is_object(), own_gil, "{report}");
    if own_gil {
        assert!(report["parallel"]["speedup"].as_f64().unwrap() > 0.0);
    }
}

#[test]
fn bench_text_names_the_targets() {
    let finished = run(pyhost(["bench", "--calls", "2000", "--work", "20000"]));
    assert_eq!(finished.code(), 0, "{finished}");
    assert!(finished.stdout.contains("the target of <= 1.15x"), "{finished}");
    assert!(finished.stdout.contains("resident memory per loaded module"), "{finished}");
}
