//! How large anything mora reads may be: the accepted range of every number in models.yaml and of the
//! flags that override them, the size and nesting of a config file, the size of one input tensor.
//! Each bound is far beyond a real run and tight enough that no value can overflow, hang or crash
//! mora. README's "The model suite" lists them.

use std::ops::RangeInclusive;

/// Tokens per text input. Inputs and attention grow with it; 8192 is beyond most encoders' positions.
pub(crate) const SEQUENCE_LENGTH: RangeInclusive<u64> = 1..=8192;
pub(crate) const BATCH_SIZE: RangeInclusive<u64> = 1..=4096;
/// Pixels per side of an image input.
pub(crate) const IMAGE_SIZE: RangeInclusive<u64> = 1..=8192;
pub(crate) const WARMUP_RUNS: RangeInclusive<u64> = 0..=10_000;
/// Steady-state calls; every sample is kept in results.json.
pub(crate) const RUNS: RangeInclusive<u64> = 1..=100_000;
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
