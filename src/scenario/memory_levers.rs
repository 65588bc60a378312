//! Scenario `memory-levers`, the worker's half: under the memory configuration the parent started it
//! with (an allocator preloaded, an arena option), after the model's first load: three loads with
//! their footprint and what an unload and the allocator's release give back; the price of giving
//! memory back (the next load after a release against one without); a reload from bytes in memory;
//! and what each extra session of the same model costs, alone and sharing prepacked weights.

use std::time::Instant;

use anyhow::{Context, Result};
use ort::session::Session;

use super::TrialContext;
use crate::inputs::ModelInputs;
use crate::levers::memory::MemoryConfig;
use crate::loaded_model::{LoadedModel, ms_since};
use crate::phase::Phase;
use crate::probe::{Allocator, GpuReading, MemorySnapshot, malloc_trim, process::delta};
use crate::protocol::ModelSpec;
use crate::provider::setup::{ModelSource, ProviderSetup, SessionExtras};
use crate::results::{MemoryConfigResult, MemoryLeversResult};
use crate::stats::{Summary, percentage};

const SAMPLES: usize = 3;

pub(crate) fn run(w: &mut TrialContext) -> Result<MemoryLeversResult> {
    let model = super::only_model(w)?;
    let config = w.spec.memory_config.unwrap_or(MemoryConfig::Default);
    let (setup, extras) = config.apply(&w.spec.provider);
    super::read_through(model)?;
    let mut planned = None;
    super::first_load(w, model, &mut planned)?;
    let inputs = planned.expect("the first load plans the inputs");
    let m = &mut Measure { w, model, setup: &setup, extras: &extras, inputs: &inputs, config };

    m.w.phase(Phase::Loads);
    let (mut loads, mut rss, mut gpu, mut back, mut back_trim, mut gpu_back) = (vec![], vec![], vec![], vec![], vec![], vec![]);
    for _ in 0..SAMPLES {
        malloc_trim();
        let before = m.w.snapshot();
        let (loaded, ms) = m.load(&ModelSource::File(&model.path))?;
        let after = m.w.snapshot();
        loaded.unload();
        let unloaded = m.w.snapshot();
        malloc_trim();
        let trimmed = m.w.snapshot();
        let rss_of = |s: &MemorySnapshot| s.process.rss_mb;
        let footprint = delta(rss_of(&after), rss_of(&before));
        loads.push(ms);
        rss.extend(footprint);
        back.extend(footprint.zip(delta(rss_of(&after), rss_of(&unloaded))).and_then(|(f, r)| percentage(r, f)));
        back_trim.extend(footprint.zip(delta(rss_of(&after), rss_of(&trimmed))).and_then(|(f, r)| percentage(r, f)));
        if let Some(reading) = GpuReading::choose([&after]) {
            let g = |s: &MemorySnapshot| reading.read(s);
            let gf = delta(g(&after), g(&before));
            gpu.extend(gf);
            gpu_back.extend(gf.zip(delta(g(&after), g(&unloaded))).and_then(|(f, r)| percentage(r, f)));
        }
    }

    m.w.phase(Phase::TrimPrice);
    let (mut kept, mut released) = (vec![], vec![]);
    malloc_trim();
    m.load(&ModelSource::File(&model.path))?.0.unload();
    for _ in 0..SAMPLES {
        // The previous load's freed memory is still in the allocator...
        let (loaded, ms) = m.load(&ModelSource::File(&model.path))?;
        kept.push(ms);
        loaded.unload();
        // ...and here it was given back first.
        malloc_trim();
        let (loaded, ms) = m.load(&ModelSource::File(&model.path))?;
        released.push(ms);
        loaded.unload();
    }

    m.w.phase(Phase::ReloadFromMemory);
    let bytes = std::fs::read(&model.path).with_context(|| format!("cannot read {}", model.path.display()))?;
    let external = super::external_data(model)?;
    let from_memory = ModelSource::Memory { model: &bytes, external: &external };
    let mut reloads = vec![];
    for _ in 0..SAMPLES {
        malloc_trim();
        let (loaded, ms) = m.load(&from_memory)?;
        reloads.push(ms);
        loaded.unload();
    }
    drop((bytes, external));

    m.w.phase(Phase::Replicas);
    let (replica, replica_gpu) = m.replicas(None)?;
    let (shared, _) = m.replicas(Some(&ort::session::builder::PrepackedWeights::new()))?;

    let result = MemoryConfigResult {
        config,
        label: config.to_string(),
        allocator: Some(Allocator::current()),
        error: None,
        load_ms: Summary::of(&loads),
        memory_increase_mb: Summary::of(&rss),
        gpu_memory_increase_mb: Summary::of(&gpu),
        reclaimed_pct: Summary::of(&back),
        reclaimed_after_trim_pct: Summary::of(&back_trim),
        gpu_reclaimed_pct: Summary::of(&gpu_back),
        load_without_trim_ms: Summary::of(&kept),
        load_after_trim_ms: Summary::of(&released),
        reload_from_memory_ms: Summary::of(&reloads),
        replica_extra_mb: Summary::of(&replica),
        replica_extra_shared_mb: Summary::of(&shared),
        replica_extra_gpu_mb: Summary::of(&replica_gpu),
    };
    Ok(MemoryLeversResult { provider_baseline: m.w.provider_baseline.clone(), configs: vec![result] })
}

struct Measure<'a, 'w> {
    w: &'a mut TrialContext<'w>,
    model: &'a ModelSpec,
    setup: &'a ProviderSetup,
    extras: &'a SessionExtras,
    inputs: &'a ModelInputs,
    config: MemoryConfig,
}

impl Measure<'_, '_> {
    /// A timed load under the configuration, then its first inference (the footprint is read after it).
    fn load(&self, source: &ModelSource) -> Result<(LoadedModel, f64)> {
        let start = Instant::now();
        let session = self.setup.session(&self.w.runtime.env, source, self.extras)?;
        let ms = ms_since(start);
        self.ready(session).map(|l| (l, ms))
    }

    fn ready(&self, session: Session) -> Result<LoadedModel> {
        let mut loaded = LoadedModel::with_inputs(session, self.inputs)?;
        if let Some(value) = self.config.shrinkage(self.setup.provider) {
            loaded.set_run_option("memory.enable_memory_arena_shrinkage", value)?;
        }
        loaded.run()?;
        Ok(loaded)
    }

    /// Three sessions of the model at once: what the second and third each add (RAM, VRAM).
    fn replicas(&self, shared: Option<&ort::session::builder::PrepackedWeights>) -> Result<(Vec<f64>, Vec<f64>)> {
        malloc_trim();
        let mut held = Vec::new();
        let mut readings = vec![self.w.snapshot()];
        for _ in 0..3 {
            let mut builder = self.setup.builder(&self.w.runtime.env, self.extras)?;
            if let Some(weights) = shared {
                builder = builder
                    .with_prepacked_weights(weights)
                    .map_err(crate::provider::setup::unbuilt)
                    .context("prepacked weights container")?;
            }
            let session = builder.commit_from_file(&self.model.path).context("replica")?;
            held.push(self.ready(session)?);
            readings.push(self.w.snapshot());
        }
        let extra = |read: &dyn Fn(&MemorySnapshot) -> Option<f64>| -> Vec<f64> {
            readings.windows(2).skip(1).filter_map(|p| delta(read(&p[1]), read(&p[0]))).collect()
        };
        let rss = extra(&|s| s.process.rss_mb);
        let gpu = GpuReading::choose(readings.iter()).map(|r| extra(&|s| r.read(s))).unwrap_or_default();
        drop(held);
        Ok((rss, gpu))
    }
}
