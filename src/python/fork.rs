//! Processes forked from the host: `os.fork()` or multiprocessing's 'fork'
//! start method, in a module of the main interpreter (or any module on 2.7).
//!
//! Such a child is a copy of the whole host with one thread, the one that
//! forked. Every other thread, and every lock or GIL they held, is gone. The
//! host's own machinery there can only hang: a thread-local destructor that
//! disposes of a thread state waits for a GIL no thread will give back, which
//! left children running for ever, holding the host's files and ports. So in
//! a child the host does nothing of its own: thread exits leave Python alone,
//! guards are refused, and when the module's code returns to the host the
//! child ends, as a child of a plain Python script ends with the script.

use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

use super::error::{Error, Result};
use super::gil::Gil;

static FORKED: AtomicBool = AtomicBool::new(false);

extern "C" fn mark_child() {
    // Async-signal-safe: a plain store.
    FORKED.store(true, Ordering::Relaxed);
}

/// Arms the detection; called once Python runs in this process.
pub(crate) fn watch() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: mark_child is a valid `extern "C" fn()` for the life of the
        // process and only stores to an atomic.
        unsafe { libc::pthread_atfork(None, None, Some(mark_child)) };
    });
}

/// Whether this process is a child forked from the host.
pub fn in_forked_child() -> bool {
    FORKED.load(Ordering::Relaxed)
}

pub(crate) fn ensure_not_forked() -> Result<()> {
    if in_forked_child() { Err(Error::ForkedChild) } else { Ok(()) }
}

/// Ends a forked child whose module code returned to the host, with the
/// status a script would have: 0, a `SystemExit`'s code, or 1 after the
/// traceback of any other exception. Streams are flushed first; nothing of
/// the host's runs (no destructors, no atexit handlers).
pub fn end_forked_child<T>(gil: &Gil<'_>, outcome: &Result<T>) -> ! {
    let status = match outcome {
        Ok(_) => 0,
        Err(Error::Python(exception)) => match &exception.exit {
            Some(exit) => exit.code,
            None => {
                write_stderr(&exception.traceback);
                1
            }
        },
        Err(other) => {
            write_stderr(&format!("{other}\n"));
            1
        }
    };
    gil.flush_std_streams();
    // SAFETY: _exit ends the process at once; nothing after it runs.
    unsafe { libc::_exit(status) }
}

/// Writes to the process's stderr without Rust's stderr lock or any other:
/// in a forked child a lock some vanished thread held at the fork is held for
/// ever, and the host's log writes take several.
pub fn write_stderr(text: &str) {
    let _ = write_all_to(libc::STDERR_FILENO, text.as_bytes());
}

/// Writes all of `bytes` to `fd` with plain write(2) calls, taking no lock;
/// whether all of it went.
fn write_all_to(fd: std::os::fd::RawFd, bytes: &[u8]) -> bool {
    let mut rest = bytes;
    while !rest.is_empty() {
        // SAFETY: the pointer and length describe `rest`, valid for the call.
        let written = unsafe { libc::write(fd, rest.as_ptr().cast(), rest.len()) };
        if written <= 0 {
            if written < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return false;
        }
        rest = &rest[written as usize..];
    }
    true
}

/// What came of a question put to a copy of this process (`ask_a_copy`).
#[derive(Debug)]
pub enum CopyAnswer {
    /// The bytes it answered with.
    Answered(Vec<u8>),
    /// It ended without answering.
    Ended(Ending),
    /// No answer by the deadline: it was killed.
    TimedOut,
}

/// How a copy ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Killed by this signal.
    Signal(i32),
    /// Exited with this status.
    Exit(i32),
    /// Its end could not be read.
    Unknown,
}

impl std::fmt::Display for Ending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ending::Signal(signal) => write!(f, "signal {signal}"),
            Ending::Exit(status) => write!(f, "exit status {status}"),
            Ending::Unknown => write!(f, "an end that could not be read"),
        }
    }
}

/// Where a copy made by `ask_a_copy` sends its one answer. The first to
/// send (the work, or a watchdog beside it) ends the copy with its answer;
/// any later sender waits for that end.
#[derive(Clone)]
pub struct Reply {
    fd: std::os::fd::RawFd,
    claimed: std::sync::Arc<AtomicBool>,
}

impl Reply {
    pub fn send(&self, answer: &[u8]) -> ! {
        if self.claimed.swap(true, Ordering::SeqCst) {
            loop {
                std::thread::park();
            }
        }
        // A length first: the parent reads exactly the answer, and never
        // waits for an end of file that a process the copy started (holding
        // the pipe) could keep from coming.
        let mut framed = (answer.len() as u64).to_le_bytes().to_vec();
        framed.extend_from_slice(answer);
        // fd is the copy's write end of the pipe, open until this process ends.
        let sent = write_all_to(self.fd, &framed);
        // SAFETY: _exit ends the process at once: no destructor, no atexit
        // handler, no finalizing of the Python the copy inherited.
        unsafe { libc::_exit(if sent { 0 } else { 1 }) }
    }
}

/// Forks a copy of this process to run `work`, which answers through the
/// `Reply` it is given (a work that returns without answering ends its
/// copy with status 1), and waits for the answer until `deadline`; a copy
/// still running then is killed.
///
/// What this buys the placement probe: a copy starts from everything the
/// parent had made (an interpreter with pyhost's bootstrap done), which a
/// fresh interpreter would make again at several milliseconds a module, and
/// whatever the copy imports or crashes on ends with it.
///
/// Unlike a fork in module code (`in_forked_child`), the copy is the host's
/// own: this process must have no other thread when it forks (checked; an
/// error otherwise), so no lock or GIL is held by a thread the copy lacks,
/// and the one thread it has is the one that made the parent's thread
/// states. The copy may then take GILs and start threads as the parent would.
pub fn ask_a_copy(deadline: std::time::Instant, work: impl FnOnce(Reply)) -> std::io::Result<CopyAnswer> {
    let threads = std::fs::read_dir("/proc/self/task")?.count();
    if threads != 1 {
        return Err(std::io::Error::other(format!(
            "a copy of this process can only be made while it has one thread, not {threads}"
        )));
    }
    let mut ends = [0; 2];
    // SAFETY: ends is a valid array of two descriptors for pipe2 to fill.
    if unsafe { libc::pipe2(ends.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded, so both are open descriptors that nothing
    // else owns.
    let (read_end, write_end) = unsafe {
        use std::os::fd::FromRawFd;
        (std::fs::File::from_raw_fd(ends[0]), std::os::fd::OwnedFd::from_raw_fd(ends[1]))
    };
    let forked_before = in_forked_child();
    // SAFETY: getpid has no preconditions.
    let parent = unsafe { libc::getpid() };
    // SAFETY: this process has one thread (checked above), so the copy
    // lacks no thread and no lock is held by one; glibc's fork handlers make
    // malloc usable in the copy.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if pid == 0 {
        // The copy is the host's own, not a module's fork.
        FORKED.store(forked_before, Ordering::Relaxed);
        // A copy outlives no parent (a SIGKILL leaves no one to end it):
        // the kernel ends it with its parent, and if the parent is gone
        // already it ends now.
        // SAFETY: prctl, getppid and _exit only act on this process.
        unsafe {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 || libc::getppid() != parent {
                libc::_exit(1);
            }
        }
        drop(read_end);
        use std::os::fd::IntoRawFd;
        let reply = Reply { fd: write_end.into_raw_fd(), claimed: Default::default() };
        // A panic must not unwind into the parent's code, which this copy
        // also holds: it ends the copy, as a work that returns unanswered does.
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(reply))).is_err();
        // SAFETY: _exit ends the process at once.
        unsafe { libc::_exit(if panicked { 101 } else { 1 }) }
    }
    drop(write_end);
    Ok(wait_for_answer(pid, read_end, deadline))
}

/// Reads the copy's framed answer, or learns how it ended, by `deadline`.
fn wait_for_answer(pid: libc::pid_t, mut from: std::fs::File, deadline: std::time::Instant) -> CopyAnswer {
    use std::io::Read;
    use std::os::fd::AsRawFd;
    let mut got = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(answer) = framed(&got) {
            reap(pid);
            return CopyAnswer::Answered(answer.to_vec());
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            // SAFETY: pid is this process's child, not yet reaped.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            reap(pid);
            return CopyAnswer::TimedOut;
        }
        // A slice at a time: a copy that died while a process it started
        // holds the pipe open gives no end of file, only its exit.
        let slice = left.min(std::time::Duration::from_millis(100)).as_millis().max(1) as libc::c_int;
        let mut poll = libc::pollfd { fd: from.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: poll is given one valid pollfd.
        let ready = unsafe { libc::poll(&mut poll, 1, slice) };
        if ready > 0 {
            match from.read(&mut chunk) {
                Ok(0) => return ended(pid, &got),
                Ok(n) => got.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return ended(pid, &got),
            }
        } else if let Some(status) = try_reap(pid) {
            // What it wrote before it ended is in the pipe already; read
            // only that (a process it started may hold the pipe open).
            loop {
                let mut poll = libc::pollfd { fd: from.as_raw_fd(), events: libc::POLLIN, revents: 0 };
                // SAFETY: as above; a zero timeout only looks.
                if unsafe { libc::poll(&mut poll, 1, 0) } <= 0 {
                    break;
                }
                match from.read(&mut chunk) {
                    Ok(n) if n > 0 => got.extend_from_slice(&chunk[..n]),
                    _ => break,
                }
            }
            return match framed(&got) {
                Some(answer) => CopyAnswer::Answered(answer.to_vec()),
                None => CopyAnswer::Ended(status),
            };
        }
    }
}

/// The answer, once all of it is in.
fn framed(got: &[u8]) -> Option<&[u8]> {
    let length = u64::from_le_bytes(got.get(..8)?.try_into().ok()?) as usize;
    got.get(8..8usize.checked_add(length)?)
}

fn ended(pid: libc::pid_t, got: &[u8]) -> CopyAnswer {
    let status = reap(pid);
    match framed(got) {
        Some(answer) => CopyAnswer::Answered(answer.to_vec()),
        None => CopyAnswer::Ended(status),
    }
}

/// Waits for the child to end: how it ended.
fn reap(pid: libc::pid_t) -> Ending {
    let mut status = 0;
    loop {
        // SAFETY: status is a valid out-parameter; pid is this process's child.
        let done = unsafe { libc::waitpid(pid, &mut status, 0) };
        if done == pid {
            return describe(status);
        }
        if done < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return Ending::Unknown;
        }
    }
}

/// How the child ended, if it has.
fn try_reap(pid: libc::pid_t) -> Option<Ending> {
    let mut status = 0;
    // SAFETY: as in reap.
    let done = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
    (done == pid).then(|| describe(status))
}

fn describe(status: libc::c_int) -> Ending {
    if libc::WIFSIGNALED(status) {
        Ending::Signal(libc::WTERMSIG(status))
    } else {
        Ending::Exit(libc::WEXITSTATUS(status))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_copy_is_made_while_other_threads_run() {
        // The test harness runs this on a thread of its own, beside main.
        let answer = ask_a_copy(std::time::Instant::now(), |reply| reply.send(b"made"));
        let error = answer.expect_err("a copy made beside other threads");
        assert!(error.to_string().contains("only be made while it has one thread"), "{error}");
    }

    #[test]
    fn an_answer_is_whole_only_once_its_length_is_in() {
        let mut got = 5u64.to_le_bytes().to_vec();
        assert_eq!(framed(&got[..4]), None);
        assert_eq!(framed(&got), None);
        got.extend_from_slice(b"hel");
        assert_eq!(framed(&got), None);
        got.extend_from_slice(b"lo and more");
        assert_eq!(framed(&got), Some(&b"hello"[..]));
    }
}
