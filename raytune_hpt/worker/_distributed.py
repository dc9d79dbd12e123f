"""A trial that spans several workers (``workers_per_trial: N``), on one node or several.

Ray 2.60's pattern for Train inside Tune: the Tune trial function is only a driver. It
builds a Ray Train ``TensorflowTrainer`` with N workers, each booking the per-trial
:class:`~raytune_hpt.resources.Resources`, and calls ``fit()``. Ray sets ``TF_CONFIG`` in each
worker; the workers build the model under ``tf.distribute.MultiWorkerMirroredStrategy`` and
train it together (each global batch is split between them). Every worker calls
``ray.train.report`` at the end of each epoch, and Ray Train's ``TuneReportCallback`` hands
rank 0's report to Tune, so a distributed trial reports the same metrics, ``epoch`` and
``tf_*`` placement keys as a one-process trial, plus ``tf_workers`` and ``tf_worker_addresses``.

Left out on purpose: per-epoch checkpoints (a distributed trial restarts from epoch 0 when a
scheduler pauses it or it fails, and ``get_best_models`` rebuilds it from its
hyperparameters), cross-validation inside a distributed trial, and custom ``HyperModel.fit``.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from typing import Any

from raytune_hpt import _ray_compat
from raytune_hpt.errors import ObjectiveNotLoggedError
from raytune_hpt.hypermodel import check_model
from raytune_hpt.resources import Resources, in_node_names
from raytune_hpt.worker._spec import TrialSpec
from raytune_hpt.worker._tf_setup import configure_tensorflow
from raytune_hpt.worker._trial import materialize, placement, split_folds

__all__ = ["DRIVER_RESOURCES", "run_distributed_trial"]

#: What the Tune trial (the driver, which only waits on ``fit()``) books for itself.
#: Ray Tune cannot place a trial that books nothing; the workers book the real resources.
DRIVER_RESOURCES = {"cpu": 0.01}


def run_distributed_trial(
    config: dict[str, Any],
    *,
    spec: TrialSpec,
    data: dict[str, Any],
    resources: Resources,
    workers: int,
    storage_path: str | None = None,
) -> None:
    """The Tune function of a distributed trial: run a ``workers``-worker TensorflowTrainer."""
    import ray
    from ray import train, tune
    from ray.train.tensorflow import TensorflowTrainer
    from ray.tune.integration.ray_train import TuneReportCallback

    trial_id = tune.get_context().get_trial_id()
    trainer = TensorflowTrainer(
        _train_worker,
        train_loop_config={
            "hp": dict(config),
            "spec": spec,
            "data": ray.put(data),
            "started_at": time.time(),
            "workers": workers,
        },
        scaling_config=train.ScalingConfig(
            num_workers=workers,
            use_gpu=resources.gpu > 0,
            resources_per_worker=in_node_names(resources.to_ray()),
        ),
        run_config=train.RunConfig(
            name=f"train_{trial_id}",
            storage_path=storage_path,
            callbacks=[TuneReportCallback()],
            failure_config=train.FailureConfig(max_failures=0),  # Tune's max_failures retries
        ),
    )
    trainer.fit()


def _datasets(
    tf: Any, args: tuple, extra: dict[str, Any], fit_kwargs: dict[str, Any], seed: int | None
) -> tuple[Any, Any]:
    """Training and validation ``tf.data`` datasets, batched with the global batch size."""
    batch_size = int(fit_kwargs.get("batch_size") or 32)
    x = args[0]
    if isinstance(x, tf.data.Dataset):  # a loader's dataset: already batched
        train = x
    else:
        y = args[1] if len(args) > 1 else None
        validation_split = fit_kwargs.get("validation_split")
        if validation_split and "validation_data" not in extra:
            cut = int(len(x) * (1 - validation_split))  # the last samples, as Keras does
            extra = {**extra, "validation_data": (x[cut:], y[cut:])}
            x, y = x[:cut], y[:cut]
        train = tf.data.Dataset.from_tensor_slices((x, y) if y is not None else x)
        if fit_kwargs.get("shuffle", True):
            train = train.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
        train = train.batch(batch_size)
    validation = extra.get("validation_data")
    if validation is not None and not isinstance(validation, tf.data.Dataset):
        validation = tf.data.Dataset.from_tensor_slices(tuple(validation[:2])).batch(batch_size)
    return train, validation


def _train_worker(loop_config: dict[str, Any]) -> None:
    """One Ray Train worker of a distributed trial.

    Keras 3's ``fit`` fails under a multi-worker ``MultiWorkerMirroredStrategy`` (it reduces
    the first batch and each step's logs across workers in ways TensorFlow rejects; keras-team/
    keras#20585), so the epoch loop is written out here, made of Keras' own parts: the model's
    ``train_step``/``test_step`` run on every replica by ``strategy.run`` (the optimizer
    all-reduces the gradients), and the metrics, kept in variables synchronised on read, are
    read once per epoch. User callbacks are not run in a distributed trial.
    """
    from ray import train

    spec: TrialSpec = loop_config["spec"]
    # Ray Train has set TF_CONFIG; the strategy must exist before TensorFlow runs any op.
    tf_setup = configure_tensorflow(
        spec.cpus, spec.meta_optimizer, gpu=spec.gpus, gpu_memory_mb=spec.gpu_memory_mb
    )
    run_epoch = _distributed_model(spec, loop_config)
    where = _placement_keys(tf_setup, loop_config)
    objective = spec.objective.name
    for epoch in range(spec.epochs):
        metrics = run_epoch()
        if objective not in metrics:
            raise ObjectiveNotLoggedError(objective, list(metrics))
        train.report({**metrics, "epoch": epoch + 1, **where})  # Tune gets rank 0's
        if not math.isfinite(metrics[objective]):
            break  # a diverged trial: every worker sees the same synchronised value


def _distributed_model(
    spec: TrialSpec, loop_config: dict[str, Any]
) -> Callable[[], dict[str, float]]:
    """Build the trial's model under the strategy; returns a function running one epoch of it
    (training, then validation) that returns the epoch's metrics."""
    import keras
    import ray
    import tensorflow as tf

    from raytune_hpt.worker._report import scalar_logs

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    keras.backend.clear_session()
    if spec.seed is not None:
        keras.utils.set_random_seed(spec.seed)
    hp = spec.space.copy(loop_config["hp"])
    ((args, extra),) = split_folds(materialize(ray.get(loop_config["data"])), None, spec.seed)
    train_data, validation_data = _datasets(tf, args, extra, spec.fit_kwargs, spec.seed)
    with strategy.scope():
        model = spec.hypermodel.build(hp)
        check_model(model, needs_compile=True)
        # What fit() would do first: create the model's, optimizer's and metrics' variables
        # (here from one local batch; fit's cross-worker reduce of that batch is the bug).
        _ray_compat.keras_symbolic_build(model, next(iter(train_data)))
    train_data = strategy.experimental_distribute_dataset(train_data)
    if validation_data is not None:
        validation_data = strategy.experimental_distribute_dataset(validation_data)

    @tf.function
    def train_step(batch: Any) -> None:
        strategy.run(model.train_step, args=(batch,))

    @tf.function
    def test_step(batch: Any) -> None:
        strategy.run(model.test_step, args=(batch,))

    def run_epoch() -> dict[str, float]:
        model.reset_metrics()
        for batch in train_data:
            train_step(batch)
        metrics = scalar_logs(model.get_metrics_result())
        if validation_data is not None:
            model.reset_metrics()
            for batch in validation_data:
                test_step(batch)
            logged = scalar_logs(model.get_metrics_result())
            metrics.update({f"val_{k}": v for k, v in logged.items()})
        return metrics

    return run_epoch


def _placement_keys(tf_setup: dict[str, Any], loop_config: dict[str, Any]) -> dict[str, Any]:
    """The ``tf_*`` keys each report carries: this worker's set-up, rank and the cluster."""
    from ray import train

    cluster = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {})
    return {
        **placement({**tf_setup, "strategy_used": "MultiWorkerMirroredStrategy"}),
        "tf_started_at": loop_config["started_at"],
        "tf_workers": loop_config["workers"],
        "tf_worker_rank": train.get_context().get_world_rank(),
        "tf_worker_addresses": ",".join(cluster.get("worker", [])),
    }
