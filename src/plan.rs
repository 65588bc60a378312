//! Models x providers x scenarios -> the ordered list of trials. Pure.

use anyhow::{Result, bail};

use crate::results::{InputPoint, Scenario};
use crate::runtime::Provider;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PlannedTrial {
    pub provider: Provider,
    pub scenario: Scenario,
    pub models: Vec<String>,
    /// The input sizes a sweep sets for this trial; `None` keeps models.yaml's.
    pub point: Option<InputPoint>,
}

impl PlannedTrial {
    /// "cpu/gpt2/single"; in a sweep "cpu/gpt2@b8s512/single".
    pub(crate) fn id(&self) -> String {
        let point = self.point.map(|p| p.id_suffix()).unwrap_or_default();
        format!("{}/{}{point}/{}", self.provider, self.models.join("+"), self.scenario)
    }
}

/// `--batch-size` and `--sequence-length`: each value (each pair, with both) is a trial of its own,
/// optimum-benchmark's multirun. Empty lists keep models.yaml's sizes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Sweep {
    pub batch_sizes: Vec<usize>,
    pub sequence_lengths: Vec<usize>,
}

impl Sweep {
    /// The points for a model, batch size by batch size; a model without a sequence dimension (an
    /// image input) gets one point per batch size only. `[None]` without a sweep.
    pub(crate) fn points(&self, has_sequence: bool) -> Vec<Option<InputPoint>> {
        if self.batch_sizes.is_empty() && self.sequence_lengths.is_empty() {
            return vec![None];
        }
        let batches: Vec<Option<usize>> =
            if self.batch_sizes.is_empty() { vec![None] } else { self.batch_sizes.iter().copied().map(Some).collect() };
        let sequences: Vec<Option<usize>> = if self.sequence_lengths.is_empty() || !has_sequence {
            vec![None]
        } else {
            self.sequence_lengths.iter().copied().map(Some).collect()
        };
        let mut points = Vec::new();
        for &batch_size in &batches {
            for &sequence_length in &sequences {
                // A sweep of sequence lengths alone leaves an image model as it is.
                let point = (batch_size.is_some() || sequence_length.is_some()).then_some(InputPoint { batch_size, sequence_length });
                if !points.contains(&point) {
                    points.push(point);
                }
            }
        }
        points
    }

    /// Each trial once per point of its models (the trials over several models: every point of
    /// the sweep), points innermost so a model's sizes sit side by side.
    pub(crate) fn expand(&self, trials: Vec<PlannedTrial>, has_sequence: &dyn Fn(&str) -> bool) -> Vec<PlannedTrial> {
        trials
            .into_iter()
            .flat_map(|t| {
                let any_sequence = t.models.iter().any(|m| has_sequence(m));
                self.points(any_sequence).into_iter().map(move |point| PlannedTrial { point, ..t.clone() })
            })
            .collect()
    }
}

/// Provider by provider (a whole provider's figures come together), model by model, scenarios in
/// the order asked; the scenarios over all the models (`concurrent`, `rotation`) last for each
/// provider, when there are two or more models.
pub(crate) fn plan(models: &[String], providers: &[Provider], scenarios: &[Scenario]) -> Vec<PlannedTrial> {
    let mut trials = Vec::new();
    for &provider in providers {
        for model in models {
            for &scenario in scenarios.iter().filter(|s| !s.spans_models()) {
                trials.push(PlannedTrial { provider, scenario, models: vec![model.clone()], point: None });
            }
        }
        for &scenario in scenarios.iter().filter(|s| s.spans_models()) {
            if models.len() >= 2 {
                trials.push(PlannedTrial { provider, scenario, models: models.to_vec(), point: None });
            }
        }
    }
    trials
}

/// The scenarios that span the models (`concurrent`, `rotation`) need two or more, so with one they
/// have nothing to run. Asked for alone, that is an error; beside other scenarios they are dropped,
/// and the note returned says why.
pub(crate) fn drop_spanning_scenarios_without_two_models(models: &[String], scenarios: &mut Vec<Scenario>) -> Result<Option<String>> {
    let spanning: Vec<String> = scenarios.iter().filter(|s| s.spans_models()).map(ToString::to_string).collect();
    if models.len() >= 2 || spanning.is_empty() {
        return Ok(None);
    }
    let selected = models.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", ");
    if spanning.len() == scenarios.len() {
        bail!(
            "--scenario {} needs two or more models, and only {selected} is selected: name two or more with --models A,B",
            spanning.join(",")
        );
    }
    scenarios.retain(|s| !s.spans_models());
    Ok(Some(format!("skipping {}: each needs two or more models, and only {selected} is selected", spanning.join(", "))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenarios_over_all_models_with_one_model_are_an_error_alone_and_a_note_beside_others() {
        let one = vec!["a".to_string()];
        let mut only = vec![Scenario::Concurrent];
        let e = drop_spanning_scenarios_without_two_models(&one, &mut only).unwrap_err().to_string();
        assert_eq!(e, "--scenario concurrent needs two or more models, and only `a` is selected: name two or more with --models A,B");
        let mut spanning = vec![Scenario::Concurrent, Scenario::Rotation];
        assert!(
            drop_spanning_scenarios_without_two_models(&one, &mut spanning)
                .unwrap_err()
                .to_string()
                .starts_with("--scenario concurrent,rotation needs")
        );
        let mut mixed = vec![Scenario::Single, Scenario::Concurrent, Scenario::Rotation];
        let note = drop_spanning_scenarios_without_two_models(&one, &mut mixed).unwrap().unwrap();
        assert_eq!(note, "skipping concurrent, rotation: each needs two or more models, and only `a` is selected");
        assert_eq!(mixed, [Scenario::Single]);
        let two = vec!["a".to_string(), "b".to_string()];
        let mut kept = vec![Scenario::Concurrent];
        assert!(drop_spanning_scenarios_without_two_models(&two, &mut kept).unwrap().is_none());
        assert_eq!(kept, [Scenario::Concurrent]);
    }

    #[test]
    fn providers_then_models_then_scenarios() {
        let models = vec!["a".to_string(), "b".to_string()];
        let p = plan(&models, &[Provider::CPU, Provider::named("cuda")], &[Scenario::Single, Scenario::Leak]);
        let ids: Vec<String> = p.iter().map(PlannedTrial::id).collect();
        assert_eq!(
            ids,
            ["cpu/a/single", "cpu/a/leak", "cpu/b/single", "cpu/b/leak", "cuda/a/single", "cuda/a/leak", "cuda/b/single", "cuda/b/leak"]
        );
    }

    #[test]
    fn concurrent_comes_last_and_needs_two_models() {
        let models = vec!["a".to_string(), "b".to_string()];
        let p = plan(&models, &[Provider::CPU], &[Scenario::Concurrent, Scenario::Single]);
        assert_eq!(p.last().unwrap().id(), "cpu/a+b/concurrent");
        assert_eq!(p.len(), 3);
        assert!(plan(&models[..1], &[Provider::CPU], &[Scenario::Concurrent]).is_empty());
    }

    #[test]
    fn rotation_spans_the_models_like_concurrent() {
        let models = vec!["a".to_string(), "b".to_string()];
        let p = plan(&models, &[Provider::CPU], &[Scenario::Single, Scenario::Concurrent, Scenario::Rotation]);
        let ids: Vec<String> = p.iter().map(PlannedTrial::id).collect();
        assert_eq!(ids, ["cpu/a/single", "cpu/b/single", "cpu/a+b/concurrent", "cpu/a+b/rotation"]);
    }

    #[test]
    fn a_sweep_is_a_trial_per_size_and_images_take_the_batch_sizes_only() {
        let sweep = Sweep { batch_sizes: vec![1, 8], sequence_lengths: vec![128, 512] };
        let trials = plan(&["text".to_string(), "image".to_string()], &[Provider::CPU], &[Scenario::Single]);
        let ids: Vec<String> = sweep.expand(trials, &|m| m == "text").iter().map(PlannedTrial::id).collect();
        assert_eq!(
            ids,
            [
                "cpu/text@b1s128/single",
                "cpu/text@b1s512/single",
                "cpu/text@b8s128/single",
                "cpu/text@b8s512/single",
                "cpu/image@b1/single",
                "cpu/image@b8/single"
            ]
        );
        let only_sequences = Sweep { batch_sizes: vec![], sequence_lengths: vec![64] };
        assert_eq!(only_sequences.points(false), [None]);
        assert_eq!(only_sequences.points(true)[0].unwrap().id_suffix(), "@s64");
        let none = Sweep::default();
        let trials = plan(&["a".to_string()], &[Provider::CPU], &[Scenario::Single]);
        assert_eq!(none.expand(trials, &|_| true)[0].id(), "cpu/a/single", "no sweep, no suffix");
    }

    #[test]
    fn nothing_in_nothing_out() {
        assert!(plan(&[], &[Provider::CPU], &[Scenario::Single]).is_empty());
        assert!(plan(&["a".into()], &[], &[Scenario::Single]).is_empty());
    }
}
