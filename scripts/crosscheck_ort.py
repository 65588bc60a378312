#!/usr/bin/env python3
"""Checks a mora run's single-scenario figures against an independent measurement: ONNX Runtime's own
Python API on the same model files, the same input shapes and the same method (a fresh process per
sample; the model's first load in it, unload and malloc_trim, then the measured load).

    .venv/bin/python scripts/crosscheck_ort.py results/<run>/ [--models a,b] [--workers 3] [--provider cpu]
    .venv/bin/python scripts/crosscheck_ort.py --interleave --models a,b [--rounds 5] [--provider openvino]

The Python side sets the provider up as the trial recorded it (results schema 3's provider setup): a
built-in provider with its options, a plugin registered from the same library file
(`register_execution_provider_library`, then its devices with `add_provider_for_devices`), or a provider
that comes with its own runtime build, imported from that build's folder (PYTHONPATH).

The first form compares a recorded run with fresh Python samples. On a shared or busy machine the two are
then measured at different moments; `--interleave` runs one `mora bench --scenario single --workers 1` and
one Python process in turn, `--rounds` times per model, so both see the same machine.

For each model it prints mora's figure and this script's, medians (min..max) over fresh processes, and
their ratio: fresh-process first load, warm load, warm first inference, steady p50, and the warm load's
RSS footprint. Needs only onnxruntime and numpy (both in the project's .venv).
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

CHILD_FLAG = "--child"


def rss_mb() -> float:
    """VmRSS of this process in MB (2^20 bytes), as mora reads it."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def malloc_trim() -> None:
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass


def feeds(inputs: list[dict]) -> dict:
    """Input tensors of the shapes and types mora fed (token ids below 1000: valid in every vocabulary)."""
    import numpy as np

    rng = np.random.default_rng(0x6D6F7261)
    out = {}
    for spec in inputs:
        shape = [int(d) for d in spec["shape"]]
        name, dtype = spec["name"], spec["dtype"]
        if dtype == "float32":
            out[name] = rng.standard_normal(shape).astype(np.float32)
        elif name == "attention_mask":
            out[name] = np.ones(shape, dtype=np.int64 if dtype == "int64" else np.int32)
        elif "type" in name:
            out[name] = np.zeros(shape, dtype=np.int64 if dtype == "int64" else np.int32)
        else:
            out[name] = rng.integers(0, 1000, size=shape).astype(np.int64 if dtype == "int64" else np.int32)
    return out


def session_factory(setup: dict, registered: list[str]):
    """A function that creates a session the way mora's trial did: the provider of `setup` (a results
    schema 3 provider setup) first, CPU after it, with the same options."""
    import onnxruntime as ort

    options = {k: str(v) for k, v in (setup.get("options") or {}).items()}
    cpu = setup.get("cpu") or {}
    ort_name = registered[0] if registered else "CPUExecutionProvider"
    plugin = setup.get("plugin")

    def session_options():
        so = ort.SessionOptions()
        so.enable_cpu_mem_arena = bool(cpu.get("arena", True))
        if cpu.get("intra_threads"):
            so.intra_op_num_threads = int(cpu["intra_threads"])
        return so

    if plugin:
        ort.register_execution_provider_library(setup["provider"], plugin["path"])
        wanted = options.pop("device_type", None)
        devices = [d for d in ort.get_ep_devices() if d.ep_name == ort_name
                   and (wanted is None or d.device.type.name.upper() == wanted.split(".")[0].upper())]
        if not devices:
            raise SystemExit(f"{setup['provider']}: the plugin offers no device here")

        def make(model: str):
            so = session_options()
            so.add_provider_for_devices(devices, options)
            return ort.InferenceSession(model, sess_options=so)
        return make
    providers = [(ort_name, options), "CPUExecutionProvider"] if ort_name != "CPUExecutionProvider" else ["CPUExecutionProvider"]
    return lambda model: ort.InferenceSession(model, sess_options=session_options(), providers=providers)


def one_process(model: str, inputs: list[dict], setup: dict, registered: list[str], warmup_runs: int, runs: int) -> dict:
    """One fresh process: the model's first load, unload, trim, then the measured load and runs."""
    import onnxruntime as ort

    new_session = session_factory(setup, registered)
    data = feeds(inputs)
    start = time.perf_counter()
    session = new_session(model)
    first_load = (time.perf_counter() - start) * 1000
    start = time.perf_counter()
    session.run(None, data)
    first_load_inference = (time.perf_counter() - start) * 1000
    del session
    gc.collect()
    malloc_trim()

    before = rss_mb()
    start = time.perf_counter()
    session = new_session(model)
    load = (time.perf_counter() - start) * 1000
    start = time.perf_counter()
    session.run(None, data)
    first_inference = (time.perf_counter() - start) * 1000
    footprint = rss_mb() - before
    for _ in range(warmup_runs):
        session.run(None, data)
    steady = []
    for _ in range(runs):
        start = time.perf_counter()
        session.run(None, data)
        steady.append((time.perf_counter() - start) * 1000)
    return {
        "first_load_ms": first_load,
        "first_load_first_inference_ms": first_load_inference,
        "load_time_ms": load,
        "first_inference_ms": first_inference,
        "steady_p50_ms": statistics.median(steady),
        "memory_increase_mb": footprint,
        "onnxruntime": ort.__version__,
    }


def spread(values: list[float]) -> str:
    if not values:
        return "—"
    median = statistics.median(values)
    return f"{median:.1f} ({min(values):.1f}..{max(values):.1f})" if len(values) > 1 else f"{median:.1f}"


FIGURES = [
    ("fresh process first load ms", "first_load_ms"),
    ("warm load ms", "load_time_ms"),
    ("warm first inference ms", "first_inference_ms"),
    ("steady p50 ms", "steady_p50_ms"),
    ("warm load RSS +MB", "memory_increase_mb"),
]


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == CHILD_FLAG:
        job = json.loads(sys.argv[2])
        print(json.dumps(one_process(**job)))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, nargs="?", help="a mora run folder or its results.json")
    parser.add_argument("--interleave", action="store_true", help="run mora and Python in turn instead of reading a run")
    parser.add_argument("--rounds", type=int, default=5, help="with --interleave: mora and Python processes per model")
    parser.add_argument("--mora", type=Path, default=Path("target/release/mora"), help="with --interleave: the mora binary")
    parser.add_argument("--config", type=Path, default=Path("models.yaml"), help="with --interleave: the models.yaml")
    parser.add_argument("--models", default="", help="comma-separated model ids (default: every single trial)")
    parser.add_argument("--provider", default="cpu", help="the provider whose trials to check (cpu, openvino, cuda...)")
    parser.add_argument("--workers", type=int, default=3, help="fresh processes per model")
    args = parser.parse_args()
    if args.interleave:
        return interleaved(args)
    if args.run is None:
        parser.error("give a run folder, or --interleave")
    path = args.run / "results.json" if args.run.is_dir() else args.run
    results = json.loads(path.read_text())
    if results.get("schema_version") != 3:
        print(f"{path}: needs a results schema 3 run (re-render older runs with `mora report RUN --out DIR`)", file=sys.stderr)
        return 1
    wanted = {m for m in args.models.split(",") if m}
    paths = {m["id"]: m["path"] for m in results["models"]}
    settings = results["run"]["settings"]
    print(f"mora run {path} against ONNX Runtime's Python API, {args.workers} fresh processes per model, {args.provider}")
    print(f"{'model':<22} {'figure':<30} {'mora':>26} {'python':>26} {'mora/python':>12}")
    for trial in results["trials"]:
        if trial["scenario"] != "single" or trial["provider"] != args.provider or trial["outcome"]["status"] != "ok":
            continue
        model = trial["models"][0]
        if wanted and model not in wanted:
            continue
        single = trial["measurements"]
        samples = [python_sample(trial, paths[model], settings) for _ in range(args.workers)]
        print(f"{model:<22} (Python: onnxruntime {samples[0]['onnxruntime']})")
        for label, key in FIGURES:
            summary = single["summary"].get(key) or {}
            python_side = [s[key] for s in samples]
            mora_median = summary.get("median")
            ratio = f"{mora_median / statistics.median(python_side):.2f}" if mora_median and statistics.median(python_side) else "—"
            mora = f"{mora_median:.1f} ({summary['min']:.1f}..{summary['max']:.1f})" if mora_median is not None else "—"
            print(f"{model:<22} {label:<30} {mora:>26} {spread(python_side):>26} {ratio:>12}")
    return 0


def child_env(setup: dict) -> dict:
    """The child's environment: a provider with its own runtime build imports that build's onnxruntime."""
    import os

    env = dict(os.environ)
    runtime = setup.get("runtime")
    if runtime:
        # .../<target>/onnxruntime/capi/libonnxruntime.so.X -> <target>
        target = Path(runtime["path"]).parents[2]
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(target), env.get("PYTHONPATH", "")]))
    return env


def python_sample(trial: dict, path: str, settings: dict) -> dict:
    setup = trial["provider_setup"]
    job = {
        "model": path,
        "inputs": trial["measurements"]["workers"][0]["inputs"],
        "setup": setup,
        "registered": trial.get("providers_registered") or [],
        "warmup_runs": settings["warmup_runs"],
        "runs": settings["runs"],
    }
    out = subprocess.run([sys.executable, __file__, CHILD_FLAG, json.dumps(job)], capture_output=True, text=True, check=True,
                         env=child_env(setup))
    return json.loads(out.stdout.strip().splitlines()[-1])


def interleaved(args: argparse.Namespace) -> int:
    """Per model and round: one mora worker, then one Python process on the same inputs."""
    import tempfile

    models = [m for m in args.models.split(",") if m]
    if not models:
        print("--interleave needs --models a,b", file=sys.stderr)
        return 2
    print(f"mora ({args.mora}) and ONNX Runtime's Python API in turn, {args.rounds} rounds per model, {args.provider}")
    print("Python's side: the same provider setup (options, plugin library or runtime build) as each mora trial")
    print(f"{'model':<22} {'figure':<30} {'mora':>26} {'python':>26} {'mora/python':>12}")
    with tempfile.TemporaryDirectory(prefix="mora-crosscheck-") as tmp:
        for model in models:
            python_side: list[dict] = []
            mora_side: list[dict] = []
            for round_ in range(args.rounds):
                name = f"{model}-{round_}"
                cmd = [str(args.mora), "bench", "--config", str(args.config), "--models", model, "--provider", args.provider,
                       "--scenario", "single", "--workers", "1", "--quiet", "--out", tmp, "--run-name", name]
                subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                results = json.loads((Path(tmp) / name / "results.json").read_text())
                trial = next(t for t in results["trials"] if t["scenario"] == "single")
                if trial["outcome"]["status"] != "ok":
                    print(f"{model}: mora's trial failed: {trial['outcome']}", file=sys.stderr)
                    return 1
                worker = trial["measurements"]["workers"][0]
                fl = worker.get("first_load") or {}
                mora_side.append({
                    "first_load_ms": fl.get("load_time_ms"),
                    "load_time_ms": worker["load_time_ms"],
                    "first_inference_ms": worker["first_inference_ms"],
                    "steady_p50_ms": (worker.get("steady") or {}).get("median"),
                    "memory_increase_mb": (worker.get("figures") or {}).get("memory_increase_mb"),
                })
                path = next(m["path"] for m in results["models"] if m["id"] == model)
                python_side.append(python_sample(trial, path, results["run"]["settings"]))
            print(f"{model:<22} (Python: onnxruntime {python_side[0]['onnxruntime']})")
            for label, key in FIGURES:
                m = [s[key] for s in mora_side if s[key] is not None]
                p = [s[key] for s in python_side]
                ratio = f"{statistics.median(m) / statistics.median(p):.2f}" if m and statistics.median(p) else "—"
                print(f"{model:<22} {label:<30} {spread(m):>26} {spread(p):>26} {ratio:>12}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
