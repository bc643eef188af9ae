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

/// The soak's short form, as CI runs it: every isolation of the build, each
/// with its baselines and both kinds of cycles, and the host's descriptors
/// and threads back where they were. Memory figures are not asserted (a few
/// cycles say nothing about growth; the README has the long run).
#[test]
fn bench_soak_measures_every_isolation_against_plain_cpython() {
    let finished = run(pyhost(["bench", "soak", "--cycles", "6", "--toggles", "3", "--every", "2", "--json"]));
    assert_eq!(finished.code(), 0, "{finished}");
    let report: serde_json::Value = serde_json::from_str(&finished.stdout).unwrap();
    let runs = report["runs"].as_array().unwrap();
    let measured: Vec<&str> = runs.iter().map(|r| r["isolation"].as_str().unwrap()).collect();
    assert_eq!(measured, isolations().iter().map(String::as_str).collect::<Vec<_>>(), "{report}");
    for run in runs {
        for (phase, cycles) in [("plain", 6), ("package", 6), ("restart", 6), ("toggle", 3)] {
            let phase = &run[phase];
            assert_eq!(phase["cycles"], cycles, "{run}");
            assert!(phase["kib_per_cycle"].is_f64(), "{run}");
            // Samples at cycle 0, every 2 cycles, and the last.
            let sampled: Vec<u64> =
                phase["samples"].as_array().unwrap().iter().map(|s| s["cycle"].as_u64().unwrap()).collect();
            let expected: Vec<u64> = (0..=cycles).filter(|c| c % 2 == 0 || *c == cycles).collect();
            assert_eq!(sampled, expected, "{run}");
            assert!(phase["samples"][0]["rss_kib"].as_u64().unwrap() > 0, "{run}");
            assert_eq!(phase["before"], phase["after"], "descriptors or threads grew: {run}");
        }
        assert!(run["remote_calls"].as_u64().unwrap() > 0, "{run}");
    }
    let text = run(pyhost(["bench", "soak", "--cycles", "2", "--toggles", "1", "--isolation", "shared"]));
    assert_eq!(text.code(), 0, "{text}");
    assert!(text.stdout.contains("plain CPython") && text.stdout.contains("ctl restart"), "{text}");
}

/// `pyhost bench notify`: every sub-interpreter isolation of the build
/// measured, both paths, the ratios and the target; every event counted
/// (the bench fails if a module missed one). No figure is asserted.
#[test]
fn bench_notify_reports_both_paths_per_isolation() {
    let finished = run(pyhost(["bench", "notify", "--json", "--modules", "3", "--events", "300", "--rounds", "1"]));
    assert_eq!(finished.code(), 0, "{finished}");
    let report: serde_json::Value = serde_json::from_str(&finished.stdout).unwrap();
    assert_eq!(report["modules"], 3);
    assert_eq!(report["target"], 2.0);
    let measured: Vec<&str> =
        report["runs"].as_array().unwrap().iter().map(|r| r["isolation"].as_str().unwrap()).collect();
    let modes = isolations();
    let expected: Vec<&str> = modes.iter().map(String::as_str).filter(|m| *m != "main").collect();
    assert_eq!(measured, expected, "{report}");
    for run in report["runs"].as_array().unwrap() {
        for key in ["baseline_per_s", "pyhost_per_s", "ratio", "baseline_cpu_ns", "pyhost_cpu_ns", "cpu_ratio"] {
            assert!(run[key].as_f64().unwrap() > 0.0, "{key}: {report}");
        }
    }
    let text = run(pyhost(["bench", "notify", "--modules", "2", "--events", "100", "--rounds", "1"]));
    assert_eq!(text.code(), 0, "{text}");
    assert!(text.stdout.contains("the target of >= 2x") && text.stdout.contains("one GIL hold per event"), "{text}");
}
