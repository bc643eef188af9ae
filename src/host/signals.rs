//! SIGINT, SIGTERM and SIGHUP, taken so that no module can take them over.
//!
//! A signal handler is process-wide: a module in the main interpreter that
//! calls `signal.signal(SIGTERM, f)` (its `__init__` runs on the host's main
//! thread; on 2.7 a sub-interpreter there may too) replaces it, and the host
//! never hears of SIGTERM again. So the host installs no handler. It blocks
//! the three signals in its first thread before any other thread exists, so
//! every thread, Python's included, inherits the mask, and one thread of its
//! own takes them with `sigwait`, whatever disposition a module sets.
//! Python never sees them either (it is initialized without its handlers):
//! modules get no KeyboardInterrupt, as before.
//!
//! The first signal asks the host to stop; any later one forces an exit.
//!
//! A blocked mask survives fork and exec. An atfork handler unblocks the
//! signals again in a child made by `fork()` (`os.fork`, multiprocessing,
//! `subprocess` on 2.7 to 3.9). Python 3.10+ starts `subprocess` children
//! with vfork, which runs no atfork handler, so python/pyhost.py turns that
//! off (3.11+ has the switch; see README, "Failure model").

use std::sync::{Mutex, Once};

/// The signals the host takes for itself.
const WATCHED: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

type Callback = Box<dyn Fn(libc::c_int) + Send>;

struct Callbacks {
    first: Callback,
    again: Callback,
    received: u32,
}

static CALLBACKS: Mutex<Option<Callbacks>> = Mutex::new(None);
static WATCHER: Once = Once::new();

fn watched_set() -> libc::sigset_t {
    // SAFETY: sigemptyset and sigaddset only write into `set`, which we own;
    // both are async-signal-safe, so this may run in a forked child.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for signal in WATCHED {
            libc::sigaddset(&mut set, signal);
        }
        set
    }
}

/// `SIG_BLOCK` or `SIG_UNBLOCK` the watched signals in the calling thread.
fn change_mask(how: libc::c_int) -> std::io::Result<()> {
    let set = watched_set();
    // SAFETY: pthread_sigmask reads `set` and changes only this thread's mask.
    let rc = unsafe { libc::pthread_sigmask(how, &set, std::ptr::null_mut()) };
    if rc == 0 { Ok(()) } else { Err(std::io::Error::from_raw_os_error(rc)) }
}

/// Runs in a forked child: it is a process of its own, which SIGTERM should end.
extern "C" fn unblock_in_child() {
    let _ = change_mask(libc::SIG_UNBLOCK);
}

/// Takes the signals as [`watch`] does, for a command that only needs to
/// know it was asked to stop: every signal sets the returned flag.
pub fn cancel_flag() -> std::io::Result<std::sync::Arc<std::sync::atomic::AtomicBool>> {
    use std::sync::atomic::{AtomicBool, Ordering};
    let cancel = std::sync::Arc::new(AtomicBool::new(false));
    let (first, again) = (std::sync::Arc::clone(&cancel), std::sync::Arc::clone(&cancel));
    watch(move |_| first.store(true, Ordering::SeqCst), move |_| again.store(true, Ordering::SeqCst))?;
    Ok(cancel)
}

/// Takes SIGINT, SIGTERM and SIGHUP for the host: `first` runs at the first
/// one, `again` at every later one, both on the watcher thread.
///
/// Call it before the process starts any thread: a thread started earlier
/// keeps the signals unblocked and may die of them. A second call (a second
/// host in one process) replaces the callbacks and starts the count again.
pub fn watch(
    first: impl Fn(libc::c_int) + Send + 'static,
    again: impl Fn(libc::c_int) + Send + 'static,
) -> std::io::Result<()> {
    change_mask(libc::SIG_BLOCK)?;
    *CALLBACKS.lock().unwrap_or_else(|p| p.into_inner()) =
        Some(Callbacks { first: Box::new(first), again: Box::new(again), received: 0 });
    let mut started = Ok(());
    WATCHER.call_once(|| {
        // SAFETY: registers a function that only calls async-signal-safe
        // functions (sigemptyset, sigaddset, pthread_sigmask), as a child
        // handler must.
        let rc = unsafe { libc::pthread_atfork(None, None, Some(unblock_in_child)) };
        if rc != 0 {
            tracing::warn!(
                "cannot register an atfork handler ({}); forked children keep SIGINT/SIGTERM/SIGHUP blocked",
                std::io::Error::from_raw_os_error(rc)
            );
        }
        started = std::thread::Builder::new().name("signals".into()).spawn(wait_for_signals).map(drop);
    });
    started
}

fn wait_for_signals() {
    let set = watched_set();
    loop {
        let mut signal: libc::c_int = 0;
        // SAFETY: sigwait reads `set` and writes the signal number into
        // `signal`; every watched signal is blocked in this thread (it
        // inherited the mask), as sigwait requires.
        if unsafe { libc::sigwait(&set, &mut signal) } != 0 {
            continue;
        }
        let mut callbacks = CALLBACKS.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(callbacks) = callbacks.as_mut() {
            callbacks.received += 1;
            if callbacks.received == 1 { (callbacks.first)(signal) } else { (callbacks.again)(signal) }
        }
    }
}

/// Ends the process at once with `status`: no atexit handler, no destructor,
/// no Python finalization. Module threads may be anywhere, holding any lock,
/// and running exit-time code under them can hang or abort; this cannot.
pub fn exit_now(status: i32) -> ! {
    // SAFETY: _exit is async-signal-safe and does not return.
    unsafe { libc::_exit(status) }
}
