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
from raytune_hpt.driver._warm import WARM_MODULES
from raytune_hpt.errors import ConfigurationError
from raytune_hpt.tracking import say

__all__ = [
    "QUIET_TENSORFLOW",
    "check_not_shadowed",
    "ray_start_address_of_this_user",
    "scoped_environ",
    "ship_model_code",
    "start_ray",
    "trial_actors_on_warm_workers",
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


# What the workers of a Ray started or joined in this process already have in their
# environment, by GCS address (Tune's trial actors then need not carry it: see
# trial_actors_on_warm_workers).
_worker_env: dict[str, dict[str, str]] = {}


def start_ray(address: str | None, *, log_to_driver: bool, verbose: int = 1,
              warm_workers: int = 0, warm_modules: tuple[str, ...] = WARM_MODULES) -> None:
    """Connect to ``address``, else to a running local Ray, else start a local Ray sized for
    tuning.

    The running local Ray is, first, the one ``raytune-hpt up`` keeps (said in one line);
    then one ``ray start --head`` left on this machine by this user (one another user left
    is never joined: it would run this user's code). A local Ray started here prestarts
    ``warm_workers`` Python workers (the trials that can run at once; Ray would start one
    per CPU), each importing ``warm_modules`` (by default Ray Tune, TensorFlow and Keras:
    :data:`WARM_MODULES`) while the driver goes on with its own work; with 0, none. Nor
    does it start the head's API server and autoscaler monitor, which a local search does
    not use (``_ray_compat.lean_local_head``).
    """
    import ray

    from raytune_hpt.driver import _kept_ray

    lean: Any = contextlib.nullcontext()
    warm: Any = contextlib.nullcontext({})
    inherited: dict[str, str] = {}
    where = f"the Ray at {address}"
    if address is None and not os.environ.get("RAY_ADDRESS"):
        kept = _kept_ray.find()
        started_by_ray = ray_start_address_of_this_user()
        if kept is not None:
            address, where = kept.address, kept.describe()
            quietly(_ray_compat.use_local_token)
            lean = _ray_compat.loopback_node()  # it listens on loopback only
            inherited = dict(_ray_compat.TUNE_ACTOR_DEFAULTS)  # its workers have it
            say(f"Using {where}.", verbose)
        elif started_by_ray is not None:
            address = started_by_ray
            where = f"the local Ray started by `ray start` at {started_by_ray}"
        else:
            # "local": a new Ray, never the one another user's `ray start` left in /tmp/ray
            address, where = "local", "a new local Ray"
            lean = _ray_compat.lean_local_head()
            warm = _ray_compat.warm_workers(warm_workers, warm_modules)
    elif address is None:
        where = f"the Ray at RAY_ADDRESS={os.environ['RAY_ADDRESS']}"

    with lean, warm as options, scoped_environ(
            _ray_compat.TUNE_ACTOR_DEFAULTS if options else {}):
        if options:  # a new local Ray: its workers inherit this environment
            inherited = dict(os.environ)
        quietly(lambda: ray.init(address=address, include_dashboard=False,
                                 log_to_driver=log_to_driver, configure_logging=False,
                                 **options))
    _worker_env[ray.get_runtime_context().gcs_address] = inherited
    logger.info("Ray: %s.", where)


@contextlib.contextmanager
def trial_actors_on_warm_workers() -> Iterator[None]:
    """Ray Tune's trial actors created in this block can take Ray's warm workers: they
    carry no environment variable the workers of this Ray already have
    (``_ray_compat.tune_actors_inherit``); on a Ray this process knows nothing of, as Ray
    Tune makes them."""
    import ray

    inherited = _worker_env.get(ray.get_runtime_context().gcs_address)
    if not inherited:
        yield
        return
    with _ray_compat.tune_actors_inherit(inherited):
        yield


def ray_start_address_of_this_user() -> str | None:
    """The address of a Ray that ``ray start --head`` left on this machine, when its raylet
    runs as this user. ``ray.init()`` would join any Ray named in the shared temporary
    folder (``/tmp/ray/ray_current_cluster``, which every local user can write), another
    user's included: it would run this user's code and be sent this user's token."""
    address = _ray_compat.running_ray_start_address()
    if address is None:
        return None
    import ray  # noqa: F401  (puts the psutil Ray ships, ray/thirdparty_files, on the path)
    # isort: split
    import psutil

    flag = f"--gcs-address={address}"
    for process in psutil.process_iter(["cmdline", "uids"]):
        try:
            cmdline = process.info["cmdline"] or [""]
            if ("raylet" in os.path.basename(cmdline[0])
                    and any(flag in argument.split(" ") for argument in cmdline)
                    and process.info["uids"].real == os.getuid()):
                return address
        except (psutil.Error, AttributeError, TypeError):
            continue
    logger.info("The Ray at %s was started by another user: not joined.", address)
    return None


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
