//! Models that live in a Hugging Face Hub repository: looked up in the local HF cache first (the proof
//! of concept's "cache status": hit or miss), downloaded on a miss, with the download timed.
//! `HF_HOME` moves the cache, `HF_ENDPOINT` the server, `HF_HUB_OFFLINE=1` forbids downloads.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use hf_hub::api::sync::ApiBuilder;
use hf_hub::{Cache, Repo, RepoType};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A hub model's files on disk and how they got there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HubFetch {
    pub repo: String,
    pub revision: String,
    /// The ONNX file first, then the others (external data).
    pub files: Vec<PathBuf>,
    pub tokenizer: Option<PathBuf>,
    /// Every file was already in the local cache.
    pub cache_hit: bool,
    /// Time spent downloading what was missing; `None` on a cache hit.
    pub download_ms: Option<f64>,
}

pub(crate) struct HubRequest<'a> {
    pub repo: &'a str,
    pub revision: Option<&'a str>,
    pub file: &'a str,
    pub files: &'a [String],
    pub tokenizer_file: Option<&'a str>,
}

pub(crate) fn fetch(req: &HubRequest) -> Result<HubFetch> {
    let revision = req.revision.unwrap_or("main").to_string();
    let repo = Repo::with_revision(req.repo.to_string(), RepoType::Model, revision.clone());
    let cache = Cache::from_env();
    let wanted: Vec<&str> = std::iter::once(req.file).chain(req.files.iter().map(String::as_str)).chain(req.tokenizer_file).collect();
    let cached: Vec<Option<PathBuf>> = wanted.iter().map(|f| cache.repo(repo.clone()).get(f)).collect();
    let cache_hit = cached.iter().all(Option::is_some);
    let mut download_ms = None;
    let paths: Vec<PathBuf> = if cache_hit {
        cached.into_iter().flatten().collect()
    } else {
        if std::env::var("HF_HUB_OFFLINE").is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true")) {
            bail!(
                "{}@{revision}: not in the Hugging Face cache at {} and HF_HUB_OFFLINE is set: unset it, or copy the files into the cache",
                req.repo,
                cache.path().display()
            );
        }
        let api = ApiBuilder::from_env().with_progress(false).build().context("cannot set up the Hugging Face client")?;
        let api_repo = api.repo(repo.clone());
        let start = Instant::now();
        let mut paths = Vec::with_capacity(wanted.len());
        for (file, hit) in wanted.iter().zip(cached) {
            let path = match hit {
                Some(p) => p,
                None => api_repo.download(file).with_context(|| format!("downloading {file} from {}", api_repo.url(file)))?,
            };
            paths.push(path);
        }
        download_ms = Some(start.elapsed().as_secs_f64() * 1000.0);
        paths
    };
    let tokenizer = req.tokenizer_file.map(|_| paths[paths.len() - 1].clone());
    let model_files = paths[..paths.len() - usize::from(tokenizer.is_some())].to_vec();
    Ok(HubFetch { repo: req.repo.to_string(), revision, files: model_files, tokenizer, cache_hit, download_ms })
}
