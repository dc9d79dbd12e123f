"""Ray's worker processes as the package uses them: a kept Ray on loopback only, and Ray's
own warm workers (prestart plus ``preload_python_modules``) that Tune's trial actors can
take. Checked against Ray 2.60.0.

Ray starts ``num_cpus`` Python workers with every raylet (``--num_prestart_python_workers``,
no option bounds it) and, with ``preload_python_modules``, each worker it starts imports
those modules before it takes work. A worker is handed to an actor only when the actor's
runtime environment hashes the same as the worker's; Ray Tune 2.60 gives every trial actor
``{"env_vars": {"PL_DISABLE_FORK": "1", ...}}`` (``tune/execution/class_cache.py``), so a
trial never took a prestarted worker. :func:`tune_actors_inherit` leaves out of that the
variables the node's workers already have with the same value, which leaves
``{"env_vars": {}}``: a runtime environment that takes a prestarted worker.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = [
    "LOOPBACK_ENV",
    "TUNE_ACTOR_DEFAULTS",
    "WORKERS_PRIVATE_NAMES",
    "loopback_node",
    "tune_actors_inherit",
    "warm_workers",
]

#: The private names used here, added to ``PRIVATE_NAMES``.
WORKERS_PRIVATE_NAMES: tuple[tuple[str, str], ...] = (
    ("ray._private.ray_constants", "ENABLE_RAY_CLUSTER"),
    ("ray._private.ray_constants", "ENABLE_RAY_CLUSTERS_ENV_VAR"),
    ("ray._private.services", "start_ray_process"),
    ("ray.tune.execution.class_cache", "DEFAULT_ENV_VARS"),
    ("ray.tune.execution.class_cache", "ENV_VARS_TO_PROPAGATE"),
    ("ray.tune.execution.class_cache", "_ActorClassCache"),
)

#: Ray's switch (2.60 ``ray_constants.ENABLE_RAY_CLUSTERS_ENV_VAR``, off by default on
#: Windows and macOS): off, a node's address is 127.0.0.1 and every port of its GCS, raylet,
#: agents and metrics pages listens on loopback only. Read at import: set for a process.
LOOPBACK_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}

#: What Ray Tune 2.60 sets in every trial actor (for PyTorch Lightning); a Ray the package
#: starts gives it to all its workers instead, through the raylet's environment.
TUNE_ACTOR_DEFAULTS = {"PL_DISABLE_FORK": "1"}

_PRESTART_FLAG = "--num_prestart_python_workers="
_STARTUP_FLAG = "--maximum_startup_concurrency="


@contextlib.contextmanager
def loopback_node() -> Iterator[None]:
    """A Ray joined in this block takes 127.0.0.1 as this node's address
    (:data:`LOOPBACK_ENV` for one block): a driver joining a Ray that listens on loopback
    only must see itself there, or finds no raylet at its address. Ray 2.60."""
    from ray._private import ray_constants

    saved = ray_constants.ENABLE_RAY_CLUSTER
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = saved


@contextlib.contextmanager
def warm_workers(count: int, modules: tuple[str, ...],
                 idle_limit: int | None = None) -> Iterator[dict[str, Any]]:
    """A local Ray started in this block prestarts ``count`` Python workers (Ray would
    start one per CPU), each importing ``modules`` before it takes work; the block gives
    the keywords for ``ray.init`` (its ``_system_config``); ``count == 0``: no prestart.
    Ray 2.60 takes the number only on the raylet's command line, which
    ``services.start_ray_process`` receives: rewritten for the block, then put back.

    ``idle_limit``: Ray ends idle workers while it has more workers than this (its
    ``num_workers_soft_limit``, by default the node's CPUs). A new script's first tasks
    make Ray start workers for that script, which pushed a kept Ray with as many warm
    workers as CPUs over its limit: Ray ended the warm workers as surplus and started
    cold ones for the trials (Ray 2.60, seen in ``raylet.out``)."""
    if count <= 0:
        yield {"_system_config": {"enable_worker_prestart": False,
                                  "prestart_worker_first_driver": False}}
        return
    from ray._private import services

    start_ray_process = services.start_ray_process

    def bounded(command: list[str], process_type: str, *args: Any, **kwargs: Any) -> Any:
        if process_type == "raylet":
            command = [_raylet_flag(part, count) for part in command]
        return start_ray_process(command, process_type, *args, **kwargs)

    services.start_ray_process = bounded
    try:
        # the raylet's own prestart only: the first driver's would add as many again
        config: dict[str, Any] = {"enable_worker_prestart": True,
                                  "prestart_worker_first_driver": False,
                                  "preload_python_modules": list(modules)}
        if idle_limit is not None:
            config["num_workers_soft_limit"] = idle_limit
        yield {"_system_config": config}
    finally:
        services.start_ray_process = start_ray_process


def _raylet_flag(part: str, count: int) -> str:
    """One raylet argument for ``count`` warm workers: at most ``count`` prestarted, and
    all of them allowed to start at once. Ray 2.60 starts at most ``min(cores, CPUs)``
    workers at a time and drops the prestarts above that, some of the time
    ("process_failed_rate_limited" in ``raylet.out``: ``up --num-cpus 8 --warm-workers 8``
    on 2 cores got 2 of its 8 in one run, all 8 in another)."""
    if part.startswith(_PRESTART_FLAG):
        return f"{_PRESTART_FLAG}{min(count, int(part[len(_PRESTART_FLAG):]))}"
    if part.startswith(_STARTUP_FLAG):
        return f"{_STARTUP_FLAG}{max(count, int(part[len(_STARTUP_FLAG):]))}"
    return part


@contextlib.contextmanager
def tune_actors_inherit(inherited: Mapping[str, str]) -> Iterator[None]:
    """Ray Tune trial actors created in this block carry in their runtime environment only
    the variables the node's workers lack (``inherited``: what they already have), so that
    an actor with nothing left to pass on takes a prestarted worker. Ray 2.60 reads
    ``DEFAULT_ENV_VARS`` and ``ENV_VARS_TO_PROPAGATE`` (with the driver's ``os.environ``)
    each time it makes a trial actor class; both are narrowed for the block."""
    import os

    from ray.tune.execution import class_cache

    saved = class_cache.DEFAULT_ENV_VARS, class_cache.ENV_VARS_TO_PROPAGATE
    class_cache.DEFAULT_ENV_VARS = {name: value for name, value in saved[0].items()
                                    if inherited.get(name) != value}
    class_cache.ENV_VARS_TO_PROPAGATE = {
        name for name in saved[1]
        if name not in os.environ or inherited.get(name) != os.environ[name]}
    try:
        yield
    finally:
        class_cache.DEFAULT_ENV_VARS, class_cache.ENV_VARS_TO_PROPAGATE = saved
