//! A provider's own options, as ONNX Runtime names them: the keys each backend declares, checked where
//! they are read (models.yaml's `providers:`, `--ep-option NAME.KEY=VALUE`), and kept as text, the form
//! ONNX Runtime takes them in.

use std::collections::BTreeMap;

use anyhow::{Result, bail};

/// A provider's options in effect: key -> value, as ONNX Runtime takes them.
pub type Options = BTreeMap<String, String>;

/// What values an option takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionKind {
    /// A whole number in this range.
    Int { min: i64, max: i64 },
    /// `true`/`false` (written as ONNX Runtime wants it: `0`/`1` or `true`/`false`, see `as_digits`).
    Bool { as_digits: bool },
    /// One of these words.
    Choice(&'static [&'static str]),
    /// A folder or a file (a cache folder, a library).
    Path,
    /// Free text.
    Text,
}

/// One option a backend accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionSpec {
    pub key: &'static str,
    pub kind: OptionKind,
    pub help: &'static str,
}

impl OptionSpec {
    /// The value as ONNX Runtime takes it, or why it is not one this option takes.
    pub fn check(&self, value: &str) -> Result<String> {
        let value = value.trim();
        match self.kind {
            OptionKind::Int { min, max } => match value.parse::<i64>() {
                Ok(n) if (min..=max).contains(&n) => Ok(n.to_string()),
                _ => bail!("{}: {value:?} is not a whole number from {min} to {max}", self.key),
            },
            OptionKind::Bool { as_digits } => {
                let on = match value.to_ascii_lowercase().as_str() {
                    "1" | "true" | "yes" | "on" => true,
                    "0" | "false" | "no" | "off" => false,
                    _ => bail!("{}: {value:?} is not true or false", self.key),
                };
                Ok(match (as_digits, on) {
                    (true, true) => "1".into(),
                    (true, false) => "0".into(),
                    (false, on) => on.to_string(),
                })
            }
            OptionKind::Choice(words) => match words.iter().find(|w| w.eq_ignore_ascii_case(value)) {
                Some(w) => Ok(w.to_string()),
                None => bail!("{}: {value:?} is not one of {}", self.key, words.join(", ")),
            },
            OptionKind::Path | OptionKind::Text if value.is_empty() => bail!("{}: the value is empty", self.key),
            OptionKind::Path | OptionKind::Text => Ok(value.to_string()),
        }
    }
}

/// Checks `key=value` against `specs` (a provider mora does not know takes any key).
pub fn check_option(provider: &str, specs: &[OptionSpec], known: bool, key: &str, value: &str) -> Result<String> {
    if !known {
        return Ok(value.trim().to_string());
    }
    match specs.iter().find(|s| s.key == key) {
        Some(spec) => spec.check(value),
        None if specs.is_empty() => bail!("the {provider} provider takes no options here (`{key}` given)"),
        None => {
            bail!("the {provider} provider has no option `{key}`: it takes {}", specs.iter().map(|s| s.key).collect::<Vec<_>>().join(", "))
        }
    }
}

/// `--ep-option NAME.KEY=VALUE`, split.
pub fn parse_flag(s: &str) -> Result<(String, String, String)> {
    let Some((name_key, value)) = s.split_once('=') else {
        bail!("--ep-option {s:?}: write it as PROVIDER.KEY=VALUE, e.g. openvino.cache_dir=/tmp/ov")
    };
    let Some((name, key)) = name_key.split_once('.') else {
        bail!("--ep-option {s:?}: write it as PROVIDER.KEY=VALUE, e.g. openvino.device_type=CPU")
    };
    if name.trim().is_empty() || key.trim().is_empty() {
        bail!("--ep-option {s:?}: the provider and the key must not be empty");
    }
    Ok((name.trim().to_ascii_lowercase(), key.trim().to_string(), value.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPECS: &[OptionSpec] = &[
        OptionSpec { key: "n", kind: OptionKind::Int { min: 0, max: 8 }, help: "" },
        OptionSpec { key: "on", kind: OptionKind::Bool { as_digits: true }, help: "" },
        OptionSpec { key: "device_type", kind: OptionKind::Choice(&["CPU", "GPU"]), help: "" },
    ];

    #[test]
    fn values_are_checked_and_written_as_onnx_runtime_takes_them() {
        assert_eq!(check_option("x", SPECS, true, "n", " 4 ").unwrap(), "4");
        assert!(check_option("x", SPECS, true, "n", "9").unwrap_err().to_string().contains("from 0 to 8"));
        assert_eq!(check_option("x", SPECS, true, "on", "true").unwrap(), "1");
        assert_eq!(check_option("x", SPECS, true, "device_type", "gpu").unwrap(), "GPU");
        let e = check_option("x", SPECS, true, "cache", "/tmp").unwrap_err().to_string();
        assert!(e.contains("has no option `cache`: it takes n, on, device_type"), "{e}");
        assert_eq!(check_option("mine", &[], false, "anything", "v").unwrap(), "v", "an unknown provider's options pass as given");
    }

    #[test]
    fn ep_option_flags_split() {
        assert_eq!(parse_flag("OpenVINO.cache_dir=/tmp/a=b").unwrap(), ("openvino".into(), "cache_dir".into(), "/tmp/a=b".into()));
        assert!(parse_flag("cache_dir=/tmp").is_err());
        assert!(parse_flag("openvino.cache_dir").is_err());
    }
}
