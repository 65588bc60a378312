//! The scenarios that run inside a worker, one file each. Isolation runs on the parent's side
//! (`crate::isolation`); its worker half is `serve`.

pub mod cold;
pub mod concurrent;
pub mod leak;
pub mod serve;
pub mod single;

use anyhow::{Result, bail};

use crate::protocol::ModelSpec;
use crate::worker::Worker;

/// The one model of a single-model scenario.
pub fn only_model<'a>(worker: &Worker<'a>) -> Result<&'a ModelSpec> {
    match worker.spec.models.as_slice() {
        [model] => Ok(model),
        models => bail!("scenario {} takes one model, got {}", worker.spec.scenario, models.len()),
    }
}
