"""What each trial asks Ray for (CPUs, GPUs, memory), checked against the cluster in the driver.


A trial's request is a :class:`Resources`; ``"auto"`` (also what ``resources=None``, the
default, means) takes a share of the largest node: one GPU per trial where GPUs exist, with
the node's CPUs split between them, else one CPU per trial.
Requests no node could ever hold are refused here, before Ray starts or queues anything,
with the largest node's size in the message. How TensorFlow is then told the same story
inside the worker is :mod:`raytune_hpt.worker` (``_tf_setup``).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from raytune_hpt._checks import is_finite_number, is_number
from raytune_hpt.capacity import Capacity
from raytune_hpt.tracking import say

__all__ = ["Resources", "growth_note", "in_node_names", "local_node", "placement_line",
           "requested", "settle", "trials_that_fit", "unused_gpus_note"]

logger = logging.getLogger(__name__)

_RAY_NAMES = {"cpu": "CPU", "gpu": "GPU"}


def in_node_names(request: Mapping[str, Any]) -> dict[str, Any]:
    """A request in our names (``Resources.to_ray()``: ``cpu``, ``gpu``, ``memory``, custom)
    in those of Ray's nodes and of Ray Train's ``resources_per_worker`` (``CPU``, ``GPU``,
    ``memory``, custom), zero amounts left out: the one place the names are translated.

    Example:
        >>> in_node_names({"cpu": 2, "gpu": 0, "accelerator_type:A100": 0.01})
        {'CPU': 2, 'accelerator_type:A100': 0.01}
    """
    return {_RAY_NAMES.get(k, k): v for k, v in request.items() if v}


def _gib(value: float) -> str:
    return f"{value / 2**30:.1f} GiB"


@dataclass(frozen=True)
class Resources:
    """Per-trial resources (per worker when a trial spans ``workers_per_trial`` workers).

    Args:
        cpu: logical CPUs; TensorFlow's thread pools get as many threads.
        gpu: GPUs; a fraction shares one GPU (0.25 puts four trials on a GPU, each capped to
            a quarter of its memory), a whole number above 1 trains with
            ``tf.distribute.MirroredStrategy`` over exactly those GPUs.
        memory: bytes of Ray ``memory`` to book (scheduling only, as in Ray).
        custom: custom Ray resources, e.g. ``{"accelerator_type:A100": 0.01}`` to ask for a
            node type (given as a dict to :meth:`coerce`).
        gpu_memory_mb: the memory of one GPU, for the cap of a fractional trial; default:
            asked of ``nvidia-smi`` on the worker, and memory growth when that fails.
        chosen: made for the machine (``resources`` left out, or ``"auto"``), not asked for.

    Example:
        >>> Resources.coerce({"cpu": 2, "gpu": 0.5, "accelerator_type:A100": 0.01}).to_ray()
        {'cpu': 2, 'gpu': 0.5, 'accelerator_type:A100': 0.01}
    """

    cpu: float = 1.0
    gpu: float = 0.0
    memory: int | None = None
    custom: tuple[tuple[str, float], ...] = ()
    gpu_memory_mb: int | None = None
    chosen: bool = field(default=False, compare=False)

    @classmethod
    def coerce(cls, value: Resources | dict | None) -> Resources:
        """A :class:`Resources` from a dict like ``{"cpu": 1, "gpu": 0.5}`` (other keys are
        custom Ray resources).

        Raises:
            TypeError/ValueError: not a dict, negative amounts, nothing to run on, a GPU count
                above 1 that is not whole, a bad ``gpu_memory_mb``.
        """
        if value is None:
            return cls()
        if isinstance(value, Resources):
            return value
        if not isinstance(value, dict):
            raise TypeError(
                "resources must be a dict like {'cpu': 1, 'gpu': 0} or 'auto', "
                f"but got {value!r}."
            )
        value = dict(value)
        gpu_memory_mb = value.pop("gpu_memory_mb", None)
        if gpu_memory_mb is not None and not (
            is_number(gpu_memory_mb, integer=True) and gpu_memory_mb > 0
        ):
            raise ValueError(
                f"resources.gpu_memory_mb must be a whole number > 0, but got {gpu_memory_mb!r}."
            )
        known = {k: value.pop(k) for k in ("cpu", "gpu", "memory") if k in value}
        for key, amount in {**known, **value}.items():
            if amount is None and key == "memory":
                continue
            if not is_finite_number(amount) or amount < 0:
                raise ValueError(f"resources.{key} must be a number >= 0 (not NaN or "
                                 f"infinite), but got {amount!r}.")
            if key in ("CPU", "GPU"):
                raise ValueError(f"resources takes 'cpu' and 'gpu' in lower case, but got {key!r}.")
        cpu, gpu = known.get("cpu", 1.0), known.get("gpu", 0.0)
        if cpu == 0 and gpu == 0:
            raise ValueError(
                "resources must give each trial some cpu or gpu, but got cpu=0, gpu=0."
            )
        if gpu > 1 and gpu != int(gpu):
            raise ValueError(f"resources.gpu above 1 must be a whole number, but got {gpu}.")
        return cls(
            cpu=cpu,
            gpu=gpu,
            memory=known.get("memory"),
            custom=tuple(sorted((k, float(v)) for k, v in value.items())),
            gpu_memory_mb=gpu_memory_mb,
        )

    @classmethod
    def auto(cls, nodes: Sequence[Mapping[str, float]] | None = None) -> Resources:
        """A sensible per-trial share of the largest node (``resources="auto"``).

        One GPU per trial with the node's CPUs split evenly between its GPUs; without GPUs,
        one CPU per trial (for tuning, many one-thread trials beat few many-thread ones).

        Args:
            nodes: each node's resources as Ray lists them (``{"CPU": 8, "GPU": 2}``);
                default: the alive nodes of the running Ray, whose CPUs and GPUs Ray
                detected on each machine.
        """
        if nodes is None:
            import ray

            nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
        if not nodes:
            return cls(chosen=True)
        largest = max(nodes, key=lambda n: (n.get("GPU", 0), n.get("CPU", 0)))
        cpus, gpus = float(largest.get("CPU", 0)), int(largest.get("GPU", 0))
        if gpus >= 1:
            per_gpu = cpus / gpus
            cpu = float(math.floor(per_gpu)) if per_gpu >= 1 else round(per_gpu, 2)
            return cls(cpu=cpu, gpu=1.0, chosen=True)
        return cls(cpu=1.0 if cpus >= 1 else max(cpus, 0.01), chosen=True)

    def to_ray(self) -> dict[str, Any]:
        """The dict ``ray.tune.with_resources`` takes."""
        request: dict[str, Any] = {"cpu": self.cpu, "gpu": self.gpu}
        if self.memory:
            request["memory"] = self.memory
        request.update(dict(self.custom))
        return request

    def describe(self) -> str:
        """``cpu=1, gpu=0.5`` as a person reads it."""
        return ", ".join(
            f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in self.to_ray().items()
            if v
        )

    def check_feasible(
        self, workers: int = 1, nodes: Sequence[Mapping[str, Any]] | None = None
    ) -> None:
        """Raise if the running Ray cluster could never hold one trial.

        Each of the trial's ``workers`` must fit on some node, and together they must fit in
        the cluster. Without this check Ray Tune waits forever for a trial it cannot place.

        Raises:
            ConfigurationError: naming the request and the largest node.
        """
        import ray

        from raytune_hpt.errors import ConfigurationError

        request = in_node_names(self.to_ray())
        if nodes is None:
            nodes = [n for n in ray.nodes() if n.get("Alive")]
        problem = _infeasible(request, [n.get("Resources", {}) for n in nodes], workers)
        if problem is None:
            return
        largest = max(nodes, key=lambda n: _size(n.get("Resources", {})), default={})
        resources = largest.get("Resources", {})
        shown = ", ".join(
            f"{k}: {_gib(v) if k == 'memory' else f'{v:g}'}"
            for k, v in sorted(resources.items())
            if k in ("CPU", "GPU", "memory") or k in request
        )
        where = largest.get("NodeManagerAddress", "?")
        if not where.startswith("node type"):
            where += f", node {str(largest.get('NodeID', ''))[:12]}"
        per = "each of its workers asks" if workers > 1 else "each trial asks"
        kinds = sorted({n["NodeManagerAddress"][len("node type "):] for n in nodes
                        if str(n.get("NodeManagerAddress", "")).startswith("node type")})
        grow = (f" (alive now, or of the types Ray's autoscaler can add: {', '.join(kinds)})"
                if kinds else "")
        raise ConfigurationError(
            f"No node can hold one trial: {per} for {request}, {problem}{grow}. The largest "
            f"node ({where}) has {{{shown}}}. Ask for less per trial or add a larger node"
            f"{' type' if kinds else ''}."
        )


def trials_that_fit(request: Mapping[str, Any], cluster: Mapping[str, float]) -> int:
    """How many trials of ``request`` (``Resources.to_ray()``) the ``cluster``'s totals hold.

    Example:
        >>> trials_that_fit({"cpu": 1, "gpu": 0}, {"CPU": 8.0, "GPU": 1.0})
        8
    """
    fits = [float(cluster.get(k, 0.0)) / float(v)
            for k, v in in_node_names(request).items() if isinstance(v, (int, float)) and v > 0]
    return max(1, math.floor(min(fits, default=1.0) + 1e-9))


def _amount(value: float, unit: str) -> str:
    return f"{value:g} {unit}" + ("" if value == 1 else "s")


def _per_trial(resources: Resources) -> str:
    parts = [_amount(resources.gpu, "GPU")] if resources.gpu else []
    parts.append(_amount(resources.cpu, "CPU"))
    parts += [f"{v:g} {k}" for k, v in resources.custom]
    return " and ".join(parts)


def placement_line(resources: Resources, cluster: Mapping[str, float], *, chosen: bool,
                   max_concurrent: int | None, max_trials: int, workers: int = 1) -> str:
    """The line a search starts with: what each trial gets, why, and how many run at once.

    Args:
        resources: each trial's (each worker's, with ``workers`` > 1) request.
        cluster: the running Ray's totals (``ray.cluster_resources()``).
        chosen: the request was chosen for this machine (``resources`` left out or "auto").
        max_concurrent: the user's cap on trials at once, if any.
        max_trials: the trial budget.
        workers: Ray Train workers per trial.

    Example: ``Resources(cpu=2, gpu=1)`` chosen on a Ray of 8 CPUs and 4 GPUs reads
    "Trials: 1 GPU and 2 CPUs each (one GPU per trial, the CPUs split between the GPUs);
    up to 4 at once on a Ray of 8 CPUs and 4 GPUs."
    """
    fit = max(1, trials_that_fit(resources.to_ray(), cluster) // workers)
    at_once = min(fit, max_concurrent or fit, max_trials)
    each = _per_trial(resources) + (f" on each of {workers} workers" if workers > 1 else "")
    if not chosen:
        why = "as asked"
    elif resources.gpu:
        why = "one GPU per trial, the CPUs split between the GPUs"
    else:
        why = "no GPU here: one CPU per trial"
    cap = " (max_concurrent_trials)" if max_concurrent and at_once == max_concurrent < fit else ""
    total = _amount(float(cluster.get("CPU", 0)), "CPU")
    if cluster.get("GPU"):
        total += " and " + _amount(float(cluster["GPU"]), "GPU")
    return f"Trials: {each} each ({why}); up to {at_once} at once{cap} on a Ray of {total}."


def unused_gpus_note(resources: Resources, cluster: Mapping[str, float]) -> str | None:
    """What to say when a request without GPUs runs where Ray has GPUs (None: nothing)."""
    gpus = float(cluster.get("GPU", 0))
    if resources.gpu or not gpus:
        return None
    return (f"resources ask for no GPU ({resources.describe()}), so the {_amount(gpus, 'GPU')} "
            "of this Ray stay unused: each trial hides them from TensorFlow and trains on its "
            "CPUs. Leave resources out (one GPU per trial) or give 'gpu' to use them.")


def requested(value: Resources | dict | str | None) -> Resources | str:
    """A Tuner's ``resources`` argument, checked: ``None`` (the default) and ``"auto"`` stay
    ``"auto"``, which :func:`settle` resolves on the running Ray."""
    return "auto" if value is None or value == "auto" else Resources.coerce(value)


def settle(resources: Resources | str, *, workers: int, max_concurrent: int | None,
           max_trials: int, verbose: int = 1, capacity: Capacity | None = None) -> Resources:
    """The request a search runs with, on the running Ray: ``"auto"`` resolved, checked
    against the nodes alive and the node types Ray's autoscaler can add, and said in the
    start line (printed at ``verbose`` >= 1, logged always); an explicit CPU-only request
    that leaves Ray's GPUs unused is warned about once.

    Raises:
        ConfigurationError: no node (alive or launchable) could hold one trial
            (:meth:`Resources.check_feasible`).
    """
    capacity = capacity or Capacity.read()
    candidates = capacity.candidates(expand=True)
    if resources == "auto":
        resources = Resources.auto([n["Resources"] for n in candidates])
    assert isinstance(resources, Resources)  # for the type checker: coerced in Tuner
    if capacity.autoscaler_unknown and not capacity.can_hold_now(in_node_names(resources.to_ray())):
        logger.warning("No node alive now can hold one trial (%s) and the node types of this "
                       "cluster's autoscaler cannot be read from here: the search waits for "
                       "it (pending_timeout bounds the wait).", resources.describe())
    else:
        resources.check_feasible(workers, nodes=candidates)
    line = placement_line(resources, capacity.totals(), chosen=resources.chosen,
                          max_concurrent=max_concurrent, max_trials=max_trials, workers=workers)
    growth = growth_note(resources, capacity, workers)
    if growth:  # the totals are those of the grown cluster
        line = line.replace(" on a Ray of ", " on a Ray grown to ") + growth
    logger.info("%s", line)
    say(line, verbose)
    note = None if resources.chosen else unused_gpus_note(resources, capacity.totals())
    if note:
        logger.warning("%s", note)
    return resources


def growth_note(resources: Resources, capacity: Capacity, workers: int = 1) -> str:
    """What the start line adds where Ray's autoscaler must add nodes for the trials ("" if
    the nodes alive now hold every trial that can run at once)."""
    if not capacity.can_grow:
        return ""
    request = {k: v * workers for k, v in resources.to_ray().items()}
    one = in_node_names(resources.to_ray())
    if trials_that_fit(request, capacity.live_totals()) >= trials_that_fit(
            request, capacity.totals()) and capacity.can_hold_now(one):
        return ""
    usable = [t for t in capacity.node_types
              if all(t.resources.get(k, 0) >= v for k, v in one.items())]
    kinds = ", ".join(t.describe() for t in usable) or "none of its types"
    note = f" Waiting for Ray's autoscaler to add nodes of type {kinds}."
    if resources.chosen and resources.gpu:
        note += (" Each trial takes a whole GPU; a small model can ask for CPUs instead: "
                 "resources={'cpu': 1}.")
    return note


def local_node() -> dict[str, Any]:
    """This machine as a ``ray.nodes()`` entry: what a local Ray would start with."""
    from raytune_hpt import _ray_compat

    cpus = _ray_compat.local_cpu_count()
    gpus = _ray_compat.local_gpu_count()
    if gpus is None:  # no accelerator support in this Ray build: count what CUDA shows
        visible = os.environ.get("CUDA_VISIBLE_DEVICES", "")
        gpus = float(len([d for d in visible.split(",") if d.strip()]))
    return {"Alive": True, "Resources": {"CPU": cpus, "GPU": gpus},
            "NodeManagerAddress": "this machine", "NodeID": "local"}


def _size(node: Mapping[str, float]) -> tuple[float, float, float]:
    return node.get("GPU", 0), node.get("CPU", 0), node.get("memory", 0)


def _infeasible(
    request: Mapping[str, float], nodes: Sequence[Mapping[str, float]], workers: int
) -> str | None:
    """Why ``workers`` times ``request`` can never be placed, or None when they can."""
    missing = [k for k in request if not any(k in n for n in nodes)]
    if missing:
        return f"but no node has the resource {', '.join(repr(k) for k in missing)}"
    if not any(all(n.get(k, 0) >= v for k, v in request.items()) for n in nodes):
        return "but no node has that much"
    if workers > 1:
        # Workers of one trial may land on different nodes: count how many fit on each.
        fit = sum(min(int(n.get(k, 0) // v) for k, v in request.items()) for n in nodes)
        if fit < workers:
            return f"and the trial needs {workers} such workers, but the whole cluster holds {fit}"
    return None
