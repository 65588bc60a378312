//! `mora optimize MODEL.onnx --provider cpu|cuda [-o OUT]`: writes the fastest-loading form of a
//! model that is a file, the graph as this ONNX Runtime optimises it for this provider, with its
//! weights beside it and a manifest (`OUT.mora.json`); checks that it gives the same outputs as the
//! original on the same inputs, and prints both load times (median and range of alternating loads).
//! Runs ONNX Runtime in this process: a one-shot tool, not a benchmark trial.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use super::output::{errln, outln};

use crate::cli::OptimizeArgs;
use crate::config::{Config, ProviderSettings, sha256_hex};
use crate::inputs::{GraphInput, InputSettings, ModelInputs};
use crate::levers::optimized::{self, OptimizedManifest};
use crate::levers::outputs::{Outputs, compare};
use crate::loaded_model::{LoadedModel, ms_since};
use crate::onnx_graph::GraphSummary;
use crate::provider::ProviderRequest;
use crate::provider::setup::{ModelSource, OptLevel, ProviderSetup, SessionExtras};
use crate::runtime::{self, Provider, Runtime, RuntimeLibrary};
use crate::stats::Summary;

/// The output check's inputs: the flags, else the model's entry in models.yaml (the same file), else
/// 128 tokens and 224 pixels. A models.yaml that is not there is no entry; one that is there must parse.
fn input_settings(args: &OptimizeArgs) -> Result<InputSettings> {
    let config = if args.config.is_file() { Some(Config::load(&args.config)?) } else { None };
    let same_file = |p: &Path| match (p.canonicalize(), args.model.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    let entry = config.as_ref().and_then(|c| c.models.iter().find(|m| same_file(&m.resolved.model)).map(|m| (c, m)));
    if let Some((c, m)) = entry {
        errln!("input sizes and tokenizer from {}'s entry `{}`", c.path.display(), m.id);
    }
    Ok(InputSettings {
        batch_size: 1,
        sequence_length: args.sequence_length.or(entry.map(|(c, m)| m.sequence_length(&c.defaults))).unwrap_or(128),
        image_size: args.image_size.or(entry.map(|(c, m)| m.image_size(&c.defaults))).unwrap_or(224),
        shapes: entry.map(|(_, m)| m.inputs.clone()).unwrap_or_default(),
        tokenizer: args.tokenizer.clone().or_else(|| entry.and_then(|(_, m)| m.resolved.tokenizer.clone())),
        seed: crate::runner::INPUT_SEED,
        random_tokens: true,
    })
}

pub(crate) fn run(args: OptimizeArgs) -> Result<i32> {
    let model = &args.model;
    if !model.is_file() {
        bail!("{} is not a model file: give the path of an .onnx file", model.display());
    }
    let summary = GraphSummary::read(model).with_context(|| format!("{} is not an ONNX model", model.display()))?;
    let library = RuntimeLibrary::locate(args.runtime.ort_lib.as_deref(), &runtime::search_roots(None))?;
    let (setups, _) = crate::resolve::resolve_providers(
        &ProviderRequest::Explicit(vec![args.provider]),
        &library,
        &ProviderSettings::default(),
        &args.options,
    )?;
    let setup = setups.into_iter().next().expect("one provider asked, one resolved");
    let out = args.output.clone().unwrap_or_else(|| default_output(model, args.provider));
    if out.exists() && optimized::read_manifest(&out).ok().flatten().is_none() {
        bail!("{} exists and is not a model `mora optimize` made: pass another -o", out.display());
    }
    let runtime = setup.start_runtime(&library)?;

    // The original's outputs on fixed inputs: what the optimised model must give back.
    let original = setup.session_from_file(&runtime.env, model)?;
    let mut graph = GraphInput::from_outlets(original.inputs())?;
    for g in &mut graph {
        g.vocabulary = summary.vocabulary(&g.name);
    }
    let settings = input_settings(&args)?;
    let inputs = ModelInputs::build(&graph, &settings).with_context(|| format!("inputs for {}", model.display()))?;
    let reference = outputs_of(original, &inputs).with_context(|| {
        format!(
            "the output check's inputs do not fit {}: pass its sizes (--sequence-length, --image-size) or a models.yaml that lists it (--config)",
            model.display()
        )
    })?;

    // Written into a folder of its own next to the target, then moved: a failed check leaves nothing.
    let dir = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let staging = dir.join(format!(".mora-optimize-{}", std::process::id()));
    std::fs::create_dir_all(&staging).with_context(|| format!("cannot create {}", staging.display()))?;
    let result = make(&runtime, &setup, model, &out, &staging, &inputs, &reference);
    let _ = std::fs::remove_dir_all(&staging);
    let agreement = result?;

    let (before, after) = time_loads(&runtime, &setup, model, &out, args.repeats)?;
    let files: Vec<String> = optimized::files_of(&out).iter().filter(|p| p.exists()).map(|p| p.display().to_string()).collect();
    outln!("wrote {}", files.join(", "))?;
    outln!(
        "outputs agree with the original's on the same inputs ({}: largest difference {:.2e} at scale {:.2e})",
        inputs.described.iter().map(|d| format!("{} {}", d.name, d.fill)).collect::<Vec<_>>().join("; "),
        agreement.max_abs_diff,
        agreement.scale
    )?;
    outln!(
        "load on {}: {} before (ONNX Runtime's defaults) -> {} after (pre-optimised, optimisation disabled): {:.2}x, median of {} loads each",
        setup.provider,
        spread(&before),
        spread(&after),
        before.median / after.median,
        before.n
    )?;
    outln!("valid for ONNX Runtime {} on {} only; mora checks the manifest whenever it loads it", runtime.library.version, setup.provider)?;
    Ok(0)
}

/// `models/gpt2/model.onnx` -> `models/gpt2/model.optimized-cpu.onnx`.
fn default_output(model: &Path, provider: Provider) -> PathBuf {
    let stem = model.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "model".into());
    model.with_file_name(format!("{stem}.optimized-{provider}.onnx"))
}

fn outputs_of(session: ort::session::Session, inputs: &ModelInputs) -> Result<Outputs> {
    let mut loaded = LoadedModel::with_inputs(session, inputs)?;
    let (_, outputs) = loaded.run_keeping_outputs()?;
    Ok(Outputs::capture(&outputs))
}

/// Saves the optimised graph in `staging`, checks its outputs and its manifest, moves it to `out`.
fn make(
    runtime: &Runtime,
    setup: &ProviderSetup,
    model: &Path,
    out: &Path,
    staging: &Path,
    inputs: &ModelInputs,
    reference: &Outputs,
) -> Result<crate::levers::outputs::Agreement> {
    let name = out.file_name().context("the output needs a file name")?;
    let staged = staging.join(name);
    let extras = SessionExtras { save_optimized: Some(staged.clone()), ..SessionExtras::default() };
    drop(setup.session(&runtime.env, &ModelSource::File(model), &extras)?);
    let disabled = SessionExtras { optimization: Some(OptLevel::Disabled), ..SessionExtras::default() };
    let session = setup.session(&runtime.env, &ModelSource::File(&staged), &disabled).context("the optimised model does not load")?;
    let agreement = compare(reference, &outputs_of(session, inputs)?);
    if !agreement.same {
        bail!(
            "the optimised model's outputs differ from the original's ({}): nothing written",
            agreement.note.as_deref().unwrap_or("they differ")
        );
    }
    let source_files = crate::catalog::model_files(model, None, GraphSummary::read(model).ok().as_ref());
    let manifest = OptimizedManifest {
        made_by: format!("mora {}", env!("CARGO_PKG_VERSION")),
        onnxruntime_version: runtime.library.version.clone(),
        provider: setup.provider,
        provider_options: setup.all_options(),
        format: if staged.extension().is_some_and(|e| e == "ort") { "ort".into() } else { "onnx".into() },
        source: model.to_path_buf(),
        source_sha256: source_files
            .iter()
            .map(|f| std::fs::read(f).map(|b| sha256_hex(&b)).with_context(|| format!("cannot read {}", f.display())))
            .collect::<Result<_>>()?,
        created_at: crate::runner::now_rfc3339(),
    };
    crate::results::write_json_atomic(&optimized::manifest_path(&staged), &manifest)?;
    for (from, to) in optimized::files_of(&staged).iter().zip(optimized::files_of(out)) {
        if from.exists() {
            std::fs::rename(from, &to).with_context(|| format!("cannot move {} to {}", from.display(), to.display()))?;
        }
    }
    Ok(agreement)
}

/// Loads of the original (defaults) and of the optimised model (optimisation disabled), alternating
/// after one of each unmeasured, so both see the same machine.
fn time_loads(runtime: &Runtime, setup: &ProviderSetup, model: &Path, out: &Path, repeats: usize) -> Result<(Summary, Summary)> {
    let disabled = SessionExtras { optimization: Some(OptLevel::Disabled), ..SessionExtras::default() };
    let load = |path: &Path, extras: &SessionExtras| -> Result<f64> {
        let start = Instant::now();
        let session = setup.session(&runtime.env, &ModelSource::File(path), extras)?;
        let ms = ms_since(start);
        drop(session);
        crate::probe::malloc_trim();
        Ok(ms)
    };
    load(model, &SessionExtras::default())?;
    load(out, &disabled)?;
    let (mut before, mut after) = (Vec::new(), Vec::new());
    for _ in 0..repeats.max(1) {
        before.push(load(model, &SessionExtras::default())?);
        after.push(load(out, &disabled)?);
    }
    Ok((Summary::of(&before).expect("one load at least"), Summary::of(&after).expect("one load at least")))
}

fn spread(s: &Summary) -> String {
    format!("{:.0} ms ({:.0}..{:.0})", s.median, s.min, s.max)
}
