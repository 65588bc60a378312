//! Where a load put the model's weights, as the process shows it: file-backed resident memory
//! (RssFile: pages of the model's files mapped into the process, shared with the page cache and with
//! every other process mapping them) against anonymous memory (RssAnon: weights copied, or packed,
//! onto the heap). ONNX Runtime maps external data on the CPU where it can and copies it where
//! prepacking rewrites it; the memory says which happened, and how much of a mapping the first
//! inference paged in (a load that is fast because its pages come later has only moved the time).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::stats::median;

/// Growth of the process's memory over the loads of one configuration, medians, in MB. Weights
/// copied or packed show as anonymous memory after the load; mapped ones as file-backed memory once
/// touched, by the first inference at the latest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Residence {
    /// The files the configuration loads from (model and external data, or the ORT file).
    pub files_mb: f64,
    /// Across the load alone.
    pub anon_after_load_mb: f64,
    pub file_after_load_mb: f64,
    /// Across the load and its first inference.
    pub anon_after_first_mb: f64,
    pub file_after_first_mb: f64,
    pub verdict: Resident,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Resident {
    /// File-backed memory grew by a share of the files, anonymous memory did not.
    Mapped,
    /// Anonymous memory grew by a share of the files, file-backed memory did not.
    Copied,
    /// Both: part mapped, part copied (prepacking copies mapped weights onto the heap).
    MappedAndCopied,
    /// Neither grew by a share of the files: too small a model to tell, or memory the process had
    /// already.
    Unclear,
}

/// A growth of at least this share of the files counts as holding the weights.
const SHARE: f64 = 0.25;

/// One load's readings: RssAnon and RssFile before the load, after it, after its first inference.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Readings {
    pub before: (f64, f64),
    pub after_load: (f64, f64),
    pub after_first: (f64, f64),
}

impl Residence {
    /// The medians over `loads` against `files_mb`; `None` without readings (no /proc).
    pub(crate) fn of(files_mb: f64, loads: &[Readings]) -> Option<Residence> {
        let grew = |f: &dyn Fn(&Readings) -> f64| median(&loads.iter().map(f).collect::<Vec<_>>());
        let r = Residence {
            files_mb,
            anon_after_load_mb: grew(&|r| r.after_load.0 - r.before.0)?,
            file_after_load_mb: grew(&|r| r.after_load.1 - r.before.1)?,
            anon_after_first_mb: grew(&|r| r.after_first.0 - r.before.0)?,
            file_after_first_mb: grew(&|r| r.after_first.1 - r.before.1)?,
            verdict: Resident::Unclear,
        };
        let held = |mb: f64| files_mb > 0.0 && mb >= SHARE * files_mb;
        // Copies and packs happen in the load; the first inference's anonymous growth is its
        // activations and outputs, not weights. Mapped pages count once touched, by the first inference.
        let verdict = match (held(r.file_after_first_mb), held(r.anon_after_load_mb)) {
            (true, false) => Resident::Mapped,
            (false, true) => Resident::Copied,
            (true, true) => Resident::MappedAndCopied,
            (false, false) => Resident::Unclear,
        };
        Some(Residence { verdict, ..r })
    }

    /// "mapped: +64 MB file-backed by the first answer, +0 anon by the load, of 64 MB files; the
    /// first inference paged in 62".
    pub(crate) fn describe(&self) -> String {
        let what = match self.verdict {
            Resident::Mapped => "mapped",
            Resident::Copied => "copied",
            Resident::MappedAndCopied => "mapped and copied",
            Resident::Unclear => "unclear",
        };
        let paged = self.file_after_first_mb - self.file_after_load_mb;
        let later = if paged >= SHARE * self.files_mb && self.files_mb > 0.0 {
            format!("; the first inference paged in {paged:.0}")
        } else {
            String::new()
        };
        format!(
            "{what}: {:+.0} MB file-backed by the first answer, {:+.0} anon by the load, of {:.0} MB files{later}",
            self.file_after_first_mb, self.anon_after_load_mb, self.files_mb
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(after_load: (f64, f64), after_first: (f64, f64)) -> Readings {
        Readings {
            before: (100.0, 50.0),
            after_load: (100.0 + after_load.0, 50.0 + after_load.1),
            after_first: (100.0 + after_first.0, 50.0 + after_first.1),
        }
    }

    #[test]
    fn mapped_weights_show_as_file_backed_memory_and_copied_ones_as_anonymous() {
        // A mapping the first inference pages in: mapped, and the move of the time said.
        let mapped =
            Residence::of(64.0, &[load((0.0, 2.0), (0.3, 64.0)), load((0.0, 1.0), (0.2, 63.0)), load((0.0, 3.0), (0.4, 65.0))]).unwrap();
        assert_eq!(mapped.verdict, Resident::Mapped);
        assert_eq!((mapped.file_after_load_mb, mapped.file_after_first_mb), (2.0, 64.0));
        assert_eq!(
            mapped.describe(),
            "mapped: +64 MB file-backed by the first answer, +0 anon by the load, of 64 MB files; the first inference paged in 62"
        );
        let copied = Residence::of(64.0, &[load((70.0, 0.0), (72.0, 0.2))]).unwrap();
        assert_eq!(copied.verdict, Resident::Copied);
        assert_eq!(copied.describe(), "copied: +0 MB file-backed by the first answer, +70 anon by the load, of 64 MB files");
        // The first inference's activations are anonymous memory, not copied weights.
        assert_eq!(Residence::of(64.0, &[load((0.5, 1.0), (40.0, 60.0))]).unwrap().verdict, Resident::Mapped);
        assert_eq!(Residence::of(64.0, &[load((64.0, 64.0), (64.0, 64.0))]).unwrap().verdict, Resident::MappedAndCopied);
        assert_eq!(Residence::of(64.0, &[load((1.0, 1.0), (2.0, 2.0))]).unwrap().verdict, Resident::Unclear);
        assert_eq!(Residence::of(0.0, &[load((1.0, 1.0), (2.0, 2.0))]).unwrap().verdict, Resident::Unclear, "no files, nothing to hold");
        assert!(Residence::of(64.0, &[]).is_none());
    }
}
