#!/usr/bin/env bash
# Stop a cluster that scripts/cluster_up.sh started: exactly the nodes listed in
# DIR/cluster.pids (never `ray stop`, which would stop every Ray of this user).
#
#   scripts/cluster_down.sh --temp-dir DIR [--keep] [--timeout S]
#
# Each node is a `ray start --block` process: SIGTERM makes it drain and stop its own Ray
# processes (raylet, GCS, dashboard, workers); after --timeout seconds (default 30) a node
# still running gets SIGKILL, its process group too. Unless --keep (its session logs help
# when a test failed), what cluster_up.sh made is deleted: the folder if it created it, else
# only the folder's contents. A folder cluster_up.sh did not make (no .raytune_hpt_cluster
# in it) is left alone: nothing is stopped or deleted. Stopping a cluster that is already
# down is not an error.
set -uo pipefail

temp_dir="${RAYTUNE_HPT_CLUSTER_DIR:-}" keep=0 timeout=30
while [[ $# -gt 0 ]]; do
  case "$1" in
    --temp-dir) [[ $# -ge 2 ]] || { echo "cluster_down.sh: --temp-dir needs a value" >&2; exit 2; }
                temp_dir="$2"; shift 2 ;;
    --timeout) [[ $# -ge 2 ]] || { echo "cluster_down.sh: --timeout needs a value" >&2; exit 2; }
               timeout="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
    *) echo "cluster_down.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ -n "$temp_dir" ]] || { echo "cluster_down.sh: give --temp-dir DIR (the folder cluster_up.sh printed)" >&2; exit 2; }
pid_file="$temp_dir/cluster.pids" marker="$temp_dir/.raytune_hpt_cluster"
if [[ -d "$temp_dir" && ! -f "$marker" ]]; then
  echo "cluster_down.sh: $temp_dir was not made by cluster_up.sh (no .raytune_hpt_cluster); nothing stopped or deleted" >&2
  exit 2
fi
if [[ ! -f "$pid_file" ]]; then
  echo "cluster_down.sh: no cluster in $temp_dir (no cluster.pids); nothing to stop" >&2
  exit 0
fi

mapfile -t pids < <(grep -E '^[0-9]+$' "$pid_file")
# Worker nodes first, the head (the first line) last: its GCS should outlive the raylets.
for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
  kill -TERM "${pids[$i]}" 2>/dev/null || true
done
deadline=$((SECONDS + timeout))
for pid in "${pids[@]}"; do
  while kill -0 "$pid" 2>/dev/null && (( SECONDS < deadline )); do sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "cluster_down.sh: node process $pid did not stop in ${timeout}s; killing its process group" >&2
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
done
rm -f "$pid_file" "$temp_dir/cluster.env"
echo "Ray cluster in $temp_dir stopped (${#pids[@]} nodes)" >&2
if (( ! keep )); then
  if [[ "$(cat "$marker" 2>/dev/null)" == created ]]; then
    rm -rf "$temp_dir" 2>/dev/null || true
  else  # the user's (empty) folder: only what the cluster wrote in it
    find "$temp_dir" -mindepth 1 -maxdepth 1 -exec rm -rf {} + 2>/dev/null || true
  fi
fi
exit 0
