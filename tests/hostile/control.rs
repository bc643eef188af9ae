//! The control socket under attack: silent clients, slow requests, a host
//! that never answers, huge requests, a mistaken --control path, a loose
//! umask, another user.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::{self, pyhost};
use crate::harness::{Host, SLOW_IMPORT, Setup, module};

const LONG: Duration = Duration::from_secs(60);

fn wait_for(what: &str, host: &Host, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + LONG;
    while !done() {
        assert!(Instant::now() < deadline, "{what} never happened\n--- host stderr\n{}", host.stderr_so_far());
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wait_for_file(path: &Path, host: &Host) {
    wait_for(&format!("{} appearing", path.display()), host, || path.exists());
}

/// A client that connects and then sends nothing, for as long as it lives.
fn idle_client(host: &Host) -> UnixStream {
    wait_for_file(&host.setup.socket, host);
    UnixStream::connect(&host.setup.socket).expect("the host accepts connections")
}

#[test]
fn an_idle_client_blocks_neither_status_nor_stop() {
    let host = Setup::new().start(&[]);
    host.wait_started(LONG);
    let idle = idle_client(&host);
    let status = host.ctl(&["--timeout", "60", "status"]);
    assert_eq!(module(&status, "witness")["state"], "running", "{status}");
    host.assert_witness_alive(Duration::from_secs(10));
    let (finished, report) = host.stop();
    assert_eq!(finished.code(), 0, "{finished}");
    assert_eq!(module(&report, "witness")["state"], "stopped", "{report}");
    drop(idle);
}

#[test]
fn an_idle_client_does_not_hold_up_sigterm() {
    let host = Setup::new().start(&[]);
    host.wait_started(LONG);
    let idle = idle_client(&host);
    host.signal(libc::SIGTERM);
    let (finished, report) = host.wait();
    assert_eq!(finished.code(), 0, "{finished}");
    assert_eq!(module(&report, "witness")["state"], "stopped", "{report}");
    drop(idle);
}

#[test]
fn an_idle_client_does_not_hold_up_the_end_of_for() {
    let host = Setup::new().start(&["--for", "3"]);
    let idle = idle_client(&host);
    let (finished, report) = host.wait();
    assert_eq!(finished.code(), 0, "{finished}");
    assert_eq!(module(&report, "witness")["state"], "stopped", "{report}");
    drop(idle);
}

const BUSY: &str = r#"
import os
import time

import pyhost


class Busy(pyhost.Module):
    OPTIONS = {'release': '', 'shutdown_called': ''}

    def serve(self):
        # Deaf to self.stopping: only the release file ends it.
        while not os.path.exists(self.get_option('release')):
            time.sleep(0.05)

    def shutdown(self):
        open(self.get_option('shutdown_called'), 'w').close()
"#;

#[test]
fn a_disable_that_waits_for_a_busy_module_does_not_block_status() {
    let setup = Setup::new();
    let (release, called) = (setup.dir.path().join("release"), setup.dir.path().join("shutdown-called"));
    setup.module("busy", BUSY);
    let setup = setup.config(&format!(
        "shutdown_timeout = 600\n[modules.busy.options]\nrelease = {release:?}\nshutdown_called = {called:?}"
    ));
    let host = setup.start(&[]);
    host.wait_started(LONG);
    let mut disable = pyhost(["ctl"]);
    disable.arg(&host.setup.socket).args(["--json", "disable", "busy"]);
    let mut disable = common::spawn(disable);
    wait_for_file(&called, &host); // the disable is under way, waiting for serve()
    let status = host.ctl(&["--timeout", "60", "status"]);
    assert_eq!(module(&status, "witness")["state"], "running", "{status}");
    assert!(
        disable.child.try_wait().unwrap().is_none(),
        "status was answered only after the disable had finished:\n{}",
        host.stderr_so_far()
    );
    host.assert_witness_alive(Duration::from_secs(10));
    std::fs::write(&release, "").unwrap();
    let disabled = disable.wait();
    assert_eq!(disabled.code(), 0, "{disabled}");
    let disabled: serde_json::Value = serde_json::from_str(&disabled.stdout).unwrap();
    assert_eq!(disabled["state"], "disabled", "{disabled}");
    let (finished, report) = host.stop();
    assert_eq!(finished.code(), 0, "{finished}");
    assert_eq!(module(&report, "busy")["state"], "disabled", "{report}");
}

#[test]
fn ctl_gives_up_on_a_host_that_never_answers() {
    let dir = tempfile::tempdir().unwrap();
    // One that never even accepts, and one that accepts, reads, and says nothing.
    let never_accepts = dir.path().join("backlog.sock");
    let _backlog = UnixListener::bind(&never_accepts).unwrap();
    let silent = dir.path().join("silent.sock");
    let listener = UnixListener::bind(&silent).unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            let mut line = String::new();
            let _ = BufReader::new(&stream).read_line(&mut line);
            held.push(stream);
        }
    });
    for socket in [&never_accepts, &silent] {
        for command in [&["status"][..], &["disable", "x"], &["stop"]] {
            let mut ctl = pyhost(["ctl"]);
            ctl.arg(socket).args(["--timeout", "2"]).args(command);
            let finished = common::run(ctl);
            assert_eq!(finished.code(), 2, "{finished}");
            assert!(finished.stderr.contains("no answer from the host"), "{finished}");
            assert!(finished.stderr.contains("--timeout SECONDS"), "{finished}");
        }
    }
}

#[test]
fn status_answers_while_modules_load() {
    let setup = Setup::new();
    setup.module("a_slow", SLOW_IMPORT);
    let folder = setup.modules.join("a_slow");
    // Without the probe, whose child would import it (and wait) first.
    let host = setup.config("probe = false").start(&[]);
    wait_for_file(&folder.join("import-started"), &host);
    let status = host.ctl(&["--timeout", "60", "status"]);
    assert_eq!(module(&status, "a_slow")["state"], "loading", "{status}");
    assert_eq!(module(&status, "witness")["state"], "pending", "{status}");
    let refused = host.ctl_raw(&["--timeout", "60", "disable", "a_slow"]);
    assert_eq!(refused.code(), 1, "{refused}");
    assert!(refused.stderr.contains("`a_slow` is still loading"), "{refused}");
    std::fs::write(folder.join("release"), "").unwrap();
    host.wait_started(LONG);
    assert_eq!(host.module_status("a_slow")["state"], "running");
    let (finished, report) = host.stop();
    assert_eq!(finished.code(), 0, "{finished}");
    assert_eq!(module(&report, "a_slow")["state"], "stopped", "{report}");
}

/// The most memory the process `pid` ever had resident, in bytes.
fn peak_rss(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}

#[test]
fn an_oversize_request_is_refused_and_does_not_grow_the_host() {
    const SENT: usize = 16 << 20;
    let host = Setup::new().start(&[]);
    host.wait_started(LONG);
    let before = peak_rss(host.pid());
    let stream = UnixStream::connect(&host.setup.socket).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let writing = std::thread::spawn(move || {
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..SENT >> 20 {
            if writer.write_all(&chunk).is_err() {
                return; // the host closed the connection, as it should
            }
        }
        let _ = writer.write_all(b"\n");
    });
    stream.set_read_timeout(Some(LONG)).unwrap();
    let mut answer = String::new();
    BufReader::new(&stream).read_line(&mut answer).unwrap();
    writing.join().unwrap();
    assert!(answer.contains("larger than 1048576 bytes"), "{answer}");
    let grown = peak_rss(host.pid()).saturating_sub(before);
    assert!(grown < (SENT / 2) as u64, "a {SENT}-byte request grew the host's peak RSS by {grown} bytes");
    assert_eq!(host.module_status("witness")["state"], "running");
    host.assert_witness_alive(Duration::from_secs(10));
    let (finished, _) = host.stop();
    assert_eq!(finished.code(), 0, "{finished}");
}

#[test]
fn control_refuses_a_path_that_is_not_a_socket_and_keeps_the_file() {
    // In a folder of the test's own, which outlives the host and its Setup.
    let folder = tempfile::tempdir().unwrap();
    let socket = folder.path().join("pyhost.sock");
    let mut setup = Setup::new();
    setup.socket = socket.clone();
    std::fs::write(&socket, "precious\n").unwrap();
    let finished = setup.start(&["--for", "1"]).finish();
    assert_eq!(finished.code(), 2, "{finished}");
    assert!(finished.stderr.contains(&format!("{} is a regular file, not a socket", socket.display())), "{finished}");
    assert!(finished.stderr.contains("Give --control a path that does not exist"), "{finished}");
    assert_eq!(std::fs::read_to_string(&socket).unwrap(), "precious\n");
}

#[test]
fn control_replaces_a_stale_socket_and_refuses_a_live_one() {
    let setup = Setup::new();
    drop(UnixListener::bind(&setup.socket).unwrap()); // the file stays; nobody listens
    let socket = setup.socket.clone();
    let first = setup.start(&[]);
    first.wait_started(LONG);
    let mut second = Setup::new();
    second.socket = socket.clone();
    let finished = second.start(&["--for", "1"]).finish();
    assert_eq!(finished.code(), 2, "{finished}");
    assert!(finished.stderr.contains(&format!("another host is listening on {}", socket.display())), "{finished}");
    assert_eq!(first.module_status("witness")["state"], "running");
    let (finished, _) = first.stop();
    assert_eq!(finished.code(), 0, "{finished}");
}

#[test]
fn the_socket_is_owner_only_under_umask_000() {
    let host = Setup::new().start_with(&[], |command| {
        // SAFETY (test code): umask is async-signal-safe and only affects the child.
        unsafe {
            command.pre_exec(|| {
                libc::umask(0);
                Ok(())
            });
        }
    });
    host.wait_started(LONG);
    let mode = std::fs::metadata(&host.setup.socket).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o600, "the control socket has mode {mode:o}");
    let (finished, _) = host.stop();
    assert_eq!(finished.code(), 0, "{finished}");
}

/// Sends `stop` through `socket` as user nobody, with a client that needs
/// nothing nobody cannot read (the system's python3).
fn stop_as_nobody(socket: &PathBuf) -> common::Finished {
    let client = "import socket, sys\n\
                  s = socket.socket(socket.AF_UNIX)\n\
                  s.connect(sys.argv[1])\n\
                  try:\n    s.sendall(b'{\"command\": \"stop\"}\\n')\n\
                  except OSError:\n    pass  # refused before it could ask\n\
                  print(s.makefile().readline())\n";
    let mut command = std::process::Command::new("/usr/bin/python3");
    command.args(["-c", client]).arg(socket);
    // SAFETY (test code): only async-signal-safe calls, in the child.
    unsafe {
        command.pre_exec(|| {
            if libc::setgroups(0, std::ptr::null()) != 0 || libc::setgid(65534) != 0 || libc::setuid(65534) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    common::run(command)
}

#[test]
fn another_user_is_refused_even_if_the_socket_mode_lets_them_in() {
    // SAFETY (test code): geteuid cannot fail.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "this test switches to user nobody for its client, which needs root (CI runs as root)"
    );
    let host = Setup::new().start(&[]);
    host.wait_started(LONG);
    // Let nobody reach and open the socket, so that only the uid check stands in the way.
    std::fs::set_permissions(host.setup.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&host.setup.socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    let finished = stop_as_nobody(&host.setup.socket);
    assert_eq!(finished.code(), 0, "{finished}");
    let answer: serde_json::Value = serde_json::from_str(finished.stdout.trim()).unwrap();
    assert_eq!(answer["ok"], false, "{answer}");
    assert!(answer["error"].as_str().unwrap().contains("permission denied: uid 65534"), "{answer}");
    host.assert_witness_alive(Duration::from_secs(10));
    assert_eq!(host.module_status("witness")["state"], "running");
    assert!(host.stderr_so_far().contains("refused a connection from uid 65534"), "{}", host.stderr_so_far());
    let (finished, _) = host.stop();
    assert_eq!(finished.code(), 0, "{finished}");
}
