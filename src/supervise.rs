//! Starting and supervising worker processes (habits from cargo-nextest): each worker in its own
//! process group, so Ctrl-C reaches only mora, which then decides; a worker dies with mora (a
//! parent-death signal); a reader thread per pipe so a full pipe never blocks the worker; stderr kept
//! in a capped buffer; one supervision loop ([`RunningWorker::supervise`]) with a deadline, then
//! SIGTERM to the group, a grace period, SIGKILL; reaping with wait4 for the kernel's view of the peak
//! RSS. How a worker ended is decided from mora's intent before reaping: a deliberate kill is never a
//! crash, and a worker that dies while mora is being interrupted was interrupted. Signals are handled
//! here and nowhere else.

use std::io::{BufRead, BufReader, Read};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};

use crate::phase::Phase;
use crate::protocol::{RESULT_FD, WorkerMessage};
use crate::results::Termination;
use crate::units::{kib_to_bytes, mib};

/// How long a worker has between SIGTERM and SIGKILL.
pub(crate) const GRACE: Duration = Duration::from_secs(3);
const STDERR_CAP: usize = 16 * 1024;

static INTERRUPTS: AtomicUsize = AtomicUsize::new(0);
/// Process group of the worker running now (0: none), for the signal handler's second Ctrl-C.
static CURRENT_GROUP: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_interrupt(_: libc::c_int) {
    let n = INTERRUPTS.fetch_add(1, Ordering::SeqCst) + 1;
    let group = CURRENT_GROUP.load(Ordering::SeqCst);
    if n >= 2 && group > 0 {
        // A second Ctrl-C kills at once.
        // SAFETY: kill is async-signal-safe and takes no pointers.
        unsafe { libc::kill(-group, libc::SIGKILL) };
    }
}

/// The signals that stop a run the way Ctrl-C does: a terminal's Ctrl-C and Ctrl-\\, `kill`,
/// `timeout` and schedulers (SIGTERM), a closed terminal or SSH session (SIGHUP).
pub(crate) const INTERRUPTS_ON: [libc::c_int; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

/// Installs mora's Ctrl-C handler for every signal of [`INTERRUPTS_ON`]: the first stops the run
/// after ending the trial in flight (its results and reports are written), the second kills the
/// worker at once.
pub(crate) fn install_interrupt_handler() {
    for signal in INTERRUPTS_ON {
        // SAFETY: the handler only touches atomics and calls kill, which are async-signal-safe.
        unsafe { libc::signal(signal, on_interrupt as *const () as libc::sighandler_t) };
    }
}

/// The handler each fault signal had before [`die_of_sent_fault_signals`] (Rust's stack-overflow
/// reporter), for the faults that are real.
static PREVIOUS_FAULT_HANDLERS: std::sync::OnceLock<[(libc::c_int, libc::sigaction); 2]> = std::sync::OnceLock::new();

extern "C" fn on_fault(signal: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo_t to an SA_SIGINFO handler.
    let sent = info.is_null() || unsafe { (*info).si_code } <= 0;
    let previous = PREVIOUS_FAULT_HANDLERS.get().and_then(|p| p.iter().find(|(s, _)| *s == signal));
    // SAFETY: sigaction and raise are async-signal-safe; the action restored is one the kernel gave
    // back, and it lives in a static.
    unsafe {
        match previous {
            // A real fault: the handler that was there takes it when the instruction faults again.
            Some((_, action)) if !sent => {
                libc::sigaction(signal, action, std::ptr::null_mut());
            }
            // Sent by kill (si_code <= 0): die of it, as a process without handlers does. The
            // signal is blocked in its handler, so it arrives, with the default action, on return.
            _ => {
                libc::signal(signal, libc::SIG_DFL);
                libc::raise(signal);
            }
        }
    }
}

/// In a worker: a SIGSEGV or SIGBUS sent from outside (`kill -SEGV`) ends it as a crash would. Rust's
/// stack-overflow handler, which is installed for both, treats a signal that no fault raised as
/// handled, so without this a single one was ignored and the worker ran on. Real faults still go to
/// that handler.
pub(crate) fn die_of_sent_fault_signals() {
    let install = |signal: libc::c_int| {
        // SAFETY: sigaction is plain data, for which all zeroes is a valid value.
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let mut previous: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = on_fault as *const () as libc::sighandler_t;
        action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        // SAFETY: both actions live for the call; sigemptyset initialises the mask it is given.
        unsafe {
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, &mut previous);
        }
        (signal, previous)
    };
    PREVIOUS_FAULT_HANDLERS.get_or_init(|| [install(libc::SIGSEGV), install(libc::SIGBUS)]);
}

pub(crate) fn interrupted() -> bool {
    INTERRUPTS.load(Ordering::SeqCst) > 0
}

/// Why mora ended a worker, set before the kill so the reaped status is read right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KillIntent {
    /// The isolation scenario measures what a kill gives back.
    Deliberate,
    TimedOut,
    Interrupted,
}

/// What a message handler tells the supervision loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    Continue,
    /// Stop listening; the worker is left running for the caller (isolation measures, then kills).
    Stop,
}

/// How the supervision loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    /// The worker closed its message channel (it exited, or is about to).
    Closed,
    /// The handler said stop.
    Stopped,
    /// The deadline passed: the worker was ended (SIGTERM, grace, SIGKILL).
    TimedOut,
    /// mora was interrupted: the worker was ended the same way.
    Interrupted,
}

/// What waiting for the next message gave.
enum Next {
    Message(WorkerMessage),
    Closed,
    TimedOut,
    Interrupted,
}

/// How a reaped worker ended.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Exit {
    pub termination: Termination,
    pub peak_rss_mb: Option<f64>,
    pub wall_ms: f64,
}

impl Exit {
    /// The signal that ended the worker, if one did.
    pub(crate) fn signal(&self) -> Option<i32> {
        match self.termination {
            Termination::Signal { number, .. } => Some(number),
            _ => None,
        }
    }

    pub(crate) fn succeeded(&self) -> bool {
        self.termination == Termination::ExitCode { code: 0 }
    }
}

pub(crate) struct RunningWorker {
    pub pid: u32,
    pub started: Instant,
    messages: Receiver<WorkerMessage>,
    stderr: Arc<Mutex<Vec<u8>>>,
    stdin: Option<ChildStdin>,
    pub last_phase: Phase,
    pub kill_intent: Option<KillIntent>,
    /// When the worker said it was ready (its first load answered), in ms after the spawn.
    pub ready_after_ms: Option<f64>,
    /// Kept for its pipes; the process is waited for with waitid and wait4, never through it (it
    /// would reap the worker and lose its rusage).
    _child: Child,
}

/// Starts `mora worker` with `args`, its messages on descriptor 3, in a process group of its own.
/// Call it from the thread that will outlive the worker (mora's main thread): the parent-death signal
/// fires when the thread that forked the worker ends.
pub(crate) fn spawn(args: &[String], env: &[(String, String)]) -> Result<RunningWorker> {
    spawn_in(args, env, None)
}

/// [`spawn`], with the worker joining the cgroup whose `cgroup.procs` is given before it runs a line
/// of mora: its memory limit covers everything the worker allocates.
pub(crate) fn spawn_in(args: &[String], env: &[(String, String)], cgroup_procs: Option<&std::path::Path>) -> Result<RunningWorker> {
    let exe = std::env::current_exe().context("cannot find mora's own executable")?;
    let join = cgroup_procs
        .map(|p| {
            std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).map_err(|_| anyhow!("a cgroup path with a NUL byte: {}", p.display()))
        })
        .transpose()?;
    let (read_end, write_end) = pipe()?;
    let write_fd = {
        use std::os::fd::AsRawFd;
        write_end.as_raw_fd()
    };
    let parent = std::process::id() as libc::pid_t;
    let mut command = Command::new(exe);
    command.arg("worker").args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    // Own process group: a terminal's Ctrl-C goes to mora alone, and mora signals the group.
    command.process_group(0);
    for (k, v) in env {
        command.env(k, v);
    }
    // SAFETY: between fork and exec the closure only makes async-signal-safe calls (dup2, prctl,
    // getppid, raise, open, write, close) on plain integers and a path made before the fork, and
    // allocates nothing.
    unsafe {
        command.pre_exec(move || {
            if let Some(procs) = &join {
                let fd = libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                if fd < 0 || libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(fd);
            }
            // dup2 clears close-on-exec on the new descriptor, so only fd 3 survives exec.
            if libc::dup2(write_fd, RESULT_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            // Die with mora, even when it is SIGKILLed or OOM-killed: no worker outlives its parent.
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // mora may have died before the line above: then nobody would send the signal.
            if libc::getppid() != parent {
                libc::raise(libc::SIGKILL);
            }
            Ok(())
        });
    }
    let started = Instant::now();
    let mut child = command.spawn().context("cannot start the worker")?;
    drop(write_end);
    let pid = child.id();
    CURRENT_GROUP.store(pid as i32, Ordering::SeqCst);

    let (tx, messages) = mpsc::channel();
    let reader = std::fs::File::from(read_end);
    thread::spawn(move || {
        for line in BufReader::new(reader).lines() {
            let Ok(line) = line else { break };
            if let Ok(message) = serde_json::from_str::<WorkerMessage>(&line) {
                if tx.send(message).is_err() {
                    break;
                }
            }
        }
    });
    let stderr = Arc::new(Mutex::new(Vec::new()));
    for pipe in
        [child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>), child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>)]
            .into_iter()
            .flatten()
    {
        let buf = Arc::clone(&stderr);
        thread::spawn(move || drain_capped(pipe, &buf));
    }
    let stdin = child.stdin.take();
    Ok(RunningWorker {
        pid,
        started,
        messages,
        stderr,
        stdin,
        last_phase: Phase::Start,
        kill_intent: None,
        ready_after_ms: None,
        _child: child,
    })
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array it is given, which has room for two.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(anyhow!("cannot create a pipe: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: both descriptors were just created by pipe2 and are owned by nothing else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Reads a pipe to its end, keeping the last `STDERR_CAP` bytes.
fn drain_capped(mut pipe: Box<dyn Read + Send>, buf: &Mutex<Vec<u8>>) {
    let mut chunk = [0u8; 8192];
    while let Ok(n) = pipe.read(&mut chunk) {
        if n == 0 {
            break;
        }
        if let Ok(mut b) = buf.lock() {
            b.extend_from_slice(&chunk[..n]);
            if b.len() > STDERR_CAP {
                let excess = b.len() - STDERR_CAP;
                b.drain(..excess);
            }
        }
    }
}

impl RunningWorker {
    /// The one supervision loop: hands every message to `on_message` until the worker closes its
    /// channel or the handler says stop; past `deadline`, or when mora is interrupted, it ends the
    /// worker (SIGTERM to its group, a grace period, SIGKILL) with that intent recorded first.
    pub(crate) fn supervise(&mut self, deadline: Instant, mut on_message: impl FnMut(&mut RunningWorker, WorkerMessage) -> Flow) -> Ended {
        loop {
            match self.next(deadline) {
                Next::Message(message) => {
                    if on_message(self, message) == Flow::Stop {
                        return Ended::Stopped;
                    }
                }
                Next::Closed => return Ended::Closed,
                Next::TimedOut => {
                    self.kill(KillIntent::TimedOut);
                    return Ended::TimedOut;
                }
                Next::Interrupted => {
                    self.kill(KillIntent::Interrupted);
                    return Ended::Interrupted;
                }
            }
        }
    }

    /// Waits for the next message until `deadline`; phase messages update `last_phase`, the first
    /// `Ready` sets `ready_after_ms`.
    fn next(&mut self, deadline: Instant) -> Next {
        loop {
            if interrupted() {
                return Next::Interrupted;
            }
            let now = Instant::now();
            if now >= deadline {
                return Next::TimedOut;
            }
            match self.messages.recv_timeout((deadline - now).min(Duration::from_millis(100))) {
                Ok(message) => {
                    match &message {
                        WorkerMessage::Phase { phase } => self.last_phase = phase.clone(),
                        WorkerMessage::Ready(_) if self.ready_after_ms.is_none() => {
                            self.ready_after_ms = Some(self.started.elapsed().as_secs_f64() * 1000.0);
                        }
                        _ => {}
                    }
                    return Next::Message(message);
                }
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => return Next::Closed,
            }
        }
    }

    /// Ends the worker: SIGKILL for a deliberate kill, else SIGTERM to its group, a grace period,
    /// then SIGKILL. The intent is recorded first.
    pub(crate) fn kill(&mut self, intent: KillIntent) {
        self.kill_intent = Some(intent);
        if intent == KillIntent::Deliberate {
            self.signal_group(libc::SIGKILL);
            return;
        }
        self.signal_group(libc::SIGTERM);
        let until = Instant::now() + GRACE;
        while Instant::now() < until {
            if exited(self.pid, false) {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        self.signal_group(libc::SIGKILL);
    }

    /// Signals the worker's process group. Only called before the worker is reaped: until then its
    /// pid, and so its group id, cannot belong to anyone else.
    fn signal_group(&self, signal: libc::c_int) {
        // SAFETY: kill takes plain integers; the group is the unreaped worker's own.
        unsafe { libc::kill(-(self.pid as i32), signal) };
    }

    /// Reaps the worker (blocking until it has exited), with the kernel's peak RSS for it. Whatever
    /// the worker left in its group is killed between its exit and its reaping, while the zombie still
    /// holds the group id, so the kill cannot reach a group that reused it.
    pub(crate) fn reap(mut self) -> (Exit, String) {
        drop(self.stdin.take());
        exited(self.pid, true);
        self.signal_group(libc::SIGKILL);
        let mut status: libc::c_int = 0;
        // SAFETY: rusage is plain data, for which all zeroes is a valid value.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let rc = loop {
            // SAFETY: wait4 writes into the two out-parameters, which live for the call.
            let rc = unsafe { libc::wait4(self.pid as libc::pid_t, &mut status, 0, &mut usage) };
            if rc < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            break rc;
        };
        let wall_ms = self.started.elapsed().as_secs_f64() * 1000.0;
        CURRENT_GROUP.store(0, Ordering::SeqCst);
        let termination = if rc < 0 {
            Termination::Unknown
        } else if libc::WIFEXITED(status) {
            Termination::ExitCode { code: libc::WEXITSTATUS(status) }
        } else if libc::WIFSIGNALED(status) {
            let number = libc::WTERMSIG(status);
            Termination::Signal { number, name: signal_name(number) }
        } else {
            Termination::Unknown
        };
        // ru_maxrss is in KiB on Linux.
        let peak_rss_mb = (rc >= 0 && usage.ru_maxrss > 0).then(|| mib(kib_to_bytes(usage.ru_maxrss as u64)));
        let exit = Exit { termination, peak_rss_mb, wall_ms };
        // Give the pipe readers a moment to collect the last bytes of stderr.
        thread::sleep(Duration::from_millis(20));
        let tail = self.stderr_tail();
        (exit, tail)
    }

    /// Writes one line to the worker's stdin (a serving worker's requests).
    pub(crate) fn tell(&mut self, line: &str) -> Result<()> {
        use std::io::Write;
        let stdin = self.stdin.as_mut().ok_or_else(|| anyhow!("the worker's stdin is closed"))?;
        writeln!(stdin, "{line}").and_then(|()| stdin.flush()).context("cannot write to the worker's stdin: it has exited")
    }

    pub(crate) fn stderr_tail(&self) -> String {
        let bytes = self.stderr.lock().map(|b| b.clone()).unwrap_or_default();
        tail_of(&String::from_utf8_lossy(&bytes))
    }
}

/// The last lines of a worker's stderr. A panic's message comes before its backtrace, which can push
/// it out of the tail: it is kept, with the lines that follow it, ahead of the tail.
fn tail_of(text: &str) -> String {
    const LINES: usize = 30;
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(LINES);
    match lines.iter().rposition(|l| l.contains("panicked at")) {
        Some(panic) if panic < start => {
            let message_end = (panic + 3).min(start);
            let mut kept: Vec<&str> = lines[panic..message_end].to_vec();
            kept.push("...");
            kept.extend(&lines[start + (message_end - panic) + 1..]);
            kept.join("\n")
        }
        _ => lines[start..].join("\n"),
    }
}

/// Whether the worker has exited, without reaping it; `block` waits until it has.
fn exited(pid: u32, block: bool) -> bool {
    let flags = libc::WEXITED | libc::WNOWAIT | if block { 0 } else { libc::WNOHANG };
    loop {
        // SAFETY: siginfo_t is plain data, for which all zeroes is a valid value.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: waitid writes into `info`, which lives for the call.
        let rc = unsafe { libc::waitid(libc::P_PID, pid, &mut info, flags) };
        if rc != 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            // ECHILD: nothing to wait for.
            return true;
        }
        // SAFETY: si_pid is set by waitid for WEXITED, and 0 when WNOHANG found nothing.
        return unsafe { info.si_pid() } != 0;
    }
}

/// A signal's name, e.g. 9 -> "SIGKILL", 35 -> "SIGRTMIN+1"; "signal N" for a number Linux does not
/// name.
pub(crate) fn signal_name(signal: i32) -> String {
    let named = [
        (libc::SIGHUP, "SIGHUP"),
        (libc::SIGINT, "SIGINT"),
        (libc::SIGQUIT, "SIGQUIT"),
        (libc::SIGILL, "SIGILL"),
        (libc::SIGTRAP, "SIGTRAP"),
        (libc::SIGABRT, "SIGABRT"),
        (libc::SIGBUS, "SIGBUS"),
        (libc::SIGFPE, "SIGFPE"),
        (libc::SIGKILL, "SIGKILL"),
        (libc::SIGUSR1, "SIGUSR1"),
        (libc::SIGSEGV, "SIGSEGV"),
        (libc::SIGUSR2, "SIGUSR2"),
        (libc::SIGPIPE, "SIGPIPE"),
        (libc::SIGALRM, "SIGALRM"),
        (libc::SIGTERM, "SIGTERM"),
        (libc::SIGSTKFLT, "SIGSTKFLT"),
        (libc::SIGCHLD, "SIGCHLD"),
        (libc::SIGCONT, "SIGCONT"),
        (libc::SIGSTOP, "SIGSTOP"),
        (libc::SIGTSTP, "SIGTSTP"),
        (libc::SIGTTIN, "SIGTTIN"),
        (libc::SIGTTOU, "SIGTTOU"),
        (libc::SIGURG, "SIGURG"),
        (libc::SIGXCPU, "SIGXCPU"),
        (libc::SIGXFSZ, "SIGXFSZ"),
        (libc::SIGVTALRM, "SIGVTALRM"),
        (libc::SIGPROF, "SIGPROF"),
        (libc::SIGWINCH, "SIGWINCH"),
        (libc::SIGIO, "SIGIO"),
        (libc::SIGPWR, "SIGPWR"),
        (libc::SIGSYS, "SIGSYS"),
    ];
    if let Some((_, name)) = named.iter().find(|(n, _)| *n == signal) {
        return (*name).to_string();
    }
    let (min, max) = (libc::SIGRTMIN(), libc::SIGRTMAX());
    match signal {
        s if s == min => "SIGRTMIN".into(),
        s if s > min && s <= max => format!("SIGRTMIN+{}", s - min),
        s => format!("signal {s}"),
    }
}

/// What a signal that mora did not send probably means.
pub(crate) fn signal_hint(signal: i32) -> Option<String> {
    match signal {
        libc::SIGKILL => Some("killed from outside mora: possibly the OOM killer (see `dmesg`)".into()),
        libc::SIGSEGV | libc::SIGBUS => Some("a memory fault inside the worker, often in the runtime or a provider library".into()),
        libc::SIGABRT => Some("the worker aborted (a failed assertion or an uncaught C++ exception)".into()),
        libc::SIGILL => Some("an instruction this CPU lacks: a runtime built for a newer CPU?".into()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_names_and_hints() {
        assert_eq!(signal_name(9), "SIGKILL");
        assert_eq!(signal_name(11), "SIGSEGV");
        assert_eq!(signal_name(25), "SIGXFSZ");
        assert_eq!(signal_name(libc::SIGRTMIN() + 2), "SIGRTMIN+2");
        assert_eq!(signal_name(99), "signal 99");
        assert!(signal_hint(9).unwrap().contains("OOM"));
        assert_eq!(signal_hint(libc::SIGTERM), None);
    }

    #[test]
    fn a_panic_message_survives_a_long_backtrace() {
        let mut text = String::from("starting\nthread 'main' panicked at src/x.rs:1:2:\ncapacity overflow\nstack backtrace:\n");
        text.extend((0..100).map(|i| format!("  {i}: frame\n")));
        let tail = tail_of(&text);
        assert!(tail.starts_with("thread 'main' panicked at src/x.rs:1:2:\ncapacity overflow"), "{tail}");
        assert!(tail.ends_with("99: frame"), "{tail}");
        assert!(tail.lines().count() <= 31, "{tail}");
        assert_eq!(tail_of("a\nb"), "a\nb");
    }

    #[test]
    fn capped_drain_keeps_the_tail() {
        let data: Vec<u8> = (0..(STDERR_CAP * 3)).map(|i| (i % 251) as u8).collect();
        let expected = data[data.len() - STDERR_CAP..].to_vec();
        let buf = Mutex::new(Vec::new());
        drain_capped(Box::new(std::io::Cursor::new(data)), &buf);
        assert_eq!(*buf.lock().unwrap(), expected);
    }
}
