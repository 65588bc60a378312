//! Models x providers x scenarios -> the ordered list of trials. Pure.

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

#[cfg(test)]
mod tests {
    use super::*;

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
