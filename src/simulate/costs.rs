//! What each action costs, taken from a lifecycle profile (`mora report --format profile`): per
//! model its footprint, load times (a fresh worker's first load and a warmed worker's), first and
//! steady inference, unload time and what an unload gives back, spawn-to-ready; per worker the
//! provider baseline and the warm-up. Memory is RSS on CPU and VRAM (the arena's reservation) on CUDA.

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

use crate::profile::{Figure, HostProfile, ModelProfile, Profile, ProviderProfile};
use crate::runtime::Provider;

/// How an evicted model goes away.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum UnloadMode {
    /// One worker holds every model; an eviction drops the session and calls malloc_trim(0). What the
    /// allocator keeps after that is reused by the next load.
    #[default]
    InProcess,
    /// One worker per model; an eviction kills it (everything comes back), a load spawns a new one
    /// (spawn-to-ready, its first inference included).
    KillWorker,
}

impl UnloadMode {
    /// Inference slots for `models` models: one worker's in-process, a worker each kill-worker. The
    /// simulation and its replay share this, so the replay runs the structure that was simulated.
    pub(crate) fn inference_slots(self, models: usize) -> usize {
        match self {
            UnloadMode::InProcess => 1,
            UnloadMode::KillWorker => models,
        }
    }

    /// The inference slot that serves `model`.
    pub(crate) fn slot_of(self, model: usize) -> usize {
        match self {
            UnloadMode::InProcess => 0,
            UnloadMode::KillWorker => model,
        }
    }
}

impl std::fmt::Display for UnloadMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            UnloadMode::InProcess => "in-process",
            UnloadMode::KillWorker => "kill-worker",
        })
    }
}

/// What every worker pays, whatever it loads.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct WorkerCosts {
    /// The provider baseline (environment, provider libraries, CUDA context).
    pub baseline_mb: f64,
    /// What the worker's first model adds for good (libraries and kernels set up on first use).
    pub warmup_mb: f64,
    /// How much longer the worker's first inference takes than a warmed worker's.
    pub first_inference_extra_ms: f64,
}

/// One model's costs. Times are the profile's medians (p50).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct ModelCosts {
    pub id: String,
    pub file_mb: f64,
    /// Memory the loaded model holds (RSS on CPU, VRAM on CUDA), after its first inference.
    pub footprint_mb: f64,
    /// The most memory its load held above what was held before it (RSS; at least the footprint;
    /// the footprint where the profile has no peak, e.g. on CUDA).
    pub load_peak_mb: f64,
    /// Load in a running, warmed worker.
    pub load_warm_ms: f64,
    /// The worker's first load (it pays the warm-up).
    pub load_fresh_ms: f64,
    /// A new session's first inference.
    pub first_inference_ms: f64,
    pub steady_p50_ms: f64,
    pub steady_p95_ms: f64,
    pub unload_ms: f64,
    /// Share of the footprint an in-process unload plus malloc_trim(0) gives back, 0 to 1.
    pub reclaimed: f64,
    /// A new worker's spawn to the end of its first inference (kill-worker loads).
    pub spawn_to_ready_ms: Option<f64>,
}

impl ModelCosts {
    /// A steady inference for a standard normal draw `z`: log-normal through the profile's p50 and
    /// p95 (the same `z` gives the same time under every policy).
    pub(crate) fn steady_ms(&self, z: f64) -> f64 {
        const Z95: f64 = 1.644_853_626_951_472_2;
        let sigma = (self.steady_p95_ms.max(self.steady_p50_ms) / self.steady_p50_ms).ln() / Z95;
        self.steady_p50_ms * (sigma * z.clamp(-4.0, 4.0)).exp()
    }

    /// The measured sizing multiplier: footprint per MB of model file.
    #[cfg(test)]
    pub(crate) fn resident_per_file(&self) -> Option<f64> {
        (self.file_mb > 0.0).then(|| self.footprint_mb / self.file_mb)
    }
}

/// The costs of the models of one trace (indexed as [`super::trace::Trace::models`]) on one provider.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Costs {
    pub host: String,
    pub provider: Provider,
    pub runs: Vec<String>,
    pub worker: WorkerCosts,
    pub models: Vec<ModelCosts>,
}

/// The host and provider of a profile to simulate from: the only host unless `host` names one; a
/// provider the profile lacks is an error naming those it has.
pub(crate) fn select<'a>(
    profile: &'a Profile,
    file: &str,
    provider: Provider,
    host: Option<&str>,
) -> Result<(&'a HostProfile, &'a ProviderProfile)> {
    let names = || profile.hosts.iter().map(|h| h.host.as_str()).collect::<Vec<_>>().join(", ");
    let chosen = match host {
        Some(name) => match profile.hosts.iter().find(|h| h.host == name) {
            Some(h) => h,
            None => bail!("{file}: no host `{name}` in the profile (it has: {})", names()),
        },
        None => match profile.hosts.as_slice() {
            [only] => only,
            [] => bail!("{file}: the profile has no hosts: make one with `mora report RUN --format profile` from a run of `mora bench`"),
            _ => bail!("{file}: the profile has several hosts ({}): pass --host NAME", names()),
        },
    };
    match chosen.providers.iter().find(|p| p.provider == provider) {
        Some(p) => Ok((chosen, p)),
        None => {
            let has: Vec<String> = chosen.providers.iter().map(|p| p.provider.to_string()).collect();
            let fix = match has.first() {
                Some(other) => format!("pass --provider {other} or a profile from a {provider} run"),
                None => format!("make one from a {provider} run of `mora bench`"),
            };
            let has = if has.is_empty() { "none".to_string() } else { has.join(", ") };
            bail!("{file}: the profile of host {} has no {provider} figures (it has: {has}): {fix}", chosen.host)
        }
    }
}

impl Costs {
    /// The costs of `ids` from the profile; a figure the simulation needs and the profile lacks is an
    /// error naming the model, the figure and the run that makes it.
    pub(crate) fn from_profile(
        file: &str,
        host: &HostProfile,
        provider: &ProviderProfile,
        ids: &[String],
        mode: UnloadMode,
    ) -> Result<Costs> {
        let on_cuda = provider.provider.memory().device_measured();
        let worker = WorkerCosts {
            baseline_mb: if on_cuda { provider.baseline.vram_mb } else { provider.baseline.rss_mb }.unwrap_or(0.0).max(0.0),
            warmup_mb: if on_cuda { provider.worker_warmup.vram_mb } else { provider.worker_warmup.rss_mb }.unwrap_or(0.0).max(0.0),
            first_inference_extra_ms: provider.worker_warmup.first_inference_extra_ms.unwrap_or(0.0).max(0.0),
        };
        let first_load_extra_ms = provider.worker_warmup.first_load_extra_ms.unwrap_or(0.0).max(0.0);
        let mut models = Vec::with_capacity(ids.len());
        for id in ids {
            let Some(m) = provider.models.iter().find(|m| &m.model == id) else {
                let has: Vec<&str> = provider.models.iter().map(|m| m.model.as_str()).collect();
                bail!("{file}: model `{id}` is not in the profile ({} on host {} has: {})", provider.provider, host.host, has.join(", "));
            };
            let missing = |figure: &str| {
                anyhow::anyhow!(
                    "{file}: {}/{id} has no {figure}: run `mora bench --provider {} --models {id} --scenario single,isolation` and make the profile from it",
                    provider.provider,
                    provider.provider
                )
            };
            let p50 = |f: &Option<Figure>, name: &str| f.as_ref().map(|f| f.p50).ok_or_else(|| missing(name));
            let footprint = if on_cuda { p50(&m.vram_mb, "vram_mb")? } else { p50(&m.ram_mb, "ram_mb")? };
            let load_warm = p50(&m.load_warm_worker_ms, "load_warm_worker_ms")?;
            let steady_p50 = p50(&m.steady_p50_ms, "steady_p50_ms")?;
            let unload = m.unload.as_ref().ok_or_else(|| missing("unload"))?;
            let reclaimed_pct =
                unload.reclaimed_after_trim_pct.or(unload.reclaimed_pct).ok_or_else(|| missing("unload.reclaimed_after_trim_pct"))?;
            let spawn_to_ready = spawn_to_ready(m);
            if mode == UnloadMode::KillWorker && spawn_to_ready.is_none() {
                return Err(missing("spawn_to_ready_ms (kill-worker loads spawn a worker)"));
            }
            models.push(ModelCosts {
                id: id.clone(),
                file_mb: m.file_mb,
                footprint_mb: footprint.max(0.0),
                load_peak_mb: m.load_peak_mb.as_ref().filter(|_| !on_cuda).map_or(0.0, |f| f.p50).max(footprint.max(0.0)),
                load_warm_ms: load_warm,
                load_fresh_ms: m.load_fresh_worker_ms.as_ref().map_or(load_warm + first_load_extra_ms, |f| f.p50),
                first_inference_ms: p50(&m.first_inference_ms, "first_inference_ms")?,
                steady_p50_ms: steady_p50.max(1e-6),
                steady_p95_ms: m.steady_p95_ms.as_ref().map_or(steady_p50, |f| f.p50),
                unload_ms: unload.unload_ms.unwrap_or(0.0).max(0.0),
                reclaimed: (reclaimed_pct / 100.0).clamp(0.0, 1.0),
                spawn_to_ready_ms: spawn_to_ready,
            });
        }
        Ok(Costs { host: host.host.clone(), provider: provider.provider, runs: host.runs.clone(), worker, models })
    }

    /// RSS on a host-memory provider, VRAM where the device's memory is read: what the budget bounds.
    pub(crate) fn memory_kind(&self) -> &'static str {
        budget_kind(self.provider)
    }

    /// What a worker holding only model `m` needs: its footprint, the baseline and the warm-up.
    pub(crate) fn alone_mb(&self, m: usize) -> f64 {
        self.worker.baseline_mb + self.worker.warmup_mb + self.models[m].footprint_mb
    }

    /// Every model resident at once in one worker (in-process), or in a worker each (kill-worker).
    pub(crate) fn all_resident_mb(&self, mode: UnloadMode) -> f64 {
        let models: f64 = self.models.iter().map(|m| m.footprint_mb).sum();
        match mode {
            UnloadMode::InProcess => self.worker.baseline_mb + self.worker.warmup_mb + models,
            UnloadMode::KillWorker => models + self.models.len() as f64 * (self.worker.baseline_mb + self.worker.warmup_mb),
        }
    }

    /// A budget the simulation can run under: every model of the trace fits alone. Errors name the
    /// model, its parts and the budget that would do.
    pub(crate) fn check_budget(&self, budget_mb: f64) -> Result<()> {
        let parts = |m: usize| {
            format!(
                "{} needs {:.1} MB + baseline {:.1} MB + worker warm-up {:.1} MB = {:.1} MB",
                self.models[m].id,
                self.models[m].footprint_mb,
                self.worker.baseline_mb,
                self.worker.warmup_mb,
                self.alone_mb(m)
            )
        };
        let by_need = |a: &usize, b: &usize| self.alone_mb(*a).total_cmp(&self.alone_mb(*b));
        let Some(smallest) = (0..self.models.len()).min_by(by_need) else { bail!("no models to simulate") };
        if budget_mb < self.alone_mb(smallest) {
            bail!(
                "--budget-mb {budget_mb}: smaller than the smallest model plus the baseline ({} of {}): raise it to at least {:.0} MB",
                parts(smallest),
                self.memory_kind(),
                self.alone_mb(smallest).ceil()
            );
        }
        let largest = (0..self.models.len()).max_by(by_need).expect("not empty");
        if budget_mb < self.alone_mb(largest) {
            bail!(
                "--budget-mb {budget_mb}: model {} cannot load at all ({} of {}): raise the budget to at least {:.0} MB or leave {} out of the trace",
                self.models[largest].id,
                parts(largest),
                self.memory_kind(),
                self.alone_mb(largest).ceil(),
                self.models[largest].id
            );
        }
        Ok(())
    }
}

/// One model's times measured again on the machine of a replay, right after it (so under the same
/// conditions): what the simulation is re-run with to tell the profile's drift from the model's error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct MeasuredTimes {
    pub model: String,
    pub load_ms: f64,
    pub first_inference_ms: f64,
    pub steady_p50_ms: f64,
    pub steady_p95_ms: f64,
    pub unload_ms: f64,
    /// A new serving worker's spawn to the end of its first inference (a kill-worker replay's loads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spawn_to_ready_ms: Option<f64>,
}

impl Costs {
    /// These costs with the times of `measured` (matched by model id); memory stays the profile's.
    /// A fresh worker's first load keeps the profile's margin over a warm one.
    pub(crate) fn with_times(&self, measured: &[MeasuredTimes]) -> Costs {
        let mut costs = self.clone();
        for m in &mut costs.models {
            if let Some(t) = measured.iter().find(|t| t.model == m.id) {
                m.load_fresh_ms = t.load_ms + (m.load_fresh_ms - m.load_warm_ms).max(0.0);
                m.load_warm_ms = t.load_ms;
                m.first_inference_ms = t.first_inference_ms;
                m.steady_p50_ms = t.steady_p50_ms.max(1e-6);
                m.steady_p95_ms = t.steady_p95_ms;
                m.unload_ms = t.unload_ms;
                if t.spawn_to_ready_ms.is_some() {
                    m.spawn_to_ready_ms = t.spawn_to_ready_ms;
                }
            }
        }
        costs
    }
}

/// A model's measured resident size per MB of its file on one provider (RAM on CPU, VRAM on CUDA), as
/// the profile has it: what a model server's sizing multiplier should be.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Sizing {
    pub model: String,
    pub provider: Provider,
    pub file_mb: f64,
    pub resident_per_file: Option<f64>,
}

impl Sizing {
    pub(crate) fn resident_mb(&self) -> Option<f64> {
        self.resident_per_file.map(|r| r * self.file_mb)
    }
}

/// The sizing of `ids` on every provider of the host, in the host's provider order.
pub(crate) fn sizing(host: &HostProfile, ids: &[String]) -> Vec<Sizing> {
    let mut rows = Vec::new();
    for id in ids {
        for p in &host.providers {
            if let Some(m) = p.models.iter().find(|m| &m.model == id) {
                rows.push(Sizing {
                    model: id.clone(),
                    provider: p.provider,
                    file_mb: m.file_mb,
                    resident_per_file: m.resident_per_file_mb,
                });
            }
        }
    }
    rows
}

/// A fresh worker's spawn-to-ready: the single scenario's median over its fresh workers, else the
/// isolation scenario's.
fn spawn_to_ready(m: &ModelProfile) -> Option<f64> {
    m.spawn_to_ready_ms.as_ref().map(|f| f.p50).or_else(|| m.kill.as_ref().map(|k| k.spawn_to_ready_ms))
}

/// What a budget on `provider` bounds: "VRAM" where its device's memory is read, else "RSS".
pub(crate) fn budget_kind(provider: Provider) -> &'static str {
    if provider.memory().device_measured() { provider.memory().budget_label() } else { "RSS" }
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// Hand-made costs: models "a", "b", "c"... with the given footprints and warm load times,
    /// 10 ms steady inference (no spread), 20 ms first inference, unloads that give everything back.
    pub(crate) fn costs(models: &[(&str, f64, f64)], baseline_mb: f64) -> Costs {
        Costs {
            host: "test".into(),
            provider: Provider::CPU,
            runs: vec!["hand-made".into()],
            worker: WorkerCosts { baseline_mb, warmup_mb: 0.0, first_inference_extra_ms: 0.0 },
            models: models
                .iter()
                .map(|&(id, footprint_mb, load_ms)| ModelCosts {
                    id: id.into(),
                    file_mb: footprint_mb / 2.0,
                    footprint_mb,
                    load_peak_mb: footprint_mb,
                    load_warm_ms: load_ms,
                    load_fresh_ms: load_ms,
                    first_inference_ms: 20.0,
                    steady_p50_ms: 10.0,
                    steady_p95_ms: 10.0,
                    unload_ms: 0.0,
                    reclaimed: 1.0,
                    spawn_to_ready_ms: Some(load_ms * 2.0),
                })
                .collect(),
        }
    }

    #[test]
    fn a_budget_below_the_smallest_model_and_baseline_is_refused_with_its_parts() {
        let c = costs(&[("a", 100.0, 10.0), ("b", 300.0, 10.0)], 50.0);
        let e = format!("{:#}", c.check_budget(120.0).unwrap_err());
        assert_eq!(
            e,
            "--budget-mb 120: smaller than the smallest model plus the baseline (a needs 100.0 MB + baseline 50.0 MB + worker warm-up 0.0 MB = 150.0 MB of RSS): raise it to at least 150 MB"
        );
        let e = format!("{:#}", c.check_budget(200.0).unwrap_err());
        assert!(e.starts_with("--budget-mb 200: model b cannot load at all (b needs 300.0 MB"), "{e}");
        assert!(e.contains("at least 350 MB or leave b out of the trace"), "{e}");
        c.check_budget(350.0).unwrap();
    }

    #[test]
    fn re_measured_times_replace_the_profiles_and_keep_its_memory() {
        let mut c = costs(&[("a", 100.0, 200.0), ("b", 50.0, 80.0)], 10.0);
        c.models[0].load_fresh_ms = 260.0;
        let t = MeasuredTimes {
            model: "a".into(),
            load_ms: 300.0,
            first_inference_ms: 40.0,
            steady_p50_ms: 12.0,
            steady_p95_ms: 15.0,
            unload_ms: 3.0,
            spawn_to_ready_ms: Some(700.0),
        };
        let again = c.with_times(&[t]);
        let a = &again.models[0];
        assert_eq!((a.load_warm_ms, a.load_fresh_ms, a.first_inference_ms, a.steady_p50_ms, a.unload_ms), (300.0, 360.0, 40.0, 12.0, 3.0));
        assert_eq!(a.spawn_to_ready_ms, Some(700.0), "a kill-worker replay's spawn-to-ready replaces the profile's");
        assert_eq!(a.footprint_mb, 100.0);
        assert_eq!(again.models[1], c.models[1], "b was not measured again");
    }

    #[test]
    fn steady_times_go_through_the_profiles_p50_and_p95() {
        let mut m = costs(&[("a", 1.0, 1.0)], 0.0).models.remove(0);
        m.steady_p95_ms = 20.0;
        assert!((m.steady_ms(0.0) - 10.0).abs() < 1e-9);
        assert!((m.steady_ms(1.644_853_626_951_472_2) - 20.0).abs() < 1e-9);
        m.steady_p95_ms = 10.0;
        assert_eq!(m.steady_ms(3.0), 10.0, "no spread: always the median");
    }
}
