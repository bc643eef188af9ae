//! Module code the host waits for, but not for ever.
//!
//! A call into a module (its import, shutdown()) runs on a thread of its
//! own; the host waits for it up to a timeout and then goes on without it.
//! Python offers no way to stop a thread, so the abandoned thread is left
//! where it is, reported (see `Straggler`), and its interpreter is kept: the
//! teardown never ends an interpreter a host thread is still inside.

use std::sync::mpsc::{self, RecvTimeoutError, TryRecvError};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle, ThreadId};
use std::time::{Duration, Instant};

use crate::python::{Interpreter, threads};

/// How long reading a stuck thread's stack may wait for its interpreter's
/// GIL (which the stuck code may be holding) before it gives up.
const STACK_WAIT: Duration = Duration::from_secs(2);

/// A host thread that runs module code. It says when its body is over, so
/// a wait for it wakes at that moment rather than at the next poll (a
/// module's stop waits for its serve and notify threads).
pub(crate) struct ModuleThread {
    handle: JoinHandle<()>,
    over: Arc<(Mutex<bool>, Condvar)>,
}

/// Marks the body over when dropped, so a panic counts as over too.
struct OverOnDrop(Arc<(Mutex<bool>, Condvar)>);

impl Drop for OverOnDrop {
    fn drop(&mut self) {
        let (over, changed) = &*self.0;
        *over.lock().unwrap_or_else(|p| p.into_inner()) = true;
        changed.notify_all();
    }
}

impl ModuleThread {
    pub fn is_running(&self) -> bool {
        !self.handle.is_finished()
    }

    pub fn id(&self) -> ThreadId {
        self.handle.thread().id()
    }

    /// Waits until the body is over or `deadline` has passed; whether it is over.
    pub fn over_by(&self, deadline: Instant) -> bool {
        let (over, changed) = &*self.over;
        let mut done = over.lock().unwrap_or_else(|p| p.into_inner());
        while !*done {
            let Some(left) = deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero()) else {
                return false;
            };
            done = changed.wait_timeout(done, left).unwrap_or_else(|p| p.into_inner()).0;
        }
        true
    }

    /// Waits for the thread to exit, its thread-local states disposed of.
    pub fn join(self) -> thread::Result<()> {
        self.handle.join()
    }
}

/// Starts a host thread that runs module code, with the stack a Python
/// thread would get (see `python::threads`).
pub(crate) fn spawn_module_thread(name: String, body: impl FnOnce() + Send + 'static) -> ModuleThread {
    let over = Arc::new((Mutex::new(false), Condvar::new()));
    let marker = OverOnDrop(Arc::clone(&over));
    let handle = threads::builder(name)
        .spawn(move || {
            let _marker = marker;
            body()
        })
        .expect("spawn a module thread");
    ModuleThread { handle, over }
}

/// A host thread left running in a module's code, kept for the report.
pub(crate) struct Straggler {
    /// What it was doing: "shutdown()", "import", ...
    pub what: String,
    pub handle: ModuleThread,
}

impl Straggler {
    pub fn is_running(&self) -> bool {
        self.handle.is_running()
    }
}

pub(crate) enum Waited<T> {
    Done(T),
    /// The timeout passed (or the wait was given up); the thread goes on alone.
    Abandoned {
        thread: ThreadId,
        handle: ModuleThread,
    },
    /// The thread ended without an answer (it panicked).
    Lost,
}

/// How often a wait looks at whether it is to be given up early.
const POLL: Duration = Duration::from_millis(50);

/// Runs `work` on a thread named `name` and waits up to `timeout` for its
/// answer. An answer that comes after the wait was given up goes to `late`,
/// on that thread, so nothing it holds is lost unnoticed.
pub(crate) fn run_bounded<T: Send + 'static>(
    name: String,
    timeout: Duration,
    work: impl FnOnce() -> T + Send + 'static,
    late: impl FnOnce(T) + Send + 'static,
) -> Waited<T> {
    run_bounded_unless(name, timeout, || false, work, late)
}

/// `run_bounded`, also given up as soon as `give_up` says so (the host is
/// stopping, say).
pub(crate) fn run_bounded_unless<T: Send + 'static>(
    name: String,
    timeout: Duration,
    give_up: impl Fn() -> bool,
    work: impl FnOnce() -> T + Send + 'static,
    late: impl FnOnce(T) + Send + 'static,
) -> Waited<T> {
    let (answer, answers) = mpsc::sync_channel(1);
    let handle = spawn_module_thread(name, move || {
        if let Err(mpsc::SendError(value)) = answer.send(work()) {
            late(value);
        }
    });
    let deadline = super::deadline::after(timeout);
    let value = loop {
        let slice = deadline.saturating_duration_since(Instant::now()).min(POLL);
        match answers.recv_timeout(slice) {
            Ok(value) => break value,
            Err(RecvTimeoutError::Disconnected) => {
                let _ = handle.join();
                return Waited::Lost;
            }
            Err(RecvTimeoutError::Timeout) if Instant::now() < deadline && !give_up() => {}
            // It may have answered between the timeout and now; once
            // `answers` is dropped below, a later answer goes to `late`.
            Err(RecvTimeoutError::Timeout) => match answers.try_recv() {
                Ok(value) => break value,
                Err(TryRecvError::Empty) => return Waited::Abandoned { thread: handle.id(), handle },
                Err(TryRecvError::Disconnected) => {
                    let _ = handle.join();
                    return Waited::Lost;
                }
            },
        }
    };
    let _ = handle.join();
    Waited::Done(value)
}

/// The Python stack where `thread` sits in `interpreter`, one string per
/// frame, outermost first; None when it cannot be read (the thread left
/// Python, or the stuck code holds the GIL past `STACK_WAIT`).
pub(crate) fn stack_of(interpreter: &Interpreter, thread: ThreadId, name: &str) -> Option<Vec<String>> {
    let interpreter = interpreter.clone();
    let read = move || interpreter.gil().and_then(|gil| gil.stack_of(thread));
    match run_bounded(format!("{name}:stack"), STACK_WAIT, read, |_| ()) {
        Waited::Done(Ok(stack)) => stack,
        _ => None,
    }
}

/// `summary` ("import did not finish in 2 s") with the stack where it sat,
/// trimmed to start at the module's own code (what runs above it is the
/// host's), as a traceback prints it: the stack first, what happened last.
pub(crate) fn describe_hang(summary: &str, stack: Option<Vec<String>>, module_dir: &str) -> String {
    let Some(frames) = stack.filter(|f| !f.is_empty()) else {
        return format!("{summary} (where it sat could not be read)");
    };
    let first_own = frames.iter().position(|f| f.contains(module_dir)).unwrap_or(0);
    format!("Stack where it sat (most recent call last):\n{}{summary}", frames[first_own..].concat())
}

/// "2 s", "0.5 s".
pub(crate) fn seconds(duration: Duration) -> String {
    format!("{} s", duration.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_in_time_is_returned() {
        match run_bounded("t".into(), Duration::from_secs(60), || 7, |_| unreachable!()) {
            Waited::Done(7) => {}
            _ => panic!("expected the answer"),
        }
    }

    #[test]
    fn a_late_answer_goes_to_late() {
        let (release, released) = mpsc::channel::<()>();
        let (got_late, late_values) = mpsc::channel();
        let waited = run_bounded(
            "t".into(),
            Duration::ZERO,
            move || {
                let _ = released.recv();
                8
            },
            move |v| got_late.send(v).unwrap(),
        );
        let Waited::Abandoned { handle, .. } = waited else { panic!("expected it abandoned") };
        release.send(()).unwrap();
        handle.join().unwrap();
        assert_eq!(late_values.recv().unwrap(), 8);
    }

    #[test]
    fn a_wait_for_a_thread_ends_when_its_body_does_or_at_the_deadline() {
        let (release, released) = mpsc::channel::<()>();
        let thread = spawn_module_thread("t".into(), move || {
            let _ = released.recv();
        });
        assert!(!thread.over_by(Instant::now() + Duration::from_millis(20)), "over before its release");
        assert!(thread.is_running());
        release.send(()).unwrap();
        assert!(thread.over_by(super::super::deadline::after(Duration::from_secs(600))));
        thread.join().unwrap();
        let panics = spawn_module_thread("t".into(), || panic!("on purpose"));
        assert!(panics.over_by(super::super::deadline::after(Duration::from_secs(600))), "a panic is over too");
        assert!(panics.join().is_err());
    }

    #[test]
    fn a_hang_is_described_from_the_module_code_on() {
        let frames = vec![
            "  File \"<pyhost>/pyhost.py\", line 1, in _host_load\n".to_string(),
            "  File \"/m/hangs/module.py\", line 3, in <module>\n    time.sleep(9)\n".to_string(),
        ];
        let text = describe_hang("import did not finish in 2 s", Some(frames), "/m/hangs");
        assert!(!text.contains("pyhost.py"), "{text}");
        assert!(text.contains("module.py\", line 3"), "{text}");
        assert!(text.ends_with("import did not finish in 2 s"), "{text}");
    }
}
