"""What runs on a Ray worker for one trial.

``run_trial`` is a Ray Tune function trainable. The Tuner wraps it with
``tune.with_parameters`` so the training data goes into Ray's object store once and every
trial reads the same copy, and with ``tune.with_resources`` for the per-trial request.
Workers are reused between trials, so TensorFlow is imported and configured once per worker.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from raytune_hpt.hyperparameters import HyperParameters
from raytune_hpt.objective import Objective
from raytune_hpt.worker._tf_setup import configure_tensorflow, trial_strategy

__all__ = [
    "TrialSpec",
    "fit_result_metrics",
    "materialize",
    "placement",
    "run_trial",
    "split_folds",
]


@dataclass
class TrialSpec:
    """Everything a trial needs besides its config and the data."""

    hypermodel: Any
    space: HyperParameters
    objective: Objective
    epochs: int
    fit_kwargs: dict[str, Any] = field(default_factory=dict)
    cv: int | None = None
    cpus: float = 1.0
    seed: int | None = None
    checkpoint: bool = True
    meta_optimizer: bool = False
    gpus: float = 0.0  # the trial's GPU share; configure_tensorflow plans TensorFlow's GPUs
    gpu_memory_mb: int | None = None
    # numpy training data of at least this many bytes is fed batch by batch from the shared
    # object-store copy (_feeding.py); None: never (always Keras's array adapter). The
    # Tuner sets it from its shared_arrays_mb (default: search_data.SHARED_ARRAYS_MB).
    shared_arrays_bytes: int | None = None


# A data loader (a zero-argument callable) runs once per worker, not once per trial.
_loaded: dict[int, dict[str, Any]] = {}


def materialize(data: dict[str, Any]) -> dict[str, Any]:
    loader: Callable[[], Any] | None = data.get("loader")
    if loader is None:
        return data
    key = id(loader)
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
    extra = {k: v for k, v in data.items() if k not in ("x", "y", "loader") and v is not None}
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
    """Build, (restore,) train and report one trial. Ray Tune calls this on a worker."""
    started_at = time.time()
    tf_setup = configure_tensorflow(spec.cpus, spec.meta_optimizer, gpu=spec.gpus,
                                    gpu_memory_mb=spec.gpu_memory_mb)
    import keras
    from ray import tune

    from raytune_hpt.hypermodel import check_model, has_custom_fit
    from raytune_hpt.worker._report import EpochReporter, LastLogs, ReportCallback, load_checkpoint

    keras.backend.clear_session()
    if spec.seed is not None:
        keras.utils.set_random_seed(spec.seed)
    hp = spec.space.copy(config)
    folds = split_folds(materialize(data), spec.cv, spec.seed)
    models = []
    # Several GPUs: variables are created (build, compile, restore) under MirroredStrategy.
    strategy = trial_strategy()
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        for _ in folds:
            model = spec.hypermodel.build(hp)
            check_model(model, needs_compile=not has_custom_fit(spec.hypermodel))
            models.append(model)

        start_epoch = 0
        checkpoint = tune.get_checkpoint()
        if checkpoint is not None:
            with checkpoint.as_directory() as folder:
                start_epoch = load_checkpoint(folder, models)
    reporter = EpochReporter(spec.objective, models,
                             extra={**placement(tf_setup), "tf_started_at": started_at},
                             checkpoint=spec.checkpoint,
                             defer_missing=has_custom_fit(spec.hypermodel))
    fit_kwargs = {"verbose": 0, **spec.fit_kwargs}
    user_callbacks = list(fit_kwargs.pop("callbacks", None) or [])
    if start_epoch >= spec.epochs:
        return

    from raytune_hpt.worker._feeding import SharedArrayFeed, feed_in_batches

    # A custom fit may need the arrays themselves: never fed (fold rows are copied out).
    min_bytes = None if has_custom_fit(spec.hypermodel) else spec.shared_arrays_bytes
    fold_kwargs = []
    for k, (args, extra) in enumerate(folds):
        fed_args, fed_extra, kwargs = feed_in_batches(args, extra, fit_kwargs,
                                                      min_bytes=min_bytes, seed=spec.seed)
        folds[k] = (fed_args, fed_extra)
        fold_kwargs.append(kwargs)
    fed = isinstance(folds[0][0][0], SharedArrayFeed) if folds[0][0] else False
    reporter.extra["data_feed"] = "batches" if fed else "arrays"

    if len(folds) == 1:
        args, extra = folds[0]
        fit_kwargs = fold_kwargs[0]
        result = spec.hypermodel.fit(
            hp, models[0], *args, **extra, epochs=spec.epochs, initial_epoch=start_epoch,
            callbacks=[ReportCallback(reporter), *user_callbacks], **fit_kwargs,
        )
        if reporter.reports == 0:  # a custom fit that returns its objective at the end
            reporter.defer_missing = False
            final = {**reporter.deferred, **fit_result_metrics(result, spec.objective)}
            reporter.report(spec.epochs - 1, final)
        return

    for epoch in range(start_epoch, spec.epochs):
        logs = []
        for model, (args, extra), kwargs in zip(models, folds, fold_kwargs, strict=True):
            collector = LastLogs()
            spec.hypermodel.fit(hp, model, *args, **extra, epochs=epoch + 1, initial_epoch=epoch,
                                callbacks=[collector, *user_callbacks], **kwargs)
            logs.append(collector.logs)
        mean = {k: float(np.mean([float(fold[k]) for fold in logs]))
                for k in logs[0] if all(k in fold for fold in logs)}
        reporter.report(epoch, mean, fold_logs=logs)
        if reporter.stop:
            break
