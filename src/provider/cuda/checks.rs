//! Can CUDA run here, and if not, which piece is missing: a CUDA build of ONNX Runtime, its CUDA
//! provider library, the NVIDIA driver, a device, or a CUDA / cuDNN library (named).
//!
//! [`static_checks`] is cheap and safe in the parent. [`probe`] loads driver and libraries and creates a
//! CUDA session, so it runs in a throwaway worker process (`mora worker --probe-cuda`).

use std::ffi::{c_char, c_int, c_uint};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::runtime::{RuntimeLibrary, loader_error};

/// The first piece that stops CUDA, in the order a user has to fix them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct CudaDiagnosis {
    pub runtime_has_cuda: bool,
    /// libonnxruntime_providers_cuda.so next to the runtime library, when present.
    pub provider_library: Option<PathBuf>,
    /// NVIDIA driver version (from libcuda), or why it could not be read.
    pub driver: Option<Result<String, CudaError>>,
    /// Number of CUDA devices, or the CUDA error that says why there are none.
    pub devices: Option<Result<u32, CudaError>>,
    /// The PCI bus id of the CUDA device the trials use, as this process numbers it: the key to the
    /// same GPU in NVML, whose numbering ignores CUDA_VISIBLE_DEVICES and CUDA's device order.
    #[serde(default)]
    pub pci_bus_id: Option<Result<String, CudaError>>,
    /// The CUDA device id the trials ask for (`--device-id`).
    #[serde(default)]
    pub device_id: Option<u32>,
    /// CUDA and cuDNN libraries the CUDA provider loads, and where each was found.
    pub libraries: Vec<LibraryCheck>,
    /// The NVIDIA pip wheels' library folders that were preloaded, if any.
    pub preloaded_from: Vec<PathBuf>,
    /// A tiny CUDA session: created (Ok) or ONNX Runtime's error.
    pub session: Option<Result<(), CudaError>>,
}

/// Why a CUDA check failed, in the driver's or ONNX Runtime's words. [`CudaDiagnosis::blocker`]
/// decides on it, and it travels from the probe worker to the parent inside the diagnosis, so it is
/// data as well as an error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum CudaError {
    /// No NVIDIA driver: the loader's reason.
    #[error("libcuda.so.1 cannot be loaded ({loader})")]
    NoDriver { loader: String },
    #[error("libcuda.so.1 lacks {symbols}")]
    DriverLacks { symbols: String },
    /// A driver call's error code, with cuGetErrorString's text where the driver gives it.
    #[error("CUDA error {code}{}", .message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Driver { code: i32, message: Option<String> },
    #[error("cuInit failed: {error}")]
    Init { error: Box<CudaError> },
    #[error("CUDA device {device_id} does not exist here: this process sees {count} device(s)")]
    NoSuchDevice { device_id: u32, count: u32 },
    /// The tiny CUDA session failed: ONNX Runtime's error chain, as text (it comes from the worker).
    #[error("{message}")]
    Session { message: String },
    #[error("the CUDA probe worker did not answer")]
    ProbeSilent,
    #[error("{error} (the probe worker died of {signal}: {stderr_tail})")]
    ProbeDied { error: Box<CudaError>, signal: String, stderr_tail: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct LibraryCheck {
    pub name: String,
    /// Where it was found ("loader path" or a folder), or `None` when it could not be loaded.
    pub found_in: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Opened only by some operators (FFT, runtime-compiled kernels, cuDNN's engine libraries): its
    /// absence is reported but does not stop CUDA; a model that needs it fails in its own trial.
    #[serde(default)]
    pub on_demand: bool,
}

/// What the CUDA provider of ONNX Runtime 1.31.1 cannot start without: the libraries it is linked
/// against (`readelf -d libonnxruntime_providers_cuda.so`) and cuDNN's entry library, which it opens
/// at run time. The rest of ort's preload list is opened on demand.
const REQUIRED_LIBRARIES: &[&str] = &["libcudart.so.13", "libcublasLt.so.13", "libcublas.so.13", "libcurand.so.10", "libcudnn.so.9"];

/// Every CUDA and cuDNN library the provider may open, in dependency order (CUDA before cuDNN).
fn all_libraries() -> impl Iterator<Item = &'static str> {
    ort::ep::cuda::CUDA_DYLIBS.iter().chain(ort::ep::cuda::CUDNN_DYLIBS).copied()
}

impl CudaDiagnosis {
    /// Why CUDA cannot run, as one sentence with the fix; `None` when nothing was found missing.
    pub(crate) fn blocker(&self, runtime: &RuntimeLibrary) -> Option<String> {
        if !self.runtime_has_cuda {
            return Some(format!(
                "the ONNX Runtime library {} ({}) is a CPU-only build without the CUDA provider; install onnxruntime-gpu==1.31.1 (`scripts/setup.sh --gpu`) or pass --ort-lib to a CUDA build",
                runtime.path.display(),
                runtime.version
            ));
        }
        if self.provider_library.is_none() {
            return Some(format!(
                "libonnxruntime_providers_cuda.so is missing next to {}; reinstall onnxruntime-gpu==1.31.1",
                runtime.path.display()
            ));
        }
        if let Some(Err(e)) = &self.driver {
            return Some(format!("no NVIDIA driver: {e}"));
        }
        match &self.devices {
            Some(Err(e)) => return Some(format!("no usable CUDA device: {e}")),
            Some(Ok(0)) => return Some("no CUDA device: the driver reports 0 devices".into()),
            Some(Ok(n)) => {
                if let Some(id) = self.device_id.filter(|id| id >= n) {
                    let visible = std::env::var("CUDA_VISIBLE_DEVICES").map(|v| format!(" (CUDA_VISIBLE_DEVICES={v})")).unwrap_or_default();
                    return Some(format!(
                        "CUDA device {id} does not exist: this process sees {n} device(s){visible}; pass a --device-id below {n}"
                    ));
                }
            }
            None => {}
        }
        let missing: Vec<&str> = self.libraries.iter().filter(|l| l.found_in.is_none() && !l.on_demand).map(|l| l.name.as_str()).collect();
        if !missing.is_empty() {
            return Some(format!(
                "missing CUDA 13 / cuDNN 9 libraries: {} (install CUDA 13 and cuDNN 9 on the loader path, or NVIDIA's pip wheels into .venv: `scripts/setup.sh --gpu`)",
                missing.join(", ")
            ));
        }
        if let Some(Err(e)) = &self.session {
            return Some(format!("the CUDA provider failed to create a session: {e}"));
        }
        None
    }
}

/// The checks that need no CUDA library: safe in the parent process.
pub(crate) fn static_checks(runtime: &RuntimeLibrary) -> CudaDiagnosis {
    let provider_library = runtime.dir().join("libonnxruntime_providers_cuda.so");
    CudaDiagnosis {
        runtime_has_cuda: runtime.has_provider("CUDAExecutionProvider"),
        provider_library: provider_library.exists().then_some(provider_library),
        driver: None,
        devices: None,
        pci_bus_id: None,
        device_id: None,
        libraries: vec![],
        preloaded_from: vec![],
        session: None,
    }
}

/// Every check, including a CUDA session on `env`: run it in a process of its own.
pub(crate) fn probe(runtime: &RuntimeLibrary, device_id: u32, session_check: impl FnOnce() -> Result<(), CudaError>) -> CudaDiagnosis {
    let mut d = static_checks(runtime);
    if !d.runtime_has_cuda || d.provider_library.is_none() {
        return d;
    }
    let driver = Driver::query(device_id);
    d.driver = Some(driver.version);
    d.devices = Some(driver.devices);
    d.pci_bus_id = Some(driver.pci_bus_id);
    d.device_id = Some(device_id);
    if !matches!(d.devices, Some(Ok(n)) if n > 0) {
        return d;
    }
    // Loading each library from the wheels' folders by full path is the preload, checked one by one.
    d.preloaded_from = wheel_folders(runtime);
    d.libraries = check_libraries(&d.preloaded_from);
    if d.libraries.iter().all(|l| l.found_in.is_some() || l.on_demand) {
        d.session = Some(session_check());
    }
    d
}

/// NVIDIA's pip wheels for CUDA 13 (`nvidia/cu13/lib`, `nvidia/cudnn/lib`) in the runtime's
/// site-packages: when present, load their libraries first, by full path, so that the CUDA provider's
/// later loads by name find them. Returns the folders; a library that fails to load shows up in
/// [`check_libraries`] with the loader's message.
pub(crate) fn preload_pip_wheels(runtime: &RuntimeLibrary) -> Vec<PathBuf> {
    let folders = wheel_folders(runtime);
    for name in all_libraries() {
        if let Some(dir) = folders.iter().find(|d| d.join(name).exists()) {
            let _ = open_for_good(&dir.join(name).display().to_string());
        }
    }
    folders
}

/// Loads `names` from `dir` by full path, for good, so a provider's later loads by name find them.
pub(crate) fn preload_from(dir: &std::path::Path, names: &[&str]) {
    for name in names {
        let _ = open_for_good(&dir.join(name).display().to_string());
    }
}

fn wheel_folders(runtime: &RuntimeLibrary) -> Vec<PathBuf> {
    let Some(site_packages) = runtime.path.ancestors().nth(3) else { return vec![] };
    let cuda = site_packages.join("nvidia/cu13/lib");
    let cudnn = site_packages.join("nvidia/cudnn/lib");
    let cuda = cuda.join("libcudart.so.13").exists().then_some(cuda);
    let cudnn = cudnn.join("libcudnn.so.9").exists().then_some(cudnn);
    cuda.into_iter().chain(cudnn).collect()
}

/// Loads each library, in dependency order, from the pip wheels' folders by full path when they have
/// it (as [`preload_pip_wheels`] does), else by name from the loader path; keeps the loader's error.
fn check_libraries(preloaded: &[PathBuf]) -> Vec<LibraryCheck> {
    all_libraries()
        .map(|name| {
            let folder = preloaded.iter().find(|d| d.join(name).exists());
            let (target, place) = match folder {
                Some(dir) => (dir.join(name).display().to_string(), dir.display().to_string()),
                None => (name.to_string(), "loader path".to_string()),
            };
            let (found_in, error) = match open_for_good(&target) {
                Ok(()) => (Some(place), None),
                Err(e) => (None, Some(loader_error(&e))),
            };
            LibraryCheck { name: name.into(), found_in, error, on_demand: !REQUIRED_LIBRARIES.contains(&name) }
        })
        .collect()
}

/// dlopen that keeps the library for the life of the process, as the CUDA provider expects.
fn open_for_good(name_or_path: &str) -> Result<(), libloading::Error> {
    // SAFETY: these are NVIDIA's CUDA libraries, whose initialisers only register themselves.
    let lib = unsafe { libloading::Library::new(name_or_path) }?;
    std::mem::forget(lib);
    Ok(())
}

/// What the NVIDIA driver (libcuda.so.1) says: its CUDA version, how many devices this process sees,
/// and the PCI bus id of one of them.
struct Driver {
    version: Result<String, CudaError>,
    devices: Result<u32, CudaError>,
    pci_bus_id: Result<String, CudaError>,
}

impl Driver {
    fn query(device_id: u32) -> Driver {
        // SAFETY: loading the NVIDIA driver library runs its initialisers, as the CUDA provider would.
        let lib = match unsafe { libloading::Library::new("libcuda.so.1") } {
            Ok(lib) => lib,
            Err(e) => return Driver::failed(CudaError::NoDriver { loader: loader_error(&e) }),
        };
        // SAFETY: the driver API's signatures, as cuda.h declares them.
        let driver = unsafe { Driver::ask(&lib, device_id) };
        // The CUDA provider loads the driver again; unloading it under its feet is not worth the risk.
        std::mem::forget(lib);
        driver
    }

    fn failed(error: CudaError) -> Driver {
        Driver { version: Err(error.clone()), devices: Err(error.clone()), pci_bus_id: Err(error) }
    }

    /// # Safety
    /// `lib` must be the NVIDIA driver library (libcuda.so.1), whose symbols have cuda.h's signatures.
    unsafe fn ask(lib: &libloading::Library, device_id: u32) -> Driver {
        type Init = unsafe extern "C" fn(c_uint) -> c_int;
        type OutInt = unsafe extern "C" fn(*mut c_int) -> c_int;
        type DeviceGet = unsafe extern "C" fn(*mut c_int, c_int) -> c_int;
        type BusId = unsafe extern "C" fn(*mut c_char, c_int, c_int) -> c_int;
        type ErrorString = unsafe extern "C" fn(c_int, *mut *const c_char) -> c_int;
        // SAFETY: the symbols' types are cuda.h's (the caller's contract).
        let (init, version, count) = unsafe {
            match (lib.get::<Init>(b"cuInit"), lib.get::<OutInt>(b"cuDriverGetVersion"), lib.get::<OutInt>(b"cuDeviceGetCount")) {
                (Ok(a), Ok(b), Ok(c)) => (a, b, c),
                _ => {
                    return Driver::failed(CudaError::DriverLacks { symbols: "cuInit / cuDriverGetVersion / cuDeviceGetCount".into() });
                }
            }
        };
        // SAFETY: as above.
        let error_string = unsafe { lib.get::<ErrorString>(b"cuGetErrorString").ok() };
        let describe = |code: c_int| -> CudaError {
            let mut s: *const c_char = std::ptr::null();
            if let Some(f) = &error_string {
                // SAFETY: cuGetErrorString writes a pointer to a static string into `s`.
                unsafe { f(code, &mut s) };
            }
            // SAFETY: `s`, where non-null, points to the driver's static NUL-terminated message.
            let message = (!s.is_null()).then(|| unsafe { std::ffi::CStr::from_ptr(s) }.to_string_lossy().into_owned());
            CudaError::Driver { code, message }
        };
        let mut v: c_int = 0;
        // SAFETY: cuDriverGetVersion writes one int, which lives for the call.
        let version = match unsafe { version(&mut v) } {
            0 => Ok(format!("CUDA {}.{}", v / 1000, (v % 1000) / 10)),
            code => Err(describe(code)),
        };
        // SAFETY: cuInit takes a flags word (0); cuDeviceGetCount writes one int.
        let devices = match unsafe { init(0) } {
            0 => {
                let mut n: c_int = 0;
                // SAFETY: as above.
                match unsafe { count(&mut n) } {
                    0 => Ok(n as u32),
                    code => Err(describe(code)),
                }
            }
            code => Err(CudaError::Init { error: Box::new(describe(code)) }),
        };
        let pci_bus_id = match &devices {
            // SAFETY: cuDeviceGet writes one int; cuDeviceGetPCIBusId writes at most `len` bytes
            // (NUL included) into the buffer of that size.
            Ok(n) if device_id < *n => unsafe {
                match (lib.get::<DeviceGet>(b"cuDeviceGet"), lib.get::<BusId>(b"cuDeviceGetPCIBusId")) {
                    (Ok(get), Ok(bus_id)) => {
                        let mut device: c_int = 0;
                        let mut buf = [0 as c_char; 32];
                        match get(&mut device, device_id as c_int) {
                            0 => match bus_id(buf.as_mut_ptr(), buf.len() as c_int, device) {
                                0 => Ok(std::ffi::CStr::from_ptr(buf.as_ptr()).to_string_lossy().into_owned()),
                                code => Err(describe(code)),
                            },
                            code => Err(describe(code)),
                        }
                    }
                    _ => Err(CudaError::DriverLacks { symbols: "cuDeviceGet / cuDeviceGetPCIBusId".into() }),
                }
            },
            Ok(n) => Err(CudaError::NoSuchDevice { device_id, count: *n }),
            Err(e) => Err(e.clone()),
        };
        Driver { version, devices, pci_bus_id }
    }
}

/// Where the CUDA libraries come from, in words, for `mora doctor` and run metadata.
pub(crate) fn describe_source(preloaded: &[PathBuf]) -> String {
    if preloaded.is_empty() {
        "the system loader path (LD_LIBRARY_PATH, ldconfig)".into()
    } else {
        format!("NVIDIA pip wheels preloaded from {}", preloaded.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::FoundBy;
    use std::path::Path;

    fn runtime(providers: &[&str], dir: &Path) -> RuntimeLibrary {
        RuntimeLibrary {
            path: dir.join("libonnxruntime.so.1.31.1"),
            version: "1.31.1".into(),
            found_by: FoundBy::Flag,
            providers: providers.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn diagnosis() -> CudaDiagnosis {
        CudaDiagnosis {
            runtime_has_cuda: true,
            provider_library: Some("/x/libonnxruntime_providers_cuda.so".into()),
            driver: Some(Ok("CUDA 13.0".into())),
            devices: Some(Ok(1)),
            pci_bus_id: Some(Ok("00000000:3B:00.0".into())),
            device_id: Some(0),
            libraries: vec![LibraryCheck {
                name: "libcudart.so.13".into(),
                found_in: Some("loader path".into()),
                error: None,
                on_demand: false,
            }],
            preloaded_from: vec![],
            session: Some(Ok(())),
        }
    }

    #[test]
    fn cpu_only_build_is_the_first_blocker() {
        let dir = tempfile::tempdir().unwrap();
        let rt = runtime(&["CPUExecutionProvider"], dir.path());
        let d = static_checks(&rt);
        assert!(!d.runtime_has_cuda);
        let why = d.blocker(&rt).unwrap();
        assert!(why.contains("CPU-only build") && why.contains("onnxruntime-gpu==1.31.1"), "{why}");
        // The full probe stops at the same piece without touching any CUDA library.
        let probed = probe(&rt, 0, || panic!("no session check without a CUDA build"));
        assert_eq!(probed, d);
    }

    #[test]
    fn missing_provider_library_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let rt = runtime(&["CUDAExecutionProvider", "CPUExecutionProvider"], dir.path());
        let why = static_checks(&rt).blocker(&rt).unwrap();
        assert!(why.contains("libonnxruntime_providers_cuda.so is missing"), "{why}");
        std::fs::write(dir.path().join("libonnxruntime_providers_cuda.so"), b"").unwrap();
        assert!(static_checks(&rt).provider_library.is_some());
    }

    #[test]
    fn each_missing_piece_is_named_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let rt = runtime(&["CUDAExecutionProvider"], dir.path());
        assert_eq!(diagnosis().blocker(&rt), None);

        let mut d = diagnosis();
        d.driver = Some(Err(CudaError::NoDriver { loader: "not found".into() }));
        assert!(d.blocker(&rt).unwrap().starts_with("no NVIDIA driver: libcuda.so.1"));

        let mut d = diagnosis();
        d.devices = Some(Err(CudaError::Init { error: Box::new(CudaError::Driver { code: 100, message: None }) }));
        assert!(d.blocker(&rt).unwrap().contains("no usable CUDA device: cuInit failed: CUDA error 100"));

        let mut d = diagnosis();
        d.devices = Some(Ok(0));
        assert!(d.blocker(&rt).unwrap().contains("0 devices"));

        let mut d = diagnosis();
        d.device_id = Some(1);
        let why = d.blocker(&rt).unwrap();
        assert!(
            why.contains("CUDA device 1 does not exist: this process sees 1 device(s)") && why.contains("a --device-id below 1"),
            "{why}"
        );

        let mut d = diagnosis();
        let missing =
            |name: &str, on_demand| LibraryCheck { name: name.into(), found_in: None, error: Some("not found".into()), on_demand };
        d.libraries.push(missing("libcufft.so.12", true));
        assert_eq!(d.blocker(&rt), None, "a library opened on demand does not stop CUDA");
        d.libraries.push(missing("libcudnn.so.9", false));
        let why = d.blocker(&rt).unwrap();
        assert!(why.contains("missing CUDA 13 / cuDNN 9 libraries: libcudnn.so.9 ("), "{why}");

        let mut d = diagnosis();
        d.session = Some(Err(CudaError::Session { message: "CUDA failure 999".into() }));
        assert!(d.blocker(&rt).unwrap().contains("failed to create a session: CUDA failure 999"));
    }

    #[test]
    fn cuda_errors_say_what_the_driver_said_and_cross_from_the_probe_worker() {
        let init = CudaError::Init {
            error: Box::new(CudaError::Driver { code: 100, message: Some("no CUDA-capable device is detected".into()) }),
        };
        assert_eq!(init.to_string(), "cuInit failed: CUDA error 100: no CUDA-capable device is detected");
        assert_eq!(CudaError::Driver { code: 3, message: None }.to_string(), "CUDA error 3");
        let died = CudaError::ProbeDied { error: Box::new(CudaError::ProbeSilent), signal: "SIGSEGV".into(), stderr_tail: "boom".into() };
        assert_eq!(died.to_string(), "the CUDA probe worker did not answer (the probe worker died of SIGSEGV: boom)");
        let mut d = diagnosis();
        d.devices = Some(Err(init));
        d.session = Some(Err(died));
        let back: CudaDiagnosis = serde_json::from_str(&serde_json::to_string(&d).unwrap()).unwrap();
        assert_eq!(back, d);
    }

    #[test]
    fn a_library_in_a_wheel_folder_counts_only_when_it_loads() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("libcudart.so.13"), b"not an ELF file").unwrap();
        let checks = check_libraries(&[dir.path().to_path_buf()]);
        let cudart = checks.iter().find(|l| l.name == "libcudart.so.13").unwrap();
        assert_eq!(cudart.found_in, None, "present but unloadable is not found");
        assert!(cudart.error.as_deref().unwrap().contains("libcudart.so.13"), "{cudart:?}");
        assert!(!cudart.on_demand);
        assert!(checks.iter().find(|l| l.name == "libcufft.so.12").unwrap().on_demand);
        // The required list names libraries that ort's list has, so none goes unchecked.
        for name in REQUIRED_LIBRARIES {
            assert!(checks.iter().any(|l| l.name == *name), "{name} is not in ort's list");
        }
    }

    #[test]
    fn no_driver_here_is_reported_not_panicked() {
        // On a machine without the NVIDIA driver (CI), libcuda.so.1 is absent: an Err, not a crash.
        let driver = Driver::query(0);
        match &driver.version {
            // No driver: every figure says why, none panics.
            Err(why) => {
                assert!(why.to_string().contains("libcuda.so.1"), "{why}");
                assert!(driver.devices.is_err() && driver.pci_bus_id.is_err());
            }
            // A driver: a version, and a device count or the reason there is none.
            Ok(version) => {
                assert!(version.starts_with("CUDA "), "{version}");
                if let Ok(n) = &driver.devices {
                    assert!(*n == 0 || driver.pci_bus_id.is_ok(), "device 0 of {n} has no PCI bus id: {:?}", driver.pci_bus_id);
                }
            }
        }
    }
}
