//! `mora models`: what is configured, what is on disk, and how to make what is missing.

use std::path::Path;

use anyhow::Result;

use super::output::{errln, outln};
use crate::catalog::ModelStatus;
use crate::cli::ModelsArgs;
use crate::config::{Config, Suite};
use crate::report::sections::Section;
use crate::report::table::{self, Style, Terminal};

pub(crate) fn run(args: ModelsArgs) -> Result<i32> {
    if args.schema {
        outln!("{}", serde_json::to_string_pretty(&crate::config::models_schema())?)?;
        return Ok(0);
    }
    let config = Config::load(&args.config)?;
    if args.check {
        // A valid config whose models are not on disk would still fail every trial: said here.
        let problems: Vec<String> = config.models.iter().flat_map(|m| ModelStatus::of(m).problems(m, &config)).collect();
        let label = if args.strict { "error" } else { "warning" };
        for p in &problems {
            errln!("{label}: {p}");
        }
        return Ok(if args.strict && !problems.is_empty() { 1 } else { 0 });
    }
    let header = ["Model", "Type", "Weights", "Suite", "Size MB", "Present", "Source", "Exported", "About"];
    let mut rows = Vec::new();
    let mut missing = Vec::new();
    let mut notes = Vec::new();
    let mut contradictions = Vec::new();
    let file_name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    for model in &config.models {
        let status = ModelStatus::of(model);
        let present = match (status.present, status.tokenizer_present) {
            (true, Some(false)) => "model only (tokenizer missing)".to_string(),
            (true, _) => "yes".into(),
            (false, _) if status.missing == [model.resolved.model.clone()] => "MISSING".into(),
            (false, _) => format!("MISSING {}", status.missing.iter().map(|p| file_name(p)).collect::<Vec<_>>().join(", ")),
        };
        missing.extend(status.problems(model, &config).into_iter().map(|p| format!("  {}: {p}", model.id)));
        if let Some(note) = &status.weights_note {
            notes.push(format!("  {}: {note}", model.id));
        }
        contradictions.extend(status.contradiction(model, &config.path).map(|c| format!("  {c}")));
        let exported = status
            .manifest
            .as_ref()
            .map(|m| {
                let when = m.exported_at.as_deref().map(|t| t.chars().take(10).collect::<String>()).unwrap_or_default();
                let how = m.exporter.as_ref().and_then(|e| e.method.clone()).unwrap_or_default();
                let opset = m.opset.map(|o| format!(", opset {o}")).unwrap_or_default();
                let secs = m.export_seconds.map(|s| format!(", {s:.0} s")).unwrap_or_default();
                format!("{when} {how}{opset}{secs}").trim().to_string()
            })
            .unwrap_or_else(|| "—".into());
        rows.push(vec![
            model.id.clone(),
            model.model_type.to_string(),
            status.weights.to_string(),
            format!("{:?}", model.suite).to_lowercase(),
            if status.present { format!("{:.1}", status.size_mb()) } else { "—".into() },
            present,
            model.source.describe(),
            exported,
            model.about.clone().unwrap_or_default(),
        ]);
    }
    let term = Terminal::stdout(Style::Full);
    // Fitted like the bench tables: a table that is too wide becomes one block per model, and no
    // word or number is split across lines.
    let section = Section {
        title: format!(
            "{} ({}, {} in the default suite)",
            config.path.display(),
            crate::report::count(config.models.len(), "model"),
            config.select(&[], Suite::Default)?.len()
        ),
        header: header.iter().map(|h| h.to_string()).collect(),
        rows,
        notes: vec![],
        host: None,
    };
    let drawn = table::section(&section, term);
    outln!("{}", drawn.strip_prefix('\n').unwrap_or(&drawn).trim_end())?;
    let list = |title: &str, lines: &[String]| -> Result<()> {
        if lines.is_empty() {
            return Ok(());
        }
        outln!("\n{title}")?;
        for line in lines {
            outln!("{}", table::wrap(line, term.width, 2))?;
        }
        Ok(())
    };
    list("Weights:", &notes)?;
    list("models.yaml contradicts the model (`mora bench` refuses these):", &contradictions)?;
    list("To make the missing ones:", &missing)?;
    if config.models.iter().any(|m| ModelStatus::of(m).weights == crate::config::Weights::Random) {
        outln!(
            "\n{}",
            table::wrap(
                "random weights: the real architecture and size, so load time and memory are representative; outputs are meaningless.",
                term.width,
                0
            )
        )?;
    }
    Ok(0)
}
