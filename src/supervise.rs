//! Starting and supervising worker processes (habits from cargo-nextest): each worker in its own
//! process group, so Ctrl-C reaches only mora, which then decides; a reader thread per pipe so a full
//! pipe never blocks the worker; stderr kept in a capped buffer; a deadline per trial, then SIGTERM to
//! the group, a grace period, SIGKILL; reaping with wait4 for the kernel's view of the peak RSS. How a
//! worker ended is decided from mora's intent before reaping: a deliberate kill is never a crash.

use std::io::{BufRead, BufReader, Read};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};

use crate::protocol::{RESULT_FD, WorkerMessage};

/// How long a worker has between SIGTERM and SIGKILL.
pub const GRACE: Duration = Duration::from_secs(3);
const STDERR_CAP: usize = 16 * 1024;

static INTERRUPTS: AtomicUsize = AtomicUsize::new(0);
/// Process group of the worker running now (0: none), for the signal handler's second Ctrl-C.
static CURRENT_GROUP: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_interrupt(_: libc::c_int) {
    let n = INTERRUPTS.fetch_add(1, Ordering::SeqCst) + 1;
    let group = CURRENT_GROUP.load(Ordering::SeqCst);
    if n >= 2 && group > 0 {
        // A second Ctrl-C kills at once (kill is async-signal-safe).
        unsafe { libc::kill(-group, libc::SIGKILL) };
    }
}

/// Installs mora's Ctrl-C handler: the first stops the run after ending the trial in flight, the
/// second kills the worker at once.
pub fn install_interrupt_handler() {
    unsafe {
        libc::signal(libc::SIGINT, on_interrupt as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_interrupt as *const () as libc::sighandler_t);
    }
}

pub fn interrupted() -> bool {
    INTERRUPTS.load(Ordering::SeqCst) > 0
}

/// Why mora ended a worker, set before the kill so the reaped status is read right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillIntent {
    /// The isolation scenario measures what a kill gives back.
    Deliberate,
    TimedOut,
    Interrupted,
}

/// What waiting for the next message gave.
pub enum Next {
    Message(WorkerMessage),
    /// The worker closed its message channel (it exited, or is about to).
    Closed,
    TimedOut,
    Interrupted,
}

/// How a reaped worker ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Exit {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub peak_rss_mb: Option<f64>,
    pub wall_ms: f64,
}

pub struct RunningWorker {
    child: Child,
    pub pid: u32,
    pub started: Instant,
    messages: Receiver<WorkerMessage>,
    stderr: Arc<Mutex<Vec<u8>>>,
    stdin: Option<ChildStdin>,
    pub last_phase: String,
    pub kill_intent: Option<KillIntent>,
    /// When the worker said it was ready (its first load answered), in ms after the spawn.
    pub ready_after_ms: Option<f64>,
}

/// Starts `mora worker` with `args`, its messages on descriptor 3, in a process group of its own.
pub fn spawn(args: &[String], env: &[(String, String)]) -> Result<RunningWorker> {
    let exe = std::env::current_exe().map_err(|e| anyhow!("cannot find mora's own executable: {e}"))?;
    let (read_end, write_end) = pipe()?;
    let write_fd = {
        use std::os::fd::AsRawFd;
        write_end.as_raw_fd()
    };
    let mut command = Command::new(exe);
    command.arg("worker").args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    unsafe {
        command.pre_exec(move || {
            // Own process group: a terminal's Ctrl-C goes to mora alone, and mora signals the group.
            if libc::setpgid(0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // dup2 clears close-on-exec on the new descriptor, so only fd 3 survives exec.
            if libc::dup2(write_fd, RESULT_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let started = Instant::now();
    let mut child = command.spawn().map_err(|e| anyhow!("cannot start the worker: {e}"))?;
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
    Ok(RunningWorker { child, pid, started, messages, stderr, stdin, last_phase: "start".into(), kill_intent: None, ready_after_ms: None })
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(anyhow!("cannot create a pipe: {}", std::io::Error::last_os_error()));
    }
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
    /// Waits for the next message until `deadline`; phase messages update `last_phase` and are
    /// returned like the others.
    pub fn next(&mut self, deadline: Instant) -> Next {
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
    pub fn kill(&mut self, intent: KillIntent) {
        self.kill_intent = Some(intent);
        let group = -(self.pid as i32);
        if intent == KillIntent::Deliberate {
            unsafe { libc::kill(group, libc::SIGKILL) };
            return;
        }
        unsafe { libc::kill(group, libc::SIGTERM) };
        let until = Instant::now() + GRACE;
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait_peek() {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        unsafe { libc::kill(group, libc::SIGKILL) };
    }

    /// Reaps the worker (blocking until it has exited), with the kernel's peak RSS for it.
    pub fn reap(mut self) -> (Exit, String) {
        drop(self.stdin.take());
        let mut status: libc::c_int = 0;
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let rc = loop {
            let rc = unsafe { libc::wait4(self.pid as libc::pid_t, &mut status, 0, &mut usage) };
            if rc < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            break rc;
        };
        let wall_ms = self.started.elapsed().as_secs_f64() * 1000.0;
        CURRENT_GROUP.store(0, Ordering::SeqCst);
        // Anything the worker group left behind goes with it.
        unsafe { libc::kill(-(self.pid as i32), libc::SIGKILL) };
        let exit = if rc < 0 {
            Exit { code: None, signal: None, peak_rss_mb: None, wall_ms }
        } else {
            Exit {
                code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
                signal: libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status)),
                // ru_maxrss is in KiB on Linux.
                peak_rss_mb: (usage.ru_maxrss > 0).then(|| usage.ru_maxrss as f64 / 1024.0),
                wall_ms,
            }
        };
        // Give the pipe readers a moment to collect the last bytes of stderr.
        thread::sleep(Duration::from_millis(20));
        let tail = self.stderr_tail();
        (exit, tail)
    }

    pub fn stderr_tail(&self) -> String {
        let bytes = self.stderr.lock().map(|b| b.clone()).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

/// `Child::try_wait` would reap the child and lose its rusage; peek at its state with waitid instead.
trait TryWaitPeek {
    fn try_wait_peek(&mut self) -> std::io::Result<Option<()>>;
}

impl TryWaitPeek for Child {
    fn try_wait_peek(&mut self) -> std::io::Result<Option<()>> {
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let rc = unsafe { libc::waitid(libc::P_PID, self.id(), &mut info, libc::WEXITED | libc::WNOHANG | libc::WNOWAIT) };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok((unsafe { info.si_pid() } != 0).then_some(()))
    }
}

/// A signal's name, e.g. 9 -> "SIGKILL".
pub fn signal_name(signal: i32) -> String {
    let name = match signal {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGTERM => "SIGTERM",
        _ => return format!("signal {signal}"),
    };
    name.to_string()
}

/// What a signal that mora did not send probably means.
pub fn signal_hint(signal: i32) -> Option<String> {
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
        assert_eq!(signal_name(64), "signal 64");
        assert!(signal_hint(9).unwrap().contains("OOM"));
        assert_eq!(signal_hint(libc::SIGTERM), None);
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
