//! Operator mistakes and unsafe files, refused before anything runs:
//! code others can write (strict modes), `module_dirs = ["."]`, durations
//! that overflow, and typos in the config (issue 8, items 17-20).
//!
//! Each refused case has a module that leaves a marker file when it is
//! imported (by the placement probe or by the load), so "nothing ran" is
//! checked, not assumed.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::{self, Finished, pyhost};
use crate::harness::{Setup, module, path_str};

/// A module that leaves `marker` behind as soon as it is imported.
fn marker_module(marker: &Path) -> String {
    format!("import pyhost\nopen({marker:?}, 'w').close()\n\n\nclass Marker(pyhost.Module):\n    pass\n")
}

/// Setup with the witness and `marker`, a module whose import leaves a file.
fn setup_with_marker() -> (Setup, PathBuf) {
    let setup = Setup::new();
    let marker = setup.dir.path().join("marker-ran");
    setup.module("marker", &marker_module(&marker));
    (setup, marker)
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The config the harness would write (witness options included), with
/// `top` among the top-level keys and `tables` after them.
fn write_config(setup: &Setup, top: &str, tables: &str) -> PathBuf {
    let path = setup.config_path();
    let tick = if top.contains("tick_interval") { "" } else { "tick_interval = 0.1\n" };
    let text = format!(
        "module_dirs = [{modules:?}]\nenable = \"all\"\n{tick}{top}\n\
         [modules.witness.options]\nbeat_file = {beats:?}\n{tables}\n",
        modules = setup.modules,
        beats = setup.beat_file,
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// `pyhost run --config CONFIG ARGS...`, expected to refuse to start.
/// With `--for 5` unless ARGS has its own, so that a host that wrongly
/// starts still ends and the test fails rather than hangs.
fn run_refused(setup: &Setup, config: &Path, args: &[&str], marker: &Path) -> Finished {
    let mut command = pyhost(["run", "--config"]);
    command.arg(config).args(args);
    if !args.contains(&"--for") {
        command.args(["--for", "5"]);
    }
    let finished = common::run(command);
    assert_eq!(finished.code(), 2, "expected a refusal (exit 2):\n{finished}");
    assert!(!finished.stderr.contains("panicked") && !finished.stderr.contains("backtrace"), "{finished}");
    assert!(!marker.exists(), "a module was imported before the refusal:\n{finished}");
    assert!(!setup.beat_file.exists(), "the witness ran before the refusal:\n{finished}");
    finished
}

fn assert_names(finished: &Finished, parts: &[&str]) {
    for part in parts {
        assert!(finished.stderr.contains(part), "stderr does not say {part:?}:\n{finished}");
    }
}

// ---- 17: strict modes ----------------------------------------------------

#[test]
fn a_module_folder_others_can_write_is_refused_with_the_fix() {
    let (setup, marker) = setup_with_marker();
    let folder = setup.modules.join("marker");
    chmod(&folder, 0o777);
    let config = write_config(&setup, "", "");
    let finished = run_refused(&setup, &config, &[], &marker);
    let folder = path_str(&folder);
    assert_names(
        &finished,
        &[
            &format!("module `marker`: {folder} is writable by group and others (mode 0777)"),
            &format!("fix: chmod go-w {folder}"),
            "strict_modes = false",
            "--no-strict-modes",
        ],
    );
}

#[test]
fn a_module_py_others_can_write_is_refused_with_the_fix() {
    let (setup, marker) = setup_with_marker();
    let file = setup.modules.join("marker/module.py");
    chmod(&file, 0o646);
    let config = write_config(&setup, "", "");
    let finished = run_refused(&setup, &config, &[], &marker);
    let file = path_str(&file);
    assert_names(&finished, &[&format!("{file} is writable by others (mode 0646)"), &format!("chmod o-w {file}")]);
}

#[test]
fn a_module_directory_others_can_write_is_refused_with_the_fix() {
    let (setup, marker) = setup_with_marker();
    chmod(&setup.modules, 0o775);
    let config = write_config(&setup, "", "");
    let finished = run_refused(&setup, &config, &[], &marker);
    let dir = path_str(&setup.modules);
    assert_names(
        &finished,
        &[&format!("module directory: {dir} is writable by its group (mode 0775)"), &format!("chmod g-w {dir}")],
    );
}

/// A python_path folder with a .pth whose `import` line runs code at start.
fn site_with_pth(setup: &Setup, pth_marker: &Path) -> (PathBuf, PathBuf) {
    let site = setup.dir.path().join("site");
    std::fs::create_dir(&site).unwrap();
    let pth = site.join("evil.pth");
    std::fs::write(&pth, format!("import os; open({pth_marker:?}, 'w').close()\n")).unwrap();
    (site, pth)
}

#[test]
fn a_python_path_folder_or_pth_file_others_can_write_is_refused() {
    let (setup, marker) = setup_with_marker();
    let pth_marker = setup.dir.path().join("pth-ran");
    let (site, pth) = site_with_pth(&setup, &pth_marker);
    let config = write_config(&setup, &format!("python_path = [{site:?}]"), "");

    chmod(&site, 0o777);
    let finished = run_refused(&setup, &config, &[], &marker);
    assert_names(&finished, &[&format!("python_path folder: {} is writable", path_str(&site))]);
    assert!(!pth_marker.exists(), "the .pth ran:\n{finished}");

    chmod(&site, 0o755);
    chmod(&pth, 0o666);
    let finished = run_refused(&setup, &config, &[], &marker);
    let pth = path_str(&pth);
    assert_names(&finished, &[&format!("{pth} is writable by group and others"), &format!("chmod go-w {pth}")]);
    assert!(!pth_marker.exists(), "the .pth ran:\n{finished}");

    // The same path given with --python-path is checked too.
    let config = write_config(&setup, "", "");
    let finished = run_refused(&setup, &config, &["--python-path", &path_str(&site)], &marker);
    assert_names(&finished, &[&format!("{pth} is writable")]);
}

#[test]
fn strict_modes_off_loads_with_a_warning_for_each_path() {
    for how in ["config", "flag"] {
        let (setup, marker) = setup_with_marker();
        let pth_marker = setup.dir.path().join("pth-ran");
        let (site, pth) = site_with_pth(&setup, &pth_marker);
        let folder = setup.modules.join("marker");
        chmod(&folder, 0o777);
        chmod(&pth, 0o666);
        let (setup, args): (Setup, &[&str]) = match how {
            "config" => (setup.config(&format!("strict_modes = false\npython_path = [{site:?}]")), &[]),
            _ => (setup.config(&format!("python_path = [{site:?}]")), &["--no-strict-modes"]),
        };
        let host = setup.start(args);
        host.wait_started(Duration::from_secs(60));
        // Checked before stop(), which removes the host's folder.
        assert!(marker.exists() && pth_marker.exists(), "{how}: the module or the .pth did not run");
        let (finished, report) = host.stop();
        assert_eq!(finished.code(), 0, "{finished}");
        assert_eq!(module(&report, "marker")["state"], "stopped", "{how}: {report}");
        for path in [&folder, &pth] {
            let said = format!(": {} is writable", path_str(path));
            assert!(
                finished.stderr.lines().any(|l| l.contains("loading anyway, although") && l.contains(&said)),
                "{how}: no warning for {}:\n{finished}",
                path.display()
            );
        }
    }
}

#[test]
fn ctl_enable_checks_a_module_that_was_not_checked_at_start() {
    let (setup, marker) = setup_with_marker();
    // Only the witness is enabled, so only it is checked at start.
    chmod(&setup.modules.join("marker/module.py"), 0o666);
    let host = setup.start(&["--enable", "witness"]);
    host.wait_started(Duration::from_secs(60));
    let refused = host.ctl_raw(&["enable", "marker"]);
    assert_ne!(refused.code(), 0, "{refused}");
    let text = format!("{}{}", refused.stdout, refused.stderr);
    assert!(text.contains("marker/module.py is writable by group and others"), "{refused}");
    assert!(!marker.exists(), "the module was imported after the refusal");
    // A restart loads a module never enabled too, so it checks the same.
    let refused = host.ctl_raw(&["restart", "marker"]);
    assert_ne!(refused.code(), 0, "{refused}");
    assert!(format!("{}{}", refused.stdout, refused.stderr).contains("writable by group and others"), "{refused}");
    assert!(!marker.exists(), "the module was imported after the restart's refusal");
    host.assert_witness_alive(Duration::from_secs(10));
    let (finished, report) = host.stop();
    assert_eq!(finished.code(), 0, "{finished}");
    assert_eq!(module(&report, "marker")["state"], "disabled", "{report}");
}

// ---- 18: relative paths ---------------------------------------------------

/// Runs `pyhost run --config CONFIG` in `cwd` until the witness beats, then
/// stops it through the control socket and returns the report.
fn run_from(setup: &Setup, cwd: &Path, config: &str) -> serde_json::Value {
    let mut command: Command = pyhost(["run", "--config", config]);
    command.current_dir(cwd).arg("--control").arg(&setup.socket).arg("--report").arg(&setup.report);
    let mut running = common::spawn(command);
    let deadline = Instant::now() + Duration::from_secs(60);
    let beats = || std::fs::read_to_string(&setup.beat_file).ok().and_then(|t| t.trim().parse::<u64>().ok());
    while beats().unwrap_or(0) < 2 {
        if running.child.try_wait().unwrap().is_some() {
            panic!("pyhost exited early:\n{}", running.wait());
        }
        assert!(Instant::now() < deadline, "the witness never beat:\n{}", running.stderr_so_far());
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut stop = pyhost(["ctl"]);
    stop.arg(&setup.socket).arg("stop");
    assert_eq!(common::run(stop).code(), 0);
    let finished = running.wait();
    assert_eq!(finished.code(), 0, "{finished}");
    std::fs::remove_file(&setup.beat_file).unwrap();
    serde_json::from_str(&std::fs::read_to_string(&setup.report).unwrap()).unwrap()
}

#[test]
fn module_dirs_dot_means_the_config_files_folder_wherever_pyhost_runs() {
    let setup = Setup::new();
    // The config sits in the module directory itself and names it ".".
    std::fs::write(
        setup.modules.join("pyhost.toml"),
        format!(
            "module_dirs = [\".\"]\nenable = \"all\"\n[modules.witness.options]\nbeat_file = {:?}\n",
            setup.beat_file
        ),
    )
    .unwrap();
    for (cwd, config) in
        [(setup.modules.clone(), "pyhost.toml"), (setup.dir.path().to_path_buf(), "modules/pyhost.toml")]
    {
        let report = run_from(&setup, &cwd, config);
        assert_eq!(module(&report, "witness")["state"], "stopped", "from {}: {report}", cwd.display());
    }
}

// ---- 19: durations -------------------------------------------------------

#[test]
fn an_overflowing_duration_is_refused_at_start_naming_the_key() {
    let range = "must be a number of seconds from 0 to 31536000 (365 days)";
    let cases: [(&str, &str, &str, &[&str]); 7] = [
        ("shutdown_timeout", "shutdown_timeout = 1e19", "", &[]),
        ("tick_interval", "tick_interval = 1e19", "", &[]),
        ("restart.backoff", "", "[restart]\npolicy = \"on-failure\"\nbackoff = 1e19", &[]),
        ("shutdown_timeout", "shutdown_timeout = nan", "", &[]),
        ("shutdown_timeout", "shutdown_timeout = inf", "", &[]),
        ("tick_interval", "tick_interval = -1", "", &[]),
        ("--for", "", "", &["--for", "1e19"]),
    ];
    for (key, top, tables, args) in cases {
        let (setup, marker) = setup_with_marker();
        let config = write_config(&setup, top, tables);
        let finished = run_refused(&setup, &config, args, &marker);
        assert_names(&finished, &[&format!("{key} {range}")]);
    }
}

// ---- 20: typos ---------------------------------------------------------------

#[test]
fn a_typo_in_a_module_section_or_the_log_level_names_the_close_match() {
    let (setup, marker) = setup_with_marker();
    let config = write_config(&setup, "", "[modules.witnes]\nrestart = \"never\"");
    let finished = run_refused(&setup, &config, &[], &marker);
    assert_names(&finished, &["unknown module `witnes` in [modules.witnes]; did you mean `witness`?"]);

    let config = write_config(&setup, "log_level = \"inf\"", "");
    let finished = run_refused(&setup, &config, &[], &marker);
    assert_names(&finished, &["unknown variant `inf`", "did you mean `info`?"]);

    let config = write_config(&setup, "", "");
    let finished = run_refused(&setup, &config, &["--enable", "witness,markr"], &marker);
    assert_names(&finished, &["module `markr` is enabled but not found", "did you mean `marker`?"]);
}
