//! What a module can do to the host's process (issue 8, items 1, 5, 7, 8, 14
//! and 16): end interpreters from the control thread, fork, start processes,
//! recurse deeply, abort, close its standard streams, call what others did
//! not expose. Every case runs in each isolation the build supports, beside
//! the witness, and the host must stay up, stop cleanly and write its report.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common;
use crate::harness::{Host, Setup, is_py2, module, path_str};

const STARTUP: Duration = Duration::from_secs(60);
const ALIVE: Duration = Duration::from_secs(10);
/// Generous: only a hang reaches it.
const RESULT: Duration = Duration::from_secs(90);

/// Writes a module's findings for the test to read, atomically. Appended to
/// module sources (a `from __future__` import must come first).
const WRITE_RESULT: &str = r#"
import json
import os


def write_result(path, value):
    with open(path + '.tmp', 'w') as f:
        json.dump(value, f)
    os.rename(path + '.tmp', path)
"#;

fn source(body: &str) -> String {
    format!("{body}\n{WRITE_RESULT}")
}

fn each_isolation(mut case: impl FnMut(&str)) {
    for isolation in common::isolations() {
        eprintln!("--- isolation {isolation}");
        case(&isolation);
    }
}

/// Whether the host process has ended (a zombie until the harness reaps it).
fn host_ended(host: &Host) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", host.pid())).unwrap_or_default();
    // "pid (comm) STATE ...": the comm may hold spaces, the state follows its ')'.
    stat.rsplit_once(')').is_none_or(|(_, rest)| rest.trim_start().starts_with(['Z', 'X']))
}

/// Reads `path` once module `name` has written it.
fn wait_for_result(host: &Host, name: &str, path: &Path) -> Value {
    let deadline = Instant::now() + RESULT;
    let mut next_look = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            return serde_json::from_str(&text).unwrap();
        }
        assert!(!host_ended(host), "the host ended before {name} wrote {}:\n{}", path.display(), host.stderr_so_far());
        if Instant::now() >= next_look {
            let status = host.module_status(name);
            assert!(!matches!(status["state"].as_str(), Some("failed" | "unloadable")), "{name} failed: {status}");
            next_look = Instant::now() + Duration::from_secs(1);
        }
        assert!(
            Instant::now() < deadline,
            "no result at {} after {RESULT:?}\n--- host stderr\n{}",
            path.display(),
            host.stderr_so_far()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn result_path(setup: &Setup, name: &str) -> PathBuf {
    setup.dir.path().join(format!("{name}.json"))
}

/// `[modules.NAME.options] out = "<result file>"`, plus `isolation`.
fn config_for(setup: Setup, isolation: &str, names: &[&str], extra_top: &str) -> Setup {
    let mut tables = String::new();
    for name in names {
        let out = path_str(&result_path(&setup, name));
        tables.push_str(&format!("[modules.{name}.options]\nout = {out:?}\n"));
    }
    setup.config(&format!("isolation = \"{isolation}\"\nprobe = false\n{extra_top}\n{tables}"))
}

fn stop_cleanly(host: Host) -> (common::Finished, Value) {
    host.assert_witness_alive(ALIVE);
    let (finished, report) = host.stop();
    assert_eq!(finished.code(), 0, "{finished}");
    assert_eq!(module(&report, "witness")["state"], "stopped", "{report}");
    (finished, report)
}

fn version() -> (u64, u64) {
    let info = common::info();
    let mut parts = info["version"].as_str().unwrap().split('.').map(|p| p.parse::<u64>().unwrap_or(0));
    (parts.next().unwrap(), parts.next().unwrap())
}

// -- 1: ending interpreters from the control thread -----------------------------

const RAISES_IN_SHUTDOWN: &str = r#"
import pyhost


class Victim(pyhost.Module):
    NOTIFY_TYPES = ['tick']

    def serve(self):
        self.stopping.wait()

    def notify(self, event, payload):
        pass

    def shutdown(self):
        self.stopping.set()
        raise RuntimeError('shutdown raises on purpose')
"#;

/// The control thread ends the interpreters the main thread created and
/// called into; each step must leave the host whole.
fn restart_and_disable(host: &Host, restarts: usize) {
    for _ in 0..restarts {
        host.ctl(&["restart", "victim"]);
        host.assert_witness_alive(ALIVE);
    }
    host.ctl(&["disable", "victim"]);
    host.ctl(&["enable", "victim"]);
    host.ctl(&["restart", "victim"]);
    host.ctl(&["disable", "victim"]);
    host.assert_witness_alive(ALIVE);
}

#[test]
fn restarting_and_disabling_a_module_whose_shutdown_raises_leaves_the_host_whole() {
    each_isolation(|isolation| {
        let setup = Setup::new();
        setup.module("victim", RAISES_IN_SHUTDOWN);
        let host = config_for(setup, isolation, &[], "").start(&[]);
        host.wait_started(STARTUP);
        restart_and_disable(&host, 5);
        let (_, report) = stop_cleanly(host);
        assert_eq!(module(&report, "victim")["state"], "disabled", "{report}");
    });
}

/// The same under valgrind, which sees the use-after-free that crashed the
/// host only now and then (3.12+: a thread's gilstate binding left pointing
/// into an interpreter another thread had ended).
#[test]
fn restarting_and_disabling_a_module_reads_no_freed_memory() {
    assert!(
        std::process::Command::new("valgrind").arg("--version").output().is_ok_and(|o| o.status.success()),
        "valgrind is needed for this test: apt-get install valgrind (scripts/install-pythons installs it)"
    );
    let suppressions = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/memcheck.supp");
    let py2 = is_py2();
    let free_threaded = common::info()["gil_disabled"].as_bool().unwrap();
    for isolation in common::isolations().into_iter().filter(|i| i != "main") {
        eprintln!("--- isolation {isolation}");
        let setup = Setup::new();
        setup.module("victim", RAISES_IN_SHUTDOWN);
        let wrapper = [
            "valgrind",
            "--error-exitcode=99",
            "--errors-for-leak-kinds=none",
            &format!("--suppressions={suppressions}"),
        ];
        // 2.7 cannot switch pymalloc off; the suppressions cover it. 3.13t
        // has no allocator but mimalloc ("PYTHONMALLOC: unknown allocator"),
        // whose heaps valgrind sees as a whole: what lies outside them (the
        // thread states, compat's and the host's memory) is still checked.
        let envs: &[(&str, &str)] = if py2 || free_threaded { &[] } else { &[("PYTHONMALLOC", "malloc")] };
        let host = config_for(setup, &isolation, &[], "").start_wrapped(&wrapper, envs, &[]);
        host.wait_started(Duration::from_secs(120));
        restart_and_disable(&host, 1);
        let (finished, _) = host.stop();
        assert!(
            finished.stderr.contains("ERROR SUMMARY: 0 errors"),
            "valgrind found memory errors ({isolation}):\n{}",
            finished.stderr
        );
        assert_eq!(finished.code(), 0, "{finished}");
    }
}

// -- 5 and 8: fork, os._exit and os.abort in the child, multiprocessing ---------

/// Processes whose environment holds `marker`: the host and anything it
/// started, forked or spawned, wherever they were reparented to.
fn processes_marked(marker: &str) -> Vec<(i32, String)> {
    let needle = format!("PYHOST_TEST_MARK={marker}");
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else { continue };
        if environ.split(|b| *b == 0).any(|var| var == needle.as_bytes()) {
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            found.push((pid, String::from_utf8_lossy(&cmdline).replace('\0', " ")));
        }
    }
    found
}

/// The processes of one host run, found by a variable in their environment
/// (which forked and spawned children inherit). Whatever is left of them when
/// this drops, on a failed assertion too, is killed.
struct Marked(String);

impl Marked {
    /// After the host exited: nothing it started may still run. Pool
    /// workers end when their pipe to the host closes, which takes a moment.
    fn assert_no_survivors(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = processes_marked(&self.0);
            if left.is_empty() {
                return;
            }
            assert!(Instant::now() < deadline, "processes outlived the host: {left:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Marked {
    fn drop(&mut self) {
        for (pid, _) in processes_marked(&self.0) {
            // SAFETY (test code): ends processes this test started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

/// Starts the host with a marker every process it makes inherits.
fn start_marked(setup: Setup) -> (Host, Marked) {
    let marker = path_str(setup.dir.path());
    let host = setup.start_wrapped(&[], &[("PYHOST_TEST_MARK", &marker)], &[]);
    (host, Marked(marker))
}

const FORKER: &str = r#"
import pyhost


class Forker(pyhost.Module):
    OPTIONS = {'out': ''}

    def serve(self):
        result = {}
        for how in ('exit', 'abort', 'return', 'c_exit'):
            try:
                pid = os.fork()
            except RuntimeError as error:
                result[how] = {'refused': str(error)}
                continue
            if pid == 0:
                print('forked child says hello')
                if how == 'exit':
                    os._exit(7)
                if how == 'abort':
                    os.abort()
                if how == 'c_exit':
                    # C's exit() with the GIL held runs the host's thread-local
                    # destructors, which must not wait for that GIL.
                    import ctypes
                    ctypes.PyDLL(None).exit(3)
                return  # into the host's code, as a script's child would run off its end
            _, status = os.waitpid(pid, 0)
            result[how] = {
                'exit': os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
                'signal': os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
            }
        write_result(self.get_option('out'), result)
        self.stopping.wait()
"#;

#[test]
fn a_forked_child_ends_with_its_own_exit_or_fork_is_refused_in_the_parent() {
    let py2 = is_py2();
    each_isolation(|isolation| {
        let setup = Setup::new();
        setup.module("forker", &source(FORKER));
        let setup = config_for(setup, isolation, &["forker"], "");
        let out = result_path(&setup, "forker");
        let (host, marker) = start_marked(setup);
        host.wait_started(STARTUP);
        let result = wait_for_result(&host, "forker", &out);
        // 2.7 continues a forked child in any interpreter; 3.x only in main.
        if py2 || isolation == "main" {
            assert_eq!(result["exit"], json!({"exit": 7, "signal": null}), "os._exit(7) in the child: {result}");
            assert_eq!(result["abort"], json!({"exit": null, "signal": 6}), "os.abort() in the child: {result}");
            assert_eq!(result["return"], json!({"exit": 0, "signal": null}), "the child returned: {result}");
            assert_eq!(result["c_exit"], json!({"exit": 3, "signal": null}), "exit(3) from C: {result}");
            let said = host.stderr_so_far().matches("stdout: forked child says hello").count();
            assert_eq!(said, 4, "each child's output reaches the log:\n{}", host.stderr_so_far());
        } else {
            for how in ["exit", "abort", "return", "c_exit"] {
                let refused = result[how]["refused"].as_str().unwrap_or_else(|| panic!("{result}"));
                assert!(refused.contains("not supported in a sub-interpreter"), "{refused}");
                assert!(refused.contains("multiprocessing"), "the refusal names a way out: {refused}");
            }
        }
        assert_eq!(host.module_status("forker")["state"], "running", "{}", host.stderr_so_far());
        let (_, report) = stop_cleanly(host);
        assert_eq!(module(&report, "forker")["error"], Value::Null, "{report}");
        marker.assert_no_survivors();
    });
}

const POOLER: &str = r#"
import multiprocessing
import sys

import pyhost


def square(x):
    return x * x


class Pooler(pyhost.Module):
    OPTIONS = {'out': ''}

    def serve(self):
        try:
            pool = multiprocessing.Pool(2)
            try:
                result = {'map': pool.map(square, range(10))}
            finally:
                pool.close()
                pool.join()
        except Exception as error:
            result = {'error': '%s: %s' % (type(error).__name__, error)}
        # What 'spawn' children ran first, where the host uses 'spawn'.
        result['spawn_main'] = getattr(sys.modules['__main__'], '__file__', None)
        write_result(self.get_option('out'), result)
        self.stopping.wait()
"#;

#[test]
fn a_multiprocessing_pool_maps_in_serve_and_leaves_no_process_behind() {
    each_isolation(|isolation| {
        let setup = Setup::new();
        setup.module("pooler", &source(POOLER));
        let setup = config_for(setup, isolation, &["pooler"], "");
        let out = result_path(&setup, "pooler");
        let (host, marker) = start_marked(setup);
        host.wait_started(STARTUP);
        let result = wait_for_result(&host, "pooler", &out);
        assert_eq!(result["map"], json!([0, 1, 4, 9, 16, 25, 36, 49, 64, 81]), "{}", host.stderr_so_far());
        assert_eq!(host.module_status("pooler")["state"], "running");
        let spawns = !is_py2() && isolation != "main";
        let spawn_main = result["spawn_main"].as_str().map(PathBuf::from);
        assert_eq!(spawn_main.is_some(), spawns, "{result}");
        stop_cleanly(host);
        marker.assert_no_survivors();
        if let Some(file) = spawn_main {
            assert!(!file.parent().unwrap().exists(), "the host left {} behind", file.display());
        }
    });
}

// -- 7: the stack of the threads that run modules -------------------------------

const DEEP: &str = r#"
import sys

import pyhost


class Node(object):
    def __init__(self, child):
        self.child = child

    def __repr__(self):
        return 'Node(%r)' % (self.child,)


class Deep(pyhost.Module):
    OPTIONS = {'out': ''}

    def serve(self):
        sys.setrecursionlimit(100000)
        node = None
        for _ in range(4000):
            node = Node(node)
        try:
            result = {'length': len(repr(node))}
        except RuntimeError as error:  # RecursionError on 3.5+
            result = {'error': type(error).__name__}
        write_result(self.get_option('out'), result)
        self.stopping.wait()
"#;

#[test]
fn a_recursion_a_python_thread_survives_does_not_abort_the_host() {
    let at_least_3_12 = version() >= (3, 12);
    each_isolation(|isolation| {
        let setup = Setup::new();
        setup.module("deep", &source(DEEP));
        let setup = config_for(setup, isolation, &["deep"], "");
        let out = result_path(&setup, "deep");
        let host = setup.start(&[]);
        host.wait_started(STARTUP);
        let result = wait_for_result(&host, "deep", &out);
        // A plain Python thread gets there on 2.7-3.11; 3.12+ stops C
        // recursion itself, with RecursionError.
        let expected = if at_least_3_12 { json!({"error": "RecursionError"}) } else { json!({"length": 6 * 4000 + 4}) };
        assert_eq!(result, expected);
        stop_cleanly(host);
    });
}

const PING: &str = r#"
import sys

import pyhost


class Ping(pyhost.Module):
    OPTIONS = {'out': '', 'hops': 1000}

    def serve(self):
        sys.setrecursionlimit(100000)
        while not self.stopping.is_set():
            try:
                self.remote('pong', 'bounce', 0)
                break
            except pyhost.RemoteError:  # pong is not running yet
                self.stopping.wait(0.05)
        try:
            result = {'left': self.bounce(int(self.get_option('hops')))}
        except pyhost.RemoteError as error:
            result = {'error': str(error)}
        write_result(self.get_option('out'), result)
        self.stopping.wait()

    @pyhost.expose
    def bounce(self, n):
        return n if n == 0 else self.remote('pong', 'bounce', n - 1)
"#;

const PONG: &str = r#"
import sys

import pyhost


class Pong(pyhost.Module):
    def __init__(self):
        super(Pong, self).__init__()
        sys.setrecursionlimit(100000)

    @pyhost.expose
    def bounce(self, n):
        return n if n == 0 else self.remote('ping', 'bounce', n - 1)
"#;

fn ping_pong(isolation: &str, extra_top: &str) -> Value {
    let setup = Setup::new();
    setup.module("ping", &source(PING)).module("pong", PONG);
    let setup = config_for(setup, isolation, &["ping"], extra_top);
    let out = result_path(&setup, "ping");
    let host = setup.start(&[]);
    host.wait_started(STARTUP);
    let result = wait_for_result(&host, "ping", &out);
    stop_cleanly(host);
    result
}

#[test]
fn a_thousand_remote_hops_end_in_an_answer_or_an_exception_not_an_abort() {
    each_isolation(|isolation| {
        let result = ping_pong(isolation, "");
        // Each hop takes stack on the one thread that serves them all; when
        // the stack runs low the host refuses the next hop instead of
        // overflowing (a debug build gets about half way on 8 MiB).
        let finished = result == json!({"left": 0});
        let refused = result["error"].as_str().is_some_and(|e| e.contains("of stack left"));
        assert!(finished || refused, "{result}");
    });
}

#[test]
fn thread_stack_size_sets_the_stack_of_module_threads() {
    each_isolation(|isolation| {
        let result = ping_pong(isolation, "thread_stack_size = \"64M\"");
        assert_eq!(result, json!({"left": 0}));
    });
}

// -- 8: os.abort() ---------------------------------------------------------------

const ABORTER: &str = r#"
import os

import pyhost


class Aborter(pyhost.Module):
    def serve(self):
        os.abort()
"#;

#[test]
fn os_abort_fails_the_module_and_not_the_host() {
    each_isolation(|isolation| {
        let setup = Setup::new();
        setup.module("aborter", ABORTER);
        let host = config_for(setup, isolation, &[], "").start(&[]);
        host.wait_started(STARTUP);
        let status = host.wait_for_state("aborter", "failed", STARTUP);
        assert!(status["error"].as_str().unwrap().contains("called os.abort()"), "{status}");
        let (_, report) = stop_cleanly(host);
        assert!(module(&report, "aborter")["error"].as_str().unwrap().contains("os.abort()"), "{report}");
    });
}

// -- 14: the standard streams ------------------------------------------------------

const CLOSER: &str = r#"
from __future__ import print_function

import io
import sys

import pyhost


class Closer(pyhost.Module):
    OPTIONS = {'out': ''}

    def serve(self):
        out = sys.stdout
        result = {
            'encoding': out.encoding,
            'errors': out.errors,
            'writable': out.writable(),
            'readable': out.readable(),
            'seekable': out.seekable(),
            'isatty': out.isatty(),
            'textiobase': isinstance(out, io.TextIOBase),
        }
        try:
            out.fileno()
            result['fileno'] = 'no error'
        except io.UnsupportedOperation:
            result['fileno'] = 'UnsupportedOperation'
        print('closer: before close')
        out.buffer.write(b'closer: from buffer\n')
        out.writelines(['closer: ', 'writelines\n'])
        out.flush()
        out.close()
        out.close()  # a second close does nothing, as for a file
        result['closed'] = out.closed
        for name, attempt in [('print', lambda: print('closer: after close')),
                              ('buffer', lambda: out.buffer.write(b'x')),
                              ('flush', out.flush)]:
            try:
                attempt()
                result[name] = 'no error'
            except ValueError as error:
                result[name] = 'ValueError: %s' % error
        print('closer: stderr still open', file=sys.stderr)
        write_result(self.get_option('out'), result)
        self.stopping.wait()
"#;

/// Beside the closer: in the main interpreter it shares sys.stdout with it.
const TALKER: &str = r#"
from __future__ import print_function

import pyhost


class Talker(pyhost.Module):
    def serve(self):
        count = 0
        while not self.stopping.wait(0.05):
            count += 1
            print('talker says %d' % count)
"#;

#[test]
fn closing_stdout_closes_it_for_that_module_only_and_fails_nothing() {
    let py2 = is_py2();
    each_isolation(|isolation| {
        let setup = Setup::new();
        setup.module("closer", &source(CLOSER)).module("talker", TALKER);
        let setup = config_for(setup, isolation, &["closer"], "");
        let out = result_path(&setup, "closer");
        let host = setup.start(&[]);
        host.wait_started(STARTUP);
        let result = wait_for_result(&host, "closer", &out);
        let closed = "ValueError: I/O operation on closed file.";
        assert_eq!(result["closed"], true, "{result}");
        assert_eq!(result["print"], closed, "{result}");
        assert_eq!(result["buffer"], closed, "{result}");
        assert_eq!(result["flush"], closed, "{result}");
        assert_eq!(result["fileno"], "UnsupportedOperation", "{result}");
        assert_eq!(result["errors"], "replace", "{result}");
        assert!(result["encoding"].as_str().is_some_and(|e| !e.is_empty()), "{result}");
        assert_eq!(
            [&result["writable"], &result["readable"], &result["seekable"], &result["isatty"]],
            [true, false, false, false]
        );
        assert_eq!(result["textiobase"], !py2, "a TextIOBase on 3.x: {result}");
        let talked = |host: &Host| host.stderr_so_far().matches("[talker] stdout: talker says").count();
        let before = talked(&host);
        let deadline = Instant::now() + ALIVE;
        while talked(&host) <= before {
            assert!(
                Instant::now() < deadline,
                "talker went quiet after closer closed stdout:\n{}",
                host.stderr_so_far()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(host.module_status("closer")["state"], "running", "{}", host.stderr_so_far());
        let (finished, report) = stop_cleanly(host);
        for line in [
            "[closer] stdout: closer: before close",
            "[closer] stdout: closer: from buffer",
            "[closer] stdout: closer: writelines",
            "[closer] stderr: closer: stderr still open",
        ] {
            assert!(finished.stderr.contains(line), "missing {line:?}:\n{}", finished.stderr);
        }
        assert!(!finished.stderr.contains("closer: after close"), "{}", finished.stderr);
        assert_eq!(module(&report, "closer")["error"], Value::Null, "{report}");
    });
}

// -- 16: what remote() may call ------------------------------------------------------

const TARGET: &str = r#"
import pyhost


class Target(pyhost.Module):
    @pyhost.expose
    def hello(self, who):
        return 'hello ' + who

    def hidden(self):
        return 'hidden'

    def _private(self):
        return 'private'

    def serve(self):
        self.stopping.wait()
"#;

const TARGET_ALL: &str = r#"
import pyhost


class TargetAll(pyhost.Module):
    EXPOSE_ALL = True

    def hidden(self):
        return 'hidden'

    def serve(self):
        self.stopping.wait()
"#;

const CALLER: &str = r#"
import pyhost


class Caller(pyhost.Module):
    OPTIONS = {'out': ''}

    def serve(self):
        for target in ('target', 'target_all'):
            while not self.stopping.is_set():
                try:
                    self.remote(target, 'no_such_method')
                except pyhost.RemoteError as error:
                    if 'is not running' not in str(error):
                        break
                    self.stopping.wait(0.05)
        result = {}
        attempts = [('target', 'hello', ['you']), ('target', 'hidden', []), ('target', '_private', []),
                    ('target', '__init__', []), ('target', 'shutdown', []), ('target', 'serve', []),
                    ('target', 'notify', ['tick', {}]), ('target', 'self_test', []),
                    ('target_all', 'hidden', []), ('target_all', 'shutdown', []),
                    ('target_all', 'get_option', ['out']), ('target_all', 'remote', ['target', 'hello', 'x'])]
        for target, method, args in attempts:
            try:
                result['%s.%s' % (target, method)] = {'ok': self.remote(target, method, *args)}
            except pyhost.RemoteError as error:
                result['%s.%s' % (target, method)] = {'refused': str(error)}
        write_result(self.get_option('out'), result)
        self.stopping.wait()
"#;

#[test]
fn remote_calls_reach_only_what_a_module_exposes() {
    each_isolation(|isolation| {
        let setup = Setup::new();
        setup.module("target", TARGET).module("target_all", TARGET_ALL).module("caller", &source(CALLER));
        let setup = config_for(setup, isolation, &["caller"], "");
        let out = result_path(&setup, "caller");
        let host = setup.start(&[]);
        host.wait_started(STARTUP);
        let result = wait_for_result(&host, "caller", &out);
        let refused = |key: &str, why: &str| {
            let message = result[key]["refused"].as_str().unwrap_or_else(|| panic!("{key} was not refused: {result}"));
            assert!(message.contains(why), "{key}: {message:?} should say {why:?}");
        };
        assert_eq!(result["target.hello"], json!({"ok": "hello you"}));
        refused("target.hidden", "@pyhost.expose");
        refused("target.hidden", "EXPOSE_ALL = True");
        for lifecycle in ["_private", "__init__", "serve", "shutdown", "notify", "self_test"] {
            refused(&format!("target.{lifecycle}"), "the host alone calls lifecycle and private methods");
        }
        assert_eq!(result["target_all.hidden"], json!({"ok": "hidden"}));
        refused("target_all.shutdown", "the host alone calls lifecycle");
        refused("target_all.get_option", "@pyhost.expose");
        refused("target_all.remote", "@pyhost.expose");
        for name in ["target", "target_all"] {
            assert_eq!(host.module_status(name)["state"], "running", "{}", host.stderr_so_far());
        }
        stop_cleanly(host);
    });
}
