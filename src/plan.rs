//! Models x providers x scenarios -> the ordered list of trials. Pure.

use anyhow::{Result, bail};

use crate::results::Scenario;
use crate::runtime::Provider;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedTrial {
    pub provider: Provider,
    pub scenario: Scenario,
    pub models: Vec<String>,
}

impl PlannedTrial {
    pub fn id(&self) -> String {
        format!("{}/{}/{}", self.provider, self.models.join("+"), self.scenario)
    }
}

/// Provider by provider (a whole provider's figures come together), model by model, scenarios in
/// the order asked; the scenarios over all the models (`concurrent`, `rotation`) last for each
/// provider, when there are two or more models.
pub fn plan(models: &[String], providers: &[Provider], scenarios: &[Scenario]) -> Vec<PlannedTrial> {
    let mut trials = Vec::new();
    for &provider in providers {
        for model in models {
            for &scenario in scenarios.iter().filter(|s| !s.spans_models()) {
                trials.push(PlannedTrial { provider, scenario, models: vec![model.clone()] });
            }
        }
        for &scenario in scenarios.iter().filter(|s| s.spans_models()) {
            if models.len() >= 2 {
                trials.push(PlannedTrial { provider, scenario, models: models.to_vec() });
            }
        }
    }
    trials
}

/// The scenarios that span the models (`concurrent`, `rotation`) need two or more, so with one they
/// have nothing to run. Asked for alone, that is an error; beside other scenarios they are dropped,
/// and the note returned says why.
pub fn drop_spanning_scenarios_without_two_models(models: &[String], scenarios: &mut Vec<Scenario>) -> Result<Option<String>> {
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
        let p = plan(&models, &[Provider::Cpu, Provider::Cuda], &[Scenario::Single, Scenario::Leak]);
        let ids: Vec<String> = p.iter().map(PlannedTrial::id).collect();
        assert_eq!(
            ids,
            ["cpu/a/single", "cpu/a/leak", "cpu/b/single", "cpu/b/leak", "cuda/a/single", "cuda/a/leak", "cuda/b/single", "cuda/b/leak"]
        );
    }

    #[test]
    fn concurrent_comes_last_and_needs_two_models() {
        let models = vec!["a".to_string(), "b".to_string()];
        let p = plan(&models, &[Provider::Cpu], &[Scenario::Concurrent, Scenario::Single]);
        assert_eq!(p.last().unwrap().id(), "cpu/a+b/concurrent");
        assert_eq!(p.len(), 3);
        assert!(plan(&models[..1], &[Provider::Cpu], &[Scenario::Concurrent]).is_empty());
    }

    #[test]
    fn rotation_spans_the_models_like_concurrent() {
        let models = vec!["a".to_string(), "b".to_string()];
        let p = plan(&models, &[Provider::Cpu], &[Scenario::Single, Scenario::Concurrent, Scenario::Rotation]);
        let ids: Vec<String> = p.iter().map(PlannedTrial::id).collect();
        assert_eq!(ids, ["cpu/a/single", "cpu/b/single", "cpu/a+b/concurrent", "cpu/a+b/rotation"]);
    }

    #[test]
    fn nothing_in_nothing_out() {
        assert!(plan(&[], &[Provider::Cpu], &[Scenario::Single]).is_empty());
        assert!(plan(&["a".into()], &[], &[Scenario::Single]).is_empty());
    }
}
