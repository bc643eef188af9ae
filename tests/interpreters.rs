//! The Python layer used directly: many interpreters on many threads, the
//! GIL guard, text and paths, errors, host calls, and teardown. Each test runs
//! in a child process of its own (see common::isolated). Every Python snippet
//! is valid 2.7 and 3.x.

mod common;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::sync::{Mutex, OnceLock};
use std::thread;
use std::time::Duration;

use common::isolated;
use pyhost::python::baseline;
use pyhost::python::interpreter_info::{default_isolation, supported_isolations};
use pyhost::python::{EndOutcome, Error, InitConfig, Interpreter, Isolation, PyThread, Python, SystemExit};

fn start() -> Python {
    Python::initialize(&InitConfig::default()).expect("Python starts")
}

fn eval_i64(interpreter: &Interpreter, expression: &str) -> i64 {
    let gil = interpreter.gil().unwrap();
    gil.eval(expression).unwrap().to_i64().unwrap()
}

/// 8 interpreters created from 4 threads at once, then each used from all 4.
fn eight_interpreters_from_four_threads(isolation: Isolation) {
    let python = start();
    let created = Mutex::new(Vec::new());
    thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..2 {
                    let interpreter = python.new_interpreter(isolation).unwrap();
                    created.lock().unwrap().push(interpreter);
                }
            });
        }
    });
    let interpreters = created.into_inner().unwrap();
    let mut ids: Vec<i64> = interpreters.iter().map(|i| i.id()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 8, "ids {ids:?}");
    assert!(!ids.contains(&0), "a sub-interpreter has the main interpreter's id");

    for (k, interpreter) in interpreters.iter().enumerate() {
        let gil = interpreter.gil().unwrap();
        gil.run(&format!("import sys\nsys.pyhost_tag = {k}\nsys.pyhost_seen = []\n")).unwrap();
    }
    thread::scope(|s| {
        for t in 0..4 {
            let interpreters = &interpreters;
            s.spawn(move || {
                for round in 0..3 {
                    for (k, interpreter) in interpreters.iter().enumerate() {
                        let gil = interpreter.gil().unwrap();
                        let code = format!(
                            "import _pyhost, sys\n\
                             sys.pyhost_seen.append({t})\n\
                             for _ in range({k} + 1):\n    assert _pyhost.call('echo', 'x{k}') == 'x{k}'\n"
                        );
                        gil.run(&code).unwrap_or_else(|e| panic!("thread {t} round {round} interp {k}: {e:?}"));
                    }
                }
            });
        }
    });
    for (k, interpreter) in interpreters.iter().enumerate() {
        // sys is per interpreter: each still has its own tag.
        assert_eq!(eval_i64(interpreter, "sys.pyhost_tag"), k as i64);
        // Every thread ran in every interpreter, three times.
        assert_eq!(eval_i64(interpreter, "len(sys.pyhost_seen)"), 12);
        assert_eq!(eval_i64(interpreter, "len(set(sys.pyhost_seen))"), 4);
        // The native module's state is per interpreter: only this one's calls.
        assert_eq!(eval_i64(interpreter, "__import__('_pyhost').stats()['calls']"), 12 * (k as i64 + 1));
        assert_eq!(eval_i64(interpreter, "__import__('_pyhost').interpreter_id()"), interpreter.id());
    }
    assert_eq!(eval_i64(python.main(), "__import__('_pyhost').stats()['calls']"), 0);

    let report = python.finalize(Duration::from_secs(5)).unwrap();
    assert_eq!(report.ended.len(), 8, "{report:?}");
    assert!(report.left.is_empty() && report.busy.is_empty(), "{report:?}");
    assert!(report.finalized, "{report:?}");
}

#[test]
fn eight_shared_interpreters_from_four_threads() {
    isolated("eight_shared_interpreters_from_four_threads", || eight_interpreters_from_four_threads(Isolation::Shared));
}

#[test]
fn eight_own_gil_interpreters_from_four_threads() {
    isolated("eight_own_gil_interpreters_from_four_threads", || {
        if supported_isolations().contains(&Isolation::OwnGil) {
            eight_interpreters_from_four_threads(Isolation::OwnGil);
        } else {
            // Where own-gil is missing (before 3.12, 3.12.0-3.12.3) the request
            // must fail clearly, not fall back silently.
            let python = start();
            let error = python.new_interpreter(Isolation::OwnGil).unwrap_err();
            assert!(matches!(error, Error::IsolationUnsupported { .. }), "{error}");
            assert!(error.to_string().contains("own-gil needs "), "{error}");
        }
    });
}

/// Own-GIL interpreters that imported datetime, decimal or hashlib
/// double-free memory when they end on CPython 3.12.0-3.12.3 (the abort
/// stdlib_extensions_survive_ending_interpreters hit on 3.12.1). There the
/// mode is refused with a message naming the fixed version, and the default
/// is `shared`; on 3.12.4+ it is the default; before 3.12 it never existed.
#[test]
fn own_gil_is_offered_only_where_it_is_safe() {
    isolated("own_gil_is_offered_only_where_it_is_safe", || {
        let python = start();
        let version = pyhost::python::interpreter_info::info().version.clone();
        let parts: Vec<u32> = version.split('.').map(|p| p.parse().unwrap()).collect();
        let (minor, patch) = (parts[0] * 100 + parts[1], parts[2]);
        let refused = minor < 312 || (minor == 312 && patch < 4);
        assert_eq!(supported_isolations().contains(&Isolation::OwnGil), !refused, "{version}");
        if !refused {
            assert_eq!(default_isolation(), Isolation::OwnGil, "{version}");
            let interpreter = python.new_interpreter(Isolation::OwnGil).unwrap();
            assert_eq!(eval_i64(&interpreter, "6 * 7"), 42);
            return;
        }
        assert_eq!(default_isolation(), Isolation::Shared, "{version}");
        let error = python.new_interpreter(Isolation::OwnGil).unwrap_err();
        assert!(matches!(error, Error::IsolationUnsupported { isolation: Isolation::OwnGil, .. }), "{error}");
        let message = error.to_string();
        if minor == 312 {
            let expected = format!("own-gil needs CPython 3.12.4 or later: this is {version} (CPython gh-");
            assert!(message.contains(&expected), "{message}");
        } else {
            assert!(message.contains(&format!("own-gil needs Python 3.12 or later: this is {version}")), "{message}");
        }
        assert!(message.contains("Use `shared`"), "{message}");
    });
}

/// The scale bench's parallel baseline (`baseline::bare_parallel`): 4 bare
/// own-GIL interpreters made by 2 threads at once, each running its own
/// script, all 4 alive when it calls back, all ended when it returns. Where
/// own-gil is missing it refuses with the typed error before making any.
#[test]
fn bare_baseline_makes_own_gil_interpreters_on_threads_at_once() {
    isolated("bare_baseline_makes_own_gil_interpreters_on_threads_at_once", || {
        let python = start();
        let main = python.main();
        let marks = tempfile::tempdir().unwrap();
        // Each script writes the id of the thread that runs it to a file of its own.
        let scripts: Vec<String> = (0..4)
            .map(|i| {
                let path = marks.path().join(i.to_string());
                format!(
                    "import _thread\nwith open({:?}, 'w') as mark:\n    mark.write(str(_thread.get_ident()))\n",
                    path.to_str().unwrap()
                )
            })
            .collect();
        // Every interpreter alive (the main one's included), as the main one lists them.
        let live = || {
            eval_i64(
                main,
                "len(__import__('_interpreters' if __import__('sys').version_info >= (3, 13) \
                 else '_xxsubinterpreters').list_all())",
            )
        };
        let mut alive_when_made = None;
        let made = baseline::bare_parallel(main, &scripts, 2, || alive_when_made = Some(live()));
        if !supported_isolations().contains(&Isolation::OwnGil) {
            let error = made.unwrap_err();
            assert!(matches!(error, Error::IsolationUnsupported { isolation: Isolation::OwnGil, .. }), "{error}");
            assert!(error.to_string().contains("own-gil needs "), "{error}");
            assert_eq!(alive_when_made, None);
            assert_eq!(std::fs::read_dir(marks.path()).unwrap().count(), 0, "a script ran");
            return;
        }
        assert_eq!(made.unwrap(), 4);
        assert_eq!(alive_when_made, Some(5), "the main interpreter and the 4 bare ones");
        assert_eq!(live(), 1, "the bare interpreters were not all ended");
        let mut threads: Vec<String> =
            (0..4).map(|i| std::fs::read_to_string(marks.path().join(i.to_string())).unwrap()).collect();
        threads.sort();
        threads.dedup();
        // Which thread takes which script is up to the scheduler.
        assert!((1..=2).contains(&threads.len()), "made on threads {threads:?}");
        let caller = eval_i64(main, "__import__('_thread').get_ident()").to_string();
        assert!(!threads.contains(&caller), "made on the caller's thread: {threads:?}");
    });
}

#[test]
fn gil_guards_do_not_nest() {
    isolated("gil_guards_do_not_nest", || {
        let python = start();
        let a = python.new_interpreter(default_isolation()).unwrap();
        let b = python.new_interpreter(default_isolation()).unwrap();
        {
            let _held = a.gil().unwrap();
            assert!(matches!(b.gil(), Err(Error::NestedGil { held, wanted }) if held == a.id() && wanted == b.id()));
            assert!(matches!(a.gil(), Err(Error::NestedGil { .. })));
            assert!(matches!(python.main().gil(), Err(Error::NestedGil { .. })));
        }
        // Released: both can be taken again, one after the other.
        assert_eq!(eval_i64(&a, "1 + 1"), 2);
        assert_eq!(eval_i64(&b, "2 + 2"), 4);
        assert!(python.finalize(Duration::from_secs(5)).unwrap().finalized);
    });
}

#[test]
fn text_bytes_and_non_utf8_paths_round_trip() {
    isolated("text_bytes_and_non_utf8_paths_round_trip", || {
        let python = start();
        let interpreter = python.new_interpreter(default_isolation()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(OsStr::from_bytes(b"caf\xe9-\xff\xfe.txt"));
        std::fs::write(&path, b"payload").unwrap();
        {
            let gil = interpreter.gil().unwrap();
            // Text: Rust -> Python -> Rust, and Python sees the same code points.
            let text = "h\u{e9}llo w\u{f6}rld \u{2713} \u{65e5}\u{672c}\u{8a9e} \u{1f40d}";
            let value = gil.str(text).unwrap();
            assert_eq!(value.to_text().unwrap(), text);
            gil.set_global("s", value).unwrap();
            let same = gil
                .eval("(s if isinstance(s, type(u'')) else s.decode('utf-8')) == u'h\\xe9llo w\\xf6rld \\u2713 \\u65e5\\u672c\\u8a9e \\U0001f40d'")
                .unwrap();
            assert!(same.is_true().unwrap());
            assert_eq!(gil.eval("u'\\u65e5\\u672c'").unwrap().to_text().unwrap(), "\u{65e5}\u{672c}");

            // Bytes: every byte value survives.
            let all: Vec<u8> = (0..=255).collect();
            let bytes = gil.bytes(&all).unwrap();
            assert_eq!(bytes.to_bytes().unwrap(), all);
            gil.set_global("b", bytes).unwrap();
            assert_eq!(gil.eval("len(b)").unwrap().to_i64().unwrap(), 256);

            // Paths that are not UTF-8: Python opens them, lists them, and
            // hands back the very same bytes.
            gil.set_global("p", gil.path(&path).unwrap()).unwrap();
            gil.set_global("d", gil.path(dir.path()).unwrap()).unwrap();
            assert_eq!(gil.eval("open(p, 'rb').read()").unwrap().to_bytes().unwrap(), b"payload");
            let listed = gil.eval("[__import__('os').path.join(d, n) for n in __import__('os').listdir(d)]").unwrap();
            let listed = listed.items().unwrap();
            assert_eq!(listed.len(), 1);
            assert_eq!(listed[0].to_path().unwrap(), path);
            gil.run("open(p + type(p)('.copy'), 'wb').write(b'copy')").unwrap();
        }
        let copy = dir.path().join(OsStr::from_bytes(b"caf\xe9-\xff\xfe.txt.copy"));
        assert_eq!(std::fs::read(copy).unwrap(), b"copy");
        assert!(python.finalize(Duration::from_secs(5)).unwrap().finalized);
    });
}

/// A puller hands out every pair as it was given, the first texts of
/// consecutive pairs the same or not (compat reuses the str it made for
/// the first text of the pair before when the text is the same).
#[test]
fn a_puller_hands_out_each_pair_as_given() {
    isolated("a_puller_hands_out_each_pair_as_given", || {
        let python = start();
        let interpreter = python.new_interpreter(default_isolation()).unwrap();
        let given: Vec<(String, String)> = [
            ("tick", "{\"n\": 0}"),
            ("tick", "{\"n\": 1}"),
            ("tock", ""),
            ("tick", "[]"),
            ("", "x"),
            ("", "y"),
            ("t\u{e9}ck \u{1f40d}", "\u{65e5}"),
            ("t\u{e9}ck \u{1f40d}", "z"),
            ("ticks", "longer first text, same start"),
            ("tick", "shorter again"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        let gil = interpreter.gil().unwrap();
        let mut left = given.clone().into_iter();
        let mut next = || left.next();
        let collect = gil.eval("lambda pull: list(iter(pull, None))").unwrap();
        let pulled = gil
            .with_puller(&mut next, |puller| {
                collect
                    .call(vec![puller])?
                    .items()?
                    .iter()
                    .map(|pair| Ok((pair.item(0)?.to_text()?, pair.item(1)?.to_text()?)))
                    .collect::<pyhost::python::Result<Vec<(String, String)>>>()
            })
            .unwrap();
        assert_eq!(pulled, given);
    });
}

#[test]
fn exceptions_and_sys_exit_are_captured_not_fatal() {
    isolated("exceptions_and_sys_exit_are_captured_not_fatal", || {
        let python = start();
        for interpreter in [python.main().clone(), python.new_interpreter(default_isolation()).unwrap()] {
            let gil = interpreter.gil().unwrap();
            let Err(Error::Python(error)) = gil.run("def f():\n    raise ValueError('bad thing')\nf()\n") else {
                panic!("no error")
            };
            assert_eq!(error.type_name, "ValueError");
            assert_eq!(error.message, "bad thing");
            assert!(error.traceback.contains("line 2, in f"), "{}", error.traceback);
            assert!(error.traceback.ends_with("ValueError: bad thing\n"), "{}", error.traceback);
            assert!(error.exit.is_none());

            let Err(Error::Python(error)) = gil.run("import sys; sys.exit(7)") else { panic!("no error") };
            assert_eq!(error.exit, Some(SystemExit { code: 7, message: None }));
            let Err(Error::Python(error)) = gil.run("import sys; sys.exit('stop')") else { panic!("no error") };
            assert_eq!(error.exit, Some(SystemExit { code: 1, message: Some("stop".into()) }));
            // The interpreter carries on.
            assert_eq!(gil.eval("6 * 7").unwrap().to_i64().unwrap(), 42);
        }
        assert!(python.finalize(Duration::from_secs(5)).unwrap().finalized);
    });
}

#[test]
fn host_calls_can_reach_other_interpreters() {
    isolated("host_calls_can_reach_other_interpreters", || {
        static OTHER: OnceLock<Interpreter> = OnceLock::new();
        let python = start();
        let caller = python.new_interpreter(default_isolation()).unwrap();
        let other = python.new_interpreter(default_isolation()).unwrap();
        other.gil().unwrap().run("value = 'from the other side'").unwrap();
        OTHER.set(other).unwrap();
        // A cross-interpreter call: the caller's GIL is released by the host
        // call, so the handler can take the other interpreter's; only text
        // crosses.
        pyhost::python::set_handler(|call| match call.method {
            "peek" => {
                let other = OTHER.get().unwrap();
                let gil = other.gil().map_err(|e| e.to_string())?;
                let name = String::from_utf8_lossy(call.payload).into_owned();
                gil.eval(&name).and_then(|v| v.to_text()).map_err(|e| e.to_string())
            }
            other => Err(format!("no method {other}")),
        });
        let gil = caller.gil().unwrap();
        assert_eq!(
            gil.eval("__import__('_pyhost').call('peek', 'value')").unwrap().to_text().unwrap(),
            "from the other side"
        );
        let Err(Error::Python(error)) = gil.eval("__import__('_pyhost').call('nope', '')") else { panic!("no error") };
        assert_eq!(error.type_name, "RuntimeError");
        assert_eq!(error.message, "no method nope");
        drop(gil);
        assert!(python.finalize(Duration::from_secs(5)).unwrap().finalized);
    });
}

#[test]
fn owned_objects_are_released_under_their_own_interpreter() {
    isolated("owned_objects_are_released_under_their_own_interpreter", || {
        let python = start();
        let a = python.new_interpreter(default_isolation()).unwrap();
        let b = python.new_interpreter(default_isolation()).unwrap();
        let kept = {
            let gil = a.gil().unwrap();
            gil.run("import sys\nsys.deleted = []\nclass T(object):\n    def __del__(self):\n        sys.deleted.append(1)\n")
                .unwrap();
            gil.eval("T()").unwrap().into_owned()
        };
        {
            // Dropped while b's GIL is held: a's GIL cannot be taken here, so
            // the release waits for a's next guard.
            let _b = b.gil().unwrap();
            drop(kept);
        }
        assert_eq!(eval_i64(&a, "len(sys.deleted)"), 1);
        let kept = a.gil().unwrap().eval("T()").unwrap().into_owned();
        drop(kept); // no guard held: released at once, under a's GIL
        assert_eq!(eval_i64(&a, "len(sys.deleted)"), 2);
        assert!(python.finalize(Duration::from_secs(5)).unwrap().finalized);
    });
}

#[test]
fn threads_that_exit_leave_no_thread_states_behind() {
    isolated("threads_that_exit_leave_no_thread_states_behind", || {
        let python = start();
        let interpreter = python.new_interpreter(default_isolation()).unwrap();
        for _ in 0..3 {
            let interpreter = interpreter.clone();
            thread::spawn(move || assert_eq!(eval_i64(&interpreter, "3 * 3"), 9)).join().unwrap();
        }
        let count = interpreter.gil().unwrap().thread_state_count();
        assert_eq!(count, 1, "the exited threads' states are still there");
        assert!(matches!(interpreter.end(Duration::ZERO).unwrap(), EndOutcome::Ended));
        assert!(matches!(interpreter.gil(), Err(Error::Ended(_))));
        assert!(python.finalize(Duration::from_secs(5)).unwrap().finalized);
    });
}

/// CherryPy's timeout monitor, in miniature: a daemon thread asleep for an
/// hour. The interpreter must be left alive and Python not finalized, without
/// an abort (Py_EndInterpreter / Py_Finalize) or a hang (the harness's timeout).
#[test]
fn teardown_with_a_leftover_thread_neither_aborts_nor_hangs() {
    isolated("teardown_with_a_leftover_thread_neither_aborts_nor_hangs", || {
        let python = start();
        let clean = python.new_interpreter(default_isolation()).unwrap();
        let busy = python.new_interpreter(default_isolation()).unwrap();
        busy.gil()
            .unwrap()
            .run("import threading, time\nt = threading.Thread(target=time.sleep, args=(3600,), name='monitor')\nt.daemon = True\nt.start()\n")
            .unwrap();
        let EndOutcome::Left(left) = busy.end(Duration::from_millis(100)).unwrap() else {
            panic!("ended under a thread")
        };
        assert_eq!(left.threads, vec![PyThread { name: "monitor".into(), daemon: true }]);
        assert_eq!(left.unnamed, 0);
        // Left alive, and still usable.
        assert_eq!(eval_i64(&busy, "40 + 2"), 42);
        let report = python.finalize(Duration::from_millis(100)).unwrap();
        assert_eq!(report.ended, vec![clean.id()]);
        assert_eq!(report.left.len(), 1);
        assert_eq!(report.left[0].interpreter, busy.id());
        assert!(!report.finalized);
        assert!(matches!(busy.gil(), Err(Error::Finalized)));
    });
}

#[test]
fn teardown_with_a_stuck_thread_in_main_does_not_hang() {
    isolated("teardown_with_a_stuck_thread_in_main_does_not_hang", || {
        let python = start();
        python
            .main()
            .gil()
            .unwrap()
            .run("import threading, time\nthreading.Thread(target=time.sleep, args=(3600,), name='stuck').start()\n")
            .unwrap();
        let report = python.finalize(Duration::from_millis(100)).unwrap();
        assert!(!report.finalized, "Py_Finalize would have waited for the thread");
        assert_eq!(report.left[0].interpreter, 0);
        assert_eq!(report.left[0].threads, vec![PyThread { name: "stuck".into(), daemon: false }]);
    });
}

/// A host thread stuck inside an interpreter (a serve() that never returns)
/// makes it busy: it is neither ended nor is Python finalized under it.
#[test]
fn teardown_with_a_host_thread_inside_an_interpreter_does_not_abort() {
    isolated("teardown_with_a_host_thread_inside_an_interpreter_does_not_abort", || {
        let python = start();
        let stuck = python.new_interpreter(default_isolation()).unwrap();
        let (entered_tx, entered) = std::sync::mpsc::channel();
        let inside = stuck.clone();
        thread::spawn(move || {
            let gil = inside.gil().unwrap();
            entered_tx.send(()).unwrap();
            let _ = gil.run("import time\ntime.sleep(3600)\n");
        });
        entered.recv().unwrap();
        let report = python.finalize(Duration::from_millis(100)).unwrap();
        assert_eq!(report.busy, vec![stuck.id()], "{report:?}");
        assert!(!report.finalized);
    });
}

/// Common stdlib extension modules imported in two sub-interpreters, which
/// are then ended. On 3.13 this is a double free unless main owns _datetime
/// (compat/lifecycle.c imports it there); a refusal to load (3.12's own-GIL
/// interpreters refuse some single-phase modules) is fine, a crash is not.
#[test]
fn stdlib_extensions_survive_ending_interpreters() {
    isolated("stdlib_extensions_survive_ending_interpreters", || {
        let python = start();
        let modules = "datetime decimal json socket select hashlib zlib struct array pickle binascii math";
        for isolation in supported_isolations().into_iter().filter(|i| *i != Isolation::Main) {
            let pair = [python.new_interpreter(isolation).unwrap(), python.new_interpreter(isolation).unwrap()];
            for interpreter in &pair {
                let gil = interpreter.gil().unwrap();
                for module in modules.split(' ') {
                    if let Err(Error::Python(error)) = gil.import(module) {
                        assert!(
                            error.message.contains("does not support loading in subinterpreters"),
                            "{module}: {error}"
                        );
                    }
                }
                gil.run("import datetime\nassert datetime.date(2026, 11, 25).isoformat() == '2026-11-25'\n").unwrap();
            }
            for interpreter in pair {
                assert!(matches!(interpreter.end(Duration::ZERO).unwrap(), EndOutcome::Ended), "{isolation}");
            }
        }
        assert!(python.finalize(Duration::from_secs(5)).unwrap().finalized);
    });
}

/// The guard's lock-free path against an ender: threads take and drop an
/// interpreter's GIL in a loop while another thread keeps trying to end it.
/// Each attempt must see them busy (and leave the interpreter usable) or end
/// it cleanly, after which every guard is refused; never a crash.
#[test]
fn ending_races_with_guards_on_other_threads() {
    isolated("ending_races_with_guards_on_other_threads", || {
        let python = start();
        for _ in 0..3 {
            let interpreter = python.new_interpreter(default_isolation()).unwrap();
            let stop = std::sync::atomic::AtomicBool::new(false);
            let ready = std::sync::Barrier::new(4);
            thread::scope(|s| {
                let workers: Vec<_> = (0..3)
                    .map(|_| {
                        s.spawn(|| {
                            let mut calls = 1u64;
                            assert_eq!(eval_i64(&interpreter, "2 + 2"), 4);
                            ready.wait(); // every worker is in before the ender starts
                            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                                match interpreter.gil() {
                                    Ok(gil) => {
                                        assert_eq!(gil.eval("1 + 1").unwrap().to_i64().unwrap(), 2);
                                        calls += 1;
                                        drop(gil);
                                        thread::sleep(Duration::from_micros(20)); // windows for the ender
                                    }
                                    Err(Error::Ended(_)) => return calls,
                                    Err(other) => panic!("{other}"),
                                }
                            }
                            calls
                        })
                    })
                    .collect();
                ready.wait();
                let mut attempts = 0;
                loop {
                    attempts += 1;
                    match interpreter.end(Duration::ZERO).unwrap() {
                        EndOutcome::Ended => break,
                        EndOutcome::Busy => {
                            // Still usable after a failed attempt.
                            thread::yield_now();
                        }
                        EndOutcome::Left(left) => panic!("no Python thread was started: {left:?}"),
                    }
                    if attempts == 100 {
                        stop.store(true, std::sync::atomic::Ordering::SeqCst); // the ender must win in the end
                    }
                }
                let calls: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
                assert!(calls >= 3);
                assert!(matches!(interpreter.gil(), Err(Error::Ended(_))));
            });
        }
        assert!(python.finalize(Duration::from_secs(5)).unwrap().finalized);
    });
}
