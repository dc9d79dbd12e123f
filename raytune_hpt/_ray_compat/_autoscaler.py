"""Ray's autoscaler as a driver sees it: the node types it can launch, its last error, and
a lost node not counted against a trial's ``max_failures``. Checked against Ray 2.60.0.

Ray has no public API that lists the node types an autoscaler can add. Two places hold
them: the cluster config in the GCS (``GlobalState.get_cluster_config``, which autoscaler
v2 deployments such as KubeRay report and Ray Data reads for the same purpose), and, for
the autoscaler of ``ray up`` and ``ray start --head --autoscaling-config`` (v1), only the
monitor process's configuration file, named on its command line; the monitor's status (the
JSON ``ray status`` reads from the GCS key ``__autoscaling_status``) gives its process id.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "AUTOSCALER_PRIVATE_NAMES",
    "autoscaler_last_error",
    "autoscaler_node_types",
    "autoscaler_status",
    "lost_nodes_forgiven",
]

#: The private names used here, added to ``PRIVATE_NAMES``.
AUTOSCALER_PRIVATE_NAMES: tuple[tuple[str, str], ...] = (
    ("ray._private.state", "GlobalState.get_cluster_config"),
    ("ray._private.state", "state"),
    ("ray._private.ray_constants", "DEBUG_AUTOSCALING_STATUS"),
    ("ray._private.ray_constants", "DEBUG_AUTOSCALING_ERROR"),
    ("ray.experimental.internal_kv", "_internal_kv_get"),
    ("ray.experimental.internal_kv", "_internal_kv_initialized"),
    ("ray.tune.experiment.trial", "Trial.handle_error"),
)

_CONFIG_FLAG = "--autoscaling-config="


def _kv(key: str) -> bytes | None:
    from ray.experimental.internal_kv import _internal_kv_get, _internal_kv_initialized

    if not _internal_kv_initialized():
        return None
    try:
        return _internal_kv_get(key)
    except Exception:  # an old or unreachable GCS: nothing known
        return None


def autoscaler_status() -> dict[str, Any] | None:
    """The autoscaler monitor's last status (what ``ray status`` prints), or None when no
    monitor runs (a local Ray this package started has none)."""
    from ray._private import ray_constants

    raw = _kv(ray_constants.DEBUG_AUTOSCALING_STATUS)
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def autoscaler_last_error() -> str | None:
    """What Ray's autoscaler last said went wrong (a launch that failed, a node type it
    cannot use), or None."""
    from ray._private import ray_constants

    said = []
    raw = _kv(ray_constants.DEBUG_AUTOSCALING_ERROR)
    if raw:
        said.append(raw.decode(errors="replace").strip().splitlines()[-1])
    report = (autoscaler_status() or {}).get("autoscaler_report") or {}
    availabilities = (report.get("node_availability_summary") or {}).get(
        "node_availabilities") or {}
    for node_type, availability in sorted(availabilities.items()):
        info = (availability or {}).get("unavailable_node_information") or {}
        if not availability.get("is_available", True) and info:
            said.append(f"node type {node_type}: {info.get('category', '')} "
                        f"{info.get('description', '')}".strip())
    failed = report.get("failed_nodes") or []
    if failed:
        said.append(f"{len(failed)} node(s) failed to start")
    return "; ".join(said) or None


def autoscaler_node_types() -> list[dict[str, Any]] | None:
    """The worker node types Ray's autoscaler can launch, each ``{"name", "resources",
    "max_count"}``; ``[]`` when nothing can be added (no autoscaler, or one that only
    mirrors fixed nodes); None when an autoscaler runs but its node types cannot be read
    from here (its monitor on another machine)."""
    types = _gcs_cluster_config()
    if types is not None:
        return types
    status = autoscaler_status()
    if status is None:
        return []
    config = _monitor_config(status.get("monitor_pid"))
    if config is None:
        return None
    return _types_from_config(config)


def _gcs_cluster_config() -> list[dict[str, Any]] | None:
    try:
        from ray._private.state import state

        config = state.get_cluster_config()
    except Exception:
        return None
    if config is None or not config.node_group_configs:
        return None
    return [{"name": group.name, "resources": {k: float(v) for k, v in group.resources.items()},
             "max_count": int(group.max_count)}
            for group in config.node_group_configs if group.max_count != 0]


def _monitor_config(pid: Any) -> dict[str, Any] | None:
    """The autoscaling config of the v1 monitor with process ``pid`` on this machine: {} for
    a monitor started without one (``ray start --head``: fixed nodes); None when no such
    process is visible here."""
    if not isinstance(pid, int):
        return None
    try:
        arguments = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    except OSError:
        return None
    if not any("monitor.py" in argument for argument in arguments):
        return None  # the process id was reused, or this is not Ray's monitor
    paths = [a[len(_CONFIG_FLAG):] for a in arguments if a.startswith(_CONFIG_FLAG)]
    if not paths:
        return {}
    import yaml

    try:
        return yaml.safe_load(Path(os.path.expanduser(paths[0])).read_text()) or {}
    except (OSError, yaml.YAMLError):
        return None


def _types_from_config(config: dict[str, Any]) -> list[dict[str, Any]] | None:
    provider = (config.get("provider") or {}).get("type")
    if not config or provider == "readonly":
        return []
    head = config.get("head_node_type")
    total = config.get("max_workers")
    types = []
    for name, spec in (config.get("available_node_types") or {}).items():
        if name == head or not isinstance(spec, dict):
            continue
        if not isinstance(spec.get("resources"), dict):
            return None  # filled in by the cloud provider at launch: not known here
        count = int(spec.get("max_workers", total if total is not None else 0))
        if total is not None:
            count = min(count, int(total))
        if count > 0:
            types.append({"name": name, "max_count": count,
                          "resources": {k: float(v) for k, v in spec["resources"].items()}})
    return types


@contextlib.contextmanager
def lost_nodes_forgiven(retries: int,
                        is_lost: Callable[[BaseException], bool]) -> Iterator[None]:
    """While Ray Tune runs in this block, a trial whose node (or worker process) was lost
    (``is_lost``) is restarted from its last checkpoint without counting against
    ``FailureConfig.max_failures``, up to ``retries`` times per trial: what Ray already does
    for a node it preempted (``RayActorError.preempted``). Ray 2.60 has no option for a node
    lost otherwise; ``Trial.handle_error`` (which counts the failure before Ray asks
    ``should_recover``) is wrapped for the block, then put back."""
    from ray.tune.experiment.trial import Trial

    original = Trial.__dict__["handle_error"]
    forgiven: dict[str, int] = {}

    def handle_error(self: Any, exc: Any = None) -> None:
        before = self.run_metadata.num_failures
        original(self, exc)
        if (exc is not None and self.run_metadata.num_failures > before and is_lost(exc)
                and forgiven.get(self.trial_id, 0) < retries):
            forgiven[self.trial_id] = forgiven.get(self.trial_id, 0) + 1
            self.run_metadata.num_failures = before

    Trial.handle_error = handle_error
    try:
        yield
    finally:
        Trial.handle_error = original
