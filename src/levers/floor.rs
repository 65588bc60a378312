//! The hardware's floor for a load: how fast this machine can bring a model's bytes to where the
//! provider computes, measured here, never a constant. A load can not beat reading its files from the
//! page cache (and, on CUDA, copying its weights to the device); the levers report their load time as
//! a multiple of it.

use std::path::Path;
use std::time::Instant;

use anyhow::{Result, anyhow, bail};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::probe::page_cache;
use crate::stats::median;
use crate::units::{MIB, mib};

/// How fast the model's own files read, and (CUDA) how fast bytes reach the device.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Floor {
    pub bytes: u64,
    /// Reading every file of the model from the page cache (median of [`WARM_READS`] reads).
    pub page_cache_read_ms: Option<f64>,
    /// Each of those reads, for their spread (absent before it was recorded).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub page_cache_reads_ms: Vec<f64>,
    pub page_cache_mb_per_s: Option<f64>,
    /// Reading them after eviction (`None` where the filesystem ignores eviction).
    pub cold_read_ms: Option<f64>,
    pub cold_mb_per_s: Option<f64>,
    /// Host-to-device copy rates through the CUDA runtime, from pageable and from pinned memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub h2d_pageable_mb_per_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub h2d_pinned_mb_per_s: Option<f64>,
    /// Why a figure is missing (no CUDA runtime to copy with, eviction ignored).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The floor: the page-cache read, plus on CUDA the weights' copy to the device from pageable
    /// memory (what ONNX Runtime copies from).
    pub floor_ms: Option<f64>,
}

/// Page-cache reads the floor is the median of.
pub(crate) const WARM_READS: usize = 5;

/// How the floor is read, every time, for the report.
pub(crate) const METHOD: &str = "every file of the model read with read(2) in 8 MiB blocks into one buffer, once evicted (cold) where the filesystem lets it, once to cache it, then five times from the page cache: the floor is their median";

/// Measures the floor for `files`; `cuda_device` adds the host-to-device copy on that device.
pub(crate) fn measure(files: &[impl AsRef<Path>], cuda_device: Option<i32>) -> Floor {
    let bytes: u64 = files.iter().filter_map(|f| std::fs::metadata(f).ok()).map(|m| m.len()).sum();
    let mut floor = Floor { bytes, ..Floor::default() };
    let read_all = || -> Option<f64> {
        let start = Instant::now();
        for f in files {
            page_cache::read_through(f.as_ref()).ok()?;
        }
        Some(start.elapsed().as_secs_f64() * 1000.0)
    };
    let rate = |ms: f64| (ms > 0.0).then(|| mib(bytes) / (ms / 1000.0));

    // Cold first: evict, check that it worked, read once.
    let evicted = files.iter().all(|f| page_cache::evict(f.as_ref()).is_ok())
        && page_cache::resident_fraction_of(files).ok().flatten().is_some_and(|r| r < 0.05);
    if evicted {
        floor.cold_read_ms = read_all();
        floor.cold_mb_per_s = floor.cold_read_ms.and_then(rate);
    } else {
        floor.notes.push("the filesystem kept the files cached after POSIX_FADV_DONTNEED: no cold read rate".into());
    }
    read_all();
    let warm: Vec<f64> = (0..WARM_READS).filter_map(|_| read_all()).collect();
    floor.page_cache_read_ms = median(&warm);
    floor.page_cache_reads_ms = warm;
    floor.page_cache_mb_per_s = floor.page_cache_read_ms.and_then(rate);

    let mut copy_ms = Some(0.0);
    if let Some(device) = cuda_device {
        match cuda_copy_rates(device) {
            Ok((pageable, pinned)) => {
                floor.h2d_pageable_mb_per_s = Some(pageable);
                floor.h2d_pinned_mb_per_s = Some(pinned);
                copy_ms = Some(mib(bytes) / pageable * 1000.0);
            }
            Err(why) => {
                floor.notes.push(format!("no host-to-device rate: {why:#}"));
                copy_ms = None;
            }
        }
    }
    floor.floor_ms = floor.page_cache_read_ms.zip(copy_ms).map(|(read, copy)| read + copy);
    floor
}

/// Host-to-device copy rates in MB/s (pageable, pinned) of a 256 MB buffer, best of three each,
/// through the CUDA runtime the CUDA provider already loaded (libcudart.so.13, else .12).
fn cuda_copy_rates(device: i32) -> Result<(f64, f64)> {
    type Status = std::ffi::c_int;
    const HOST_TO_DEVICE: std::ffi::c_int = 1;
    const SIZE: usize = 256 * MIB as usize;
    // SAFETY: loading the CUDA runtime runs its initialisers, which is what the CUDA provider did
    // already in this process; nothing else is executed by loading it.
    let lib = ["libcudart.so.13", "libcudart.so.12"]
        .iter()
        .find_map(|name| unsafe { libloading::Library::new(*name) }.ok())
        .ok_or_else(|| anyhow!("the CUDA runtime library (libcudart.so.13) could not be loaded"))?;
    // SAFETY: the signatures below are the CUDA runtime API's (cuda_runtime_api.h), for symbols that
    // exist in every libcudart since CUDA 2.
    unsafe {
        let sym = |name: &[u8]| lib.get::<*const ()>(name).map(|s| *s).map_err(|e| anyhow!(crate::runtime::loader_error(&e)));
        let set_device: extern "C" fn(std::ffi::c_int) -> Status = std::mem::transmute(sym(b"cudaSetDevice\0")?);
        let malloc: extern "C" fn(*mut *mut std::ffi::c_void, usize) -> Status = std::mem::transmute(sym(b"cudaMalloc\0")?);
        let free: extern "C" fn(*mut std::ffi::c_void) -> Status = std::mem::transmute(sym(b"cudaFree\0")?);
        let malloc_host: extern "C" fn(*mut *mut std::ffi::c_void, usize) -> Status = std::mem::transmute(sym(b"cudaMallocHost\0")?);
        let free_host: extern "C" fn(*mut std::ffi::c_void) -> Status = std::mem::transmute(sym(b"cudaFreeHost\0")?);
        let memcpy: extern "C" fn(*mut std::ffi::c_void, *const std::ffi::c_void, usize, std::ffi::c_int) -> Status =
            std::mem::transmute(sym(b"cudaMemcpy\0")?);
        if set_device(device) != 0 {
            bail!("cudaSetDevice({device}) failed");
        }
        let mut dev: *mut std::ffi::c_void = std::ptr::null_mut();
        if malloc(&mut dev, SIZE) != 0 {
            bail!("cudaMalloc of 256 MB failed");
        }
        let best = |src: *const std::ffi::c_void| -> Option<f64> {
            (0..3)
                .filter_map(|_| {
                    let start = Instant::now();
                    // cudaMemcpy from host to device is synchronous for pageable and pinned memory.
                    (memcpy(dev, src, SIZE, HOST_TO_DEVICE) == 0).then(|| mib(SIZE as u64) / start.elapsed().as_secs_f64())
                })
                .fold(None, |a: Option<f64>, r| Some(a.map_or(r, |a| a.max(r))))
        };
        let pageable_buf = vec![1u8; SIZE];
        let pageable = best(pageable_buf.as_ptr().cast());
        let mut pinned_buf: *mut std::ffi::c_void = std::ptr::null_mut();
        let pinned = if malloc_host(&mut pinned_buf, SIZE) == 0 {
            std::ptr::write_bytes(pinned_buf.cast::<u8>(), 1, SIZE);
            let rate = best(pinned_buf);
            free_host(pinned_buf);
            rate
        } else {
            None
        };
        free(dev);
        match (pageable, pinned) {
            (Some(a), Some(b)) => Ok((a, b)),
            _ => bail!("cudaMemcpy failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_floor_reads_the_files_and_says_what_it_could_not_measure() {
        let dir = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).unwrap();
        let path = dir.path().join("weights");
        std::fs::write(&path, vec![5u8; 16 << 20]).unwrap();
        let floor = measure(&[&path], None);
        assert_eq!(floor.bytes, 16 << 20);
        assert!(floor.page_cache_read_ms.unwrap() > 0.0);
        assert_eq!(floor.page_cache_reads_ms.len(), WARM_READS, "every read kept, for the spread");
        assert_eq!(median(&floor.page_cache_reads_ms), floor.page_cache_read_ms);
        assert!(floor.page_cache_mb_per_s.unwrap() > 50.0, "{floor:?}");
        assert_eq!(floor.floor_ms, floor.page_cache_read_ms, "no CUDA: the floor is the read");
        assert!(floor.cold_read_ms.is_some() || !floor.notes.is_empty(), "{floor:?}");
    }

    #[test]
    fn without_a_cuda_runtime_the_copy_rate_is_missing_with_the_reason() {
        // This machine has no GPU: either no libcudart, or no device to copy to.
        let dir = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).unwrap();
        let path = dir.path().join("weights");
        std::fs::write(&path, vec![5u8; 1 << 20]).unwrap();
        let floor = measure(&[&path], Some(0));
        match floor.h2d_pageable_mb_per_s {
            None => {
                assert!(floor.notes.iter().any(|n| n.starts_with("no host-to-device rate")), "{floor:?}");
                assert_eq!(floor.floor_ms, None, "no floor without the copy on CUDA");
            }
            Some(rate) => assert!(rate > 100.0 && floor.floor_ms > floor.page_cache_read_ms, "{floor:?}"),
        }
    }
}
