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

/// `pyhost bench scale` on a few modules: every figure of the run, and on
/// own-gil the parallel start beside CPython's own, the baseline's bare
/// interpreters made on as many threads at once (the bench checks that it
/// made all of them); before 3.12 neither, as nothing starts in parallel.
/// Only that each figure is there is asserted, no timing.
#[test]
fn bench_scale_sets_the_parallel_start_beside_bare_interpreters() {
    let finished = run(pyhost(["bench", "scale", "--json", "--modules", "4", "--restarts", "1"]));
    assert_eq!(finished.code(), 0, "{finished}");
    let report: serde_json::Value = serde_json::from_str(&finished.stdout).unwrap();
    let runs = report["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{report}");
    let run4 = &runs[0];
    assert_eq!(run4["modules"], 4);
    for figure in ["start_s", "start_warm_s", "start_without_probe_s", "rss_mib_per_module", "shutdown_s", "restart_ms"]
    {
        assert!(run4[figure]["pyhost"].as_f64().unwrap() > 0.0, "{figure}: {report}");
        assert!(run4[figure]["baseline"].as_f64().unwrap() > 0.0, "{figure}: {report}");
    }
    let own_gil = report["isolation"] == "own-gil";
    assert_eq!(own_gil, isolations()[0] == "own-gil", "the default isolation: {report}");
    assert_eq!(run4["serial_start"].is_object(), own_gil, "{report}");
    let bare = &run4["bare_parallel_start"];
    assert_eq!(bare.is_object(), own_gil, "{report}");
    if own_gil {
        assert_eq!(bare["jobs"], report["cpus"], "{report}");
        for key in ["parallel_s", "serial_s", "ratio"] {
            assert!(bare[key].as_f64().unwrap() > 0.0, "{key}: {report}");
        }
        // The serial side is the start's own baseline, measured once.
        assert_eq!(bare["serial_s"], run4["start_s"]["baseline"], "{report}");
    }
    // Text, with no restart cycle (the baseline's answer has no median then).
    let text = run(pyhost(["bench", "scale", "--modules", "1", "--restarts", "0"]));
    assert_eq!(text.code(), 0, "{text}");
    assert!(text.stdout.contains("restart                 not measured"), "{text}");
    let parallel_rows = text.stdout.contains("own-gil modules started in parallel")
        && text.stdout.contains("bare own-gil interpreters made on");
    assert_eq!(parallel_rows, own_gil, "{text}");
}
