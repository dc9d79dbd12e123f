"""The driver's Ray session: connecting or starting Ray, scoped environment, shipping user code.

Environment variables the package needs (Ray Tune's switches, TensorFlow's log level for the
driver and for the workers a local Ray starts) are set only inside :func:`scoped_environ` and
restored afterwards, so the user's process is left as it was found.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import sys
from collections.abc import Iterator
from typing import Any

from raytune_hpt import _ray_compat
from raytune_hpt._job_env import check_build
from raytune_hpt._noise import quietly
from raytune_hpt.errors import ConfigurationError

__all__ = [
    "QUIET_TENSORFLOW",
    "check_not_shadowed",
    "scoped_environ",
    "ship_model_code",
    "start_ray",
]

logger = logging.getLogger(__name__)

#: TensorFlow's C++ log level while a search runs: warnings and errors only (no CUDA probing
#: chatter on machines without a GPU). A value the user set wins.
QUIET_TENSORFLOW = {"TF_CPP_MIN_LOG_LEVEL": "2"}


@contextlib.contextmanager
def scoped_environ(defaults: dict[str, str] | None = None,
                   overrides: dict[str, str] | None = None,
                   removed: tuple[str, ...] = ()) -> Iterator[None]:
    """Change ``os.environ`` for the duration of the block, then put it back as it was.

    Args:
        defaults: set only where the user has not set the variable.
        overrides: set whatever the user had (restored afterwards).
        removed: unset for the block (restored afterwards).
    """
    names = {*(defaults or {}), *(overrides or {}), *removed}
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update({k: v for k, v in (defaults or {}).items() if k not in os.environ})
    os.environ.update(overrides or {})
    for name in removed:
        os.environ.pop(name, None)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def start_ray(address: str | None, *, log_to_driver: bool, verbose: int = 1) -> None:
    """Connect to ``address``, else to a running local Ray, else start a local Ray sized for
    tuning.

    The running local Ray is, first, the one ``raytune-hpt up`` keeps (said in one line);
    then one ``ray start --head`` left on this machine, which ``ray.init`` joins by itself
    (and which refuses a new Ray's options). A local Ray started here does not pre-start task
    workers: Ray Tune runs every trial in an actor with its own runtime environment, which
    never takes a pre-started worker, so those would only compete with the first trials for
    the CPUs and then be killed. Nor does it start the head's API server and autoscaler
    monitor, which a local search does not use (``_ray_compat.lean_local_head``).
    """
    import ray

    from raytune_hpt.driver import _kept_ray

    options: dict[str, Any] = {}
    lean: Any = contextlib.nullcontext()
    where = f"the Ray at {address}"
    if address is None and not os.environ.get("RAY_ADDRESS"):
        kept = _kept_ray.find()
        started_by_ray = _ray_compat.running_ray_start_address()
        if kept is not None:
            address, where = kept.address, kept.describe()
            quietly(_ray_compat.use_local_token)
            if verbose >= 1:
                print(f"Using {where}.", flush=True)
        elif started_by_ray is not None:
            where = f"the local Ray started by `ray start` at {started_by_ray}"
        else:
            options, where = _ray_compat.no_worker_prestart(), "a new local Ray"
            lean = _ray_compat.lean_local_head()
    elif address is None:
        where = f"the Ray at RAY_ADDRESS={os.environ['RAY_ADDRESS']}"

    with lean:
        quietly(lambda: ray.init(address=address, include_dashboard=False,
                                 log_to_driver=log_to_driver, configure_logging=False,
                                 **options))
    logger.info("Ray: %s.", where)


def ship_model_code(hypermodel: Any) -> None:
    """Pickle the module of the model (or of a Tuner subclass) by value when workers could
    not import it by name."""
    from ray import cloudpickle

    if hypermodel is None:
        return
    target = getattr(hypermodel, "_build", hypermodel)
    module_name = getattr(target, "__module__", None) or type(target).__module__
    module = sys.modules.get(module_name)
    if module is None or module_name == "__main__" or module_name.startswith("raytune_hpt."):
        return
    file = getattr(module, "__file__", None)  # built-in modules have none
    if not file:
        return
    path = os.path.abspath(file)
    if "site-packages" in path or "dist-packages" in path:
        return
    cloudpickle.register_pickle_by_value(module)


#: Packages a search imports that a user's script does not: a file of the same name beside
#: the script (``tensorboard.py``) is imported instead, runs the script again inside the
#: import, and the search never ends.
_IMPORTED_FOR_THE_USER = ("tensorboard",)


def check_not_shadowed() -> None:
    """Refuse a file that would be imported instead of a package the search needs, and in a
    submitted job a ``raytune_hpt`` other than the build that was sent.

    Raises:
        ConfigurationError: naming the file and the package.
    """
    check_build()
    for name in _IMPORTED_FOR_THE_USER:
        module = sys.modules.get(name)
        if module is not None:
            is_package, origin = hasattr(module, "__path__"), getattr(module, "__file__", None)
        else:
            spec = importlib.util.find_spec(name)
            if spec is None:
                continue
            is_package, origin = spec.submodule_search_locations is not None, spec.origin
        if not is_package:
            raise ConfigurationError(
                f"{origin} is imported as the '{name}' package, which a search needs: a "
                f"file named {name}.py beside your script (or first on sys.path) hides the "
                f"installed package. Rename the file."
            )
