//! NVIDIA TensorRT as the `onnxruntime-gpu` build ships it: it builds an engine for each model at
//! session creation (seconds to minutes) and can keep it in an engine cache, which is the load a model
//! server pays after the first. It needs TensorRT's own libraries (the `tensorrt-cu13-libs` wheel, or
//! a system install) besides everything CUDA needs.

use std::path::{Path, PathBuf};

use anyhow::Result;
use ort::ep::{self, ArbitrarilyConfigurableExecutionProvider};
use ort::session::builder::SessionBuilder;

use super::diagnosis::{self, Check, DiagnoseContext, Diagnosis};
use super::options::{OptionKind, OptionSpec, Options};
use super::setup::{ProviderSetup, unbuilt};
use super::{Backend, CacheLever, MemoryKind, Source};
use crate::runtime::RuntimeLibrary;

pub(super) struct TensorRt;

/// The TensorRT library the provider of ONNX Runtime 1.31 is linked against.
pub(crate) const NVINFER: &str = "libnvinfer.so.10";

static OPTIONS: &[OptionSpec] = &[
    OptionSpec { key: "device_id", kind: OptionKind::Int { min: 0, max: 1023 }, help: "the CUDA device" },
    OptionSpec { key: "trt_fp16_enable", kind: OptionKind::Bool { as_digits: true }, help: "let TensorRT use FP16 kernels" },
    OptionSpec { key: "trt_engine_cache_enable", kind: OptionKind::Bool { as_digits: true }, help: "keep built engines" },
    OptionSpec { key: "trt_engine_cache_path", kind: OptionKind::Path, help: "where built engines are kept" },
    OptionSpec { key: "trt_timing_cache_enable", kind: OptionKind::Bool { as_digits: true }, help: "keep kernel timings" },
    OptionSpec { key: "trt_max_workspace_size", kind: OptionKind::Int { min: 1 << 20, max: 1 << 40 }, help: "build workspace in bytes" },
];

static CACHE: CacheLever = CacheLever {
    name: "tensorrt-engine-cache",
    key: "trt_engine_cache_path",
    with: &[("trt_engine_cache_enable", "1")],
    holds: "TensorRT engine",
};

impl Backend for TensorRt {
    fn name(&self) -> &'static str {
        "tensorrt"
    }
    fn ort_name(&self) -> &'static str {
        "TensorrtExecutionProvider"
    }
    fn summary(&self) -> &'static str {
        "NVIDIA TensorRT engines, in the onnxruntime-gpu build, with CUDA for what TensorRT does not take"
    }
    fn sources(&self) -> &'static [Source] {
        &[Source::BuiltIn]
    }
    fn memory(&self, _: &Options) -> MemoryKind {
        super::cuda::NVIDIA_GPU
    }
    fn options(&self) -> &'static [OptionSpec] {
        OPTIONS
    }
    fn cache_lever(&self) -> Option<&'static CacheLever> {
        Some(&CACHE)
    }
    fn diagnose(&self, ctx: &DiagnoseContext, setup: &mut ProviderSetup) -> Diagnosis {
        let mut checks = static_checks(ctx.runtime);
        if checks.iter().any(Check::failed_here) {
            return Diagnosis::from_checks(checks);
        }
        // Everything CUDA needs, TensorRT needs too.
        let mut cuda_setup = ProviderSetup::new(super::Provider::named("cuda"));
        cuda_setup.options.insert("device_id".into(), super::cuda::device_id(&setup.options).to_string());
        let cuda = super::Provider::named("cuda").backend().diagnose(ctx, &mut cuda_setup);
        setup.nvml_device = cuda_setup.nvml_device;
        checks.extend(cuda.checks);
        let mut diagnosis = Diagnosis::from_checks(checks);
        diagnosis.notes = cuda.notes;
        if let Some(why) = cuda.blocker {
            diagnosis.blocker = Some(format!("TensorRT runs on CUDA, and {why}"));
            return diagnosis;
        }
        if ctx.with_session {
            diagnosis::session_probe(self, ctx, setup, &mut diagnosis);
        }
        diagnosis
    }
    fn prepare(&self, setup: &ProviderSetup, library: &RuntimeLibrary) {
        super::Provider::named("cuda").backend().prepare(setup, library);
        if let Some(dir) = tensorrt_wheel_dir(library) {
            super::cuda::checks::preload_from(&dir, &[NVINFER, "libnvinfer_plugin.so.10", "libnvonnxparser.so.10"]);
        }
    }
    fn append(&self, builder: SessionBuilder, setup: &ProviderSetup, _: &ort::environment::Environment) -> Result<SessionBuilder> {
        let mut trt = ep::TensorRT::default();
        for (k, v) in &setup.options {
            trt = trt.with_arbitrary_config(k, v);
        }
        let cuda = super::cuda::cuda_dispatch(
            &setup.options.iter().filter(|(k, _)| *k == "device_id").map(|(k, v)| (k.clone(), v.clone())).collect(),
        )?;
        // TensorRT first; CUDA takes what TensorRT does not, CPU what neither does.
        Ok(builder
            .with_execution_providers([trt.build().error_on_failure(), cuda.build(), super::cpu::cpu_dispatch(setup)])
            .map_err(unbuilt)?)
    }
    fn as_dyn(&self) -> &dyn Backend {
        self
    }
}

/// `tensorrt_libs/` of the tensorrt-cu13-libs wheel in the runtime's site-packages, where installed.
fn tensorrt_wheel_dir(runtime: &RuntimeLibrary) -> Option<PathBuf> {
    let dir = runtime.path.ancestors().nth(3)?.join("tensorrt_libs");
    dir.join(NVINFER).exists().then_some(dir)
}

/// What needs no GPU: the build has TensorRT, its provider library is there, TensorRT's own library loads.
pub(crate) fn static_checks(runtime: &RuntimeLibrary) -> Vec<Check> {
    let mut c = Vec::new();
    if !runtime.has_provider("TensorrtExecutionProvider") {
        c.push(Check::failed(
            "TensorRT provider in the runtime build",
            format!(
                "no: {} ({}) is not the GPU build; install onnxruntime-gpu (`scripts/setup.sh --gpu --tensorrt`)",
                runtime.path.display(),
                runtime.version
            ),
        ));
        return c;
    }
    c.push(Check::ok("TensorRT provider in the runtime build", "yes".into()));
    let lib = runtime.dir().join("libonnxruntime_providers_tensorrt.so");
    c.push(if lib.exists() {
        Check::ok("libonnxruntime_providers_tensorrt.so", lib.display().to_string())
    } else {
        Check::failed(
            "libonnxruntime_providers_tensorrt.so",
            format!("absent next to {}; reinstall onnxruntime-gpu", runtime.path.display()),
        )
    });
    c.push(nvinfer_check(tensorrt_wheel_dir(runtime).as_deref()));
    c
}

fn nvinfer_check(wheel: Option<&Path>) -> Check {
    let target = wheel.map(|d| d.join(NVINFER).display().to_string()).unwrap_or_else(|| NVINFER.to_string());
    // SAFETY: loading TensorRT runs its initialisers; it is the library the TensorRT provider would load.
    match unsafe { libloading::Library::new(&target) } {
        Ok(lib) => {
            drop(lib);
            Check::ok(NVINFER, wheel.map(|d| d.display().to_string()).unwrap_or_else(|| "loader path".into()))
        }
        Err(e) => Check::failed(
            NVINFER,
            format!(
                "MISSING ({}): install TensorRT 10 (`scripts/setup.sh --gpu --tensorrt` installs the tensorrt-cu13-libs wheel)",
                crate::runtime::loader_error(&e)
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::FoundBy;

    fn runtime(providers: &[&str], dir: &Path) -> RuntimeLibrary {
        RuntimeLibrary {
            path: dir.join("libonnxruntime.so.1.31.1"),
            version: "1.31.1".into(),
            found_by: FoundBy::Flag,
            providers: providers.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn each_missing_piece_is_named_without_a_gpu() {
        let dir = tempfile::tempdir().unwrap();
        let cpu_build = static_checks(&runtime(&["CPUExecutionProvider"], dir.path()));
        assert_eq!(cpu_build.len(), 1);
        assert!(cpu_build[0].failed_here() && cpu_build[0].detail().contains("not the GPU build"), "{cpu_build:?}");
        let gpu_build = static_checks(&runtime(&["TensorrtExecutionProvider", "CUDAExecutionProvider"], dir.path()));
        let failed: Vec<_> = gpu_build.iter().filter(|c| c.failed_here()).map(|c| c.what.clone()).collect();
        assert_eq!(failed, ["libonnxruntime_providers_tensorrt.so", NVINFER], "{gpu_build:?}");
        assert!(gpu_build[2].detail().contains("tensorrt-cu13-libs"), "{gpu_build:?}");
    }
}
