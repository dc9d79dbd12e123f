"""This package on every node of a submitted job, even where it is on no package registry.

``raytune-hpt submit`` ships the ``raytune_hpt`` folder this process imported as Ray's
``py_modules`` (uploaded once per content: Ray keeps it under its hash and skips a second
upload), unless every alive node already runs the identical build. Builds are told apart by
a content hash (:func:`raytune_hpt._job_env.build_hash`; the version string stays the same
across commits), which the cluster configs in ``cluster/`` put on each node as the Ray label
``raytune-hpt-build``; one request to the cluster's state API reads the labels. The job gets
the hash either way, and refuses to run another build (:func:`raytune_hpt._job_env.check_build`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from raytune_hpt._job_env import BUILD_ENV, NODE_LABEL, build_hash, package_folder
from raytune_hpt.cli._jobs_client import _address_env_ignored, _probe_then_headers, find_token

__all__ = ["Shipping", "cluster_builds", "plan_shipping"]

logger = logging.getLogger(__name__)

_TIMEOUT_S = 10


@dataclass(frozen=True)
class Shipping:
    """What a job gets of this package: Ray's ``runtime_env`` entries, and one line."""

    env_vars: dict[str, str]
    py_modules: list[str] = field(default_factory=list)
    description: str = ""


def plan_shipping(url: str) -> Shipping:
    """Ship this build unless every alive node of the cluster at ``url`` runs it."""
    build = build_hash()
    env_vars = {BUILD_ENV: build}
    builds = cluster_builds(url)
    if builds and all(found == build for found in builds):
        return Shipping(env_vars, [], f"the cluster runs this build of raytune_hpt ({build}); "
                                      "nothing shipped")
    return Shipping(env_vars, [str(package_folder())],
                    f"this machine's raytune_hpt (build {build}), shipped with the job")


def cluster_builds(url: str) -> list[str | None]:
    """The ``raytune-hpt-build`` label of each alive node (``None`` where a node has none);
    empty when the cluster cannot say (then the package is shipped)."""
    try:
        from ray.util.state import StateApiClient
        from ray.util.state.common import ListApiOptions, StateResource

        headers = _probe_then_headers(url, *find_token())
        with _address_env_ignored():
            client = StateApiClient(address=url, headers=headers)
        nodes = client.list(
            StateResource.NODES,
            options=ListApiOptions(detail=True, timeout=_TIMEOUT_S,
                                   filters=[("state", "=", "ALIVE")]),
            raise_on_missing_output=False,
        )
    except Exception as error:  # the labels only save an upload; without them, ship
        logger.info("Could not read the cluster's node labels (%s); shipping the package.",
                    error)
        return []
    return [_labels(node).get(NODE_LABEL) for node in nodes]


def _labels(node: Any) -> dict[str, str]:
    labels = node.get("labels") if isinstance(node, dict) else getattr(node, "labels", None)
    return dict(labels or {})
