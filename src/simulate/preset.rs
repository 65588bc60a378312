//! The policies real model servers ship, by name, each with the server version and settings it
//! mirrors (from their source and documentation; docs/simulate.md has the table and what each one
//! leaves out). The figures they get are mora's own: the server's rule played out on the models and
//! traffic measured here.

use serde::Serialize;

use super::policy::{PlannedSize, Policy, PolicyKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Preset {
    Ollama,
    RayServe,
    Modelmesh,
    LlamaSwap,
    TritonExplicit,
}

/// Ollama's `OLLAMA_KEEP_ALIVE` default: 5 minutes.
pub(crate) const OLLAMA_KEEP_ALIVE_MS: f64 = 5.0 * 60_000.0;
/// Ollama's `OLLAMA_MAX_LOADED_MODELS` default on CPU (3 per GPU on GPUs).
pub(crate) const OLLAMA_MAX_LOADED_MODELS: usize = 3;
/// Ray Serve's `@serve.multiplexed(max_num_models_per_replica=3)` default.
pub(crate) const RAY_SERVE_MAX_MODELS_PER_REPLICA: usize = 3;
/// ModelMesh's default guess of a model's memory from its file size when the runtime does not report it.
pub(crate) const MODELMESH_SIZE_MULTIPLIER: f64 = 1.25;

impl Preset {
    #[cfg(test)]
    pub(crate) const ALL: [Preset; 5] = [Preset::Ollama, Preset::RayServe, Preset::Modelmesh, Preset::LlamaSwap, Preset::TritonExplicit];

    /// The policy the server's defaults come to.
    pub(crate) fn policy(self) -> Policy {
        let base = Policy { preset: Some(self), ..Policy::order(PolicyKind::Lru) };
        match self {
            Preset::Ollama => Policy {
                order: PolicyKind::ShortestKeepAlive,
                keep_alive_ms: Some(OLLAMA_KEEP_ALIVE_MS),
                max_models: Some(OLLAMA_MAX_LOADED_MODELS),
                ..base
            },
            Preset::RayServe => Policy { max_models: Some(RAY_SERVE_MAX_MODELS_PER_REPLICA), ..base },
            Preset::Modelmesh => Policy { planned_size: PlannedSize::FileTimes(MODELMESH_SIZE_MULTIPLIER), ..base },
            // One model at a time unless a group lets several run together; `ttl` 0 (never unload).
            Preset::LlamaSwap => Policy { max_models: Some(1), ..base },
            // Nothing is unloaded unless told, and nothing consults a budget: every model loaded at start.
            Preset::TritonExplicit => Policy { order: PolicyKind::KeepAll, heeds_budget: false, ..base },
        }
    }

    /// The server, the version read and the settings mirrored, in one line.
    pub(crate) fn source(self) -> &'static str {
        match self {
            Preset::Ollama => {
                "Ollama 0.5-0.12 (server/sched.go, envconfig/config.go, docs/faq.md): OLLAMA_KEEP_ALIVE=5m, OLLAMA_MAX_LOADED_MODELS=3 (CPU; 3 per GPU), OLLAMA_NUM_PARALLEL=1; evicts the idle runner with the shortest keep-alive, ties by model name (findRunnerToUnload, ByDurationAndName), not LRU"
            }
            Preset::RayServe => {
                "Ray Serve 2.x model multiplexing (serve.multiplexed): max_num_models_per_replica=3, LRU within the replica"
            }
            Preset::Modelmesh => {
                "KServe ModelMesh 0.11-0.12: LRU, a model sized at 1.25 x its file when the runtime does not report its size (modelSizeMultiplier); capacity = --budget-mb (container memory minus memBufferBytes)"
            }
            Preset::LlamaSwap => {
                "llama-swap (config.yaml): one model at a time (no groups), ttl 0 = never unloaded for idleness; a request for another model swaps it out"
            }
            Preset::TritonExplicit => {
                "Triton Inference Server 2.x --model-control-mode=explicit --load-model=*: every model loaded at start, nothing unloaded unless told; no memory budget"
            }
        }
    }
}

impl std::fmt::Display for Preset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Preset::Ollama => "ollama",
            Preset::RayServe => "ray-serve",
            Preset::Modelmesh => "modelmesh",
            Preset::LlamaSwap => "llama-swap",
            Preset::TritonExplicit => "triton-explicit",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_names_its_server_and_its_settings() {
        for p in Preset::ALL {
            let policy = p.policy();
            assert_eq!(policy.preset, Some(p));
            assert_eq!(policy.to_string(), p.to_string(), "a preset is shown by its name");
            assert!(p.source().contains(" ") && p.source().len() > 60, "{p}: {}", p.source());
        }
        assert_eq!(Preset::Ollama.policy().keep_alive_ms, Some(300_000.0));
        assert_eq!((Preset::Ollama.policy().max_models, Preset::RayServe.policy().max_models), (Some(3), Some(3)));
        assert!(!Preset::TritonExplicit.policy().heeds_budget);
        assert_eq!(Preset::Modelmesh.policy().planned_size, PlannedSize::FileTimes(1.25));
    }
}
