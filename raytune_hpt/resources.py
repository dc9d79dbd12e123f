"""What each trial gets (CPUs, GPUs) and how TensorFlow is set up inside the worker.

Ray books logical resources only; TensorFlow in the worker must be told the same story
before it creates its first tensor: thread pools sized to the trial's CPUs. A reused worker
keeps this set-up for every later trial, which is right because Ray reuses a worker only
for trials with the same resource request.
"""

from __future__ import annotations

import gc
import logging
import os
from dataclasses import dataclass
from typing import Any

__all__ = ["Resources", "configure_tensorflow"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Resources:
    """Per-trial resources. ``gpu`` may be a fraction (0.5 puts two trials on a GPU)."""

    cpu: float = 1.0
    gpu: float = 0.0
    memory: int | None = None
    custom: tuple[tuple[str, float], ...] = ()

    @classmethod
    def coerce(cls, value: Resources | dict | None) -> Resources:
        if value is None:
            return cls()
        if isinstance(value, Resources):
            return value
        if not isinstance(value, dict):
            raise TypeError(f"resources must be a dict like {{'cpu': 1, 'gpu': 0}}, but got {value!r}.")
        value = dict(value)
        known = {k: value.pop(k) for k in ("cpu", "gpu", "memory") if k in value}
        for key, amount in {**known, **value}.items():
            if amount is None and key == "memory":
                continue
            if isinstance(amount, bool) or not isinstance(amount, (int, float)) or amount < 0:
                raise ValueError(f"resources.{key} must be a number >= 0, but got {amount!r}.")
        cpu, gpu = known.get("cpu", 1.0), known.get("gpu", 0.0)
        if cpu == 0 and gpu == 0:
            raise ValueError("resources must give each trial some cpu or gpu, but got cpu=0, gpu=0.")
        if gpu > 1 and gpu != int(gpu):
            raise ValueError(f"resources.gpu above 1 must be a whole number, but got {gpu}.")
        return cls(cpu=cpu, gpu=gpu, memory=known.get("memory"),
                   custom=tuple(sorted((k, float(v)) for k, v in value.items())))

    def to_ray(self) -> dict[str, Any]:
        """The dict ``ray.tune.with_resources`` takes."""
        request: dict[str, Any] = {"cpu": self.cpu, "gpu": self.gpu}
        if self.memory:
            request["memory"] = self.memory
        request.update(dict(self.custom))
        return request


    def check_feasible(self) -> None:
        """Raise if no node of the running Ray cluster could ever hold one trial.

        Raises:
            ConfigurationError: naming the request and the largest node.
        """
        import ray

        from raytune_hpt.errors import ConfigurationError

        request = {("CPU" if k == "cpu" else "GPU" if k == "gpu" else k): v
                   for k, v in self.to_ray().items() if v}
        nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
        if any(all(node.get(k, 0) >= v for k, v in request.items()) for node in nodes):
            return
        largest = max(nodes, key=lambda n: (n.get("GPU", 0), n.get("CPU", 0)), default={})
        shown = {k: v for k, v in largest.items() if k in ("CPU", "GPU", "memory") or k in request}
        raise ConfigurationError(
            f"No node can hold one trial: each trial asks for {request}, but the largest node "
            f"has {shown}. Ask for less per trial or add a larger node."
        )


_configured: dict[str, Any] | None = None


def configure_tensorflow(cpus: float, meta_optimizer: bool = False) -> dict[str, Any]:
    """Set TensorFlow up for this worker once, before TensorFlow runs anything.

    Args:
        cpus: the trial's CPUs; TensorFlow's thread pools get as many threads.
        meta_optimizer: keep TensorFlow's graph meta-optimizer (grappler) on. Off by
            default: for the small and mid-sized models tuned many times over, its
            per-trace cost outweighs what it saves (docs/benchmarks.md).

    Returns:
        What was set (recorded in the trial's results).
    """
    global _configured
    if _configured is not None:
        return _configured
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    threads = max(1, int(cpus))
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError as error:  # TensorFlow already ran in this process
        logger.warning("TensorFlow thread pools were already fixed: %s", error)
    tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": not meta_optimizer})
    # Long-lived objects (TensorFlow, Keras, Ray) stay out of every later collection, which
    # makes the clear_session() between trials on a reused worker cheap.
    gc.collect()
    gc.freeze()
    _configured = {"threads": threads, "meta_optimizer": meta_optimizer, "pid": os.getpid()}
    return _configured
