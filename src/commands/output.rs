//! Where the commands print. A command's output on standard output may be cut short by its reader
//! (`mora models | head -1`): that ends the command quietly, with [`STDOUT_CLOSED`], never a panic.
//! What goes to standard error (progress, warnings, "wrote ...") never stops a command: a closed or
//! hung-up terminal must not cost a run whose figures are on disk.

use std::io::Write;

/// Exit code when standard output was closed under a command: 128 + SIGPIPE, what a shell shows for
/// a command that a closed pipe ended.
pub const STDOUT_CLOSED: i32 = 128 + libc::SIGPIPE;

/// Standard output was closed (a broken pipe): the reader wants no more.
#[derive(Debug)]
pub struct StdoutClosed;

impl std::fmt::Display for StdoutClosed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("standard output was closed")
    }
}

impl std::error::Error for StdoutClosed {}

/// Writes `text` to standard output and flushes it; a closed pipe is [`StdoutClosed`].
pub(crate) fn print(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(StdoutClosed.into()),
        Err(e) => Err(anyhow::Error::new(e).context("cannot write to standard output")),
    }
}

/// Writes `text` to standard error; a closed or broken one is ignored (see the module's note).
pub(crate) fn eprint(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// Whether `error` says standard output was closed, rather than that the command failed.
pub fn is_stdout_closed(error: &anyhow::Error) -> bool {
    error.downcast_ref::<StdoutClosed>().is_some()
}

/// `println!` for a command's output: returns `Err(StdoutClosed)` on a closed pipe, for `?`.
macro_rules! outln {
    () => { $crate::commands::output::print("\n") };
    ($($arg:tt)*) => { $crate::commands::output::print(&format!("{}\n", format_args!($($arg)*))) };
}

/// `print!` for a command's output, as [`outln`].
macro_rules! out {
    ($($arg:tt)*) => { $crate::commands::output::print(&format!($($arg)*)) };
}

/// `eprintln!` that never panics: a closed standard error is ignored.
macro_rules! errln {
    () => { $crate::commands::output::eprint("\n") };
    ($($arg:tt)*) => { $crate::commands::output::eprint(&format!("{}\n", format_args!($($arg)*))) };
}

/// `eprint!` that never panics, as [`errln`].
macro_rules! err {
    ($($arg:tt)*) => { $crate::commands::output::eprint(&format!($($arg)*)) };
}

pub(crate) use {err, errln, out, outln};
