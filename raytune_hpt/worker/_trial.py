"""What runs on a Ray worker for one trial.

``run_trial`` is a Ray Tune function trainable. The Tuner wraps it with
``tune.with_parameters`` so the training data goes into Ray's object store once and every
trial reads the same copy, and with ``tune.with_resources`` for the per-trial request.
Workers are reused between trials, so TensorFlow is imported and configured once per worker.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from raytune_hpt.errors import FailedTrialError
from raytune_hpt.hypermodel import check_model, has_custom_fit
from raytune_hpt.hyperparameters import HyperParameters
from raytune_hpt.objective import Objective
from raytune_hpt.worker._datasets import rebuild_datasets
from raytune_hpt.worker._exploit import restore
from raytune_hpt.worker._retries import with_retries
from raytune_hpt.worker._spec import TrialSpec
from raytune_hpt.worker._tf_setup import configure_tensorflow, trial_strategy

__all__ = [
    "build_checked",
    "fit_result_metrics",
    "materialize",
    "placement",
    "run_trial",
    "split_folds",
]

logger = logging.getLogger(__name__)


# A data loader (a zero-argument callable) runs once per worker, not once per trial: its
# data are kept under the key the driver gave it (each trial unpickles a new copy of it).
_loaded: dict[str, dict[str, Any]] = {}


def materialize(data: dict[str, Any]) -> dict[str, Any]:
    """The trial's data: a loader's output (once per worker), shipped datasets rebuilt."""
    loader: Callable[[], Any] | None = data.get("loader")
    if loader is None:
        return rebuild_datasets(data)
    key = data["loader_key"]
    if key not in _loaded:
        loaded = loader()
        if not isinstance(loaded, dict):
            loaded = {"x": loaded}
        _loaded.clear()
        _loaded[key] = loaded
    return _loaded[key]


def split_folds(data: dict[str, Any], cv: int | None, seed: int | None) -> list[tuple[tuple, dict]]:
    """(positional fit args, fit kwargs) for each fold; a single fold without cross-validation."""
    x, y = data.get("x"), data.get("y")
    extra = {k: v for k, v in data.items() if k not in ("x", "y", "loader", "loader_key")
             and v is not None}
    if not cv:
        return [((x,) if y is None else (x, y), extra)]
    n = len(x)
    order = np.random.default_rng(seed or 0).permutation(n)
    folds = []
    for held_out in np.array_split(order, cv):
        train = np.setdiff1d(order, held_out, assume_unique=True)  # sorted
        # sample indices: run_trial feeds them from the shared arrays or copies the rows out
        folds.append(((x, y), {"rows": train, "validation_rows": held_out}))
    return folds


def fit_result_metrics(result: Any, objective: Objective) -> dict[str, float]:
    """What a ``HyperModel.fit`` returned (History, dict or float) as final metrics."""
    if result is None:
        return {}
    if hasattr(result, "history"):
        return {k: float(v[-1]) for k, v in result.history.items() if v}
    if isinstance(result, dict):
        return {k: float(v) for k, v in result.items()}
    if isinstance(result, (int, float, np.floating)):
        return {objective.name: float(result)}
    raise TypeError(
        "HyperModel.fit must return a History, a dict of metrics or a float, but returned "
        f"{type(result).__name__}."
    )


def placement(tf_setup: dict[str, Any]) -> dict[str, Any]:
    """Where the trial runs and what TensorFlow was told, recorded with every report."""
    import ray

    context = ray.get_runtime_context()
    return {"node_id": context.get_node_id(), "pid": os.getpid(),
            "gpu_ids": ",".join(str(g) for g in ray.get_gpu_ids()),
            **{f"tf_{k}": v for k, v in tf_setup.items() if k != "pid"}}


def run_trial(config: dict[str, Any], *, spec: TrialSpec, data: dict[str, Any]) -> None:
    """Build, (restore,) train and report one trial. Ray Tune calls this on a worker.

    A ``FailedTrialError`` (ours or Keras Tuner's) ends the trial as failed without the
    retries Ray would give any other exception: it is reported as the trial's last result
    (``trial_error``) instead of raised.
    """
    started_at = time.time()
    tf_setup = configure_tensorflow(spec.cpus, spec.meta_optimizer, gpu=spec.gpus,
                                    gpu_memory_mb=spec.gpu_memory_mb)
    extra = {**placement(tf_setup), "tf_started_at": started_at}
    with_retries(spec, lambda: _hooked_train(config, spec, data, extra=dict(extra)))


def _hooked_train(config: dict[str, Any], spec: TrialSpec, data: dict[str, Any],
                  extra: dict[str, Any]) -> None:
    """One attempt of the trial, inside the user's trial hooks when the tuner has some."""
    from ray import tune

    hp = spec.space.copy(config)
    if spec.hooks is None:
        _train(hp, spec, data, extra, [])
        return
    trial = spec.hooks.new_trial(tune.get_context().get_trial_id(), hp)
    with spec.hooks.around(trial) as hook_callbacks:
        _train(hp, spec, data, extra, hook_callbacks)


def _train(hp: HyperParameters, spec: TrialSpec, data: dict[str, Any],
           extra: dict[str, Any], hook_callbacks: list) -> None:
    import keras

    from raytune_hpt.worker._costs import trial_costs  # statistics: only in a trial
    from raytune_hpt.worker._keras_state import build_before_fit, reset_keras_state
    from raytune_hpt.worker._report import EpochReporter

    keras.backend.clear_session()
    reset_keras_state()  # what an earlier trial on this worker changed (a failed one too)
    if spec.seed is not None:
        keras.utils.set_random_seed(spec.seed)
    folds = split_folds(materialize(data), spec.cv, spec.seed) * spec.executions
    models, start_epoch = _build_and_restore(spec, hp, len(folds), extra)
    build_before_fit(spec.hypermodel, models, [args for args, _ in folds])  # flat memory
    reporter = EpochReporter(spec.objective, models, extra=extra, checkpoint=spec.checkpoint,
                             defer_missing=has_custom_fit(spec.hypermodel),
                             costs=trial_costs(spec.objective, spec.fit_kwargs, folds))
    if start_epoch >= spec.epochs:
        return
    fit_kwargs = {"verbose": 0, **spec.fit_kwargs}
    user_callbacks = [*(fit_kwargs.pop("callbacks", None) or []), *hook_callbacks]
    fed_folds, fold_kwargs = _feed(spec, folds, fit_kwargs)
    reporter.extra["data_feed"] = _feed_kind(fed_folds)
    if len(fed_folds) == 1:
        _fit_once(spec, hp, models[0], fed_folds[0], fold_kwargs[0], start_epoch, reporter,
                  user_callbacks)
    else:
        _fit_epoch_by_epoch(spec, hp, models, fed_folds, fold_kwargs, start_epoch, reporter,
                            user_callbacks)


def _build_and_restore(spec: TrialSpec, hp: HyperParameters, count: int,
                       extra: dict[str, Any] | None = None) -> tuple[list, int]:
    """``count`` models (folds x executions) built and, on a resumed trial, restored
    (``extra`` gets ``pbt_donor``: the trial whose checkpoint PBT continued it from)."""
    from ray import tune

    models = []
    # Several GPUs: variables are created (build, compile, restore) under MirroredStrategy.
    strategy = trial_strategy()
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        for _ in range(count):
            models.append(build_checked(spec, hp))
        start_epoch = 0
        checkpoint = tune.get_checkpoint()
        if checkpoint is not None:
            with checkpoint.as_directory() as folder:
                start_epoch = restore(folder, models, extra)  # its own, or a PBT donor's
    return models, start_epoch


def build_checked(spec: TrialSpec, hp: HyperParameters) -> Any:
    """``build(hp)``, compiled with Keras Tuner's overrides, checked and size-limited."""
    model = spec.hypermodel.build(hp)
    if spec.compile_overrides:
        _recompile(model, spec.compile_overrides)
    check_model(model, needs_compile=not has_custom_fit(spec.hypermodel))
    if spec.max_model_size is not None and model.built:
        size = model.count_params()
        if size > spec.max_model_size:
            raise FailedTrialError(f"The model has {size} parameters, more than "
                                   f"max_model_size={spec.max_model_size}.")
    return model


def _recompile(model: Any, overrides: dict[str, Any]) -> None:
    """Compile ``model`` again with Keras Tuner's ``optimizer``/``loss``/``metrics`` in place
    of its own (each model gets its own optimizer, rebuilt from the override's config)."""
    import keras

    serialize = {"optimizer": keras.optimizers.serialize, "loss": keras.losses.serialize,
                 "metrics": keras.metrics.serialize}
    config = model.get_compile_config()
    if config is None:  # not compiled by build(hp): the overrides are all there is
        model.compile(**{k: keras.optimizers.deserialize(serialize[k](v))
                         if k == "optimizer" and not isinstance(v, str) else v
                         for k, v in overrides.items()})
        return
    for key, value in overrides.items():
        if key == "metrics":
            config[key] = [m if isinstance(m, str) else serialize[key](m) for m in value]
        else:
            config[key] = value if isinstance(value, str) else serialize[key](value)
    model.compile_from_config(config)


def _feed(spec: TrialSpec, folds: list, fit_kwargs: dict[str, Any]) -> tuple[list, list]:
    """Each fold's fit arguments, large arrays fed batch by batch from the shared copy."""
    from raytune_hpt.worker._feeding import feed_in_batches

    # A custom fit may need the arrays themselves: never fed (fold rows are copied out).
    min_bytes = None if has_custom_fit(spec.hypermodel) else spec.shared_arrays_bytes
    fed, fold_kwargs = [], []
    for args, extra in folds:
        fed_args, fed_extra, kwargs = feed_in_batches(args, extra, fit_kwargs,
                                                      min_bytes=min_bytes, seed=spec.seed)
        fed.append((fed_args, fed_extra))
        fold_kwargs.append(kwargs)
    return fed, fold_kwargs


def _feed_kind(folds: list) -> str:
    from raytune_hpt.worker._feeding import SharedArrayFeed

    args = folds[0][0]
    return "batches" if args and isinstance(args[0], SharedArrayFeed) else "arrays"


def _fit_once(spec: TrialSpec, hp: HyperParameters, model: Any, fold: tuple,
              fit_kwargs: dict[str, Any], start_epoch: int, reporter: Any,
              user_callbacks: list) -> None:
    """One model, one ``fit``: every epoch reported by a callback."""
    from raytune_hpt.tracking import per_trial_callbacks
    from raytune_hpt.worker._callbacks import ReportCallback

    args, extra = fold
    result = spec.hypermodel.fit(
        hp, model, *args, **extra, epochs=spec.epochs, initial_epoch=start_epoch,
        callbacks=[ReportCallback(reporter), *per_trial_callbacks(user_callbacks, hp.values)],
        **fit_kwargs,
    )
    if reporter.reports == 0:  # a custom fit that returns its objective at the end
        reporter.defer_missing = False
        final = {**reporter.deferred, **fit_result_metrics(result, spec.objective)}
        reporter.report(spec.epochs - 1, final)


def _fit_epoch_by_epoch(spec: TrialSpec, hp: HyperParameters, models: list, folds: list,
                        fold_kwargs: list, start_epoch: int, reporter: Any,
                        user_callbacks: list) -> None:
    """Several models (folds, executions) trained one epoch at a time; the mean reported."""
    from raytune_hpt.tracking import per_trial_callbacks
    from raytune_hpt.worker._callbacks import LastLogs

    # A user's TensorBoard: one folder per model (Keras Tuner's execution<i>).
    own = [per_trial_callbacks(user_callbacks, hp.values, i) for i in range(len(models))]
    for epoch in range(start_epoch, spec.epochs):
        logs = []
        for i, (model, (args, extra), kwargs) in enumerate(zip(models, folds, fold_kwargs,
                                                               strict=True)):
            collector = LastLogs()
            spec.hypermodel.fit(hp, model, *args, **extra, epochs=epoch + 1, initial_epoch=epoch,
                                callbacks=[collector, *own[i]], **kwargs)
            logs.append(collector.logs)
        mean = {k: float(np.mean([float(fold[k]) for fold in logs]))
                for k in logs[0] if all(k in fold for fold in logs)}
        reporter.report(epoch, mean, fold_logs=logs if spec.cv else ())
        if reporter.stop or all(getattr(m, "stop_training", False) for m in models):
            break
