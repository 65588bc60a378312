//! How large anything mora reads may be: the accepted range of every number in models.yaml and of the
//! flags that override them, the size and nesting of a config file, the size of one input tensor, and
//! the size of every file mora reads ([`read_file`]: results, traces, profiles, tokenizers, manifests,
//! models.yaml). Each bound is far beyond a real run and tight enough that no value can overflow, hang
//! or crash mora. docs/models.md ("Every number has a range") and docs/robustness.md list them.

use std::ops::RangeInclusive;

/// Tokens per text input. Inputs and attention grow with it; 8192 is beyond most encoders' positions.
pub(crate) const SEQUENCE_LENGTH: RangeInclusive<u64> = 1..=8192;
pub(crate) const BATCH_SIZE: RangeInclusive<u64> = 1..=4096;
/// Pixels per side of an image input.
pub(crate) const IMAGE_SIZE: RangeInclusive<u64> = 1..=8192;
pub(crate) const WARMUP_RUNS: RangeInclusive<u64> = 0..=10_000;
/// Steady-state calls; every sample is kept in results.json.
pub(crate) const RUNS: RangeInclusive<u64> = 1..=100_000;
/// Models a concurrent plan is for (`--plan-models`): the 1.5 x 1.1 rule times the largest footprint.
pub(crate) const PLAN_MODELS: RangeInclusive<u64> = 1..=100_000;
/// Seven days: a longer deadline is no deadline, and the sum with `Instant::now()` must not overflow.
pub(crate) const TRIAL_TIMEOUT_S: RangeInclusive<u64> = 1..=7 * 24 * 3600;
/// ONNX Runtime starts this many threads per session (100000 crashed the worker); 0 lets it choose,
/// as leaving the option out does.
pub(crate) const INTRA_THREADS: RangeInclusive<u64> = 0..=1024;
/// CUDA device ordinal (ONNX Runtime takes an i32).
pub(crate) const DEVICE_ID: RangeInclusive<u64> = 0..=1023;
/// 1 MiB to 16 TiB: the bytes (MiB x 2^20) always fit a u64.
pub(crate) const GPU_MEM_LIMIT_MB: RangeInclusive<u64> = 1..=1 << 24;
/// The ONNX opset the exporter targets.
pub(crate) const OPSET: RangeInclusive<u64> = 7..=64;
/// One dimension of a shape given in `inputs:`.
pub(crate) const INPUT_DIM: RangeInclusive<u64> = 1..=1 << 20;
/// Dimensions of a shape given in `inputs:`.
pub(crate) const INPUT_RANK: RangeInclusive<usize> = 1..=8;
/// Elements of one input tensor (4 GiB of float32); mora builds every input in memory.
pub(crate) const INPUT_ELEMENTS: u64 = 1 << 30;

/// A models.yaml is a few KB; the cap keeps `--config /dev/zero` or a runaway file out of memory.
pub(crate) const CONFIG_BYTES: u64 = 4 * crate::units::MIB;
/// models.yaml nests about 6 deep; the YAML parser takes time quadratic in the depth.
pub(crate) const CONFIG_DEPTH: usize = 64;

/// "1 to 8192", for error messages.
pub(crate) fn describe(range: &RangeInclusive<u64>) -> String {
    format!("{} to {}", range.start(), range.end())
}

/// The number of elements of a shape, or `None` when a dimension is negative or the product
/// overflows a u64.
pub(crate) fn element_count(shape: &[i64]) -> Option<u64> {
    shape.iter().try_fold(1u64, |n, &d| n.checked_mul(u64::try_from(d).ok()?))
}

/// A kind of file mora reads, for [`read_file`]: its cap, and how the messages name it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FileKind {
    /// At most this many bytes are read; a larger file is refused before it is read.
    pub cap: u64,
    /// What takes it, the fix for a folder or a device, e.g. "--config takes a models.yaml file".
    pub takes: &'static str,
    /// How large one usually is, for the "larger than" message, e.g. "a models.yaml is a few KB".
    pub usually: &'static str,
}

/// A models.yaml is a few KB; the cap keeps `--config /dev/zero` or a runaway file out of memory.
pub(crate) const CONFIG_FILE: FileKind =
    FileKind { cap: CONFIG_BYTES, takes: "--config takes a models.yaml file", usually: "a models.yaml is a few KB" };
/// A run's results.json: the default suite's is under 1 MB, with every raw sample; a merge of a
/// hundred hosts' runs stays far below the cap, which keeps the parse (several times the file's size
/// in memory) within reach of a small machine.
pub(crate) const RESULTS_FILE: FileKind = FileKind {
    cap: 256 * crate::units::MIB,
    takes: "mora report takes a run folder or its results.json",
    usually: "a run's results.json is under a few MB",
};
/// A fleet task's failed.json: a few lines of a task's stderr.
pub(crate) const FAILED_RUN_FILE: FileKind = FileKind {
    cap: 16 * crate::units::MIB,
    takes: "mora report takes a run folder or its failed.json",
    usually: "a failed.json is a few KB",
};
/// A lifecycle profile (`mora report --format profile`): a few KB per model and host.
pub(crate) const PROFILE_FILE: FileKind =
    FileKind { cap: 64 * crate::units::MIB, takes: "--profile takes a profile.json file", usually: "a profile.json is a few KB per model" };
/// ONNX Runtime's profiler trace of one load, which mora asked for: a few KB (two events per load; a
/// run's node events are never profiled).
pub(crate) const ORT_PROFILE_FILE: FileKind =
    FileKind { cap: 64 * crate::units::MIB, takes: "ONNX Runtime's profiler writes a JSON trace", usually: "a load's trace is a few KB" };
/// A request trace: the simulator reads at most 10 million requests, lines of a few dozen bytes.
pub(crate) const TRACE_FILE: FileKind =
    FileKind { cap: 512 * crate::units::MIB, takes: "--trace takes a CSV file", usually: "10 million requests are about 300 MB" };
/// A tokenizer.json: GPT-2's is 1.4 MB, the largest vocabularies' (250,000 tokens) about 35 MB.
pub(crate) const TOKENIZER_FILE: FileKind = FileKind {
    cap: 128 * crate::units::MIB,
    takes: "a tokenizer is a tokenizer.json file",
    usually: "a tokenizer.json is at most tens of MB",
};
/// A manifest mora wrote beside a model (the exporter's, `mora optimize`'s), or a worker's spec.
pub(crate) const MANIFEST_FILE: FileKind =
    FileKind { cap: 16 * crate::units::MIB, takes: "a manifest is a JSON file", usually: "a manifest is a few KB" };

/// Why [`read_file`] refused or failed.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// Opening or reading failed (missing, no permission, an I/O error).
    Io {
        path: std::path::PathBuf,
        error: std::io::Error,
    },
    /// A folder, FIFO, device or socket: a FIFO would block the read, a device might never end.
    NotAFile {
        path: std::path::PathBuf,
        is: &'static str,
        kind: FileKind,
    },
    TooLarge {
        path: std::path::PathBuf,
        kind: FileKind,
    },
}

impl ReadError {
    /// The I/O error's kind, where opening or reading failed (e.g. `NotFound`).
    pub(crate) fn io_kind(&self) -> Option<std::io::ErrorKind> {
        match self {
            ReadError::Io { error, .. } => Some(error.kind()),
            _ => None,
        }
    }
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Io { path, error } => write!(f, "cannot read {}: {error}", path.display()),
            ReadError::NotAFile { path, is, kind } => write!(f, "{} is {is}, not a regular file: {}", path.display(), kind.takes),
            ReadError::TooLarge { path, kind } => write!(
                f,
                "{} is larger than {} MiB: {}; is this the right file?",
                path.display(),
                kind.cap / crate::units::MIB,
                kind.usually
            ),
        }
    }
}

impl std::error::Error for ReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReadError::Io { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// What stands at `path` when it is there but is not a regular file ("a folder", "a FIFO", ...):
/// `None` for a regular file (or a link to one) and for nothing at all. Lets a message say what is
/// wrong with a path instead of calling it missing.
pub(crate) fn not_a_regular_file(path: &std::path::Path) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    let t = std::fs::metadata(path).ok()?.file_type();
    Some(if t.is_file() {
        return None;
    } else if t.is_dir() {
        "a folder"
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    })
}

/// The bytes of a file mora was pointed at, refused at once when it is not a regular file or is
/// larger than `kind.cap`, and never more than the cap read (a file that grows while it is read is
/// refused too). The one way mora reads results, traces, profiles, tokenizers, manifests and
/// models.yaml: `/dev/zero` or a FIFO in their place must neither fill the memory nor block.
pub(crate) fn read_file(path: &std::path::Path, kind: FileKind) -> Result<Vec<u8>, ReadError> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let io = |error| ReadError::Io { path: path.to_path_buf(), error };
    let not_a_file = |meta: &std::fs::Metadata| {
        let is = if meta.is_dir() { "a folder" } else { "a device, pipe or socket" };
        ReadError::NotAFile { path: path.to_path_buf(), is, kind }
    };
    // The path first, so that a device is never opened; then the file that was opened, which a
    // rename in between could have swapped. O_NONBLOCK: opening a FIFO must not wait for a writer.
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(not_a_file(&meta));
    }
    let file = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(not_a_file(&meta));
    }
    if meta.len() > kind.cap {
        return Err(ReadError::TooLarge { path: path.to_path_buf(), kind });
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(kind.cap + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > kind.cap {
        return Err(ReadError::TooLarge { path: path.to_path_buf(), kind });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: FileKind = FileKind { cap: 16, takes: "--x takes a file", usually: "an x is a few bytes" };

    #[test]
    fn a_regular_file_under_the_cap_is_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x");
        std::fs::write(&path, b"0123456789abcdef").unwrap();
        assert_eq!(read_file(&path, SMALL).unwrap(), b"0123456789abcdef");
        std::fs::write(&path, b"0123456789abcdefg").unwrap();
        let e = read_file(&path, SMALL).unwrap_err().to_string();
        assert!(e.ends_with("x is larger than 0 MiB: an x is a few bytes; is this the right file?"), "{e}");
    }

    #[test]
    fn folders_devices_and_fifos_are_refused_without_reading() {
        let dir = tempfile::tempdir().unwrap();
        let e = read_file(dir.path(), SMALL).unwrap_err().to_string();
        assert!(e.ends_with("is a folder, not a regular file: --x takes a file"), "{e}");
        let e = read_file(std::path::Path::new("/dev/zero"), SMALL).unwrap_err().to_string();
        assert_eq!(e, "/dev/zero is a device, pipe or socket, not a regular file: --x takes a file");
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: mkfifo reads the NUL-terminated path, which lives for the call.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        // No writer ever comes: a read that opened it would wait forever.
        assert!(matches!(read_file(&fifo, SMALL), Err(ReadError::NotAFile { .. })));
        assert_eq!(
            [dir.path(), fifo.as_path(), std::path::Path::new("/dev/null")].map(not_a_regular_file),
            [Some("a folder"), Some("a FIFO (named pipe)"), Some("a device")]
        );
        assert_eq!(not_a_regular_file(&dir.path().join("missing")), None);
        let missing = read_file(&dir.path().join("missing"), SMALL).unwrap_err();
        assert_eq!(missing.io_kind(), Some(std::io::ErrorKind::NotFound));
    }
}
