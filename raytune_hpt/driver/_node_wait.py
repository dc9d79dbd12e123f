"""Trials and the nodes they need: a bounded wait for nodes, and a lost node not held
against the trial that ran on it.

* :class:`NodeWait` (a Ray Tune callback): while some trial waits to start and none runs,
  a clock runs; after ``pending_timeout`` seconds the search ends with one message naming
  what each trial asks for, what the cluster has, the node types Ray's autoscaler can add
  and its last error. A slow scale-up within the bound is not an error: the clock stops
  the moment a trial runs.
* :func:`failure_kind`: the one rule for why a trial's process ended. A node lost to the
  cluster is not the trial's doing: its trial continues from its last checkpoint on another
  node, up to :data:`LOST_NODE_RETRIES` times, whatever ``max_failures`` says (Ray does the
  same for a node it preempts). A worker killed for using too much memory is the trial's
  own failure and is not tried again with the same values; an exception in the user's code
  is the trial's own failure too, and ``max_failures`` decides.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from ray.tune import Callback

from raytune_hpt import _ray_compat
from raytune_hpt.capacity import Capacity
from raytune_hpt.errors import NodesNeverCameError

__all__ = ["LOST_NODE_RETRIES", "NodeWait", "failure_kind"]

logger = logging.getLogger(__name__)

#: How often one trial may be restarted after losing its node, on top of ``max_failures``.
LOST_NODE_RETRIES = 3

_MEMORY_WORDS = ("low on memory", "memory monitor", "out of memory", "outofmemory")
_NODE_WORDS = ("node has died", "node died", "node was terminated", "its node",
               "nodediederror", "raylet died", "node failure")


def failure_kind(error: BaseException | None) -> str:
    """``"lost_node"``, ``"out_of_memory"`` or ``"trial"``: why a trial's attempt ended."""
    from ray.exceptions import (
        ActorUnavailableError,
        NodeDiedError,
        OutOfMemoryError,
        RayActorError,
        RayTaskError,
    )

    if error is None:
        return "trial"
    text = str(error).lower()
    if isinstance(error, OutOfMemoryError) or any(w in text for w in _MEMORY_WORDS):
        return "out_of_memory"
    if isinstance(error, RayTaskError):
        error = error.as_instanceof_cause()
    # Unreachable (its node's raylet gone: "Socket closed"), or dead with its node. A worker
    # that died on a live node (a crash in native code) is the trial's own failure.
    if isinstance(error, (ActorUnavailableError, NodeDiedError)) or (
            isinstance(error, RayActorError) and not error.actor_init_failed
            and any(w in text for w in _NODE_WORDS)):
        return "lost_node"
    return "trial"


def lost_nodes_forgiven() -> Any:
    """The block in which a lost node does not count against a trial's ``max_failures``."""
    return _ray_compat.lost_nodes_forgiven(
        LOST_NODE_RETRIES, lambda error: failure_kind(error) == "lost_node")


class NodeWait(Callback):
    """Ends the search when every trial has waited ``timeout`` seconds for a node.

    Args:
        timeout: seconds with trials waiting to start and none running.
        request: what each trial asks Ray for (``Resources.to_ray()``), for the message.
        stop: called with the error to end the search (the search guard's ``stop``).
    """

    def __init__(self, timeout: float, request: dict[str, Any], stop: Any) -> None:
        self.timeout, self.request, self._stop = timeout, request, stop
        self._since: float | None = None
        self.ended = False

    def on_step_end(self, iteration: int, trials: list, **info: Any) -> None:
        statuses = {t.status for t in trials}
        if self.ended or "RUNNING" in statuses or "PENDING" not in statuses:
            self._since = None
            return
        now = time.monotonic()
        self._since = self._since or now
        if now - self._since >= self.timeout:
            self.ended = True
            self._stop(NodesNeverCameError(self.message(now - self._since)))

    def message(self, waited: float) -> str:
        """What the search waited for, what the cluster has, and the autoscaler's word."""
        import ray

        capacity = Capacity.read()
        wanted = {k: v for k, v in self.request.items() if v}
        names = {"cpu": "CPU", "gpu": "GPU"}
        keys = [names.get(k, k) for k in wanted]
        total, free = ray.cluster_resources(), ray.available_resources()
        shown = ", ".join(f"{k}: {free.get(k, 0):g} free of {total.get(k, 0):g}" for k in keys)
        text = (f"No trial could start for {waited:.0f} s (pending_timeout={self.timeout:g}): "
                f"each trial asks for {wanted}, and the cluster has {{{shown}}}.")
        if capacity.can_grow:
            kinds = ", ".join(t.describe() for t in capacity.node_types)
            text += f" Ray's autoscaler can add nodes of type {kinds}, but none came."
        last = _ray_compat.autoscaler_last_error()
        if last:
            text += f" The autoscaler's last error: {last}."
        return text + (" Check the cluster (`ray status`: quotas, instance types, nodes held by "
                       "other work), ask for less per trial (resources=...), or wait longer "
                       "(pending_timeout=...).")

    def __getstate__(self) -> dict:
        # Ray pickles the run config into the experiment; the stop hook stays here.
        return {"timeout": self.timeout, "request": self.request, "_stop": None,
                "_since": None, "ended": False}
