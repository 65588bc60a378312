//! Models from a Hugging Face Hub repository, served by a local server on 127.0.0.1: a first run
//! misses the cache and downloads (timed), a second hits it; offline with an empty cache is an error.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{Fixture, trial};

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

/// Serves `/{repo}/resolve/{revision}/{file}` with the headers hf-hub reads (etag, x-repo-commit,
/// content-range), honouring Range requests. Returns the address and a counter of file requests.
fn serve(files: Vec<(&'static str, Vec<u8>)>) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            reader.read_line(&mut request).unwrap();
            let mut range_start = 0usize;
            let mut range_end: Option<usize> = None;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line.trim().is_empty() {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("range: bytes=") {
                    let (a, b) = v.trim().split_once('-').unwrap();
                    range_start = a.parse().unwrap();
                    range_end = b.parse().ok();
                }
            }
            let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
            let found = files.iter().find(|(name, _)| path.ends_with(&format!("/resolve/main/{name}")));
            let response = match found {
                Some((name, body)) => {
                    counter.fetch_add(1, Ordering::SeqCst);
                    let end = range_end.unwrap_or(body.len() - 1).min(body.len() - 1);
                    let part = &body[range_start..=end];
                    let mut head = format!(
                        "HTTP/1.1 206 Partial Content\r\netag: \"etag-{name}-{}\"\r\nx-repo-commit: {COMMIT}\r\ncontent-range: bytes {range_start}-{end}/{}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                        body.len(),
                        body.len(),
                        part.len()
                    )
                    .into_bytes();
                    head.extend_from_slice(part);
                    head
                }
                None => b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_vec(),
            };
            let _ = stream.write_all(&response);
        }
    });
    (addr, hits)
}

fn hub_fixture() -> Fixture {
    Fixture::new()
        .entry("  - id: from-hub\n    type: embedding\n    weights: real\n    sequence_length: 16\n    source: {kind: hub, repo: test-org/tiny-text, file: model.onnx, tokenizer_file: tokenizer.json}\n")
        .write()
}

#[test]
fn a_hub_model_is_downloaded_once_then_served_from_the_cache() {
    let (endpoint, hits) =
        serve(vec![("model.onnx", common::text_model(200, 16)), ("tokenizer.json", common::tokenizer_json().into_bytes())]);
    let fx = hub_fixture();
    let hf_home = fx.path().join("hf-home");
    let run = |fx: &Fixture| {
        fx.bench(&["--scenario", "single"])
            .env("HF_HOME", &hf_home)
            .env("HF_ENDPOINT", &endpoint)
            .env_remove("HF_HUB_OFFLINE")
            .assert()
            .success();
    };
    run(&fx);
    let r = fx.results();
    let hub = &r["models"][0]["hub"];
    assert_eq!(hub["cache_hit"], false, "{hub:#}");
    assert!(hub["download_ms"].as_f64().unwrap() > 0.0);
    assert!(hub["files"][0].as_str().unwrap().contains("models--test-org--tiny-text"));
    assert_eq!(trial(&r, "cpu/from-hub/single")["outcome"]["status"], "ok");
    let downloads = hits.load(Ordering::SeqCst);
    assert!(downloads >= 2);

    std::fs::remove_dir_all(fx.path().join("results")).unwrap();
    run(&fx);
    let r = fx.results();
    assert_eq!(r["models"][0]["hub"]["cache_hit"], true);
    assert!(r["models"][0]["hub"]["download_ms"].is_null());
    assert_eq!(hits.load(Ordering::SeqCst), downloads, "a cache hit asks the server nothing");
}

#[test]
fn offline_with_an_empty_cache_fails_the_trial_with_the_fix() {
    let fx = hub_fixture();
    fx.bench(&["--scenario", "single"]).env("HF_HOME", fx.path().join("empty-hf")).env("HF_HUB_OFFLINE", "1").assert().code(3);
    let r = fx.results();
    let t = trial(&r, "cpu/from-hub/single");
    assert_eq!(t["outcome"]["phase"], "preflight");
    assert!(t["outcome"]["message"].as_str().unwrap().contains("HF_HUB_OFFLINE is set"));
}
