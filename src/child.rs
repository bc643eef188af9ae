//! Running a child process with a timeout: JSON in on stdin, JSON out as the
//! last line of stdout, or as one JSON value per line handed over while the
//! child still runs (NDJSON). The placement probe, every self-test cell of
//! the matrix and the porting tools are children of this one kind.
//!
//! Every path ends the child: it runs in a process group of its own, and that
//! whole group is killed when the timeout passes, when the caller cancels,
//! and when the [`Running`] handle is dropped (an early return or a panic in
//! the parent). If the parent itself is killed, the kernel kills the child
//! (`PR_SET_PDEATHSIG`), so no probe is left orphaned after a SIGKILL. The
//! kernel ties that to the *thread* that spawned the child, so spawn on the
//! thread that will wait (every caller here does).
//!
//! stdout and stderr go to files rather than pipes: a child that forks
//! leaves grandchildren holding the pipes open, and a reader of a pipe would
//! then wait for them too. Lines are streamed by reading the stdout file at
//! an offset of the parent's own (`read_at`, which moves no file position
//! the child writes at) each time the waiting loop looks at the child.

use std::ffi::OsString;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// How often a waiting parent looks at the child and at its cancel check.
const POLL: Duration = Duration::from_millis(20);

/// Why a child gave no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum ChildError {
    #[error("cannot run {program}: {source}")]
    Spawn { program: String, source: std::io::Error },
    #[error("cannot talk to {program}: {source}")]
    Io { program: String, source: std::io::Error },
    #[error("{program} gave no answer within {:.0} s and was killed{}", .after.as_secs_f64(), tail(.stderr))]
    TimedOut { program: String, after: Duration, stderr: String },
    #[error("{program} was stopped: the host is shutting down")]
    Cancelled { program: String },
    #[error("{program} was killed by {}{}", signal_name(*.signal), tail(.stderr))]
    Signaled { program: String, signal: i32, stderr: String },
    #[error("{program} exited with {status} and no answer{}", tail(.stderr))]
    NoAnswer { program: String, status: ExitStatus, stderr: String },
}

impl ChildError {
    /// The child's stderr, when it ran at all.
    pub fn stderr(&self) -> &str {
        match self {
            ChildError::TimedOut { stderr, .. }
            | ChildError::Signaled { stderr, .. }
            | ChildError::NoAnswer { stderr, .. } => stderr,
            _ => "",
        }
    }
}

fn tail(stderr: &str) -> String {
    let last = last_lines(stderr, 8);
    if last.is_empty() { String::new() } else { format!("; last lines of its output:\n{last}") }
}

/// The last `count` non-blank lines of `text`.
pub fn last_lines(text: &str, count: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(count)..].join("\n")
}

/// "SIGSEGV (signal 11)".
pub fn signal_name(signal: i32) -> String {
    let name = match signal {
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGILL => "SIGILL",
        libc::SIGKILL => "SIGKILL",
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        libc::SIGHUP => "SIGHUP",
        _ => return format!("signal {signal}"),
    };
    format!("{name} (signal {signal})")
}

/// A child to run: the program, its arguments and environment, and how long it may take.
pub struct ChildSpec {
    program: PathBuf,
    args: Vec<OsString>,
    env: Vec<(OsString, Option<OsString>)>,
    timeout: Duration,
    cancel: Option<Box<dyn Fn() -> bool + Send>>,
}

/// How a child ended, with everything it printed.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl ChildSpec {
    pub fn new(program: impl Into<PathBuf>, timeout: Duration) -> ChildSpec {
        ChildSpec { program: program.into(), args: Vec::new(), env: Vec::new(), timeout, cancel: None }
    }

    /// This pyhost binary, running one of its own (hidden) subcommands under
    /// the same interpreter as this process.
    pub fn this_binary(subcommand: &str, timeout: Duration) -> Result<ChildSpec, ChildError> {
        let exe = std::env::current_exe()
            .map_err(|source| ChildError::Spawn { program: "pyhost (this binary)".into(), source })?;
        let mut spec = ChildSpec::new(exe, timeout).arg(subcommand);
        if let Some((key, value)) = crate::python::child_env() {
            spec = spec.env(key, value);
        }
        Ok(spec)
    }

    pub fn arg(mut self, arg: impl Into<OsString>) -> ChildSpec {
        self.args.push(arg.into());
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: Into<OsString>>(mut self, args: I) -> ChildSpec {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> ChildSpec {
        self.env.push((key.into(), Some(value.into())));
        self
    }

    pub fn env_remove(mut self, key: impl Into<OsString>) -> ChildSpec {
        self.env.push((key.into(), None));
        self
    }

    /// Checked while waiting: when it returns true the child is killed and
    /// the run ends with [`ChildError::Cancelled`] (e.g. a SIGTERM arrived).
    pub fn cancel_when(mut self, check: impl Fn() -> bool + Send + 'static) -> ChildSpec {
        self.cancel = Some(Box::new(check));
        self
    }

    fn name(&self) -> String {
        let base = self.program.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        match self.args.first() {
            Some(first) => format!("`{base} {}`", first.to_string_lossy()),
            None => format!("`{base}`"),
        }
    }

    /// Starts the child with `input` on its stdin (then closed).
    pub fn spawn(self, input: &[u8]) -> Result<Running, ChildError> {
        let program = self.name();
        let io = |source| ChildError::Io { program: self.name(), source };
        let stdout = tempfile::tempfile().map_err(io)?;
        let stderr = tempfile::tempfile().map_err(io)?;
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .stdin(Stdio::piped())
            .stdout(stdout.try_clone().map_err(io)?)
            .stderr(stderr.try_clone().map_err(io)?)
            .process_group(0);
        for (key, value) in &self.env {
            match value {
                Some(value) => command.env(key, value),
                None => command.env_remove(key),
            };
        }
        // SAFETY: the closure runs in the forked child before exec and only
        // makes async-signal-safe system calls (prctl, getppid); it touches
        // no memory of the parent that another thread might have locked.
        let parent = std::process::id() as libc::pid_t;
        unsafe {
            command.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // The parent died between fork and prctl: nobody will kill us.
                if libc::getppid() != parent {
                    libc::_exit(1);
                }
                Ok(())
            });
        }
        let child = command.spawn().map_err(|source| ChildError::Spawn { program: program.clone(), source })?;
        let mut running = Running {
            child: Some(child),
            program,
            stdout,
            stderr,
            started: Instant::now(),
            timeout: self.timeout,
            cancel: self.cancel,
        };
        // Written from a thread of its own, so a child that never reads
        // cannot block the parent past its timeout. A child that exits
        // without reading closes the pipe: not an error here, its exit status
        // tells the story.
        if let Some(mut stdin) = running.child_mut().stdin.take() {
            let input = input.to_vec();
            thread::spawn(move || {
                let _ = stdin.write_all(&input);
            });
        }
        Ok(running)
    }

    /// Runs the child to its end (or its timeout) and returns what it printed.
    pub fn run(self, input: &[u8]) -> Result<Finished, ChildError> {
        self.spawn(input)?.wait()
    }

    /// Sends `request` as JSON, and reads the answer from the last line of
    /// stdout that parses as `O`. A child killed by a signal, or past its
    /// timeout, is an error whatever it printed.
    pub fn run_json<I: Serialize, O: DeserializeOwned>(self, request: &I) -> Result<(O, Finished), ChildError> {
        let input = serde_json::to_vec(request).expect("a request serializes to JSON");
        let program = self.name();
        let finished = self.run(&input)?;
        match finished.stdout.lines().rev().find_map(|line| serde_json::from_str::<O>(line).ok()) {
            Some(answer) => Ok((answer, finished)),
            None => Err(ChildError::NoAnswer { program, status: finished.status, stderr: finished.stderr }),
        }
    }

    /// Sends `request` as JSON, and hands `each` every line of stdout that
    /// parses as `O` as soon as the child has written the whole line, while
    /// it still runs. Other lines are skipped (a child's stray output is not
    /// an answer); so is a last line cut short by the child's death. The
    /// values handed over stay valid whatever follows: a child killed by a
    /// signal, past its timeout or cancelled is still an error here.
    pub fn run_ndjson<I: Serialize, O: DeserializeOwned>(
        self,
        request: &I,
        mut each: impl FnMut(O),
    ) -> Result<Finished, ChildError> {
        let input = serde_json::to_vec(request).expect("a request serializes to JSON");
        let program = self.name();
        self.spawn(&input)?.wait_lines(|line| match serde_json::from_str::<O>(line) {
            Ok(value) => each(value),
            Err(why) => tracing::debug!("{program} wrote a line that is not an answer ({why}): {line}"),
        })
    }
}

/// A running child. Dropping it kills the child's whole process group.
pub struct Running {
    child: Option<Child>,
    program: String,
    stdout: File,
    stderr: File,
    started: Instant,
    timeout: Duration,
    cancel: Option<Box<dyn Fn() -> bool + Send>>,
}

impl Running {
    fn child_mut(&mut self) -> &mut Child {
        self.child.as_mut().expect("present until waited for")
    }

    /// The child's process id.
    pub fn id(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    /// Waits for the child, killing it when the timeout passes or the cancel check says so.
    pub fn wait(self) -> Result<Finished, ChildError> {
        self.wait_lines(|_| {})
    }

    /// Waits as [`Running::wait`] does, handing `each_line` every complete
    /// line of stdout (without its newline) as soon as the child has written
    /// it. A last line without a newline is handed over once the child has
    /// exited by itself; a child killed or timed out may have been cut off
    /// mid-line, so its unfinished line is not.
    pub fn wait_lines(mut self, mut each_line: impl FnMut(&str)) -> Result<Finished, ChildError> {
        let mut lines = LineReader::default();
        loop {
            let exited = self.exited();
            // Read after looking at the child: once it has exited, this read
            // sees everything it wrote, so no line is handed over late.
            lines.read_from(&self.stdout, &mut each_line);
            match exited {
                Ok(true) => break,
                Ok(false) => {}
                Err(source) => return Err(ChildError::Io { program: self.program.clone(), source }),
            }
            if self.cancel.as_ref().is_some_and(|cancelled| cancelled()) {
                self.kill();
                return Err(ChildError::Cancelled { program: self.program.clone() });
            }
            if self.started.elapsed() >= self.timeout {
                self.kill();
                let stderr = read_all(&mut self.stderr);
                return Err(ChildError::TimedOut { program: self.program.clone(), after: self.timeout, stderr });
            }
            thread::sleep(POLL);
        }
        // The child is a zombie now, so its pid (the group's id) cannot be
        // reused: anything it left in its group goes with it, then it is reaped.
        self.kill_group();
        let status = self
            .child
            .take()
            .expect("present until waited for")
            .wait()
            .map_err(|source| ChildError::Io { program: self.program.clone(), source })?;
        lines.read_from(&self.stdout, &mut each_line);
        let (stdout, stderr) = (read_all(&mut self.stdout), read_all(&mut self.stderr));
        if let Some(signal) = status.signal() {
            return Err(ChildError::Signaled { program: self.program.clone(), signal, stderr });
        }
        lines.finish(&mut each_line);
        Ok(Finished { status, stdout, stderr, elapsed: self.started.elapsed() })
    }

    /// Whether the child has exited, without reaping it (`WNOWAIT`).
    fn exited(&self) -> std::io::Result<bool> {
        let Some(child) = &self.child else { return Ok(true) };
        // SAFETY: waitid writes only into `info`, a zeroed siginfo_t we own;
        // WNOWAIT leaves the child to be reaped by Child::wait.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let rc = unsafe {
            libc::waitid(
                libc::P_PID,
                child.id() as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            )
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: si_pid is valid to read after a successful waitid.
        Ok(unsafe { info.si_pid() } != 0)
    }

    fn kill_group(&self) {
        if let Some(child) = &self.child {
            // SAFETY: killpg only sends a signal; the group id is the child's
            // pid (process_group(0)), which is still ours to signal because the
            // child has not been reaped yet.
            unsafe {
                libc::killpg(child.id() as libc::pid_t, libc::SIGKILL);
            }
        }
    }

    fn kill(&mut self) {
        self.kill_group();
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Splits what a child has written so far into lines, reading its stdout
/// file from where the last read ended.
#[derive(Default)]
struct LineReader {
    /// Bytes of the file already read.
    offset: u64,
    /// The start of a line whose newline has not been written yet.
    partial: Vec<u8>,
}

impl LineReader {
    fn read_from(&mut self, file: &File, each_line: &mut impl FnMut(&str)) {
        let mut buffer = [0u8; 64 * 1024];
        loop {
            match file.read_at(&mut buffer, self.offset) {
                Ok(0) => return,
                Ok(read) => {
                    self.offset += read as u64;
                    self.take(&buffer[..read], each_line);
                }
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                // Only a file of our own is read: the whole output is read
                // again at the end, and it reports what happened.
                Err(error) => {
                    tracing::debug!("reading a child's output: {error}");
                    return;
                }
            }
        }
    }

    fn take(&mut self, bytes: &[u8], each_line: &mut impl FnMut(&str)) {
        let mut rest = bytes;
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            self.partial.extend_from_slice(&rest[..end]);
            each_line(&String::from_utf8_lossy(&self.partial));
            self.partial.clear();
            rest = &rest[end + 1..];
        }
        self.partial.extend_from_slice(rest);
    }

    /// The child exited by itself: its last line needs no newline.
    fn finish(&mut self, each_line: &mut impl FnMut(&str)) {
        if !self.partial.is_empty() {
            each_line(&String::from_utf8_lossy(&std::mem::take(&mut self.partial)));
        }
    }
}

fn read_all(file: &mut File) -> String {
    let mut bytes = Vec::new();
    let _ = file.seek(SeekFrom::Start(0)).and_then(|_| file.read_to_end(&mut bytes));
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str, timeout: Duration) -> ChildSpec {
        ChildSpec::new("/bin/sh", timeout).arg("-c").arg(script)
    }

    fn alive(pid: i32) -> bool {
        // SAFETY: signal 0 only checks that the process exists.
        unsafe { libc::kill(pid, 0) == 0 }
    }

    #[test]
    fn json_in_json_out() {
        let (answer, finished) = sh("read line; echo noise; echo \"$line\"", Duration::from_secs(10))
            .run_json::<_, serde_json::Value>(&serde_json::json!({"n": 7}))
            .unwrap();
        assert_eq!(answer["n"], 7);
        assert!(finished.status.success());
    }

    #[test]
    fn a_child_past_its_timeout_is_killed_with_its_group() {
        // The grandchild would outlive a kill of the child alone.
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let script = format!("sleep 600 & echo $! > {}; wait", pidfile.display());
        let started = Instant::now();
        let error = sh(&script, Duration::from_millis(500)).run(b"").unwrap_err();
        assert!(matches!(error, ChildError::TimedOut { .. }), "{error}");
        assert!(started.elapsed() < Duration::from_secs(30));
        let grandchild: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while alive(grandchild) && Instant::now() < deadline {
            thread::sleep(POLL);
        }
        assert!(!alive(grandchild), "the grandchild {grandchild} outlived the timeout");
    }

    #[test]
    fn a_signal_is_reported_with_the_output() {
        let error = sh("echo last words >&2; kill -SEGV $$", Duration::from_secs(10)).run(b"").unwrap_err();
        match &error {
            ChildError::Signaled { signal, stderr, .. } => {
                assert_eq!(*signal, libc::SIGSEGV);
                assert!(stderr.contains("last words"));
            }
            other => panic!("not a signal: {other}"),
        }
        assert!(error.to_string().contains("SIGSEGV"), "{error}");
    }

    #[test]
    fn no_json_answer_is_an_error_with_the_status() {
        let error =
            sh("echo not json; exit 3", Duration::from_secs(10)).run_json::<_, serde_json::Value>(&1).unwrap_err();
        assert!(matches!(error, ChildError::NoAnswer { ref status, .. } if status.code() == Some(3)), "{error}");
    }

    #[test]
    fn cancelling_kills_the_child() {
        let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let setter = std::sync::Arc::clone(&flag);
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(200));
            setter.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        let started = Instant::now();
        let error = sh("sleep 600", Duration::from_secs(600))
            .cancel_when(move || flag.load(std::sync::atomic::Ordering::SeqCst))
            .run(b"")
            .unwrap_err();
        assert!(matches!(error, ChildError::Cancelled { .. }), "{error}");
        assert!(started.elapsed() < Duration::from_secs(60));
    }

    #[test]
    fn a_child_that_never_reads_does_not_block_the_parent() {
        let big = vec![b'x'; 4 << 20];
        let error = sh("sleep 600", Duration::from_millis(300)).run(&big).unwrap_err();
        assert!(matches!(error, ChildError::TimedOut { .. }), "{error}");
    }

    /// Each value handed over, with how long after the start it came.
    fn streamed(script: &str) -> (Vec<(serde_json::Value, Duration)>, Result<Finished, ChildError>) {
        let started = Instant::now();
        let mut seen = Vec::new();
        let ended = sh(script, Duration::from_secs(60))
            .run_ndjson::<_, serde_json::Value>(&0, |value| seen.push((value, started.elapsed())));
        (seen, ended)
    }

    #[test]
    fn ndjson_lines_are_handed_over_while_the_child_runs() {
        // The child waits for a file only the parent's callback can make:
        // it ends only if the first line was handed over before it exited.
        let dir = tempfile::tempdir().unwrap();
        let go = dir.path().join("go");
        let script = format!(
            "echo '{{\"n\": 1}}'; while [ ! -e {go} ]; do sleep 0.05; done; echo '{{\"n\": 2}}'",
            go = go.display()
        );
        let mut seen = Vec::new();
        let finished = sh(&script, Duration::from_secs(60))
            .run_ndjson::<_, serde_json::Value>(&0, |value| {
                if seen.is_empty() {
                    std::fs::write(&go, b"").unwrap();
                }
                seen.push(value["n"].as_i64().unwrap());
            })
            .unwrap();
        assert_eq!(seen, [1, 2]);
        assert!(finished.status.success());
    }

    #[test]
    fn ndjson_joins_a_line_written_in_parts_and_skips_garbage() {
        let (seen, ended) = streamed(
            "printf '{\"n\":'; sleep 0.3; printf ' 1}\\n'; echo 'not json'; echo '{\"n\": 2}{\"n\": 3}'; \
             printf '{\"n\": 4}'",
        );
        let values: Vec<_> = seen.iter().map(|(v, _)| v["n"].as_i64().unwrap()).collect();
        // The glued line is garbage too; a last line without its newline
        // counts once the child exited by itself.
        assert_eq!(values, [1, 4]);
        assert!(ended.unwrap().stdout.contains("not json"));
    }

    #[test]
    fn ndjson_keeps_what_came_before_the_child_died_mid_line() {
        let (seen, ended) = streamed("echo '{\"n\": 1}'; printf '{\"n\": 2'; kill -KILL $$");
        let values: Vec<_> = seen.iter().map(|(v, _)| v["n"].as_i64().unwrap()).collect();
        assert_eq!(values, [1], "the cut line is not an answer");
        assert!(matches!(ended, Err(ChildError::Signaled { signal: libc::SIGKILL, .. })), "{ended:?}");
    }

    #[test]
    fn ndjson_past_the_timeout_kills_the_child_after_its_lines() {
        let mut seen = Vec::new();
        let ended = sh("echo '{\"n\": 1}'; sleep 600", Duration::from_millis(500))
            .run_ndjson::<_, serde_json::Value>(&0, |value| seen.push(value));
        assert_eq!(seen.len(), 1);
        assert!(matches!(ended, Err(ChildError::TimedOut { .. })), "{ended:?}");
    }

    #[test]
    fn a_missing_program_is_named() {
        let error = ChildSpec::new("/nonexistent/tool", Duration::from_secs(1)).run(b"").unwrap_err();
        assert!(matches!(error, ChildError::Spawn { .. }));
        assert!(error.to_string().contains("tool"), "{error}");
    }
}
