"""What a Ray cluster holds now and what its autoscaler can add, for planning a search.

A cluster is not only the nodes alive now. Where Ray's autoscaler can launch nodes (the
shape ``cluster/aws.yaml`` starts: a head with 0 CPUs and worker types from 0 up), a search
plans for the node types too: the ``"auto"`` resources, the check that some node can hold
a trial, and the number of trials kept pending (Ray's autoscaler scales on pending work, so
as many as the grown cluster holds are kept pending and it grows in one step).

Example:
    >>> cap = Capacity(nodes=({"CPU": 0.0},), node_types=(NodeType("cpu2", {"CPU": 2.0}, 2),))
    >>> cap.totals()
    {'CPU': 4.0}
    >>> [n["NodeManagerAddress"] for n in cap.candidates()]
    ['?', 'node type cpu2']
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["UNLIMITED_NODES", "Capacity", "NodeType"]

#: How many nodes a node type without a limit counts for when planning pending trials
#: (the trials kept pending are capped by ``max_trials`` as well).
UNLIMITED_NODES = 64


@dataclass(frozen=True)
class NodeType:
    """A kind of node Ray's autoscaler can launch: its resources, and at most how many."""

    name: str
    resources: Mapping[str, float]
    max_count: int

    def describe(self) -> str:
        """``cpu2 (2 CPUs, up to 2)``."""
        shown = ", ".join(f"{v:g} {k}{'s' if v != 1 and k in ('CPU', 'GPU') else ''}"
                          for k, v in sorted(self.resources.items())
                          if k in ("CPU", "GPU") or not k.startswith(("memory", "object")))
        count = "no limit" if self.max_count < 0 else f"up to {self.max_count}"
        return f"{self.name} ({shown}; {count})"


@dataclass(frozen=True)
class Capacity:
    """The nodes alive now (each one's resources, as ``ray.nodes()`` lists them) and the node
    types the autoscaler can add.

    ``autoscaler_unknown``: an autoscaler runs, but its node types cannot be read from this
    process (its monitor is on another machine); the plan then uses the live nodes only.
    """

    nodes: tuple[Mapping[str, Any], ...]
    node_types: tuple[NodeType, ...] = ()
    autoscaler_unknown: bool = False

    @classmethod
    def read(cls) -> Capacity:
        """The running Ray's: its alive nodes and its autoscaler's node types."""
        import ray

        from raytune_hpt import _ray_compat

        alive = tuple(n for n in ray.nodes() if n.get("Alive"))
        types = _ray_compat.autoscaler_node_types()
        return cls(
            nodes=tuple(n.get("Resources", {}) for n in alive),
            node_types=tuple(NodeType(t["name"], t["resources"], t["max_count"])
                             for t in types or ()),
            autoscaler_unknown=types is None,
        )

    @property
    def can_grow(self) -> bool:
        return bool(self.node_types)

    def candidates(self, expand: bool = False) -> list[dict[str, Any]]:
        """Every node a trial may get, as ``ray.nodes()`` entries: the alive ones and one per
        node type the autoscaler can launch (named ``node type NAME``); ``expand``: as many
        of each type as it may launch (at most :data:`UNLIMITED_NODES`), to count workers."""
        alive = [{"Alive": True, "Resources": dict(n), "NodeManagerAddress": "?"}
                 for n in self.nodes]
        launchable = []
        for t in self.node_types:
            count = 1 if not expand else t.max_count if t.max_count >= 0 else UNLIMITED_NODES
            launchable += [{"Alive": True, "Resources": dict(t.resources),
                            "NodeManagerAddress": f"node type {t.name}", "NodeID": t.name}
                           ] * min(count, UNLIMITED_NODES)
        return alive + launchable

    def live_totals(self) -> dict[str, float]:
        """The alive nodes' resources added up (``ray.cluster_resources()``)."""
        return _add(self.nodes)

    def totals(self) -> dict[str, float]:
        """The resources once the autoscaler launched every node it may (a type without a
        limit counted as :data:`UNLIMITED_NODES` nodes); the live totals where nothing can be
        added."""
        grown = [dict(t.resources) for t in self.node_types
                 for _ in range(t.max_count if t.max_count >= 0 else UNLIMITED_NODES)]
        return _add([*self.nodes, *grown])

    def can_hold_now(self, request: Mapping[str, float]) -> bool:
        """Whether some alive node has ``request`` (Ray's names: ``CPU``, ``GPU``)."""
        return any(all(n.get(k, 0) >= v for k, v in request.items() if v) for n in self.nodes)


def _add(nodes: Any) -> dict[str, float]:
    totals: dict[str, float] = {}
    for node in nodes:
        for key, value in node.items():
            if isinstance(value, (int, float)):
                totals[key] = totals.get(key, 0.0) + float(value)
    return totals
