//! "Backends compared": each model measured on several providers, one row per provider, with the
//! break-even against the baseline (CPU where it ran). The figures and the trade come from
//! [`crate::advice::backends`], which the recommendations use too.

use super::sections::Section;
use super::{num, signed};
use crate::advice::backends::{Range, baseline, compared, trade};
use crate::results::ResultsFile;

fn range(r: Option<Range>, digits: usize) -> String {
    match r {
        Some(r) if r.max > r.min => format!("{} ({}..{})", num(Some(r.median), digits), num(Some(r.min), digits), num(Some(r.max), digits)),
        Some(r) => num(Some(r.median), digits),
        None => "—".into(),
    }
}

pub(crate) fn section(r: &ResultsFile) -> Option<Section> {
    let models = compared(r);
    if models.is_empty() {
        return None;
    }
    let mut s = Section::with_header(
        "Backends compared (scenario single; leak where it ran)",
        [
            "Model",
            "Provider",
            "Nodes on it",
            "Fresh worker load ms",
            "First answer ms",
            "p50 ms",
            "p95 ms",
            "RAM +MB",
            "Device +MB",
            "Unload gives back",
            "Leak",
            "Against the baseline",
        ]
        .map(String::from)
        .to_vec(),
    );
    let mut caveats = Vec::new();
    for (model, rows) in &models {
        let base = baseline(rows);
        for row in rows {
            let x = &row.single.summary;
            let memory = row.provider.memory();
            let device = if memory.device_measured() {
                signed(x.gpu_memory_increase_mb.as_ref().map(|s| s.median), 1)
            } else if let Some(c) = memory.caveat() {
                caveats.push(format!("{}: {c}.", row.provider));
                "not measured".into()
            } else {
                "—".into()
            };
            let versus = if row.provider == base.provider {
                "baseline".to_string()
            } else {
                trade(base, row).map(|t| t.describe()).unwrap_or_else(|| "—".into())
            };
            s.rows.push(vec![
                model.clone(),
                row.provider.to_string(),
                row.placement().map(|(on, total)| format!("{on}/{total}")).unwrap_or_else(|| "—".into()),
                num(x.first_load_ms.as_ref().map(|s| s.median), 1),
                range(row.first_answer(), 1),
                range(row.p50(), 2),
                num(x.steady_p95_ms.as_ref().map(|s| s.median), 2),
                signed(x.memory_increase_mb.as_ref().map(|s| s.median), 1),
                device,
                x.reclamation_after_trim_percentage.as_ref().map(|s| format!("{:.1}% with trim", s.median)).unwrap_or_else(|| "—".into()),
                row.leak.map(|v| v.to_string()).unwrap_or_else(|| "—".into()),
                versus,
            ]);
        }
    }
    s.notes.push(format!(
        "First answer: the warm load ({}) plus the first inference in a running worker, median (min..max over the fresh workers); p50 likewise. Against the baseline: after how many requests per load the faster-serving backend's saving per request pays back its later first answer, 1 + Δfirst answer / Δp50, with the range from both sides' spreads. Nodes on it: how many of the model's nodes the provider ran (ONNX Runtime's record); the rest ran on the CPU fallback.",
        super::sections::warm_states(r)
    ));
    caveats.sort();
    caveats.dedup();
    s.notes.extend(caveats);
    Some(s)
}
