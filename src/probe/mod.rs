//! Memory probes. Each returns a plain snapshot; a figure the machine cannot give is `None`.

pub mod gpu;
pub mod page_cache;
pub mod process;
pub mod system;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub(crate) use gpu::GpuMemory;
pub use process::ProcessMemory;
pub(crate) use system::{HostInfo, SystemMemory};

/// Process memory and, where a GPU is in play, GPU memory, taken together at one phase of a trial.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MemorySnapshot {
    #[serde(flatten)]
    pub process: ProcessMemory,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu: Option<GpuMemory>,
}

/// Which GPU figure a trial compares across its phases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum GpuReading {
    /// The process's own use, as NVML lists it.
    Process,
    /// The device's used memory: where NVML cannot see this process (a PID namespace).
    Device,
}

impl GpuReading {
    /// The process's own use where NVML shows it in any of the snapshots taken while a model was
    /// loaded, else the device's; `None` when the snapshots have no GPU figures at all.
    pub(crate) fn choose<'a>(loaded: impl IntoIterator<Item = &'a MemorySnapshot>) -> Option<GpuReading> {
        let mut any_gpu = false;
        for s in loaded {
            if let Some(g) = &s.gpu {
                any_gpu = true;
                if g.process_mb.is_some() {
                    return Some(GpuReading::Process);
                }
            }
        }
        any_gpu.then_some(GpuReading::Device)
    }

    pub(crate) fn read(self, s: &MemorySnapshot) -> Option<f64> {
        let gpu = s.gpu.as_ref()?;
        match self {
            // A process with no CUDA allocation is absent from NVML's list: it uses 0 MB.
            GpuReading::Process => Some(gpu.process_mb.unwrap_or(0.0)),
            GpuReading::Device => gpu.device_used_mb,
        }
    }
}

/// Takes snapshots of this process; watches GPU `gpu_index` when the trial runs on a GPU.
#[derive(Debug, Clone, Copy)]
pub struct Probe {
    pub gpu_index: Option<u32>,
}

impl Probe {
    pub fn snapshot(&self) -> MemorySnapshot {
        MemorySnapshot { process: ProcessMemory::current(), gpu: self.gpu_index.and_then(|i| gpu::memory(i, std::process::id())) }
    }
}

/// Serialises the unit tests that allocate large blocks and read process-wide memory: run side by
/// side, one's allocation would show in the other's reading.
#[cfg(test)]
pub(crate) static MEMORY_TEST_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The process's allocator, as the symbols it exports show: glibc's malloc unless another was
/// preloaded (the memory-levers scenario starts workers under jemalloc, mimalloc or tcmalloc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Allocator {
    Glibc,
    Jemalloc,
    Mimalloc,
    Tcmalloc,
}

/// A symbol of whatever is loaded in the process, or null.
fn symbol(name: &std::ffi::CStr) -> *mut libc::c_void {
    // SAFETY: dlsym with RTLD_DEFAULT only looks a NUL-terminated name up; it runs nothing.
    unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) }
}

impl Allocator {
    pub(crate) fn current() -> Allocator {
        if !symbol(c"mallctl").is_null() {
            Allocator::Jemalloc
        } else if !symbol(c"mi_collect").is_null() {
            Allocator::Mimalloc
        } else if !symbol(c"MallocExtension_ReleaseFreeMemory").is_null() {
            Allocator::Tcmalloc
        } else {
            Allocator::Glibc
        }
    }
}

/// Returns the allocator's free memory to the kernel: glibc's `malloc_trim(0)`, or the preloaded
/// allocator's own call (jemalloc's `arena.<all>.purge`, mimalloc's `mi_collect(true)`, tcmalloc's
/// `ReleaseFreeMemory`). What stays resident after an unload but goes here was retained by the
/// allocator, not leaked. Returns false where there is no such call.
pub fn malloc_trim() -> bool {
    match Allocator::current() {
        Allocator::Jemalloc => {
            type Mallctl =
                unsafe extern "C" fn(*const libc::c_char, *mut libc::c_void, *mut usize, *mut libc::c_void, usize) -> libc::c_int;
            // SAFETY: `mallctl` is jemalloc's, with this signature (jemalloc.h); 4096 is
            // MALLCTL_ARENAS_ALL, and purge takes no old or new value.
            unsafe {
                let mallctl: Mallctl = std::mem::transmute(symbol(c"mallctl"));
                mallctl(c"arena.4096.purge".as_ptr(), std::ptr::null_mut(), std::ptr::null_mut(), std::ptr::null_mut(), 0) == 0
            }
        }
        Allocator::Mimalloc => {
            // SAFETY: `mi_collect(bool force)` is mimalloc's (mimalloc.h).
            unsafe {
                let collect: unsafe extern "C" fn(bool) = std::mem::transmute(symbol(c"mi_collect"));
                collect(true);
            }
            true
        }
        Allocator::Tcmalloc => {
            // SAFETY: `MallocExtension_ReleaseFreeMemory(void)` is gperftools' C API (malloc_extension_c.h).
            unsafe {
                let release: unsafe extern "C" fn() = std::mem::transmute(symbol(c"MallocExtension_ReleaseFreeMemory"));
                release();
            }
            true
        }
        Allocator::Glibc => glibc_trim(),
    }
}

fn glibc_trim() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim takes a plain integer and only walks glibc's own heap.
        unsafe { libc::malloc_trim(0) };
        true
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}
