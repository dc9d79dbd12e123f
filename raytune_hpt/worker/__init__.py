"""Everything that runs inside a Ray trial, and nothing else.

``_spec`` (``TrialSpec``, what every trial is given), ``_trial`` (``run_trial``: build,
restore, feed, fit), ``_retries`` (a failed attempt retried in the same process),
``_user_trial`` (a custom ``run_trial``), ``_running_trial`` (the handle such a trial reports
through: ``running_trial()``), ``_hooks`` (a Tuner subclass's Keras
Tuner hooks, called in the trial), ``_report`` (each epoch's report and ``.keras``
checkpoint), ``_callbacks`` (the Keras callbacks that drive it), ``_feeding`` (large arrays
fed batch by batch from the shared object-store copy), ``_tf_setup`` (threads, GPUs, memory
caps, strategy: once per worker), ``_distributed`` (one trial over several Ray Train
workers), ``_preload`` (what a warm worker imports first) and ``_warm_ready`` (a warm worker
says its import is done). The driver imports ``TrialSpec``, ``run_trial`` and the
multi-worker entry points from here; Keras is imported only when a trial runs.
"""

from __future__ import annotations

from raytune_hpt._lazy import lazy_attributes
from raytune_hpt.worker._datasets import ShippedDataset, rebuild_datasets
from raytune_hpt.worker._distributed import (
    DRIVER_RESOURCES,
    run_distributed_trial,
)
from raytune_hpt.worker._hooks import TrialHooks
from raytune_hpt.worker._running_trial import RunningTrial, running_trial
from raytune_hpt.worker._spec import TrialSpec
from raytune_hpt.worker._tf_setup import (
    CUDA_CONTEXT_RESERVE_MB,
    GpuPlan,
    apply_gpu_plan,
    configure_tensorflow,
    parse_nvidia_smi_memory,
    plan_gpus,
    trial_strategy,
)
from raytune_hpt.worker._trial import (
    build_checked,
    fit_result_metrics,
    run_trial,
)
from raytune_hpt.worker._user_trial import run_user_trial
from raytune_hpt.worker._warm_ready import READY_VARIABLE, ready_workers

__all__ = [
    "CUDA_CONTEXT_RESERVE_MB",
    "DRIVER_RESOURCES",
    "READY_VARIABLE",
    "EpochReporter",
    "GpuPlan",
    "RunningTrial",
    "SharedArrayFeed",
    "ShippedDataset",
    "TrialHooks",
    "TrialSpec",
    "apply_gpu_plan",
    "build_checked",
    "configure_tensorflow",
    "feed_in_batches",
    "fit_result_metrics",
    "fold_rows",
    "parse_nvidia_smi_memory",
    "plan_gpus",
    "ready_workers",
    "rebuild_datasets",
    "run_distributed_trial",
    "run_trial",
    "run_user_trial",
    "running_trial",
    "trial_strategy",
]

# These import Ray Tune (and _feeding Keras): loaded on first use, so the driver can import
# this package cheaply.
_LAZY = {
    "EpochReporter": "_report",
    "SharedArrayFeed": "_feeding",
    "feed_in_batches": "_feeding",
    "fold_rows": "_feeding",
}


__getattr__ = lazy_attributes(__name__, _LAZY)
