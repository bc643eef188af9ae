//! `pyhost exec`: status, tracebacks, files, arguments and exit with threads
//! left behind, under every isolation mode the build supports. Every snippet
//! here is valid Python 2.7 and 3.x.

mod common;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::process::Command;

use common::{Finished, isolations, pyhost, run};

fn exec(isolation: &str, code: &str) -> Finished {
    run(pyhost(["exec", "--isolation", isolation, "-c", code]))
}

#[test]
fn sys_exit_sets_the_status_in_every_isolation() {
    for isolation in isolations() {
        let finished = exec(&isolation, "import sys; sys.exit(3)");
        assert_eq!(finished.code(), 3, "{isolation}: {finished}");
        let finished = exec(&isolation, "import sys; sys.exit()");
        assert_eq!(finished.code(), 0, "{isolation}: {finished}");
        let finished = exec(&isolation, "x = 1");
        assert_eq!(finished.code(), 0, "{isolation}: {finished}");
    }
}

#[test]
fn sys_exit_with_a_message_prints_it_and_exits_1() {
    let finished = run(pyhost(["exec", "-c", "import sys; sys.exit('giving up')"]));
    assert_eq!(finished.code(), 1, "{finished}");
    assert_eq!(finished.stderr.trim(), "giving up");
}

#[test]
fn an_exception_prints_its_traceback_and_exits_1() {
    for isolation in isolations() {
        let finished = exec(&isolation, "def f():\n    return 1 // 0\nf()\n");
        assert_eq!(finished.code(), 1, "{isolation}: {finished}");
        assert!(finished.stderr.contains("Traceback (most recent call last):"), "{finished}");
        assert!(finished.stderr.contains("line 2, in f"), "{finished}");
        assert!(finished.stderr.contains("ZeroDivisionError"), "{finished}");
    }
}

#[test]
fn code_runs_in_a_sub_interpreter_unless_main_is_asked_for() {
    let id = |isolation: &str| {
        let finished = exec(isolation, "import _pyhost, sys; sys.stdout.write(str(_pyhost.interpreter_id()))");
        assert_eq!(finished.code(), 0, "{finished}");
        finished.stdout
    };
    assert_eq!(id("main"), "0");
    assert_eq!(id("shared"), "1");
    let default = run(pyhost(["exec", "-c", "import _pyhost, sys; sys.stdout.write(str(_pyhost.interpreter_id()))"]));
    assert_eq!(default.stdout, "1", "{default}");
}

#[test]
fn own_gil_runs_on_3_12_and_is_refused_clearly_before() {
    let finished = exec("own-gil", "import _pyhost, sys; sys.stdout.write(str(_pyhost.interpreter_id()))");
    if isolations().iter().any(|m| m == "own-gil") {
        assert_eq!(finished.code(), 0, "{finished}");
        assert_eq!(finished.stdout, "1");
    } else {
        assert_eq!(finished.code(), 2, "{finished}");
        assert!(finished.stderr.contains("own-gil needs "), "{finished}");
    }
}

#[test]
fn a_file_under_a_non_utf8_path_runs_with_file_and_argv() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join(OsStr::from_bytes(b"caf\xe9-\xff"));
    std::fs::create_dir(&folder).unwrap();
    let program = folder.join("prog.py");
    let marker = folder.join("argv-seen");
    std::fs::write(
        &program,
        b"# marker line\n\
          import os, sys\n\
          data = open(__file__, 'rb').read()\n\
          assert data.startswith(b'# marker line'), data[:20]\n\
          assert os.path.exists(os.path.join(os.path.dirname(__file__), 'prog.py'))\n\
          open(sys.argv[1], 'w').write(' '.join(sys.argv[2:]))\n\
          sys.exit(len(sys.argv))\n",
    )
    .unwrap();
    for isolation in isolations() {
        let mut command = pyhost(["exec", "--isolation", &isolation]);
        command.arg(&program).arg(&marker).args(["alpha", "--beta"]);
        let finished = run(command);
        assert_eq!(finished.code(), 4, "{isolation}: {finished}");
        assert_eq!(std::fs::read_to_string(&marker).unwrap(), "alpha --beta");
    }
}

#[test]
fn a_coding_cookie_is_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let program = dir.path().join("latin1.py");
    // "café" in Latin-1: the é is the single byte 0xE9.
    std::fs::write(
        &program,
        b"# -*- coding: latin-1 -*-\ns = u'caf\xe9'\nimport sys\nsys.exit(0 if (s == u'caf\\xe9' and len(s) == 4) else 5)\n",
    )
    .unwrap();
    let mut command = pyhost(["exec"]);
    command.arg(&program);
    let finished = run(command);
    assert_eq!(finished.code(), 0, "{finished}");
}

#[test]
fn a_program_can_come_from_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let program = dir.path().join("prog.py");
    std::fs::write(&program, "import sys\nsys.exit(6)\n").unwrap();
    let mut command = Command::new("sh");
    command.arg("-c").arg(format!("{} exec - < '{}'", env!("CARGO_BIN_EXE_pyhost"), program.display()));
    let finished = run(command);
    assert_eq!(finished.code(), 6, "{finished}");
}

#[test]
fn a_missing_file_is_a_host_error_that_names_it() {
    let finished = run(pyhost(["exec", "/nonexistent/prog.py"]));
    assert_eq!(finished.code(), 2, "{finished}");
    assert!(finished.stderr.contains("cannot read /nonexistent/prog.py"), "{finished}");
    let finished = run(pyhost(["exec"]));
    assert_eq!(finished.code(), 2, "{finished}");
    assert!(finished.stderr.contains("-c CODE or a FILE"), "{finished}");
}

/// A daemon thread sleeping for an hour: Python does not wait for daemon
/// threads, so neither may pyhost; ending or finalizing under it must not
/// abort. The test harness's timeout catches a hang.
#[test]
fn a_leftover_daemon_thread_neither_hangs_nor_aborts() {
    let code = "import threading, time\n\
                t = threading.Thread(target=time.sleep, args=(3600,), name='sleeper')\n\
                t.daemon = True\n\
                t.start()\n\
                print('started')\n";
    for isolation in isolations() {
        let finished = exec(&isolation, code);
        assert_eq!(finished.code(), 0, "{isolation}: {finished}");
        assert_eq!(finished.stdout, "started\n", "{isolation}: {finished}");
        if isolation != "main" {
            // Daemon threads of the main interpreter are Py_Finalize's to stop.
            assert!(finished.stderr.contains("sleeper (daemon)"), "{isolation}: {finished}");
        }
    }
}

#[test]
fn a_stuck_non_daemon_thread_is_reported_after_the_timeout() {
    let code = "import threading, time\nthreading.Thread(target=time.sleep, args=(3600,), name='stuck').start()\n";
    for isolation in isolations() {
        let finished = run(pyhost(["exec", "--shutdown-timeout", "0.3", "--isolation", &isolation, "-c", code]));
        assert_eq!(finished.code(), 0, "{isolation}: {finished}");
        assert!(finished.stderr.contains("stuck (non-daemon)"), "{isolation}: {finished}");
        assert!(finished.stderr.contains("not finalized"), "{isolation}: {finished}");
    }
}

#[test]
fn a_finishing_non_daemon_thread_is_waited_for() {
    let code = "import threading, time, sys\n\
                def work():\n    time.sleep(0.3)\n    sys.stdout.write('done\\n')\n    sys.stdout.flush()\n\
                threading.Thread(target=work, name='worker').start()\n";
    for isolation in isolations() {
        let finished = exec(&isolation, code);
        assert_eq!(finished.code(), 0, "{isolation}: {finished}");
        assert_eq!(finished.stdout, "done\n", "{isolation}: {finished}");
        assert!(!finished.stderr.contains("not finalized"), "{isolation}: {finished}");
    }
}
