//! A session as a lever opens it: the provider's builder ([`ProviderSetup::builder`]) plus the
//! session config entries a lever sets, ONNX Runtime's profiler, and a logger that stamps the
//! session's own log lines with the time they arrive (the marks [`super::breakdown`] splits the
//! session's initialisation by). Kept here so the levers' options stay out of the provider module.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, Result};
use ort::session::Session;

use crate::provider::setup::{ModelSource, ProviderSetup, SessionExtras, unbuilt};

/// The session's log lines as they arrived, in ms after the load began.
pub(crate) type LogMarks = Arc<Mutex<Vec<(f64, String)>>>;

/// What a lever adds to the provider's session options.
#[derive(Debug, Clone, Default)]
pub(crate) struct LoadOptions {
    /// Session config entries (ONNX Runtime's `session.*` / `optimization.*` keys) and their values.
    pub entries: Vec<(String, String)>,
    /// Turn ONNX Runtime's profiler on, writing its trace with this file prefix.
    pub profile_prefix: Option<PathBuf>,
    /// Collect the session's INFO log lines, stamped on arrival, here.
    pub log_marks: Option<(Instant, LogMarks)>,
    /// Bytes in memory are ORT format that ONNX Runtime may use in place: the caller keeps them alive
    /// longer than the session (`session.use_ort_model_bytes_directly`).
    pub ort_bytes_in_place: bool,
}

impl LoadOptions {
    pub(crate) fn entry(mut self, key: &str, value: &str) -> LoadOptions {
        self.entries.push((key.to_string(), value.to_string()));
        self
    }
}

/// Opens a session of `source` on `setup` with `extras` and `options`.
pub(crate) fn open(
    setup: &ProviderSetup,
    env: &ort::environment::Environment,
    source: &ModelSource,
    extras: &SessionExtras,
    options: &LoadOptions,
) -> Result<Session> {
    setup.commit(with_options(setup.builder(env, extras)?, options)?, source)
}

/// The builder with `options` applied; the entries can be read back from it
/// ([`crate::provider::setup::read_config_entry`]).
pub(crate) fn with_options(
    mut builder: ort::session::builder::SessionBuilder,
    options: &LoadOptions,
) -> Result<ort::session::builder::SessionBuilder> {
    let mut entries = options.entries.clone();
    if options.ort_bytes_in_place {
        entries.push(("session.use_ort_model_bytes_directly".into(), "1".into()));
    }
    for (key, value) in &entries {
        builder = builder.with_config_entry(key, value).map_err(unbuilt).with_context(|| format!("session option {key}={value}"))?;
    }
    if let Some(prefix) = &options.profile_prefix {
        builder = builder.with_profiling(prefix).map_err(unbuilt).context("ONNX Runtime's profiler")?;
    }
    if let Some((start, marks)) = &options.log_marks {
        let (start, marks) = (*start, Arc::clone(marks));
        let logger: ort::logging::LoggerFunction = Arc::new(move |_level, _category, _id, _location, message: &str| {
            let at = start.elapsed().as_secs_f64() * 1000.0;
            if let Ok(mut m) = marks.lock() {
                m.push((at, message.to_string()));
            }
        });
        builder = builder.with_logger(logger).map_err(unbuilt).context("a session logger")?;
        builder = builder.with_log_level(ort::logging::LogLevel::Info).map_err(unbuilt).context("the session's log level")?;
    }
    Ok(builder)
}

/// Ends the profiler of `session` and returns its trace's text; the file is removed.
pub(crate) fn take_profile(session: &mut Session) -> Result<String> {
    let file = PathBuf::from(session.end_profiling().context("ONNX Runtime could not end its profiler")?);
    let text = read_profile(&file);
    let _ = std::fs::remove_file(&file);
    text
}

fn read_profile(file: &Path) -> Result<String> {
    let bytes = crate::limits::read_file(file, crate::limits::ORT_PROFILE_FILE)?;
    String::from_utf8(bytes).with_context(|| format!("ONNX Runtime's profile {} is not UTF-8", file.display()))
}
