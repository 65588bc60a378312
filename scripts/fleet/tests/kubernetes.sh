#!/usr/bin/env bash
# The Kubernetes route's manifests, checked offline (no cluster runs here):
#   1. against Kubernetes 1.33's own schema, strictly (an unknown field is an error), with
#      kubernetes-validate from PyPI, pinned in scripts/requirements-test.txt (the schemas ship in it);
#   2. two broken copies must fail, so the check is known to bite;
#   3. what a schema cannot see: each class Job is Indexed with one pod per node, the CUDA class asks
#      for nvidia.com/gpu, every pod mounts the results volume, and the merge Job's CLASS:FLEET:TASKS
#      list matches the class Jobs' names and completions.
#
# usage: scripts/fleet/tests/kubernetes.sh     (needs .venv from scripts/setup.sh --test)
set -euo pipefail
cd "$(dirname "$0")/../../.."
validate=${KUBERNETES_VALIDATE:-.venv/bin/kubernetes-validate}
python=${PYTHON:-.venv/bin/python}
if [ ! -x "$validate" ]; then
  echo "kubernetes.sh: $validate is missing: run scripts/setup.sh --test (scripts/requirements-test.txt pins it)" >&2
  exit 1
fi
version=1.33.0
manifests=(scripts/fleet/kubernetes/fleet.yaml scripts/fleet/kubernetes/merge-job.yaml scripts/fleet/kubernetes/fetch-pod.yaml)
"$validate" --strict --kubernetes-version "$version" "${manifests[@]}"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed 's/nodeSelector:/nodeSelectr:/' scripts/fleet/kubernetes/fleet.yaml >"$tmp/unknown-field.yaml"
sed 's/completions: 2/completions: two/' scripts/fleet/kubernetes/fleet.yaml >"$tmp/wrong-type.yaml"
for broken in "$tmp/unknown-field.yaml" "$tmp/wrong-type.yaml"; do
  if "$validate" --strict --kubernetes-version "$version" "$broken" >"$tmp/out" 2>&1; then
    echo "kubernetes.sh: FAIL: the validator accepted $(basename "$broken"):" >&2
    cat "$tmp/out" >&2
    exit 1
  fi
done

"$python" - "${manifests[@]}" <<'PY'
import sys
import yaml

docs = [d for path in sys.argv[1:] for d in yaml.safe_load_all(open(path)) if d]
jobs = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Job"}
classes = {name: job for name, job in jobs.items() if job["spec"].get("completionMode") == "Indexed"}
claims = {d["metadata"]["name"] for d in docs if d["kind"] == "PersistentVolumeClaim"}

def fail(what):
    sys.exit(f"kubernetes.sh: FAIL: {what}")

if len(classes) < 2:
    fail(f"one Indexed Job per machine class expected: {sorted(classes)}")
expected = []
for name, job in classes.items():
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    anti = pod.get("affinity", {}).get("podAntiAffinity", {}).get("requiredDuringSchedulingIgnoredDuringExecution", [])
    if not any(t["topologyKey"] == "kubernetes.io/hostname" for t in anti):
        fail(f"{name}: no pod anti-affinity on kubernetes.io/hostname (one pod per node)")
    if not pod.get("nodeSelector") and "nodeAffinity" not in pod.get("affinity", {}):
        fail(f"{name}: no node selector or node affinity for its machine class")
    args = container["args"]
    provider = args[args.index("--provider") + 1] if "--provider" in args else "auto"
    gpus = container.get("resources", {}).get("limits", {}).get("nvidia.com/gpu")
    if ("cuda" in provider) != bool(gpus):
        fail(f"{name}: --provider {provider} with nvidia.com/gpu {gpus}: CUDA needs a GPU, CPU must not hold one")
    if job["spec"].get("backoffLimitPerIndex") != 0:
        fail(f"{name}: a failed index must not be retried (backoffLimitPerIndex: 0): its failed.json is the result")
    volumes = {v["name"]: v for v in pod["volumes"]}
    results = next(m for m in container["volumeMounts"] if m["mountPath"] == args[0])
    if volumes[results["name"]].get("persistentVolumeClaim", {}).get("claimName") not in claims:
        fail(f"{name}: the results folder {args[0]} is not on the shared claim")
    expected.append(f"{args[1]}:$(MORA_FLEET):{job['spec']['completions']}")
merge = jobs["mora-merge"]["spec"]["template"]["spec"]["containers"][0]["args"]
if sorted(merge[2:]) != sorted(expected):
    fail(f"merge-job.yaml merges {merge[2:]}, fleet.yaml runs {expected}")
print(f"kubernetes.sh: ok: {len(docs)} resources valid for Kubernetes 1.33; classes {sorted(classes)}; merge of {expected}")
PY
