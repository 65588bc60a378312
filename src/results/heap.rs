//! The state of the allocator a load ran in, which decides how fast it is: a load right after
//! another unload reuses the pages the allocator kept (back to back), one after an unload and
//! `malloc_trim(0)` asks the kernel for them again, and a fresh worker's first load pays the
//! provider's first use as well. Every load figure the reports print names one; "warm load" is
//! [`warm_load`]'s, one documented state for the advice, the summary and the profile.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::results::{ColdResult, SingleTrial};
use crate::stats::Summary;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HeapState {
    /// In a running worker, after the previous session's unload and `malloc_trim(0)`: what a
    /// lifecycle manager that follows mora's advice (trim after each unload) loads next. The
    /// single scenario's loads, the leak scenario's cycles after the first.
    AfterUnloadAndTrim,
    /// In a running worker, right after the previous load of the same model was unloaded, the
    /// allocator still holding its pages: the cold scenario's warm loads.
    BackToBack,
    /// A new worker's first model, after the provider baseline: its one-time warm-up included.
    FreshWorker,
}

impl HeapState {
    /// A few words for a table header or a figure: "after unload + trim".
    pub(crate) fn short(self) -> &'static str {
        match self {
            HeapState::AfterUnloadAndTrim => "after unload + trim",
            HeapState::BackToBack => "back to back",
            HeapState::FreshWorker => "fresh worker",
        }
    }
}

impl fmt::Display for HeapState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.short())
    }
}

/// One line for where two heap states sit side by side.
pub(crate) const BACK_TO_BACK_VS_TRIMMED: &str = "Back-to-back loads reuse the pages the allocator kept from the previous load, so they run faster than a load after unload + malloc_trim(0), which asks the kernel for them again; the advice and the profile use the latter.";

/// A warm load: its time, the first inference after it, and the heap state both were taken in.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WarmLoad<'a> {
    pub load: &'a Summary,
    pub first_inference: Option<&'a Summary>,
    pub state: HeapState,
}

/// The "warm load" of a model: the single scenario's load in a running worker after unload + trim.
/// A schema 1 run measured only a fresh worker's first load there, so its cold scenario's back-to-back
/// loads stand in where it ran, named so; `cold` is that model's cold trial on the same provider.
pub(crate) fn warm_load<'a>(single: Option<&'a SingleTrial>, cold: Option<&'a ColdResult>) -> Option<WarmLoad<'a>> {
    let from_single = single.and_then(|s| {
        let state = if s.first_load_only() { HeapState::FreshWorker } else { HeapState::AfterUnloadAndTrim };
        s.summary.load_time_ms.as_ref().map(|load| WarmLoad { load, first_inference: s.summary.first_inference_ms.as_ref(), state })
    });
    let from_cold = cold.and_then(|c| {
        c.warm_load.as_ref().map(|load| WarmLoad { load, first_inference: c.warm_first_inference.as_ref(), state: HeapState::BackToBack })
    });
    match from_single {
        Some(w) if w.state == HeapState::AfterUnloadAndTrim => Some(w),
        // A fresh worker's first load is no warm load: the back-to-back loads are nearer.
        fresh => from_cold.or(fresh),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_read_as_words_and_serialise_as_snake_case() {
        assert_eq!(HeapState::AfterUnloadAndTrim.to_string(), "after unload + trim");
        assert_eq!(serde_json::to_string(&HeapState::BackToBack).unwrap(), "\"back_to_back\"");
        assert_eq!(serde_json::to_string(&HeapState::AfterUnloadAndTrim).unwrap(), "\"after_unload_and_trim\"");
    }
}
