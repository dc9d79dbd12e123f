"""Every private Ray, Keras and TensorFlow name the package uses, in one place.

Each use says why no public API does the job and the version it was checked against
(Ray 2.60.0, Keras 3.15 / TensorFlow 2.21). :func:`missing_private_names` lists those an
installed version no longer has; ``tests/test_ray_compat.py`` fails loudly when an upgrade
removes one. Nothing here is imported at package import time: each function imports what
it needs.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from typing import Any

from raytune_hpt._ray_compat._autoscaler import (
    AUTOSCALER_PRIVATE_NAMES,
    autoscaler_last_error,
    autoscaler_node_types,
    autoscaler_status,
    lost_nodes_forgiven,
)
from raytune_hpt._ray_compat._gradients import (
    TF_PRIVATE_NAMES,
    custom_gradient_names,
    forget_custom_gradients,
)
from raytune_hpt._ray_compat._resume import (
    TUNE_INSTANCE_ATTRIBUTES,
    TUNE_PRIVATE_NAMES,
    continue_restored,
    memory_kills_fail_trials,
)
from raytune_hpt._ray_compat._workers import (
    LOOPBACK_ENV,
    TUNE_ACTOR_DEFAULTS,
    WORKERS_PRIVATE_NAMES,
    loopback_node,
    tune_actors_inherit,
    warm_workers,
)

__all__ = [
    "LOOPBACK_ENV", "PRIVATE_NAMES", "TUNE_ACTOR_DEFAULTS", "aggressive_first_hyperband",
    "autoscaler_last_error", "autoscaler_node_types", "autoscaler_status", "continue_restored",
    "custom_gradient_names", "forget_custom_gradients", "keras_symbolic_build",
    "lean_local_head", "local_cpu_count", "local_gpu_count", "loopback_node",
    "lost_nodes_forgiven", "memory_kills_fail_trials", "missing_private_names",
    "mlflow_trial_runs", "no_worker_prestart", "restored_run_config", "result_grid_filesystem",
    "result_grid_pairs", "serialized_dataset_graph", "trial_local_experiment_dir",
    "trial_pickled_error", "trial_tensorboard_base", "tune_actors_inherit", "warm_workers",
]

#: (module, attribute path) of every private name used below; checked by the compat test.
PRIVATE_NAMES: tuple[tuple[str, str], ...] = (
    ("ray._private.utils", "get_num_cpus"),
    ("ray._private.node", "Node.start_api_server"),
    ("ray._private.node", "Node.start_monitor"),
    ("ray._private.accelerators", "get_accelerator_manager_for_resource"),
    ("ray._private.services", "find_bootstrap_address"),
    ("ray._private.services", "find_gcs_addresses"),
    ("ray.tune.tuner", "Tuner._local_tuner"),
    ("ray.tune.result_grid", "ResultGrid._experiment_analysis"),
    ("ray.tune.result_grid", "ResultGrid._trial_to_result"),
    ("ray.tune.analysis.experiment_analysis", "ExperimentAnalysis._fs"),
    ("ray.tune.experiment.trial", "Trial.get_pickled_error"),
    ("ray.air.integrations.mlflow", "MLflowLoggerCallback._trial_runs"),
    ("ray.tune.schedulers.hyperband", "HyperBandScheduler._create_bracket"),
    ("ray.tune.schedulers.hyperband", "HyperBandScheduler._get_r0"),
    ("ray.tune.schedulers.hyperband", "HyperBandScheduler._s_max_1"),
    ("ray.tune.schedulers.hyperband", "HyperBandScheduler._hyperbands"),
    ("ray.tune.schedulers.hyperband", "_Bracket.current_trials"),
    ("ray.tune.schedulers.hyperband", "_Bracket.trials_to_unpause"),
    ("ray.tune.schedulers.hyperband", "_Bracket.is_being_processed"),
    ("ray.tune.schedulers.hyperband", "_Bracket.cur_iter_done"),
    ("ray.tune.schedulers.hyperband", "HyperBandScheduler._process_bracket"),
    ("ray.tune.schedulers.hyperband", "HyperBandScheduler._time_attr"),
    ("keras.src.models.model", "Model._symbolic_build"),
    ("tensorflow.python.data.ops.dataset_ops", "DatasetV2._as_serialized_graph"),
    ("keras.callbacks", "TensorBoard._log_epoch_metrics"),
    ("keras.callbacks", "TensorBoard._log_weights"),
    ("keras.callbacks", "TensorBoard._pop_writer"),
    *AUTOSCALER_PRIVATE_NAMES,
    *TF_PRIVATE_NAMES,
    *TUNE_PRIVATE_NAMES,
    *WORKERS_PRIVATE_NAMES,
)

# Attributes set in __init__ (not on the class): checked on an instance by the test.
_INSTANCE_ATTRIBUTES = {
    "HyperBandScheduler._get_r0",
    "HyperBandScheduler._s_max_1",
    "HyperBandScheduler._hyperbands",
    "_Bracket.trials_to_unpause",
    "_Bracket.is_being_processed",
    "HyperBandScheduler._time_attr",
    "ResultGrid._experiment_analysis",
    "ExperimentAnalysis._fs",
    "MLflowLoggerCallback._trial_runs",
    "Tuner._local_tuner",
} | TUNE_INSTANCE_ATTRIBUTES


def missing_private_names() -> list[str]:
    """The entries of :data:`PRIVATE_NAMES` the installed Ray/Keras lack (class attributes
    only; attributes set per instance are checked by the test on real objects)."""
    missing = []
    for module_name, path in PRIVATE_NAMES:
        try:
            target: Any = importlib.import_module(module_name)
        except ImportError:
            missing.append(f"{module_name} (module)")
            continue
        if path in _INSTANCE_ATTRIBUTES:
            path = path.split(".")[0]
        for part in path.split("."):
            if not hasattr(target, part):
                missing.append(f"{module_name}.{path}")
                break
            target = getattr(target, part)
    return missing


# -- the machine, before Ray starts -----------------------------------------------------
def local_cpu_count() -> float:
    """CPUs a local Ray would start with (cgroup limits included). Ray 2.60: no public API
    says this before ``ray.init``."""
    import ray._private.utils as ray_utils

    return float(ray_utils.get_num_cpus())


def local_gpu_count() -> float | None:
    """GPUs a local Ray would detect, or None when this Ray build cannot tell. Ray 2.60."""
    try:
        from ray._private.accelerators import get_accelerator_manager_for_resource

        manager = get_accelerator_manager_for_resource("GPU")
        return float(manager.get_current_node_num_accelerators())
    except Exception:
        return None


@contextlib.contextmanager
def lean_local_head() -> Iterator[None]:
    """A local Ray started in this block leaves out two head daemons a local tuning run does
    not use: the API server, which with ``include_dashboard=False`` serves only Ray's usage
    statistics and which ``ray.init`` waits on (about a second) before it starts the raylet,
    and the autoscaler monitor (a local Ray has nothing to scale). Both are Python processes
    that would compete with the first trials for the CPUs. Ray 2.60: no ``ray.init`` option
    leaves them out; ``Node``'s two start methods are replaced for the block, then put back.
    A Ray without them starts as usual."""
    try:
        from ray._private.node import Node
    except ImportError:
        yield
        return
    names = ("start_api_server", "start_monitor")
    saved = {name: Node.__dict__.get(name) for name in names}
    if None in saved.values():
        yield
        return
    start_api_server = saved["start_api_server"]

    def api_server_if_dashboard(self: Any, *, include_dashboard: Any,
                                raise_on_failure: bool) -> None:
        if include_dashboard is not False:  # a dashboard asked for: as Ray does
            start_api_server(self, include_dashboard=include_dashboard,
                             raise_on_failure=raise_on_failure)

    Node.start_api_server = api_server_if_dashboard
    Node.start_monitor = lambda self: None
    try:
        yield
    finally:
        for name, method in saved.items():
            setattr(Node, name, method)


def no_worker_prestart() -> dict[str, Any]:
    """``ray.init`` keywords that stop a local Ray from pre-starting task workers. Tune's
    trial actors carry a runtime_env and never take them, so they only compete for the
    CPUs (measured: docs/benchmarks.md, "Overhead"). Ray 2.60: ``_system_config`` only."""
    return {"_system_config": {"enable_worker_prestart": False,
                               "prestart_worker_first_driver": False}}


def in_ray_worker() -> bool:
    """Whether this process is a Ray worker (not a driver). Ray 2.60."""
    try:
        import ray
        from ray._private.worker import WORKER_MODE, global_worker

        return ray.is_initialized() and global_worker.mode == WORKER_MODE
    except Exception:
        return False


def use_local_token() -> None:
    """Before joining a local Ray that ``ray.init`` started elsewhere (``raytune-hpt up``):
    token authentication on in this process, with the machine's token
    (``~/.ray/auth_token``), as Ray's own local start does (it sets ``RAY_AUTH_MODE=token``
    in the starting process). A ``RAY_AUTH_MODE`` the user set wins. Ray 2.60."""
    from ray._private.authentication.authentication_token_setup import (
        maybe_enable_token_auth_if_token_available,
    )

    maybe_enable_token_auth_if_token_available(warn_if_disabled=False)


def running_ray_start_address() -> str | None:
    """The address of a Ray left running by ``ray start --head`` on this machine (by any
    user), which ``ray.init(address=None)`` joins by itself (it reads
    ``/tmp/ray/ray_current_cluster``). Ray 2.60."""
    try:
        from ray._private.services import find_bootstrap_address, find_gcs_addresses

        address = find_bootstrap_address(None)
        return address if address and address in find_gcs_addresses() else None
    except Exception:
        return None


# -- Ray Tune's objects --------------------------------------------------------------------
def restored_run_config(restored: Any) -> Any:
    """The ``RunConfig`` of a ``Tuner.restore``-d tuner, so that this process's callbacks and
    stopper can be given again (Ray 2.60's restore takes no callbacks argument)."""
    return restored._local_tuner.get_run_config()


def result_grid_pairs(grid: Any) -> list[tuple[Any, Any]]:
    """``(Trial, Result)`` of every trial of a ``ResultGrid``: the public ``Result`` lacks the
    trial's status and id (Ray 2.60)."""
    analysis = grid._experiment_analysis
    return [(trial, grid._trial_to_result(trial)) for trial in analysis.trials]


def result_grid_filesystem(grid: Any) -> Any:
    """The pyarrow filesystem a ``ResultGrid`` read from (for its checkpoints in ``s3://``)."""
    return getattr(grid._experiment_analysis, "_fs", None)


def trial_pickled_error(trial: Any) -> Any:
    """The exception a trial raised, from the storage copy of its error file (Ray 2.60)."""
    return trial.get_pickled_error()


def trial_local_experiment_dir() -> str | None:
    """Inside a trial: the experiment folder when it is on a local disk, else None. Ray 2.60
    exposes the storage context only through ``TuneContext.get_storage`` (a Ray Train
    internal)."""
    from ray import tune

    try:
        storage_context = tune.get_context().get_storage()
        if type(storage_context.storage_filesystem).__name__ == "LocalFileSystem":
            return storage_context.experiment_fs_path
    except Exception:  # outside Tune, or a storage layout this version does not expose
        return None
    return None


def mlflow_trial_runs(callback: Any) -> dict:
    """``MLflowLoggerCallback``'s trial -> run id map (to name runs ourselves; Ray 2.60)."""
    return callback._trial_runs


# -- Keras ---------------------------------------------------------------------------------
def keras_symbolic_build(model: Any, batch: Any) -> None:
    """Create a model's, optimizer's and metrics' variables from one local batch, as ``fit``
    does first, without fit's cross-worker reduce (Keras 3.15)."""
    model._symbolic_build(data_batch=batch)


def serialized_dataset_graph(dataset: Any) -> bytes:
    """A ``tf.data.Dataset``'s pipeline as ``GraphDef`` bytes, to rebuild in another process
    with the public ``tf.raw_ops.DatasetFromGraph``. TensorFlow 2.21 has no public way to
    serialize a dataset's graph; the tf.data service uses this method. Stateful ops (random
    ``map`` steps) are kept with a warning policy: they draw anew where the graph is rebuilt.
    """
    import tensorflow as tf

    policy = tf.data.experimental.ExternalStatePolicy.WARN
    return dataset._as_serialized_graph(external_state_policy=policy).numpy()


_tensorboard_base: Any = None


def trial_tensorboard_base() -> Any:
    """Keras's ``TensorBoard`` callback without its epoch scalars (the driver's logger writes
    them), with 1-based histogram steps and no per-step validation scalars. Keras 3.15 has
    no option for either; three private methods are overridden."""
    global _tensorboard_base
    if _tensorboard_base is None:
        import keras

        class _TensorBoardWithoutScalars(keras.callbacks.TensorBoard):
            def _log_epoch_metrics(self, epoch: int, logs: Any) -> None:
                pass

            def _log_weights(self, epoch: int) -> None:
                super()._log_weights(epoch + 1)

            def on_test_end(self, logs: Any = None) -> None:
                self._pop_writer()

        _tensorboard_base = _TensorBoardWithoutScalars
    return _tensorboard_base


# -- schedulers ----------------------------------------------------------------------------
class _HyperBandInPaperOrder:
    """Mixed into Ray's synchronous ``HyperBandScheduler``: HyperBand's own order, and no hang.

    Order: Li et al. (2018, Algorithm 1) and Keras Tuner run the most aggressive bracket
    first (many trials from 1 epoch) and finish a bracket's promotions before the next
    bracket's trials. Ray 2.60 creates bracket ``s = len(cur_band)``, i.e. s = 0 first, which
    is plain full-budget training (4 trials x 27 epochs with ``max_t=27``,
    ``reduction_factor=3``), and runs the *least complete* bracket's trials first, so the next
    bracket's new trials start before the first bracket's promoted ones resume. No public
    option sets either order: ``_create_bracket(s)`` is given the mirrored index among the
    brackets whose first rung is at least one epoch (``_get_r0(s) > 0``: Ray skips the others
    before it creates a bracket), and ``choose_trial_to_run`` walks the brackets oldest first
    (the loop of Ray's own method without its sort).

    Trials that end before their rung (an EarlyStopping callback, an error, a
    ``FailedTrialError``): Ray 2.60 sets a bracket's ``is_being_processed`` at its first
    halving and never clears it, so a trial removed after that no longer triggers the next
    halving and the trials paused at the rung wait forever (Ray #6780's family). The flag
    guards only against re-entry (``stop_trial`` calls ``on_trial_remove`` synchronously), so
    it is cleared once processing returns. A failed trial's last report carries no epoch and
    is not a rung result (Ray raised KeyError). When nothing runs or waits, the brackets are
    processed again and a paused trial no bracket holds is stopped: the search moves on.
    Statuses and decisions are Ray's strings (``Trial.PAUSED == "PAUSED"``).
    """

    def _create_bracket(self, s: int) -> Any:
        usable = sum(self._get_r0(i) > 0 for i in range(self._s_max_1))
        return super()._create_bracket(usable - 1 - s)

    def _brackets(self) -> list:
        return [b for band in self._hyperbands for b in band if b is not None]

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict) -> str:
        if self._time_attr not in result:  # a failed trial's last report
            return "CONTINUE"
        return super().on_trial_result(tune_controller, trial, result)

    def _process_bracket(self, tune_controller: Any, bracket: Any) -> str:
        try:
            return super()._process_bracket(tune_controller, bracket)
        finally:
            bracket.is_being_processed = False

    def _next_trial(self) -> Any:
        for bracket in self._brackets():
            for trial in bracket.current_trials():
                if trial.status == "PENDING" or (
                        trial.status == "PAUSED" and trial in bracket.trials_to_unpause):
                    return trial
        return None

    def _unstick(self, tune_controller: Any) -> None:
        trials = tune_controller.get_trials()
        if any(t.status in ("RUNNING", "PENDING") for t in trials):
            return
        held = {t for bracket in self._brackets() for t in bracket.current_trials()}
        for trial in trials:
            if trial.status == "PAUSED" and trial not in held:
                tune_controller.stop_trial(trial)
        for bracket in self._brackets():
            if bracket.current_trials() and bracket.cur_iter_done():
                self._process_bracket(tune_controller, bracket)

    def choose_trial_to_run(self, tune_controller: Any) -> Any:
        trial = self._next_trial()
        if trial is None:
            self._unstick(tune_controller)
            trial = self._next_trial()
        return trial


def aggressive_first_hyperband(**options: Any) -> Any:
    """Ray's synchronous ``HyperBandScheduler`` in HyperBand's order, that never hangs
    (:class:`_HyperBandInPaperOrder` says how and why)."""
    from ray.tune.schedulers import HyperBandScheduler

    class AggressiveFirstHyperBand(_HyperBandInPaperOrder, HyperBandScheduler):
        pass

    return AggressiveFirstHyperBand(**options)
