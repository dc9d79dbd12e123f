"""Which fields of a trial's report are metrics, and which are Ray's or our bookkeeping."""

from __future__ import annotations

from raytune_hpt._record import (
    DECLARED_HPS,
    DIVERGED,
    DIVERGED_ON,
    TRIAL_ERROR,
    TRIAL_TRACEBACK,
)

__all__ = ["NOT_METRIC_KEYS", "is_metric_key"]

#: Report fields that are not metrics: Ray Tune's bookkeeping and where the trial ran.
#: ``epoch`` is ours and counts as a metric (results read a trial's best epoch from it).
NOT_METRIC_KEYS = frozenset({
    "pid", "node_id", "gpu_ids", "done", "trial_id", "date", "timestamp", "hostname",
    "node_ip", "time_this_iter_s", "time_total_s", "time_since_restore", "training_iteration",
    "iterations_since_restore", "timesteps_total", "timesteps_since_restore", "episodes_total",
    "checkpoint_dir_name", "should_checkpoint", "experiment_tag", "config", "warmup_time",
    "data_feed", TRIAL_ERROR, TRIAL_TRACEBACK, DECLARED_HPS, DIVERGED, DIVERGED_ON,
})
_NOT_METRIC_PREFIXES = ("config/", "tf_")


def is_metric_key(key: str) -> bool:
    """Whether a report field named ``key`` is a metric (``val_loss``, ``epoch``, ``fold0/loss``).

    Example:
        >>> is_metric_key("val_accuracy"), is_metric_key("time_total_s"), is_metric_key("tf_pid")
        (True, False, False)
    """
    return key not in NOT_METRIC_KEYS and not key.startswith(_NOT_METRIC_PREFIXES)
