//! Finding and loading the ONNX Runtime library, and the one environment a process may have.
//!
//! The library is loaded at run time (ort's `load-dynamic`): lookup order `--ort-lib`, `ORT_DYLIB_PATH`,
//! then the project's `.venv` (PyPI `onnxruntime` or `onnxruntime-gpu`). A missing, unloadable or too old
//! library is an error naming what was tried and the command that fixes it.

use std::ffi::CStr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, anyhow, bail};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use crate::provider::{Provider, ProviderSetup};

/// The fix printed with every "no usable runtime" error.
pub(crate) const SETUP_HINT: &str = "run `scripts/setup.sh` (installs onnxruntime==1.31.1 into .venv), or pass --ort-lib PATH / set ORT_DYLIB_PATH to a libonnxruntime.so of version 1.31 or newer";

/// The ONNX Runtime API version mora is built against; older libraries lack functions it calls.
pub(crate) const REQUIRED_MINOR: u32 = ort::MINOR_VERSION;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FoundBy {
    Flag,
    EnvVar,
    ProjectVenv,
    /// A provider's own runtime build (e.g. onnxruntime-openvino), which its trials load instead.
    ProviderBuild,
}

/// A located ONNX Runtime library and what it says about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RuntimeLibrary {
    pub path: PathBuf,
    pub version: String,
    pub found_by: FoundBy,
    /// Execution providers compiled into this build (GetAvailableProviders), e.g. CUDAExecutionProvider.
    pub providers: Vec<String>,
}

impl RuntimeLibrary {
    /// Finds the library: `flag`, then `ORT_DYLIB_PATH`, then `.venv` under each of `roots`.
    pub fn locate(flag: Option<&Path>, roots: &[PathBuf]) -> Result<RuntimeLibrary> {
        if let Some(path) = flag {
            return Self::inspect(path, FoundBy::Flag).with_context(|| format!("--ort-lib {}", path.display()));
        }
        if let Some(value) = std::env::var_os("ORT_DYLIB_PATH").filter(|v| !v.is_empty()) {
            let path = PathBuf::from(value);
            return Self::inspect(&path, FoundBy::EnvVar).with_context(|| format!("ORT_DYLIB_PATH={}", path.display()));
        }
        let mut tried = Vec::new();
        for root in roots {
            let venv = root.join(".venv");
            tried.push(venv.display().to_string());
            if let Some(path) = find_in_venv(&venv) {
                return Self::inspect(&path, FoundBy::ProjectVenv);
            }
        }
        bail!(
            "no ONNX Runtime library found: --ort-lib not given, ORT_DYLIB_PATH not set, no onnxruntime package in {}. Fix: {SETUP_HINT}",
            if tried.is_empty() { "any .venv".to_string() } else { tried.join(", ") }
        )
    }

    /// Opens the library just long enough to read its version and providers, without creating an
    /// environment, so the caller can refuse an unusable library with a clear message.
    pub(crate) fn inspect(path: &Path, found_by: FoundBy) -> Result<RuntimeLibrary> {
        if !path.exists() {
            bail!("{} does not exist. Fix: {SETUP_HINT}", path.display());
        }
        let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        // SAFETY: loading a shared library runs its initialisers; this is the library the user named
        // as ONNX Runtime, which mora is about to load anyway.
        let lib = unsafe { libloading::Library::new(&path) }
            .map_err(|e| anyhow!("cannot load {} as a shared library: {}. Fix: {SETUP_HINT}", path.display(), loader_error(&e)))?;
        // SAFETY: OrtGetApiBase has this signature in every ONNX Runtime (onnxruntime_c_api.h).
        let get_base: libloading::Symbol<unsafe extern "C" fn() -> *const ort::sys::OrtApiBase> = unsafe { lib.get(b"OrtGetApiBase") }
            .map_err(|_| anyhow!("{} is not ONNX Runtime (no OrtGetApiBase). Fix: {SETUP_HINT}", path.display()))?;
        // SAFETY: it takes nothing and returns a pointer to a static table, checked for null below.
        let base = unsafe { get_base() };
        if base.is_null() {
            bail!("{}: OrtGetApiBase returned nothing. Fix: {SETUP_HINT}", path.display());
        }
        // SAFETY: `base` is non-null and static; GetVersionString returns a static NUL-terminated string.
        let version = unsafe { CStr::from_ptr(((*base).GetVersionString)()) }.to_string_lossy().into_owned();
        let minor: u32 = version.split('.').nth(1).and_then(|m| m.parse().ok()).unwrap_or(0);
        if minor < REQUIRED_MINOR {
            bail!("ONNX Runtime {version} at {} is too old: mora needs 1.{REQUIRED_MINOR} or newer. Fix: {SETUP_HINT}", path.display());
        }
        // SAFETY: GetApi returns a static table for a supported API version, or null (checked).
        let api = unsafe { ((*base).GetApi)(ort::sys::ORT_API_VERSION) };
        // SAFETY: `api` is non-null and points to the runtime's static function table.
        let providers = if api.is_null() { vec![] } else { unsafe { available_providers(&*api) } };
        // Keep it loaded: unloading a runtime that registered global state is not worth the risk.
        std::mem::forget(lib);
        Ok(RuntimeLibrary { path, version, found_by, providers })
    }

    pub(crate) fn has_provider(&self, name: &str) -> bool {
        self.providers.iter().any(|p| p == name)
    }

    /// The folder the wheel's libraries live in (onnxruntime/capi), where the CUDA provider library sits.
    pub(crate) fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }
}

/// The execution providers compiled into the runtime whose API table this is.
///
/// # Safety
/// `api` must be ONNX Runtime's own function table (from OrtGetApiBase()->GetApi).
unsafe fn available_providers(api: &ort::sys::OrtApi) -> Vec<String> {
    let mut list: *mut *mut std::ffi::c_char = std::ptr::null_mut();
    let mut len: std::ffi::c_int = 0;
    // SAFETY: the call fills the two out-parameters, which live for it.
    let status = unsafe { (api.GetAvailableProviders)(&mut list, &mut len) };
    if !status.0.is_null() {
        // SAFETY: a non-null status is ours to release.
        unsafe { (api.ReleaseStatus)(status.0) };
        return vec![];
    }
    // SAFETY: on success `list` holds `len` NUL-terminated names, alive until released below.
    let names = (0..len as usize).map(|i| unsafe { CStr::from_ptr(*list.add(i)) }.to_string_lossy().into_owned()).collect();
    // SAFETY: the list and its length as the runtime gave them, released once.
    let status = unsafe { (api.ReleaseAvailableProviders)(list, len) };
    if !status.0.is_null() {
        // SAFETY: as above.
        unsafe { (api.ReleaseStatus)(status.0) };
    }
    names
}

/// `<venv>/lib/python3.*/site-packages/onnxruntime/capi/libonnxruntime.so.<version>`, newest first.
fn find_in_venv(venv: &Path) -> Option<PathBuf> {
    let lib = venv.join("lib");
    let mut candidates: Vec<PathBuf> = std::fs::read_dir(&lib)
        .ok()?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("python3"))
        .flat_map(|e| {
            let capi = e.path().join("site-packages/onnxruntime/capi");
            std::fs::read_dir(capi).into_iter().flatten().flatten().map(|f| f.path())
        })
        .filter(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            name.starts_with("libonnxruntime.so.") || (name.starts_with("libonnxruntime.") && name.ends_with(".dylib"))
        })
        .collect();
    candidates.sort();
    candidates.pop()
}

/// Where to look for a project `.venv`: the current folder, the config's folder and the folders
/// above the executable (target/release/mora -> the repository).
pub fn search_roots(config_dir: Option<&Path>) -> Vec<PathBuf> {
    let mut roots = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        roots.push(cwd);
    }
    if let Some(dir) = config_dir {
        let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        roots.push(dir);
    }
    if let Ok(exe) = std::env::current_exe() {
        roots.extend(exe.ancestors().skip(1).take(4).map(Path::to_path_buf));
    }
    roots.dedup();
    roots
}

/// A line ONNX Runtime logged at warning level or above while a trial ran: node placement fallbacks
/// to CPU and the like belong in the result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RuntimeLogLine {
    pub level: String,
    pub message: String,
}

/// The process's one ONNX Runtime environment (ort refuses a second, even after the first is dropped).
pub struct Runtime {
    pub env: ort::environment::Environment,
    pub library: RuntimeLibrary,
    log: Arc<Mutex<Vec<RuntimeLogLine>>>,
}

impl Runtime {
    pub fn init(library: RuntimeLibrary) -> Result<Runtime> {
        let log: Arc<Mutex<Vec<RuntimeLogLine>>> = Arc::default();
        let sink = Arc::clone(&log);
        let logger: ort::logging::LoggerFunction = Arc::new(move |level, _category, _id, _location, message| {
            use ort::logging::LogLevel;
            let level = match level {
                LogLevel::Warning => "warning",
                LogLevel::Error => "error",
                LogLevel::Fatal => "fatal",
                LogLevel::Verbose | LogLevel::Info => return,
            };
            if let Ok(mut lines) = sink.lock() {
                if lines.len() < 200 {
                    lines.push(RuntimeLogLine { level: level.into(), message: message.to_string() });
                }
            }
        });
        let env = ort::init_from(&library.path)
            .with_context(|| {
                format!("ONNX Runtime {} at {} cannot be initialised. Fix: {SETUP_HINT}", library.version, library.path.display())
            })?
            .with_name("mora")
            .with_telemetry(false)
            .with_logger(logger)
            .build()
            .context("cannot create the ONNX Runtime environment")?;
        // The custom logger is created at verbose level; verbose logging would slow every load.
        env.set_log_level(ort::logging::LogLevel::Warning);
        Ok(Runtime { env, library, log })
    }

    /// The warnings and errors ONNX Runtime logged since the last call.
    pub(crate) fn take_log(&self) -> Vec<RuntimeLogLine> {
        self.log.lock().map(|mut l| std::mem::take(&mut *l)).unwrap_or_default()
    }
}

/// libloading's message with the loader's own reason ("dlopen failed: libcuda.so.1: cannot open
/// shared object file: No such file or directory"): the first part alone names nothing.
pub(crate) fn loader_error(e: &libloading::Error) -> String {
    match std::error::Error::source(e) {
        Some(reason) => format!("{e}: {reason}"),
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_library_names_the_path_and_the_fix() {
        let e = RuntimeLibrary::inspect(Path::new("/nonexistent/libonnxruntime.so"), FoundBy::Flag).unwrap_err();
        let e = format!("{e:#}");
        assert!(e.contains("/nonexistent/libonnxruntime.so does not exist"), "{e}");
        assert!(e.contains("scripts/setup.sh"), "{e}");
    }

    #[test]
    fn a_file_that_is_not_a_library_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("libonnxruntime.so.1.31.1");
        std::fs::write(&fake, b"not an ELF file").unwrap();
        let e = format!("{:#}", RuntimeLibrary::inspect(&fake, FoundBy::Flag).unwrap_err());
        assert!(e.contains("cannot load") && e.contains(&*fake.to_string_lossy()), "{e}");
        // The loader's own reason, not only libloading's "dlopen failed".
        assert!(e.contains("dlopen failed: /"), "{e}");
    }

    #[test]
    fn venv_lookup_finds_the_newest_library() {
        let dir = tempfile::tempdir().unwrap();
        let capi = dir.path().join(".venv/lib/python3.11/site-packages/onnxruntime/capi");
        std::fs::create_dir_all(&capi).unwrap();
        for name in ["libonnxruntime.so.1.30.0", "libonnxruntime.so.1.31.1", "libonnxruntime_providers_shared.so"] {
            std::fs::write(capi.join(name), b"").unwrap();
        }
        assert_eq!(find_in_venv(&dir.path().join(".venv")), Some(capi.join("libonnxruntime.so.1.31.1")));
        assert_eq!(find_in_venv(&dir.path().join("nothing")), None);
    }
}
