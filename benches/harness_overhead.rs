//! Does mora's harness stay out of its figures?
//!
//! 1. Load time: mora's measured load (probes, peak reset and snapshots around it, exactly as the
//!    single scenario does) against a bare ONNX Runtime session creation of the same model with
//!    ONNX Runtime's defaults, interleaved in one process; the ratio of the medians.
//! 2. Memory: mora's RSS reading against /proc/self/statm and `ps`, read independently.
//!
//!     cargo bench --bench harness_overhead [-- MODEL.onnx [REPEATS]]
//!
//! Without a model argument it uses models/minilm-l6/model.onnx when exported, else a 24 MB fixture.
//! Prints a table and writes target/harness-overhead.json.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;

use mora::inputs::InputSettings;
use mora::loaded_model::LoadedModel;
use mora::onnx_writer::{ElemType, ModelBuilder, named};
use mora::probe::{Probe, ProcessMemory, process};
use mora::protocol::ModelSpec;
use mora::provider::setup::ProviderSetup;
use mora::runtime::{Provider, Runtime, RuntimeLibrary, search_roots};
use mora::stats::{Summary, median};
use mora::units::{kib_to_bytes, mib};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let model = match args.first() {
        Some(path) => PathBuf::from(path),
        None => default_model()?,
    };
    let repeats: usize = args.get(1).and_then(|r| r.parse().ok()).unwrap_or(21);
    let library = RuntimeLibrary::locate(None, &search_roots(None))?;
    let runtime = Runtime::init(library)?;
    let setup = ProviderSetup::new(Provider::CPU);
    let spec = ModelSpec {
        id: "bench".into(),
        path: model.clone(),
        files: mora::catalog::model_files(&model, None, mora::onnx_graph::GraphSummary::read(&model).ok().as_ref()),
        inputs: InputSettings {
            batch_size: 1,
            sequence_length: 128,
            image_size: 224,
            shapes: Default::default(),
            tokenizer: None,
            seed: 1,
            random_tokens: true,
        },
    };
    let probe = Probe { gpu_index: None };
    for file in &spec.files {
        mora::probe::page_cache::read_through(file)?;
    }

    // One of each first: the first session in a process pays one-time costs neither side should carry.
    drop(bare_load(&runtime, &model)?);
    drop(LoadedModel::load(&runtime, &setup, &spec)?);

    let (mut bare, mut measured) = (Vec::new(), Vec::new());
    for i in 0..repeats * 2 {
        // Interleaved, alternating which goes first, so drift on a shared machine hits both alike.
        if (i % 2 == 0) == (i / 2 % 2 == 0) {
            bare.push(bare_load(&runtime, &model)?.1);
        } else {
            // What the single scenario does around a load: reset the peak, snapshot, load, snapshot.
            process::reset_peak_rss();
            let _before = probe.snapshot();
            let (session, ms) = LoadedModel::load(&runtime, &setup, &spec)?;
            let _after = probe.snapshot();
            drop(session);
            measured.push(ms);
        }
        mora::probe::malloc_trim();
    }
    let (b, m) = (median(&bare).unwrap(), median(&measured).unwrap());
    let ratio = m / b;

    // Memory: hold a session, read RSS three ways.
    let (session, _) = LoadedModel::load(&runtime, &setup, &spec)?;
    let ours = ProcessMemory::current().rss_mb.unwrap_or(f64::NAN);
    let statm = statm_rss_mb();
    let ps = ps_rss_mb();
    drop(session);

    let b_sum = Summary::of(&bare).unwrap();
    let m_sum = Summary::of(&measured).unwrap();
    let model_mb = spec.files.iter().map(|f| file_mb(f)).sum::<f64>();
    println!("harness overhead on {} ({model_mb:.1} MB with external data), {} loads each, interleaved", model.display(), repeats);
    println!("  bare ONNX Runtime session creation: median {:.2} ms (min {:.2}, max {:.2})", b, b_sum.min, b_sum.max);
    println!("  mora's measured load:               median {:.2} ms (min {:.2}, max {:.2})", m, m_sum.min, m_sum.max);
    println!("  ratio mora / bare: {ratio:.4} ({:+.2}%)", (ratio - 1.0) * 100.0);
    println!("  RSS with the model loaded: mora {ours:.2} MB, /proc/self/statm {statm:.2} MB, ps {ps:.2} MB");
    let report = serde_json::json!({
        "model": model.display().to_string(),
        "model_mb": model_mb,
        "repeats": repeats,
        "bare_load_ms": b_sum,
        "mora_load_ms": m_sum,
        "ratio": ratio,
        "rss_mb": {"mora": ours, "statm": statm, "ps": ps},
    });
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/harness-overhead.json");
    std::fs::write(&out, serde_json::to_vec_pretty(&report)?)?;
    println!("  wrote {}", out.display());
    Ok(())
}

/// A session the way a user of ONNX Runtime would create one: defaults, no provider registration.
fn bare_load(runtime: &Runtime, model: &Path) -> anyhow::Result<(ort::session::Session, f64)> {
    let start = Instant::now();
    let session = ort::session::Session::builder(&runtime.env)
        .context("cannot create a session builder")?
        .commit_from_file(model)
        .with_context(|| format!("ONNX Runtime could not load {}", model.display()))?;
    Ok((session, start.elapsed().as_secs_f64() * 1000.0))
}

fn statm_rss_mb() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let Some(pages) = statm.split_whitespace().nth(1).and_then(|p| p.parse::<u64>().ok()) else { return f64::NAN };
    // SAFETY: sysconf takes a plain integer and reads a system constant.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64;
    mib(pages * page)
}

fn ps_rss_mb() -> f64 {
    std::process::Command::new("ps")
        .args(["-o", "rss=", "-p", &std::process::id().to_string()])
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse::<u64>().ok())
        .map_or(f64::NAN, |kb| mib(kib_to_bytes(kb)))
}

fn file_mb(path: &Path) -> f64 {
    std::fs::metadata(path).map(|m| mib(m.len())).unwrap_or(0.0)
}

fn default_model() -> anyhow::Result<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let exported = root.join("models/minilm-l6/model.onnx");
    if exported.is_file() {
        return Ok(exported);
    }
    // 30000 x 200 floats of embedding, about 24 MB, written once under target/.
    let path = root.join("target/harness-fixture.onnx");
    if !path.is_file() {
        let (vocab, hidden) = (30_000i64, 200i64);
        let emb: Vec<f32> = (0..vocab * hidden).map(|i| (i % 101) as f32 / 101.0).collect();
        let mut b = ModelBuilder::new(17);
        b.input("input_ids", ElemType::Int64, &[named("batch"), named("sequence")])
            .output("hidden", ElemType::Float, &[named("batch"), named("sequence"), mora::onnx_writer::Dim::Fixed(hidden)])
            .initializer_f32("embedding", &[vocab, hidden], &emb)
            .node("Gather", &["embedding", "input_ids"], &["hidden"], &[]);
        std::fs::write(&path, b.build())?;
    }
    Ok(path)
}
