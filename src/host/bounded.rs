//! Module code the host waits for, but not for ever.
//!
//! A call into a module (its import, shutdown()) runs on a thread of its
//! own (or, in a parallel start, on its job's `Worker`, which keeps one
//! thread from one module to the next); the host waits for it up to a
//! timeout and then goes on without it.
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
/// stopping, say). On a thread that has a `Worker` (`with_worker`), the
/// work runs on the worker's thread instead of a new one.
pub(crate) fn run_bounded_unless<T: Send + 'static>(
    name: String,
    timeout: Duration,
    give_up: impl Fn() -> bool,
    work: impl FnOnce() -> T + Send + 'static,
    late: impl FnOnce(T) + Send + 'static,
) -> Waited<T> {
    let (answer, answers) = mpsc::sync_channel(1);
    let task = move || {
        if let Err(mpsc::SendError(value)) = answer.send(work()) {
            late(value);
        }
    };
    if !WORKER.with(|worker| worker.borrow().is_some()) {
        let handle = spawn_module_thread(name, task);
        return match wait_for(&answers, timeout, give_up, || handle.is_running()) {
            Wait::Answer(value) => {
                let _ = handle.join();
                Waited::Done(value)
            }
            Wait::Ended => {
                let _ = handle.join();
                Waited::Lost
            }
            Wait::GivenUp => Waited::Abandoned { thread: handle.id(), handle },
        };
    }
    let thread = WORKER.with(|worker| worker.borrow_mut().as_mut().map(|worker| worker.hand(Box::new(task))));
    let thread = thread.expect("this thread has a worker");
    match wait_for(&answers, timeout, give_up, || WORKER.with(|w| w.borrow().as_ref().is_some_and(Worker::alive))) {
        Wait::Answer(value) => Waited::Done(value),
        // The worker's thread panicked in the work: the next work gets a new one.
        Wait::Ended => {
            WORKER.with(|w| w.borrow_mut().as_mut().map(Worker::retire));
            Waited::Lost
        }
        // Left where it hangs: it ends once the work returns, and the next
        // work gets a new thread.
        Wait::GivenUp => match WORKER.with(|w| w.borrow_mut().as_mut().and_then(Worker::retire)) {
            Some(handle) => Waited::Abandoned { thread, handle },
            None => Waited::Lost,
        },
    }
}

enum Wait<T> {
    Answer(T),
    /// The thread ended (panicked) without an answer.
    Ended,
    GivenUp,
}

/// Waits for the answer until `timeout` or `give_up`; `alive` says whether
/// the thread that owes it still runs.
fn wait_for<T>(
    answers: &mpsc::Receiver<T>,
    timeout: Duration,
    give_up: impl Fn() -> bool,
    alive: impl Fn() -> bool,
) -> Wait<T> {
    let deadline = super::deadline::after(timeout);
    loop {
        let slice = deadline.saturating_duration_since(Instant::now()).min(POLL);
        match answers.recv_timeout(slice) {
            Ok(value) => return Wait::Answer(value),
            Err(RecvTimeoutError::Disconnected) => return Wait::Ended,
            Err(RecvTimeoutError::Timeout) if !alive() => {
                // Its last word may have come with its end.
                return match answers.try_recv() {
                    Ok(value) => Wait::Answer(value),
                    Err(_) => Wait::Ended,
                };
            }
            Err(RecvTimeoutError::Timeout) if Instant::now() < deadline && !give_up() => {}
            // It may have answered between the timeout and now; once
            // `answers` is dropped, a later answer goes to `late`.
            Err(RecvTimeoutError::Timeout) => {
                return match answers.try_recv() {
                    Ok(value) => Wait::Answer(value),
                    Err(TryRecvError::Empty) => Wait::GivenUp,
                    Err(TryRecvError::Disconnected) => Wait::Ended,
                };
            }
        }
    }
}

type Task = Box<dyn FnOnce() + Send>;

/// One thread that runs one bounded work after another: a parallel start's
/// job loads its modules on one, instead of a new thread per module.
///
/// Why: Linux places a new thread beside the thread that made it, and
/// moves it to an idle CPU only at its next balancing, milliseconds later.
/// With a new load thread every 10 ms, both jobs' loads were often found
/// sharing one CPU while the other sat idle (sched_switch tracing of 500
/// own-gil modules on 2 CPUs: 0.9 s of idle CPU in a 3.8 s start). A
/// thread that keeps running is balanced once and stays.
///
/// A work that does not finish in time keeps the thread; the worker lets
/// it go (it ends when the work returns) and starts a new one for the next.
pub(crate) struct Worker {
    name: String,
    thread: Option<(mpsc::Sender<Task>, ModuleThread)>,
}

thread_local! {
    static WORKER: std::cell::RefCell<Option<Worker>> = const { std::cell::RefCell::new(None) };
}

/// Runs `body` with a `Worker` for the bounded works started on this
/// thread; the worker's thread ends after `body`.
pub(crate) fn with_worker<R>(name: &str, body: impl FnOnce() -> R) -> R {
    WORKER.with(|w| *w.borrow_mut() = Some(Worker { name: name.to_string(), thread: None }));
    let result = body();
    WORKER.with(|w| w.borrow_mut().take());
    result
}

impl Worker {
    /// Gives `task` to the worker's thread, started if there is none; the
    /// id of the thread that runs it.
    fn hand(&mut self, task: Task) -> ThreadId {
        let task = match &self.thread {
            Some((tasks, _)) => match tasks.send(task) {
                Ok(()) => None,
                Err(mpsc::SendError(task)) => Some(task),
            },
            None => Some(task),
        };
        if let Some(task) = task {
            let (tasks, queue) = mpsc::channel::<Task>();
            let handle = spawn_module_thread(self.name.clone(), move || {
                task();
                // Until the worker lets it go (drops `tasks`).
                while let Ok(task) = queue.recv() {
                    task();
                }
            });
            self.thread = Some((tasks, handle));
        }
        self.thread.as_ref().map(|(_, handle)| handle.id()).expect("a worker thread was just made")
    }

    fn alive(&self) -> bool {
        self.thread.as_ref().is_some_and(|(_, handle)| handle.is_running())
    }

    /// Lets the thread go: it takes no more work and ends once its current
    /// one returns.
    fn retire(&mut self) -> Option<ModuleThread> {
        self.thread.take().map(|(tasks, handle)| {
            drop(tasks);
            handle
        })
    }
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
    fn works_on_a_worker_share_its_thread_until_one_is_abandoned() {
        let on = || run_bounded("t".into(), Duration::from_secs(60), || thread::current().id(), |_| unreachable!());
        let (release, released) = mpsc::channel::<()>();
        let (got_late, late_values) = mpsc::channel();
        with_worker("w", || {
            let (Waited::Done(first), Waited::Done(second)) = (on(), on()) else { panic!("expected answers") };
            assert_eq!(first, second, "one thread for both");
            assert_ne!(first, thread::current().id());
            // This one hangs past its timeout: the worker lets its thread go.
            let waited = run_bounded(
                "t".into(),
                Duration::ZERO,
                move || {
                    let _ = released.recv();
                    thread::current().id()
                },
                move |id| got_late.send(id).unwrap(),
            );
            let Waited::Abandoned { thread: hung, handle } = waited else { panic!("expected it abandoned") };
            assert_eq!(hung, first, "it hung on the worker's thread");
            let Waited::Done(next) = on() else { panic!("expected an answer") };
            assert_ne!(next, first, "the next work has a thread of its own");
            release.send(()).unwrap();
            // The let-go thread delivers its late answer, then ends.
            assert_eq!(late_values.recv().unwrap(), first);
            handle.join().unwrap();
        });
        // Without a worker, each work has a thread of its own.
        let (Waited::Done(a), Waited::Done(b)) = (on(), on()) else { panic!("expected answers") };
        assert_ne!(a, b);
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
