"""Reading an experiment from storage: its trials, the best one, its model, a table.

``_experiment.py`` turns Ray's layout (local or ``s3://``) plus ``raytune_hpt.json`` into
:class:`ExperimentResults`; ``_intervals.py`` says how many trials ran at once;
``_pareto.py`` ranks trials by Pareto dominance (the front of a Pareto objective);
``_keys.py`` which report fields are metrics; ``_ended.py`` why a trial or a search ended
(diverged, the time budget); ``_kept.py`` which trials' models ``keep_models`` deleted;
``_checkpoints.py`` a trial's model read back from its checkpoint; ``_table.py`` the
results table.
"""

from __future__ import annotations

from raytune_hpt.results._ended import budget_note
from raytune_hpt.results._experiment import ExperimentResults, TrialRecord, load
from raytune_hpt.results._files import TrialSource
from raytune_hpt.results._intervals import max_trials_at_once, trial_interval, trial_runs
from raytune_hpt.results._kept import PrunedModels, read_pruned
from raytune_hpt.results._keys import NOT_METRIC_KEYS, is_metric_key
from raytune_hpt.results._pareto import front_lines, pareto_ranks

__all__ = [
    "NOT_METRIC_KEYS",
    "ExperimentResults",
    "PrunedModels",
    "TrialRecord",
    "TrialSource",
    "budget_note",
    "front_lines",
    "is_metric_key",
    "load",
    "max_trials_at_once",
    "pareto_ranks",
    "read_pruned",
    "trial_interval",
    "trial_runs",
]
