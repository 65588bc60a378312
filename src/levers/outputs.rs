//! A model's outputs as plain numbers, and whether two configurations agree on them: a lever whose
//! outputs differ from the default's is reported and never recommended.

use ort::value::DynValue;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Outputs agree when every element is within `REL_TOLERANCE` of the largest magnitude in the
/// reference output (floor 1.0): graph rewrites reorder floating-point sums, which moves the last
/// digits, not the answer.
pub(crate) const REL_TOLERANCE: f64 = 1e-3;

/// One output's values, by element type.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum OutputData {
    F32(Vec<f32>),
    I64(Vec<i64>),
    /// An element type mora does not compare; its name.
    Other(String),
}

/// A run's outputs by name.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Outputs(pub Vec<(String, OutputData)>);

impl Outputs {
    pub(crate) fn capture(named: &[(String, DynValue)]) -> Outputs {
        Outputs(
            named
                .iter()
                .map(|(name, value)| {
                    let data = if let Ok((_, v)) = value.try_extract_tensor::<f32>() {
                        OutputData::F32(v.to_vec())
                    } else if let Ok((_, v)) = value.try_extract_tensor::<i64>() {
                        OutputData::I64(v.to_vec())
                    } else {
                        OutputData::Other(format!("{:?}", value.dtype()))
                    };
                    (name.clone(), data)
                })
                .collect(),
        )
    }
}

impl Outputs {
    /// Shifts every float output by one: a configuration made to differ (`MORA_FAULT`, tests only).
    pub(crate) fn perturbed(mut self) -> Outputs {
        for (_, data) in &mut self.0 {
            if let OutputData::F32(v) = data {
                v.iter_mut().for_each(|x| *x += 1.0);
            }
        }
        self
    }
}

/// How a configuration's outputs compare with the default's on the same inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Agreement {
    pub same: bool,
    /// The largest absolute difference over every compared element.
    pub max_abs_diff: f64,
    /// What that difference is measured against: the largest magnitude in the reference (floor 1.0).
    pub scale: f64,
    /// Why it is not the same, or what could not be compared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

pub(crate) fn compare(reference: &Outputs, other: &Outputs) -> Agreement {
    let mut agreement = Agreement { same: true, max_abs_diff: 0.0, scale: 1.0, note: None };
    let differ = |why: String, a: &mut Agreement| {
        a.same = false;
        a.note.get_or_insert(why);
    };
    if reference.0.len() != other.0.len() {
        differ(format!("{} outputs against {}", other.0.len(), reference.0.len()), &mut agreement);
        return agreement;
    }
    for ((name, a), (other_name, b)) in reference.0.iter().zip(&other.0) {
        if name != other_name {
            differ(format!("output `{other_name}` where the default has `{name}`"), &mut agreement);
            continue;
        }
        match (a, b) {
            (OutputData::F32(a), OutputData::F32(b)) if a.len() == b.len() => {
                let scale = a.iter().fold(1.0f64, |m, v| m.max(f64::from(v.abs())));
                // f64::max skips NaN: a NaN difference is made infinite so that it counts.
                let diff = a.iter().zip(b).fold(0.0f64, |m, (x, y)| {
                    let d = f64::from((x - y).abs());
                    m.max(if d.is_nan() { f64::INFINITY } else { d })
                });
                agreement.scale = agreement.scale.max(scale);
                agreement.max_abs_diff = agreement.max_abs_diff.max(diff);
                if diff > REL_TOLERANCE * scale {
                    differ(format!("`{name}` differs by up to {diff:.3e} (scale {scale:.3e})"), &mut agreement);
                }
            }
            (OutputData::I64(a), OutputData::I64(b)) if a == b => {}
            (OutputData::Other(t), _) | (_, OutputData::Other(t)) => {
                agreement.note.get_or_insert(format!("`{name}` ({t}) not compared"));
            }
            _ => differ(format!("`{name}` has another type or size"), &mut agreement),
        }
    }
    agreement
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f32s(v: &[f32]) -> Outputs {
        Outputs(vec![("y".into(), OutputData::F32(v.to_vec()))])
    }

    #[test]
    fn last_digit_noise_agrees_a_changed_answer_does_not() {
        let reference = f32s(&[10.0, -20.0, 0.5]);
        let a = compare(&reference, &f32s(&[10.0001, -20.0002, 0.5]));
        assert!(a.same, "{a:?}");
        assert_eq!(a.scale, 20.0);
        let b = compare(&reference, &f32s(&[10.0, -19.0, 0.5]));
        assert!(!b.same && b.note.unwrap().contains("`y` differs by up to 1.000e0"), "differs");
        assert!(!compare(&reference, &f32s(&[10.0, f32::NAN, 0.5])).same, "NaN never agrees");
        assert!(!compare(&reference, &f32s(&[10.0])).same, "a different size");
    }

    #[test]
    fn integers_must_match_exactly_and_names_must_line_up() {
        let ids = |v: &[i64]| Outputs(vec![("ids".into(), OutputData::I64(v.to_vec()))]);
        assert!(compare(&ids(&[1, 2]), &ids(&[1, 2])).same);
        assert!(!compare(&ids(&[1, 2]), &ids(&[1, 3])).same);
        let renamed = Outputs(vec![("other".into(), OutputData::I64(vec![1, 2]))]);
        assert!(!compare(&ids(&[1, 2]), &renamed).same);
    }
}
