#!/usr/bin/env bash
# Start a multi-node Ray cluster on this machine: one head and N worker nodes, each a separate
# raylet with its own CPUs/GPUs, for trying `raytune-hpt submit` and for the tests.
#
#   scripts/cluster_up.sh [--workers N] [--head-cpus N] [--head-gpus N] [--worker-cpus N]
#                         [--worker-gpus N] [--port P] [--dashboard-port D]
#                         [--temp-dir DIR] [--token-file FILE] [--timeout S]
#   eval "$(scripts/cluster_up.sh --workers 1)"   # sets RAY_ADDRESS, RAY_AUTH_MODE, ...
#   raytune-hpt submit experiment.yaml
#   scripts/cluster_down.sh --temp-dir DIR
#
# Everything listens on 127.0.0.1 only; every port that Ray would otherwise fix (GCS 6379,
# dashboard 8265, client 10001, dashboard agent 52365) is chosen free unless given, so the
# cluster lives beside another Ray on the same machine. Token authentication is on
# (RAY_AUTH_MODE=token); the token comes from --token-file (created if missing), else from
# RAY_AUTH_TOKEN / RAY_AUTH_TOKEN_PATH / ~/.ray/auth_token as Ray reads it.
#
# Each node runs as `ray start --block` in the background; their process ids go to
# DIR/cluster.pids and cluster_down.sh stops exactly those (never `ray stop`, which stops
# every Ray of this user). On success the last lines on stdout are shell assignments
# (also written to DIR/cluster.env); progress goes to stderr.
set -euo pipefail

workers=1 head_cpus=1 head_gpus=0 worker_cpus=1 worker_gpus=0
port="" dashboard_port="" temp_dir="" token_file="" timeout=90

usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
need() { [[ $# -ge 2 && -n "$2" ]] || { echo "cluster_up.sh: $1 needs a value" >&2; exit 2; }; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --workers) need "$@"; workers="$2"; shift 2 ;;
    --head-cpus) need "$@"; head_cpus="$2"; shift 2 ;;
    --head-gpus) need "$@"; head_gpus="$2"; shift 2 ;;
    --worker-cpus) need "$@"; worker_cpus="$2"; shift 2 ;;
    --worker-gpus) need "$@"; worker_gpus="$2"; shift 2 ;;
    --port) need "$@"; port="$2"; shift 2 ;;
    --dashboard-port) need "$@"; dashboard_port="$2"; shift 2 ;;
    --temp-dir) need "$@"; temp_dir="$2"; shift 2 ;;
    --token-file) need "$@"; token_file="$2"; shift 2 ;;
    --timeout) need "$@"; timeout="$2"; shift 2 ;;
    -h|--help) usage ;;
    *) echo "cluster_up.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
for value in "$workers" "$head_cpus" "$head_gpus" "$worker_cpus" "$worker_gpus" "$timeout"; do
  [[ "$value" =~ ^[0-9]+$ ]] || { echo "cluster_up.sh: expected a whole number, got '$value'" >&2; exit 2; }
done

RAY="${RAY:-$(command -v ray || true)}"
[[ -x "$RAY" ]] || { echo "cluster_up.sh: no 'ray' command on PATH (pip install 'ray[default]')" >&2; exit 2; }
PYTHON="$(head -n1 "$RAY" | sed -n 's/^#!//p')"   # the interpreter Ray is installed in
[[ -x "${PYTHON%% *}" ]] || PYTHON=python3

# Unix sockets live under the session folder and their paths must stay under 107 bytes:
# keep the default temp dir short.
# cluster_down.sh deletes only what this script made: the folder when it created it, else
# the folder's contents (it must be empty here); MARKER records which.
MARKER=".raytune_hpt_cluster"
if [[ -z "$temp_dir" ]]; then
  temp_dir="$(mktemp -d /tmp/rthc-XXXXXX)"
  made=created
elif [[ -e "$temp_dir" ]]; then
  [[ -d "$temp_dir" ]] || { echo "cluster_up.sh: --temp-dir $temp_dir is not a folder" >&2; exit 2; }
  if [[ -s "$temp_dir/cluster.pids" ]]; then
    echo "cluster_up.sh: $temp_dir already holds a cluster; stop it with scripts/cluster_down.sh --temp-dir $temp_dir" >&2
    exit 2
  fi
  if [[ -n "$(ls -A "$temp_dir")" && ! -f "$temp_dir/$MARKER" ]]; then
    echo "cluster_up.sh: --temp-dir $temp_dir is not empty; give a new or empty folder (cluster_down.sh deletes what the cluster wrote there)" >&2
    exit 2
  fi
  made="$(cat "$temp_dir/$MARKER" 2>/dev/null || echo existing)"
else
  mkdir -p "$temp_dir"
  made=created
fi
temp_dir="$(cd "$temp_dir" && pwd)"
echo "$made" > "$temp_dir/$MARKER"

# Each call runs in its own subshell, and the OS may hand out a port it just freed again:
# ports already given are kept in a file and never given twice (a repeat made Ray refuse to
# start: "trying to use a port number ... that is used by other components").
given_ports="$temp_dir/ports.given"
: > "$given_ports"
free_port() {
  "$PYTHON" - "$given_ports" <<'PY'
import socket, sys

given = set(open(sys.argv[1]).read().split())
while True:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = str(s.getsockname()[1])
    s.close()
    if port not in given:
        break
with open(sys.argv[1], "a") as file:
    file.write(port + "\n")
print(port)
PY
}
port="${port:-$(free_port)}"
dashboard_port="${dashboard_port:-$(free_port)}"

export RAY_AUTH_MODE=token
if [[ -n "$token_file" ]]; then
  if [[ ! -s "$token_file" ]]; then
    mkdir -p "$(dirname "$token_file")"
    (umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > "$token_file")
  fi
  export RAY_AUTH_TOKEN_PATH="$(cd "$(dirname "$token_file")" && pwd)/$(basename "$token_file")"
  unset RAY_AUTH_TOKEN
fi
export RAY_USAGE_STATS_ENABLED=0
# Jobs run `raytune-hpt ...` on the nodes: give them this environment's commands first.
export PATH="$(dirname "$RAY"):$PATH"

pids=()
stop_started() {  # on a failed start, stop what this run started and nothing else
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -f "$temp_dir/cluster.pids"
}

node_ports() {  # ports Ray would otherwise fix, one set per node
  echo "--node-ip-address=127.0.0.1 --dashboard-agent-listen-port=$(free_port)" \
       "--node-manager-port=$(free_port) --object-manager-port=$(free_port)" \
       "--runtime-env-agent-port=$(free_port) --metrics-export-port=$(free_port)"
}

start_node() {  # start_node NAME ARGS...: `ray start --block` in the background
  local name="$1"; shift
  local log="$temp_dir/$name.log"
  setsid "$RAY" start --block --disable-usage-stats "$@" >"$log" 2>&1 < /dev/null &
  pids+=("$!")
  printf '%s\n' "${pids[@]}" > "$temp_dir/cluster.pids"
}

# The number of alive nodes the GCS knows, or nothing while it does not answer.
alive_nodes() {
  "$PYTHON" - "127.0.0.1:$port" <<'PY' 2>/dev/null || true
import sys
from ray._raylet import GcsClient
try:
    nodes = GcsClient(address=sys.argv[1]).get_all_node_info(timeout=2)
except Exception:
    sys.exit(0)
print(sum(1 for info in nodes.values() if info.state == 0))
PY
}

wait_for_nodes() {  # wait_for_nodes N: until N nodes are alive, a node died, or timeout
  local want="$1" deadline=$((SECONDS + timeout))
  while (( SECONDS < deadline )); do
    for i in "${!pids[@]}"; do
      if ! kill -0 "${pids[$i]}" 2>/dev/null; then
        local name="head"; (( i > 0 )) && name="worker$i"
        echo "cluster_up.sh: the $name node exited while starting; its log, $temp_dir/$name.log:" >&2
        tail -n 20 "$temp_dir/$name.log" >&2 || true
        stop_started; exit 1
      fi
    done
    [[ "$(alive_nodes)" == "$want" ]] && return 0
    sleep 1
  done
  echo "cluster_up.sh: $want node(s) not up after ${timeout}s; logs in $temp_dir" >&2
  stop_started; exit 1
}

echo "Starting the head node (GCS 127.0.0.1:$port, dashboard 127.0.0.1:$dashboard_port, $head_cpus CPU, $head_gpus GPU)" >&2
# shellcheck disable=SC2046
start_node head --head --port="$port" --temp-dir="$temp_dir" \
  --dashboard-host=127.0.0.1 --dashboard-port="$dashboard_port" --include-dashboard=true \
  --ray-client-server-port="$(free_port)" --dashboard-agent-grpc-port="$(free_port)" \
  --num-cpus="$head_cpus" --num-gpus="$head_gpus" $(node_ports)
wait_for_nodes 1

for ((i = 1; i <= workers; i++)); do
  echo "Starting worker node $i ($worker_cpus CPU, $worker_gpus GPU)" >&2
  # shellcheck disable=SC2046
  # Its own temp dir: nodes sharing one session folder also share runtime_resources/, and
  # one node re-extracting an uploaded working_dir deletes it under a running job's feet.
  mkdir -p "$temp_dir/worker$i"
  start_node "worker$i" --address="127.0.0.1:$port" --temp-dir="$temp_dir/worker$i" \
    --num-cpus="$worker_cpus" --num-gpus="$worker_gpus" --dashboard-agent-grpc-port="$(free_port)" \
    $(node_ports)
done
wait_for_nodes $((workers + 1))

# The Jobs API is served by the dashboard, which may answer a little after the GCS.
deadline=$((SECONDS + timeout))
dashboard_answers() {  # any HTTP answer counts: without a token it is 401
  "$PYTHON" - "http://127.0.0.1:$dashboard_port/api/version" <<'PY' 2>/dev/null
import sys, urllib.error, urllib.request
try:
    urllib.request.urlopen(sys.argv[1], timeout=2)
except urllib.error.HTTPError:
    pass
PY
}
until dashboard_answers; do
  if (( SECONDS >= deadline )); then
    echo "cluster_up.sh: the dashboard did not answer on 127.0.0.1:$dashboard_port; logs in $temp_dir" >&2
    stop_started; exit 1
  fi
  sleep 1
done

{
  echo "export RAY_ADDRESS=http://127.0.0.1:$dashboard_port"
  echo "export RAYTUNE_HPT_GCS_ADDRESS=127.0.0.1:$port"
  echo "export RAY_AUTH_MODE=token"
  [[ -n "${RAY_AUTH_TOKEN_PATH:-}" ]] && echo "export RAY_AUTH_TOKEN_PATH=$RAY_AUTH_TOKEN_PATH"
  echo "export RAYTUNE_HPT_CLUSTER_DIR=$temp_dir"
} > "$temp_dir/cluster.env"
echo "Ray cluster up: $((workers + 1)) nodes; jobs at http://127.0.0.1:$dashboard_port;" \
     "stop it with: scripts/cluster_down.sh --temp-dir $temp_dir" >&2
cat "$temp_dir/cluster.env"
