#!/usr/bin/env bash
# The Kubernetes route, from a machine with kubectl and the cluster's credentials: applies fleet.yaml
# (the results volume and one Indexed Job per machine class) under a fleet id, waits until every
# class Job has ended (complete or failed: failed pods leave failed.json), runs the merge Job
# (merge-job.yaml), prints its report, and copies the merged folder here through a pod that mounts
# the results volume (fetch-pod.yaml). Written against the manifests, which are validated offline;
# no cluster runs where mora is developed, so this script has not run against one.
#
# usage: scripts/fleet/kubernetes/run.sh [FLEET_ID]      (default: the UTC time, e.g. 20261127T1200)
# environment: KUBECTL (default kubectl; e.g. "kubectl -n benchmarks")
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
fleet=${1:-$(date -u +%Y%m%dT%H%M)}
kubectl=${KUBECTL:-kubectl}
if ! [[ "$fleet" =~ ^[0-9A-Za-z._-]+$ ]]; then
  echo "run.sh: $fleet is not a fleet id: use letters, digits, '.', '_' and '-'" >&2
  exit 2
fi
classes=(mora-cpu mora-h100)

# Jobs of an earlier fleet hold the names: remove them (their runs stay in the volume).
$kubectl delete job "${classes[@]}" mora-merge --ignore-not-found
sed "s/value: fleet$/value: \"$fleet\"/" "$here/fleet.yaml" | $kubectl apply -f -
for job in "${classes[@]}"; do
  echo "waiting for job/$job"
  until state=$($kubectl get job "$job" -o jsonpath='{range .status.conditions[?(@.status=="True")]}{.type} {end}') &&
    [[ "$state" =~ (Complete|Failed) ]]; do
    sleep 30
  done
  echo "job/$job: $state"
done

sed "s/value: fleet$/value: \"$fleet\"/" "$here/merge-job.yaml" | $kubectl apply -f -
$kubectl wait --for=condition=complete job/mora-merge --timeout=30m
$kubectl logs job/mora-merge

$kubectl apply -f "$here/fetch-pod.yaml"
$kubectl wait --for=condition=Ready pod/mora-fetch --timeout=10m
$kubectl cp "mora-fetch:/results/fleet-$fleet" "fleet-$fleet"
$kubectl delete pod mora-fetch --wait=false
echo "the fleet's report: fleet-$fleet/report.html"
