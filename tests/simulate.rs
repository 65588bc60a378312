//! `mora simulate` end to end: hand-made profiles and traces, every bad input named with nothing
//! written, the same seed giving the same output, and a short `--replay` on fixture models that
//! completes and reports both sides, in-process and kill-worker (and whose crash costs only the
//! replay).

mod common;

use std::path::{Path, PathBuf};

use common::{Fixture, mora};
use serde_json::{Value, json};

fn figure(v: f64) -> Value {
    json!({"p50": v, "p95": v, "min": v, "max": v, "n": 3})
}

/// A model of a hand-made CPU profile: its footprint, warm load and steady inference.
fn model(id: &str, footprint_mb: f64, load_ms: f64, steady_ms: f64) -> Value {
    json!({
        "model": id, "weights": "real", "file_mb": footprint_mb / 2.0,
        "load_fresh_worker_ms": figure(load_ms * 1.2), "load_warm_worker_ms": figure(load_ms),
        "spawn_to_ready_ms": figure(load_ms * 3.0), "first_inference_ms": figure(steady_ms * 2.0),
        "steady_p50_ms": figure(steady_ms), "steady_p95_ms": figure(steady_ms * 1.2),
        "ram_mb": figure(footprint_mb), "vram_mb": null, "resident_per_file_mb": 2.0,
        "unload": {"unload_ms": 1.0, "reclaimed_pct": 50.0, "reclaimed_after_trim_pct": 99.0},
        "kill": {"reclaimed_pct": 100.0, "spawn_to_ready_ms": load_ms * 3.0},
        "memory_limit_mb": footprint_mb * 1.5 + 20.0, "alerts": {"load_ms_above": load_ms * 2.0, "leak_mb_per_hour_above": 50.0},
        "startup_probe_budget_ms": load_ms * 4.5, "run": "hand-made"
    })
}

fn profile(models: Vec<Value>) -> Value {
    json!({
        "profile_version": 1,
        "generated_by": {"tool": "mora", "version": "0.1.0", "rules_version": 2},
        "hosts": [{
            "host": "test-host", "cpu_model": null, "logical_cores": 2, "ram_mb": 4096.0, "gpus": [],
            "runtime_version": "1.31.1", "runs": ["hand-made"],
            "providers": [{
                "provider": "cpu",
                "baseline": {"rss_mb": 20.0, "vram_mb": null, "init_ms": 10.0},
                "worker_warmup": {"rss_mb": 2.0, "vram_mb": null, "first_load_extra_ms": 5.0, "first_inference_extra_ms": 1.0},
                "models": models
            }]
        }]
    })
}

/// Three models of 100, 200 and 50 MB in a temporary folder, with `trace` as trace.csv.
struct Case {
    dir: tempfile::TempDir,
}

impl Case {
    fn new(trace: &str) -> Case {
        let dir = tempfile::tempdir().unwrap();
        let p = profile(vec![model("a", 100.0, 200.0, 10.0), model("b", 200.0, 400.0, 30.0), model("c", 50.0, 100.0, 5.0)]);
        std::fs::write(dir.path().join("profile.json"), serde_json::to_vec_pretty(&p).unwrap()).unwrap();
        std::fs::write(dir.path().join("trace.csv"), trace).unwrap();
        Case { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn simulate(&self, args: &[&str]) -> assert_cmd::Command {
        let mut cmd = mora();
        cmd.arg("simulate").arg("--profile").arg(self.path("profile.json")).args(args);
        cmd
    }

    /// Runs with the trace and --out, expects failure, and checks that nothing was written.
    fn refuses(&self, args: &[&str]) -> String {
        let out = self.simulate(args).arg("--trace").arg(self.path("trace.csv")).arg("--out").arg(self.path("out")).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stdout));
        assert!(!self.path("out").exists(), "nothing is written on bad input");
        String::from_utf8(out.stderr).unwrap()
    }
}

/// The table row of `policy`.
fn row<'a>(text: &'a str, policy: &str) -> &'a str {
    text.lines().find(|l| l.starts_with(&format!("│ {policy} "))).unwrap_or_else(|| panic!("no row {policy}: {text}"))
}

const TRACE: &str = "time_s,model\n0,a\n0.5,b\n1,a\n1.5,c\n2,b\n";

#[test]
fn a_hand_made_trace_gives_the_hand_counted_hits() {
    // Room for a and b (20 + 2 + 300 MB) but not all three. a, b, a (hit), then c evicts b (LRU: used
    // least recently), and b evicts a: one hit, four loads, two evictions.
    let case = Case::new(TRACE);
    let out = case
        .simulate(&["--budget-mb", "330", "--policies", "lru,lfu,keep-all", "--out"])
        .arg(case.path("out"))
        .arg("--trace")
        .arg(case.path("trace.csv"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(row(&text, "lru").contains("┆ 1 / 5 "), "{text}");
    assert!(text.contains("keep-all does not fit: it needs 372 MB of RSS against a budget of 330 MB"), "{text}");
    let record: Value = serde_json::from_slice(&std::fs::read(case.path("out/simulate.json")).unwrap()).unwrap();
    let lru = &record["policies"][0];
    assert_eq!(
        (lru["figures"]["hits"].as_u64(), lru["figures"]["loads"].as_u64(), lru["figures"]["evictions"].as_u64()),
        (Some(1), Some(4), Some(2))
    );
    for name in ["simulate.md", "simulate.json", "simulate-trace.csv", "simulate-latency.svg", "simulate-memory.svg"] {
        assert!(case.path("out").join(name).is_file(), "{name}");
    }
    let leftovers: Vec<_> = std::fs::read_dir(case.path("out"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let md = std::fs::read_to_string(case.path("out/simulate.md")).unwrap();
    assert!(md.contains("| lru | 1 / 5 |"), "{md}");
}

#[test]
fn every_bad_input_is_named_and_nothing_is_written() {
    let unknown = Case::new("0,a\n1,b\n2,zz\n");
    let e = unknown.refuses(&["--budget-mb", "1000"]);
    assert!(e.contains("trace.csv:3: model `zz` is not in the profile (cpu on host test-host) (it has: a, b, c)"), "{e}");

    let unsorted = Case::new("time_s,model\n1,a\n0.5,b\n");
    let e = unsorted.refuses(&["--budget-mb", "1000"]);
    assert!(e.contains("trace.csv:3: time 0.5 s comes before line 2's 1 s: sort the trace by time"), "{e}");

    let negative = Case::new("time_ms,model\n-10,a\n");
    assert!(negative.refuses(&["--budget-mb", "1000"]).contains("trace.csv:2: time -10 ms is negative"));

    let empty = Case::new("time_s,model\n");
    assert!(empty.refuses(&["--budget-mb", "1000"]).contains("trace.csv: the trace has no requests"));

    let case = Case::new(TRACE);
    let e = case.refuses(&["--budget-mb", "60"]);
    assert!(
        e.contains("--budget-mb 60: smaller than the smallest model plus the baseline (c needs 50.0 MB + baseline 20.0 MB + worker warm-up 2.0 MB = 72.0 MB of RSS)"),
        "{e}"
    );
    let e = case.refuses(&["--budget-mb", "150"]);
    assert!(e.contains("model b cannot load at all") && e.contains("at least 222 MB"), "{e}");

    let e = case.refuses(&["--budget-mb", "1000", "--provider", "cuda"]);
    assert!(e.contains("the profile of host test-host has no cuda figures (it has: cpu): pass --provider cpu"), "{e}");

    let e = case.refuses(&["--budget-mb", "1000", "--host", "elsewhere"]);
    assert!(e.contains("no host `elsewhere` in the profile (it has: test-host)"), "{e}");

    std::fs::write(case.path("profile.json"), "{\"profile_version\": 9}").unwrap();
    let e = case.refuses(&["--budget-mb", "1000"]);
    assert!(e.contains("profile_version 9 is not one this mora reads (1)"), "{e}");
    std::fs::write(case.path("profile.json"), "{\"profile_version\": 1, \"hosts\": 3}").unwrap();
    assert!(case.refuses(&["--budget-mb", "1000"]).contains("is not a mora lifecycle profile"));
}

#[test]
fn synthetic_workloads_name_bad_models_and_refuse_bad_numbers() {
    let case = Case::new(TRACE);
    let out =
        case.simulate(&["--budget-mb", "1000", "--zipf", "1", "--requests", "10", "--rate", "2", "--models", "a,nope"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("model `nope` is not in the profile (cpu on host test-host has: a, b, c)"));
    let out = case.simulate(&["--budget-mb", "1000", "--zipf", "1", "--requests", "10", "--rate", "0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "clap refuses a rate of 0");
    let out =
        case.simulate(&["--budget-mb", "1000", "--zipf", "1", "--requests", "10", "--rate", "2", "--models", "a,a"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("--models lists a twice"));
    let out = case.simulate(&["--budget-mb", "1000"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "a trace or a workload is required");
}

#[test]
fn the_same_seed_gives_the_same_figures() {
    let case = Case::new(TRACE);
    let run = |seed: &str| {
        let out = case
            .simulate(&[
                "--budget-mb",
                "300",
                "--zipf",
                "0.9",
                "--requests",
                "400",
                "--rate",
                "5",
                "--seed",
                seed,
                "--target-p99-ms",
                "500",
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let one = run("7");
    assert_eq!(one, run("7"));
    assert_ne!(one, run("8"));
    assert!(one.contains("Recommendation: "), "{one}");
    for policy in ["lru", "lfu", "size-aware", "cost-aware", "keep-all", "static-top-k"] {
        row(&one, policy);
    }
}

#[test]
fn presets_and_a_keep_alive_sweep_come_out_as_rows_a_curve_and_records() {
    // a every 2 s, b and c once each, 40 s: with keep-alive 0 every request of a pays a load, with
    // forever only the first.
    let a: String = (0..20).map(|i| format!("{},a\n", 2 * i + 2)).collect();
    let trace = format!("time_s,model\n0.5,b\n1,c\n{a}");
    let case = Case::new(&trace);
    let out = case
        .simulate(&["--budget-mb", "1000", "--policies", "ollama,ray-serve,modelmesh,llama-swap,triton-explicit,lru"])
        .args(["--keep-alive-sweep", "0,1s,5s,forever", "--max-models", "2", "--out"])
        .arg(case.path("out"))
        .arg("--trace")
        .arg(case.path("trace.csv"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    for preset in ["ollama", "ray-serve", "modelmesh", "llama-swap", "triton-explicit"] {
        row(&text, preset);
        assert!(text.contains(&format!("{preset}: ")), "{preset}'s source is named: {text}");
    }
    row(&text, "lru, at most 2");
    assert!(text.contains("Keep-alive sweep: lru, at most 2 under 1000 MB"), "{text}");
    assert!(text.contains("OLLAMA_KEEP_ALIVE=5m"), "{text}");
    let record: Value = serde_json::from_slice(&std::fs::read(case.path("out/simulate.json")).unwrap()).unwrap();
    let sweep = record["keep_alive_sweep"].as_array().unwrap();
    assert_eq!(sweep.len(), 4);
    let paid = |i: usize| sweep[i]["figures"]["waited"].as_u64().unwrap();
    // Keep-alive 0: each of a's 20 requests and b and c pay a load; forever: the first of each.
    assert_eq!((paid(0), paid(3)), (22, 3));
    let mb_hours = |i: usize| sweep[i]["figures"]["mb_hours"].as_f64().unwrap();
    assert!(mb_hours(0) < mb_hours(1) && mb_hours(1) < mb_hours(3), "a longer keep-alive holds more: {sweep:?}");
    assert_eq!(sweep[2]["keep_alive_ms"].as_f64(), Some(5000.0));
    // Triton explicit loads everything at start and never evicts; llama-swap holds one at a time.
    let policy = |name: &str| record["policies"].as_array().unwrap().iter().find(|p| p["policy"] == name).unwrap().clone();
    assert_eq!(policy("triton-explicit")["figures"]["loads"].as_u64(), Some(0));
    assert_eq!(policy("llama-swap")["figures"]["evictions"].as_u64(), Some(2), "b, c, then a: each swaps the one before out");
    assert!(case.path("out/simulate-keep-alive.svg").is_file());
    let out = case.simulate(&["--budget-mb", "1000", "--keep-alive", "soon"]).arg("--trace").arg(case.path("trace.csv")).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("(e.g. 0, 10s, 5m, 1h, forever)"));
}

#[test]
fn a_json_trace_that_its_schema_accepts_simulates_as_its_csv_and_drawn_shapes_are_named() {
    let schema: Value =
        serde_json::from_slice(&std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/trace.schema.json")).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    let trace = json!({"trace_version": 1, "unit": "s", "requests": [
        {"time": 0, "model": "a"}, {"time": 0.5, "model": "b"}, {"time": 1, "model": "a"}, {"time": 1.5, "model": "c"}, {"time": 2, "model": "b"}
    ]});
    assert!(validator.is_valid(&trace));
    for bad in [json!({"trace_version": 1, "requests": []}), json!({"trace_version": 1, "requests": [{"time": -1, "model": "a"}]})] {
        assert!(!validator.is_valid(&bad), "{bad}");
    }
    let case = Case::new(TRACE);
    std::fs::write(case.path("trace.json"), serde_json::to_vec(&trace).unwrap()).unwrap();
    let run = |file: &str| {
        let out = case.simulate(&["--budget-mb", "330", "--policies", "lru"]).arg("--trace").arg(case.path(file)).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8(out.stdout).unwrap();
        row(&text, "lru").to_string()
    };
    assert_eq!(run("trace.json"), run("trace.csv"), "the same trace as JSON and as CSV");
    let out = case.simulate(&["--budget-mb", "1000", "--zipf", "1", "--requests", "50", "--rate", "2", "--bursts", "5"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("in bursts: 5 x the rate for 5 s every 60 s"));
    let out =
        case.simulate(&["--budget-mb", "1000", "--zipf", "1", "--requests", "50", "--rate", "2", "--diurnal", "1.5"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "an amplitude above 1 is refused");
}

/// Fixture models and a profile for them; the figures are guesses (the replay follows the plan
/// whatever they are), the models are real ONNX files that load and run.
fn replay_case() -> (Fixture, PathBuf) {
    let fx = Fixture::new().text("t-a", 2_000, 32, "real").text("t-b", 3_000, 32, "real").vision("v-c", 16).write();
    let p = profile(vec![model("t-a", 30.0, 20.0, 2.0), model("t-b", 30.0, 20.0, 2.0), model("v-c", 30.0, 20.0, 2.0)]);
    let path = fx.path().join("profile.json");
    std::fs::write(&path, serde_json::to_vec(&p).unwrap()).unwrap();
    // Room for two of the three (20 + 2 + 60 MB): t-a and t-b alternate with v-c, forcing evictions.
    let trace = "time_ms,model\n0,t-a\n100,t-b\n200,v-c\n300,t-a\n350,t-a\n400,t-b\n500,v-c\n600,t-b\n700,t-a\n800,v-c\n";
    std::fs::write(fx.path().join("trace.csv"), trace).unwrap();
    (fx, path)
}

fn replay(fx: &Fixture, profile: &Path) -> assert_cmd::Command {
    replay_under(fx, profile, "85")
}

fn replay_under(fx: &Fixture, profile: &Path, budget_mb: &str) -> assert_cmd::Command {
    let mut cmd = mora();
    cmd.arg("simulate")
        .arg("--profile")
        .arg(profile)
        .arg("--config")
        .arg(fx.config())
        .arg("--trace")
        .arg(fx.path().join("trace.csv"))
        .args(["--budget-mb", budget_mb, "--policies", "lru,lfu", "--replay", "--out"])
        .arg(fx.path().join("out"));
    cmd
}

#[test]
fn a_short_replay_on_fixtures_completes_and_reports_both_sides() {
    let (fx, profile) = replay_case();
    let out = replay(&fx, &profile).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("Simulated vs replayed: lru"), "{text}");
    assert!(text.contains("How much loading delays requests to models already loaded"), "{text}");
    let record: Value = serde_json::from_slice(&std::fs::read(fx.path().join("out/simulate.json")).unwrap()).unwrap();
    let r = &record["replay"];
    assert_eq!(r["policy"], "lru");
    for side in ["simulated", "resimulated", "replayed"] {
        assert_eq!(r[side]["requests"], 10, "{side}");
    }
    let times = r["measured_times"].as_array().unwrap();
    assert_eq!(times.len(), 3, "every model measured again after the trace: {r:#}");
    assert!(times.iter().all(|t| t["load_ms"].as_f64().unwrap() > 0.0 && t["steady_p50_ms"].as_f64().unwrap() > 0.0), "{times:?}");
    assert!(text.contains("simulated, times re-measured"), "{text}");
    assert_eq!(r["replayed"]["hits"], r["simulated"]["hits"]);
    assert_eq!(r["replayed"]["loads"], r["simulated"]["loads"]);
    assert!(r["simulated"]["evictions"].as_u64().unwrap() >= 2, "the budget forces evictions: {r:#}");
    assert_eq!(r["replayed"]["evictions"], r["simulated"]["evictions"]);
    let served = r["replayed_run"]["served"].as_array().unwrap();
    for s in served {
        let (a, b, e) = (s["arrival_ms"].as_f64().unwrap(), s["start_ms"].as_f64().unwrap(), s["end_ms"].as_f64().unwrap());
        assert!(a <= b + 1.0 && b <= e, "served in order of its own times: {s}");
    }
    assert!(r["replayed"]["peak_mb"].as_f64().unwrap() > 0.0, "{r:#}");
    assert!(!r["replayed_run"]["memory"].as_array().unwrap().is_empty(), "memory was sampled");
    assert!(fx.path().join("out/simulate-vs-replay.svg").is_file());
}

#[test]
fn a_replay_follows_a_keep_alives_idle_unloads() {
    // Keep-alive 0: every model is unloaded as soon as its requests are served, so every request that
    // comes after its model's last one finished loads again; the replay does the same unloads.
    let (fx, profile) = replay_case();
    let out = replay_under(&fx, &profile, "1000").args(["--keep-alive", "0"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let record: Value = serde_json::from_slice(&std::fs::read(fx.path().join("out/simulate.json")).unwrap()).unwrap();
    let r = &record["replay"];
    assert_eq!(r["policy"], "lru, keep-alive 0 s");
    let idle = r["simulated"]["idle_unloads"].as_u64().unwrap();
    assert!(idle >= 8, "most of the ten requests end with an unload: {r:#}");
    assert_eq!(r["replayed"]["idle_unloads"], r["simulated"]["idle_unloads"]);
    assert_eq!(r["replayed"]["loads"], r["simulated"]["loads"]);
    assert_eq!(r["replayed_run"]["idle_unloads"].as_array().unwrap().len() as u64, idle);
}

/// The processes whose command line holds `needle`, this test's own fixture path.
fn processes_naming(needle: &str) -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(needle))
        .collect()
}

#[test]
fn a_kill_worker_replay_runs_a_worker_per_loaded_model_and_kills_it_on_eviction() {
    // 30 MB models, each in a worker of its own with the 20 MB baseline and 2 MB warm-up: two of the
    // three fit under 110 MB, so the trace forces evictions, each a kill.
    let (fx, profile) = replay_case();
    let out = replay_under(&fx, &profile, "110").args(["--unload", "kill-worker"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // 6: the real workers peaked over the guessed budget; the replay finished all the same.
    assert!(matches!(out.status.code(), Some(0 | 6)), "{stderr}");
    assert!(stderr.contains("a worker per loaded model, killed on eviction"), "{stderr}");
    let record: Value = serde_json::from_slice(&std::fs::read(fx.path().join("out/simulate.json")).unwrap()).unwrap();
    let r = &record["replay"];
    assert!(r["simulated"]["evictions"].as_u64().unwrap() >= 2, "the budget forces evictions: {r:#}");
    for figure in ["hits", "loads", "evictions"] {
        assert_eq!(r["replayed"][figure], r["simulated"][figure], "{figure}: {r:#}");
    }
    let times = r["measured_times"].as_array().unwrap();
    assert_eq!(times.len(), 3, "{r:#}");
    for t in times {
        let (spawn, load) = (t["spawn_to_ready_ms"].as_f64().unwrap(), t["load_ms"].as_f64().unwrap());
        assert!(spawn > load, "spawn-to-ready holds the worker's start, the load and the first inference: {t}");
    }
    let loads = r["replayed_run"]["loads"].as_array().unwrap();
    assert!(loads.iter().all(|l| l["load_ms"].as_f64().unwrap() > 0.0), "{loads:?}");
    assert!(r["replayed"]["peak_mb"].as_f64().unwrap() > 0.0, "the workers' memory was sampled: {r:#}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("sums the serving workers' RSS"), "{text}");
    let left = processes_naming(&fx.path().display().to_string());
    assert!(left.iter().all(|c| !c.contains("--serve")), "no serving worker outlives the replay: {left:?}");
}

#[test]
fn a_crashing_replay_costs_only_the_replay() {
    let (fx, profile) = replay_case();
    let out = replay(&fx, &profile).env("MORA_FAULT", "crash:replay").output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Policies under 85 MB of RSS"), "the simulation stands: {text}");
    assert!(text.contains("Replay: did not finish: crashed in replay"), "{text}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("SIGABRT"), "{stderr}");
}

#[test]
fn a_replay_that_peaks_over_the_budget_says_so_and_fails_with_its_own_code() {
    // A profile that claims 1 MB models: a 25 MB budget passes the simulation (20 + 2 + 1 MB each), the
    // real worker (the provider alone is more) does not.
    let (fx, _) = replay_case();
    let p = profile(vec![model("t-a", 1.0, 20.0, 2.0), model("t-b", 1.0, 20.0, 2.0), model("v-c", 1.0, 20.0, 2.0)]);
    let path = fx.path().join("tiny-profile.json");
    std::fs::write(&path, serde_json::to_vec(&p).unwrap()).unwrap();
    let out = replay_under(&fx, &path, "25").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{stderr}");
    assert!(stderr.contains("over the 25 MB budget: a lifecycle manager that followed this plan"), "{stderr}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Replay: peaked at ") && text.contains("the plan did not hold"), "{text}");
    assert!(fx.path().join("out/simulate.json").is_file(), "the figures are written all the same");
}

/// docs/simulate.md's simulations of the default CPU suite reproduce from the committed profile and trace:
/// the same figures to the last digit (the simulation is deterministic). They are read from their copies
/// in tests/fixtures/runs/ and, when results/ is there, from the published runs too. If the model changes
/// on purpose, run the command in the published folder's `command.txt` again (it replays too), commit what
/// it writes and copy its simulate.json to the fixture (tests/fixtures/runs/README.md).
#[test]
fn the_committed_simulation_reproduces_from_its_profile_and_trace() {
    // Every <run>/simulate-*/ folder that holds a simulate.json, under the fixtures and results/;
    // run folders only (results/latest is a link to one of them).
    let mut seen = std::collections::HashSet::new();
    let committed: Vec<PathBuf> = common::run_roots()
        .iter()
        .flat_map(|root| std::fs::read_dir(root).unwrap())
        .filter_map(|run| run.ok().filter(|r| r.file_type().is_ok_and(|t| t.is_dir())))
        .filter_map(|run| std::fs::read_dir(run.path()).ok())
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("simulate")) && p.join("simulate.json").is_file())
        // A published simulation byte for byte its fixture's (record, trace and profile) is run once.
        .filter(|p| {
            let read = |f: &Path| std::fs::read(f).unwrap_or_default();
            seen.insert([
                read(&p.join("simulate.json")),
                read(&p.join("simulate-trace.csv")),
                read(&p.parent().unwrap().join("profile.json")),
            ])
        })
        .collect();
    assert!(!committed.is_empty(), "no simulation under tests/fixtures/runs/*/simulate-*/");
    for dir in committed {
        let record: Value = serde_json::from_slice(&std::fs::read(dir.join("simulate.json")).unwrap()).unwrap();
        let policies: Vec<String> =
            record["policies"].as_array().unwrap().iter().map(|p| p["policy"].as_str().unwrap().to_string()).collect();
        let out_dir = tempfile::tempdir().unwrap();
        let mut cmd = mora();
        cmd.arg("simulate")
            .arg("--profile")
            .arg(dir.parent().unwrap().join("profile.json"))
            .arg("--trace")
            .arg(dir.join("simulate-trace.csv"))
            .args(["--budget-mb", &(record["budget_mb"].as_f64().unwrap() as u64).to_string(), "--seed", &record["seed"].to_string()])
            .args(["--policies", &policies.join(","), "--interference", &record["interference"].to_string()])
            .arg("--out")
            .arg(out_dir.path());
        if let Some(t) = record["target_p99_ms"].as_f64() {
            cmd.args(["--target-p99-ms", &t.to_string()]);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}: {}", dir.display(), String::from_utf8_lossy(&out.stderr));
        let again: Value = serde_json::from_slice(&std::fs::read(out_dir.path().join("simulate.json")).unwrap()).unwrap();
        // Equal within float noise: a trace drawn with --zipf keeps full f64 times, its CSV a few
        // digits fewer, so a figure can differ in its last place. Figures added since the record was
        // committed are not in it; every figure it has must come out the same.
        assert!(covers(&again["policies"], &record["policies"]), "{}: the simulated figures changed", dir.display());
        assert!(covers(&again["advice"], &record["advice"]), "{}: {} against {}", dir.display(), again["advice"], record["advice"]);
    }
}

/// `new` has every value `old` has (equal but for float noise), and maybe more keys in its objects.
fn covers(new: &Value, old: &Value) -> bool {
    match (new, old) {
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| covers(x, y)),
        (Value::Object(x), Value::Object(y)) => y.iter().all(|(k, v)| x.get(k).is_some_and(|w| covers(w, v))),
        _ => close(new, old),
    }
}

/// Two JSON values equal but for numbers, which may differ by a relative 1e-9.
fn close(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0)
        }
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| close(x, y)),
        (Value::Object(x), Value::Object(y)) => x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| close(v, w))),
        _ => a == b,
    }
}
