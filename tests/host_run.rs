//! `pyhost run` and `pyhost ctl` with the fixture modules, driven from the
//! outside: real HTTP on loopback to the CherryPy modules, the control
//! socket, signals, and the JSON report. CherryPy and rustext come from
//! scripts/fetch-fixture-packages (scripts/test-all runs it first).

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{Finished, info, pyhost, run, spawn};
use serde_json::Value;

fn version() -> String {
    common::label()
}

fn is_py2() -> bool {
    version().starts_with("2.")
}

/// Whether scripts/fetch-fixture-packages built rustext for this interpreter:
/// PyO3 0.27 supports CPython 3.7 and later.
fn has_rustext() -> bool {
    let version = version();
    let (major, minor) = version.split_once('.').unwrap();
    major == "3" && minor.trim_end_matches('t').parse::<u32>().unwrap() >= 7
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("py3-fixtures")
}

/// The folder scripts/fetch-fixture-packages fills for this interpreter.
fn site_dir() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache"));
    let dir = cache.join("pyhost/site").join(version());
    assert!(
        dir.is_dir(),
        "MISSING: {} does not exist, so CherryPy and rustext are not there for Python {}; \
         run scripts/fetch-fixture-packages (scripts/test-all does)",
        dir.display(),
        version()
    );
    dir
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A plain HTTP/1.0 GET on loopback: (status, body).
fn http_get(port: u16, path: &str) -> Result<(u16, String), String> {
    let mut stream = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(2))
        .map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").map_err(|e| e.to_string())?;
    let mut response = String::new();
    stream.read_to_string(&mut response).map_err(|e| e.to_string())?;
    let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or("no status line")?;
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Ok((status, body))
}

fn get_json(port: u16, path: &str) -> Value {
    let (status, body) = http_get(port, path).unwrap_or_else(|e| panic!("GET :{port}{path}: {e}"));
    assert_eq!(status, 200, "GET :{port}{path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET :{port}{path} is not JSON ({e}): {body}"))
}

fn wait_for(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ready() {
        assert!(Instant::now() < deadline, "gave up waiting for {what} after {timeout:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn ctl(socket: &Path, args: &[&str]) -> Value {
    let mut command = pyhost(["ctl"]);
    command.arg(socket).arg("--json").args(args);
    let finished = run(command);
    assert_eq!(finished.code(), 0, "ctl {args:?}: {finished}");
    if finished.stdout.trim().is_empty() { Value::Null } else { serde_json::from_str(&finished.stdout).unwrap() }
}

fn module<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["modules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("{name} not in {report}"))
}

fn write_config(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("pyhost.toml");
    std::fs::write(&path, body).unwrap();
    path
}

fn read_report(path: &Path, finished: &Finished) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("no report ({e}):\n{finished}"));
    serde_json::from_str(&text).unwrap()
}

/// The talk's scenario: two CherryPy modules in one process, each on its own
/// port at the same time, and a third on a port already in use, whose
/// os._exit(70) must fail it alone. Then the control socket: state, restart
/// of a failed module, disable, enable, and a clean stop with CherryPy's
/// threads in play.
#[test]
fn cherrypy_modules_serve_side_by_side_and_a_busy_port_fails_alone() {
    let site = site_dir();
    let dir = tempfile::tempdir().unwrap();
    let (rest, dashboard) = (free_port(), free_port());
    let config = write_config(
        dir.path(),
        &format!(
            "module_dirs = [{fixtures:?}]\n\
             enable = [\"rest_api\", \"dashboard\", \"busy_port\", \"echo\", \"fails_once\"]\n\
             python_path = [{site:?}]\n\
             tick_interval = 0.2\n\
             [modules.rest_api.options]\nport = {rest}\n\
             [modules.dashboard.options]\nport = {dashboard}\n\
             [modules.busy_port.options]\nport = {rest}\n",
            fixtures = fixtures(),
        ),
    );
    let socket = dir.path().join("control.sock");
    let report_path = dir.path().join("report.json");
    let mut command = pyhost(["run", "--config"]);
    command.arg(&config).arg("--control").arg(&socket).arg("--report").arg(&report_path);
    let host = spawn(command);

    wait_for("both web modules to answer", Duration::from_secs(90), || {
        http_get(rest, "/api/ping").is_ok() && http_get(dashboard, "/status").is_ok()
    });
    assert_eq!(get_json(rest, "/api/ping"), serde_json::json!({"pong": true, "module": "rest_api"}));
    assert_eq!(get_json(dashboard, "/status")["module"], "dashboard");

    wait_for("busy_port to fail", Duration::from_secs(90), || {
        module(&ctl(&socket, &["status"]), "busy_port")["state"] == "failed"
    });
    let status = ctl(&socket, &["status"]);
    let busy = module(&status, "busy_port");
    assert!(busy["error"].as_str().unwrap().contains("os._exit(70)"), "{busy}");
    for name in ["rest_api", "dashboard", "echo"] {
        assert_eq!(module(&status, name)["state"], "running", "{status}");
        assert_ne!(module(&status, name)["isolation"], "main", "{status}");
    }
    // Both still serve, and they talk through the host: rest_api asks the
    // dashboard (another interpreter) for its tick count.
    assert_eq!(get_json(rest, "/api/ping")["pong"], true);
    wait_for("ticks to reach the dashboard", Duration::from_secs(30), || {
        get_json(rest, "/api/dashboard")["ticks"].as_u64().unwrap() > 0
    });

    ctl(&socket, &["set", "greeting", "\"hello\""]);
    assert_eq!(get_json(rest, "/api/state?key=greeting")["value"], "hello");
    wait_for("the dashboard to hear of the state change", Duration::from_secs(30), || {
        get_json(dashboard, "/status")["last_state"]["key"] == "greeting"
    });

    // fails_once failed its first start (no restart policy here); a restart
    // through the socket gives it a fresh interpreter, and it runs.
    assert_eq!(module(&ctl(&socket, &["status"]), "fails_once")["state"], "failed");
    let restarted = ctl(&socket, &["restart", "fails_once"]);
    assert_eq!(restarted["state"], "running", "{restarted}");
    assert_eq!(restarted["restarts"], 1);
    assert_eq!(get_json(rest, "/api/ping")["pong"], true, "rest_api kept serving through the restart");

    let disabled = ctl(&socket, &["disable", "dashboard"]);
    assert_eq!(disabled["state"], "disabled");
    wait_for("the dashboard's port to close", Duration::from_secs(30), || http_get(dashboard, "/status").is_err());
    assert_eq!(get_json(rest, "/api/ping")["pong"], true, "rest_api stopped serving with the dashboard");

    let enabled = ctl(&socket, &["enable", "dashboard"]);
    assert_eq!(enabled["state"], "running");
    wait_for("the dashboard to serve again", Duration::from_secs(60), || http_get(dashboard, "/status").is_ok());

    ctl(&socket, &["stop"]);
    let finished = host.wait();
    assert_eq!(finished.code(), 0, "{finished}");
    assert!(finished.stderr.contains("[busy_port] called os._exit(70)"), "{finished}");
    let report = read_report(&report_path, &finished);
    assert_eq!(module(&report, "rest_api")["state"], "stopped", "{report}");
    assert_eq!(module(&report, "dashboard")["state"], "stopped", "{report}");
    assert_eq!(module(&report, "busy_port")["state"], "failed", "{report}");
    assert_eq!(module(&report, "echo")["state"], "stopped", "{report}");
    assert_eq!(module(&report, "fails_once")["state"], "stopped", "{report}");
    assert_eq!(report["interpreter"]["version"], info()["version"]);
}

/// Every fixture under `pyhost run --for`: each ends in the state its design
/// calls for, the host exits 0 and nothing aborts.
#[test]
fn every_fixture_ends_in_the_state_its_design_calls_for() {
    let site = site_dir();
    let dir = tempfile::tempdir().unwrap();
    let (rest, dashboard) = (free_port(), free_port());
    let mut enable = vec![
        "echo",
        "exits_in_serve",
        "raises_in_init",
        "fails_once",
        "leaves_thread",
        "syntax_error",
        "missing_import",
        "state_hammer",
        "rest_api",
        "dashboard",
        "busy_port",
    ];
    if !is_py2() {
        enable.extend(["rust_ext_a", "rust_ext_b"]); // PyO3 has no Python 2
    }
    let config = write_config(
        dir.path(),
        &format!(
            "module_dirs = [{fixtures:?}]\n\
             enable = {enable:?}\n\
             python_path = [{site:?}]\n\
             shutdown_timeout = 5\n\
             [restart]\npolicy = \"on-failure\"\nbackoff = 0.1\nlimit = 2\n\
             [modules.busy_port]\nrestart = \"never\"\n\
             [modules.busy_port.options]\nport = {rest}\n\
             [modules.rest_api.options]\nport = {rest}\n\
             [modules.dashboard.options]\nport = {dashboard}\n",
            fixtures = fixtures(),
        ),
    );
    let report_path = dir.path().join("report.json");
    let mut command = pyhost(["run", "--for", "12", "--config"]);
    command.arg(&config).arg("--report").arg(&report_path);
    let finished = run(command);
    assert_eq!(finished.code(), 0, "{finished}");
    let report = read_report(&report_path, &finished);
    let check = |name: &str, state: &str| {
        let m = module(&report, name);
        assert_eq!(m["state"], state, "{name}: {m}\n{finished}");
        m.clone()
    };
    check("echo", "stopped");
    check("state_hammer", "stopped");
    check("rest_api", "stopped");
    check("dashboard", "stopped");
    let exits = check("exits_in_serve", "failed");
    assert!(exits["error"].as_str().unwrap().contains("SystemExit: 3"), "{exits}");
    assert_eq!(exits["restarts"], 2, "restarted up to the limit: {exits}");
    let raises = check("raises_in_init", "failed");
    assert!(raises["error"].as_str().unwrap().contains("RuntimeError: refusing to start"), "{raises}");
    let once = check("fails_once", "stopped");
    assert_eq!(once["restarts"], 1, "{once}");
    let leaves = check("leaves_thread", "stopped");
    assert_eq!(leaves["leftover_threads"], serde_json::json!([{"name": "forever-sleeper", "daemon": false}]));
    let syntax = check("syntax_error", "unloadable");
    assert!(syntax["error"].as_str().unwrap().contains("module.py, line 7: SyntaxError"), "{syntax}");
    assert_eq!(syntax["restarts"], 0, "an unloadable module is not restarted");
    let missing = check("missing_import", "unloadable");
    let text = missing["error"].as_str().unwrap();
    assert!(text.contains("module.py, line 3") && text.contains("no_such_package_anywhere"), "{missing}");
    let busy = check("busy_port", "failed");
    assert!(busy["error"].as_str().unwrap().contains("os._exit(70)"), "{busy}");
    if !is_py2() && !has_rustext() {
        // 3.6: no rustext to import, as the manifests expect; the host goes on.
        for name in ["rust_ext_a", "rust_ext_b"] {
            let m = check(name, "unloadable");
            assert!(m["error"].as_str().unwrap().contains("No module named 'rustext'"), "{m}");
        }
    }
    if has_rustext() {
        for name in ["rust_ext_a", "rust_ext_b"] {
            let m = check(name, "stopped");
            assert_eq!(m["isolation"], "main", "{m}");
            assert!(
                m["placement"].as_str().unwrap_or_default().contains("rustext")
                    || m["placement"].as_str().unwrap_or_default().contains("refuse"),
                "{m}"
            );
            assert!(finished.stderr.contains(&format!("[{name}] digest(abc) = ")), "{name} did not work:\n{finished}");
        }
    }
    // leaves_thread's thread makes finalizing unsafe: the report says so.
    assert_eq!(report["finalized"], false);
}

/// PYTHONPATH, --python-path and .pth files in it reach a module's
/// interpreter, and its prints reach the host log, tagged.
#[test]
fn python_path_pth_files_and_output_capture() {
    let dir = tempfile::tempdir().unwrap();
    let modules = dir.path().join("modules");
    let lib = dir.path().join("lib");
    let site = dir.path().join("site");
    let extra = dir.path().join("extra");
    for d in [&modules.join("uses_libs"), &lib, &site, &extra] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write(lib.join("alpha_lib.py"), "VALUE = 1\n").unwrap();
    std::fs::write(extra.join("beta_lib.py"), "VALUE = 2\n").unwrap();
    std::fs::write(site.join("extra.pth"), format!("{}\n", extra.display())).unwrap();
    std::fs::write(
        modules.join("uses_libs/module.py"),
        "import sys\nimport pyhost\nimport alpha_lib\nimport beta_lib\n\n\
         class UsesLibs(pyhost.Module):\n    def __init__(self):\n        super(UsesLibs, self).__init__()\n        \
         print('alpha=%d beta=%d' % (alpha_lib.VALUE, beta_lib.VALUE))\n        \
         sys.stderr.write('to stderr\\n')\n",
    )
    .unwrap();
    for isolation in common::isolations() {
        let mut command = pyhost(["run", "--all", "--for", "0.5", "--isolation", &isolation]);
        command.arg(&modules).arg("--python-path").arg(&site).env("PYTHONPATH", &lib);
        let finished = run(command);
        assert_eq!(finished.code(), 0, "{finished}");
        assert!(finished.stderr.contains("[uses_libs] stdout: alpha=1 beta=2"), "{isolation}: {finished}");
        assert!(finished.stderr.contains("[uses_libs] stderr: to stderr"), "{isolation}: {finished}");
    }
}

/// A module that only serves ends without Python complaining about it: on
/// 3.9 (and every 3.x before 3.10) each interpreter ended printed "Exception
/// ignored in: <module 'threading'> ... AssertionError", since threading's
/// idea of its main thread was the host thread that loaded the module.
#[test]
fn a_quiet_module_ends_without_exceptions_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let modules = dir.path().join("modules");
    std::fs::create_dir_all(modules.join("quiet")).unwrap();
    std::fs::write(
        modules.join("quiet/module.py"),
        "import pyhost\n\n\nclass Quiet(pyhost.Module):\n    def serve(self):\n        self.stopping.wait()\n",
    )
    .unwrap();
    for isolation in common::isolations() {
        let mut command = pyhost(["run", "--all", "--for", "0.5", "--isolation", &isolation]);
        command.arg(&modules);
        let finished = run(command);
        assert_eq!(finished.code(), 0, "{isolation}: {finished}");
        assert!(finished.stderr.contains("stopped"), "{isolation}: {finished}");
        assert!(!finished.stderr.contains("Exception ignored"), "{isolation}: {finished}");
        assert!(!finished.stderr.contains("Traceback"), "{isolation}: {finished}");
    }
}

/// SIGTERM stops the host like --for does: clean shutdown, report, status 0.
#[test]
fn sigterm_stops_the_host_and_writes_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let report_path = dir.path().join("report.json");
    let mut command = pyhost(["run", "--enable", "echo,leaves_thread", "--report"]);
    command.arg(&report_path).arg(fixtures());
    let host = spawn(command);
    wait_for("the modules to run", Duration::from_secs(60), || {
        host.stderr_so_far().contains("[leaves_thread] running")
    });
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(host.child.id() as i32, libc::SIGTERM) };
    let finished = host.wait();
    assert_eq!(finished.code(), 0, "{finished}");
    let report = read_report(&report_path, &finished);
    assert_eq!(module(&report, "echo")["state"], "stopped");
    assert_eq!(module(&report, "leaves_thread")["leftover_threads"][0]["name"], "forever-sleeper");
    assert_eq!(module(&report, "rest_api")["state"], "disabled", "not enabled, so not loaded");
}

#[test]
fn mistakes_in_the_command_line_are_named() {
    let mut command = pyhost(["run", "--enable", "nope"]);
    command.arg(fixtures());
    let finished = run(command);
    assert_eq!(finished.code(), 2, "{finished}");
    assert!(finished.stderr.contains("module `nope` is enabled but not found"), "{finished}");
    let finished = run(pyhost(["run"]));
    assert_eq!(finished.code(), 2);
    assert!(finished.stderr.contains("no module directory"), "{finished}");
    let finished = run(pyhost(["ctl", "/nonexistent.sock", "status"]));
    assert_eq!(finished.code(), 2);
    assert!(finished.stderr.contains("is `pyhost run --control /nonexistent.sock` running?"), "{finished}");
}
