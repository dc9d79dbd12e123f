"""A local autoscaling Ray cluster for the tests: a head the test starts itself, whose
autoscaler (Ray's fake multi-node provider) adds worker nodes on demand.

Ray's own ``ray.cluster_utils.AutoscalingCluster`` reads ``fake_multi_node/example.yaml``,
which its wheel lacks, and its ``start()`` runs ``ray stop --force`` (every Ray of the user
on the machine): the config is written out here and the head is started and stopped by
process group, with the fake worker nodes its autoscaler made (found by the GCS address on
their command line). Everything stays on this machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from tests._helpers.cluster import BIN, clean_env, free_port

HEAD_TYPE = "ray.head.default"


def autoscaling_config(gcs_port: int, head: Mapping[str, float],
                       worker_types: Mapping[str, Mapping],
                       idle_timeout_minutes: float = 5) -> dict:
    """The cluster YAML (as a dict) for Ray's fake multi-node provider."""
    types = {HEAD_TYPE: {"resources": dict(head), "node_config": {}, "max_workers": 0}}
    types.update({name: {"node_config": {}, **spec} for name, spec in worker_types.items()})
    return {
        "cluster_name": "fake_multinode",
        "max_workers": sum(spec.get("max_workers", 0) for spec in worker_types.values()),
        "upscaling_speed": 1.0,
        "idle_timeout_minutes": idle_timeout_minutes,
        "provider": {"type": "fake_multinode", "use_node_id_as_ip": True,
                     "disable_node_updaters": True, "disable_launch_config_check": True,
                     "gcs_address": f"127.0.0.1:{gcs_port}"},
        "available_node_types": types,
        "head_node_type": HEAD_TYPE,
        "auth": {"ssh_user": "ubuntu"},
        "docker": {},
        "file_mounts": {},
        "cluster_synced_files": [],
        "file_mounts_sync_continuously": False,
        "initialization_commands": [],
        "setup_commands": [],
        "head_setup_commands": [],
        "worker_setup_commands": [],
        "head_start_ray_commands": [],
        "worker_start_ray_commands": [],
    }


@dataclass(frozen=True)
class AutoscalingCluster:
    gcs_address: str
    dashboard: str  # http://127.0.0.1:PORT (the Jobs API)
    token_path: Path
    folder: Path

    def env(self, **extra: str) -> dict[str, str]:
        """A user's environment pointed at this cluster (``RAY_ADDRESS`` the GCS unless
        given: the dashboard, for the Jobs API)."""
        return clean_env(**{"RAY_ADDRESS": self.gcs_address, "RAY_AUTH_MODE": "token",
                            "RAY_AUTH_TOKEN_PATH": str(self.token_path), **extra})

    def started_processes(self) -> list[int]:
        """Every process of this cluster: the head's and the fake nodes' (by GCS port)."""
        port = self.gcs_address.rsplit(":", 1)[1]
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            gcs = any(f"{key}{host}:{port}" in cmdline for key in ("gcs-address=", "gcs_address=")
                      for host in ("127.0.0.1", "192.0.2.2"))
            if str(self.folder) in cmdline or gcs:
                found.append(int(entry.name))
        return [pid for pid in found if pid != os.getpid()]


def _stop(head: subprocess.Popen, cluster: AutoscalingCluster, timeout: float = 30) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(head.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and head.poll() is None:
        time.sleep(0.5)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in cluster.started_processes():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        time.sleep(2 if sig == signal.SIGTERM else 0)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(head.pid, signal.SIGKILL)
    head.wait(timeout=10)


@contextlib.contextmanager
def autoscaling_cluster(worker_types: Mapping[str, Mapping],
                        head: Mapping[str, float] | None = None,
                        labels: Mapping[str, str] | None = None, timeout: float = 120,
                        idle_timeout_minutes: float = 5) -> Iterator[AutoscalingCluster]:
    """Start a head of ``head`` resources (default 0 CPUs) whose autoscaler launches
    ``worker_types`` (``{"cpu2": {"resources": {"CPU": 2}, "min_workers": 0,
    "max_workers": 2}}``); yield it; stop everything it started."""
    head = dict(head or {"CPU": 0})
    folder = Path(tempfile.mkdtemp(prefix="rtas-", dir="/tmp"))  # short: socket paths
    port, dashboard_port = free_port(), free_port()
    config = folder / "autoscaling.json"
    config.write_text(json.dumps(autoscaling_config(port, head, worker_types,
                                                    idle_timeout_minutes)))
    token = folder / "token"
    token.write_text(os.urandom(16).hex())
    token.chmod(0o600)
    cluster = AutoscalingCluster(gcs_address=f"127.0.0.1:{port}",
                                 dashboard=f"http://127.0.0.1:{dashboard_port}",
                                 token_path=token, folder=folder)
    env = cluster.env(RAY_FAKE_CLUSTER="1", AUTOSCALER_UPDATE_INTERVAL_S="1",
                      RAY_USAGE_STATS_ENABLED="0")
    env.pop("RAY_ADDRESS")
    command = [str(BIN / "ray"), "start", "--head", "--block", "--disable-usage-stats",
               f"--autoscaling-config={config}", f"--port={port}", f"--temp-dir={folder}",
               "--node-ip-address=127.0.0.1", "--dashboard-host=127.0.0.1",
               f"--dashboard-port={dashboard_port}", "--include-dashboard=true",
               f"--num-cpus={int(head.pop('CPU', 0))}", f"--num-gpus={int(head.pop('GPU', 0))}",
               # every port Ray would otherwise fix (the agent's 52365, the client's 10001...)
               # chosen free, so that the cluster lives beside another Ray on this machine
               *(f"--{name}={free_port()}" for name in (
                   "dashboard-agent-listen-port", "dashboard-agent-grpc-port",
                   "node-manager-port", "object-manager-port", "runtime-env-agent-port",
                   "metrics-export-port", "ray-client-server-port"))]
    if head:
        command.append(f"--resources={json.dumps(head)}")
    if labels:
        command.append(f"--labels={','.join(f'{k}={v}' for k, v in labels.items())}")
    log = open(folder / "head.log", "w")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait_up(cluster, process, timeout)
        yield cluster
    finally:
        _stop(process, cluster)
        log.close()


def _wait_up(cluster: AutoscalingCluster, process: subprocess.Popen, timeout: float) -> None:
    probe = ("import sys\nfrom ray._raylet import GcsClient\n"
             "n = GcsClient(address=sys.argv[1]).get_all_node_info(timeout=2)\n"
             "sys.exit(0 if any(i.state == 0 for i in n.values()) else 1)\n")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = (cluster.folder / "head.log").read_text()[-2000:]
            raise RuntimeError(f"the autoscaling head exited: {log}")
        done = subprocess.run([sys.executable, "-c", probe, cluster.gcs_address],
                              env=cluster.env(), capture_output=True, timeout=30)
        if done.returncode == 0:
            return
        time.sleep(1)
    raise RuntimeError(f"the autoscaling head did not come up in {timeout:.0f} s")
