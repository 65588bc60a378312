//! `mora models`: what is configured, what is on disk, and how to make what is missing.

use std::path::{Path, PathBuf};

use anyhow::Result;

use super::output::outln;
use crate::catalog::{ModelStatus, make_command};
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
        return Ok(0);
    }
    let header = ["Model", "Type", "Weights", "Suite", "Size MB", "Present", "Source", "Exported", "About"];
    let mut rows = Vec::new();
    let mut missing = Vec::new();
    let mut notes = Vec::new();
    let mut contradictions = Vec::new();
    let config_dir = config.path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let file_name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    for model in &config.models {
        let status = ModelStatus::of(model);
        let mut absent: Vec<&Path> = status.missing.iter().map(PathBuf::as_path).collect();
        absent.extend(model.resolved.tokenizer.as_deref().filter(|_| status.tokenizer_present == Some(false)));
        let present = match (status.present, status.tokenizer_present) {
            (true, Some(false)) => "model only (tokenizer missing)".to_string(),
            (true, _) => "yes".into(),
            (false, _) if status.missing == [model.resolved.model.clone()] => "MISSING".into(),
            (false, _) => format!("MISSING {}", status.missing.iter().map(|p| file_name(p)).collect::<Vec<_>>().join(", ")),
        };
        if !absent.is_empty() {
            let paths: Vec<String> = absent.iter().map(|p| p.strip_prefix(config_dir).unwrap_or(p).display().to_string()).collect();
            missing.push(format!("  {}: {} missing; make it with: {}", model.id, paths.join(", "), make_command(model, &config)));
        }
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
