//! A provider's name as the rest of mora holds it: a small copyable value that any results.json can
//! carry, known to mora or not.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;

use anyhow::{Result, bail};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Backend, known, known_names};

/// An execution provider by mora's name for it (`cpu`, `cuda`, `openvino`). Ask it, through
/// [`Provider::backend`], what it is; never compare it with a name.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Provider(&'static str);

/// Names read from files that mora does not know, kept for the life of the process: a results.json
/// names a handful, so the set stays small.
static UNKNOWN_NAMES: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());

impl Provider {
    /// ONNX Runtime's CPU provider: always there, the fallback of every other provider.
    pub const CPU: Provider = Provider("cpu");

    /// The provider called `name`: a known backend's (aliases resolved) or, for a name mora does not
    /// know, a provider of its own that [`super::generic`] describes.
    pub fn named(name: &str) -> Provider {
        if let Some(b) = known(name) {
            return Provider(b.name());
        }
        let name = name.trim().to_ascii_lowercase();
        let mut set = UNKNOWN_NAMES.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(existing) = set.get(name.as_str()) {
            return Provider(existing);
        }
        let leaked: &'static str = Box::leak(name.into_boxed_str());
        set.insert(leaked);
        Provider(leaked)
    }

    pub fn name(self) -> &'static str {
        self.0
    }

    /// What this provider is: its backend, or the generic one for a name mora does not know.
    pub fn backend(self) -> &'static dyn Backend {
        self.own_backend().unwrap_or(&super::generic::GENERIC)
    }

    /// Whether mora has a backend of this name (else it only reads its figures).
    pub fn is_known(self) -> bool {
        self.own_backend().is_some()
    }

    /// The backend whose name this is: a `Provider` holds a known backend's own name (aliases and case
    /// resolved by [`Provider::named`]), so this is a comparison, not a parse.
    fn own_backend(self) -> Option<&'static dyn Backend> {
        super::BACKENDS.iter().copied().find(|b| b.name() == self.0)
    }

    /// The memory its figures are in with its default options.
    pub fn memory(self) -> super::MemoryKind {
        self.backend().memory(&Default::default())
    }

    /// Whether it takes option `key` (so a lever that sets it applies).
    pub fn takes(self, key: &str) -> bool {
        self.backend().options().iter().any(|o| o.key == key)
    }

    /// ONNX Runtime's name for it.
    pub fn ort_name(self) -> &'static str {
        self.backend().ort_name()
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl fmt::Debug for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Provider({})", self.0)
    }
}

impl FromStr for Provider {
    type Err = anyhow::Error;
    /// A name given on the command line must be one mora can run (`--ep-lib` adds one it does not know).
    fn from_str(s: &str) -> Result<Self> {
        match known(s) {
            Some(b) => Ok(Provider(b.name())),
            None => bail!("unknown provider `{}`: use one of {}, a comma-separated list of them, or auto", s.trim(), known_names()),
        }
    }
}

impl Serialize for Provider {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

impl<'de> Deserialize<'de> for Provider {
    /// Any name: a run made with a provider this mora does not know still reads, labelled generically.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = Cow::<str>::deserialize(d)?;
        if name.trim().is_empty() {
            return Err(serde::de::Error::custom("a provider's name is empty"));
        }
        Ok(Provider::named(&name))
    }
}

impl JsonSchema for Provider {
    fn schema_name() -> Cow<'static, str> {
        "Provider".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "minLength": 1,
            "description": format!("mora's name for the execution provider: {} (a run may name one this mora does not know)", known_names()),
        })
    }
}

/// What `--provider` asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderRequest {
    /// Every provider that works on this machine; the ones that don't are skipped with the reason.
    Auto,
    /// Exactly these; one that cannot run here is an error.
    Explicit(Vec<Provider>),
}

impl ProviderRequest {
    /// `spec` is `auto` or a comma-separated list; `extra` are names `--ep-lib` gave a library for,
    /// which may be providers mora does not know.
    pub fn parse(spec: &str, extra: &[Provider]) -> Result<ProviderRequest> {
        if spec.trim().eq_ignore_ascii_case("auto") {
            return Ok(ProviderRequest::Auto);
        }
        let mut list = Vec::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let p = match extra.iter().find(|e| e.name() == part.to_ascii_lowercase()) {
                Some(p) => *p,
                None => part.parse()?,
            };
            if !list.contains(&p) {
                list.push(p);
            }
        }
        if list.is_empty() {
            bail!("--provider needs auto or a comma-separated list of {}", known_names());
        }
        Ok(ProviderRequest::Explicit(list))
    }
}

impl FromStr for ProviderRequest {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        ProviderRequest::parse(s, &[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_requests_parse() {
        assert_eq!("auto".parse::<ProviderRequest>().unwrap(), ProviderRequest::Auto);
        assert_eq!("cpu".parse::<ProviderRequest>().unwrap(), ProviderRequest::Explicit(vec![Provider::CPU]));
        let cuda = Provider::named("cuda");
        assert_eq!("cpu, CUDA,cpu".parse::<ProviderRequest>().unwrap(), ProviderRequest::Explicit(vec![Provider::CPU, cuda]));
        assert_eq!("gpu".parse::<ProviderRequest>().unwrap(), ProviderRequest::Explicit(vec![cuda]), "an alias");
        let e = "tpu".parse::<ProviderRequest>().unwrap_err().to_string();
        assert!(e.contains("unknown provider `tpu`") && e.contains("openvino"), "{e}");
        assert!(",".parse::<ProviderRequest>().is_err());
        // A plugin mora does not know is accepted where --ep-lib named it.
        let mine = Provider::named("my-npu");
        assert_eq!(ProviderRequest::parse("cpu,my-npu", &[mine]).unwrap(), ProviderRequest::Explicit(vec![Provider::CPU, mine]));
    }

    #[test]
    fn names_read_from_files_round_trip_and_intern() {
        let p: Provider = serde_json::from_str("\"some-future-ep\"").unwrap();
        assert_eq!(p.name(), "some-future-ep");
        assert!(!p.is_known());
        assert_eq!(serde_json::to_string(&p).unwrap(), "\"some-future-ep\"");
        let q: Provider = serde_json::from_str("\"Some-Future-EP\"").unwrap();
        assert!(std::ptr::eq(p.name(), q.name()), "the same name is kept once");
        assert!(serde_json::from_str::<Provider>("\"\"").is_err());
        assert!(Provider::CPU < Provider::named("cuda"), "CPU sorts first, as it is listed first");
    }
}
