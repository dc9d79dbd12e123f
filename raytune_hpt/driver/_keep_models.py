"""``keep_models``: only the best trials' models stay on disk (a driver-side Ray Tune callback).

Ray Tune bounds checkpoints per trial (``CheckpointConfig(num_to_keep=2)``: each trial keeps
its best two epochs and its latest) but never across trials, so a long search fills the disk
(Keras Tuner keeps every trial's too: keras-tuner #172, #481). :class:`KeepModels` deletes,
when a trial ends, the checkpoints of every ended trial that is not among the best
``keep_models``, ranked as ``get_best_models`` ranks them (``ExperimentResults.ranked_trials``:
the objective at each trial's best epoch; for a Pareto objective the front first, then the
first objective; diverged and failed trials are never ranked, so theirs go at once).

What is never deleted: a trial that may still run (running, pending, paused by HyperBand,
errored: ``resume`` restarts it from its last checkpoint), and metrics, logs, TensorBoard
events and the results table, which keep every trial. With PBT nothing is deleted: its
population trains on from each other's checkpoints (:func:`keep_models_callback` says so).

Deletion goes through the storage's pyarrow filesystem (local or ``s3://``), folder by
folder (``checkpoint_*``); the trials pruned are listed in ``pruned_models.jsonl``
(``_record.PRUNED_FILE``) so that the results say which trials have no model and why. On
resume, the trials ended before are read back once from storage and ranked with the new ones.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from ray.tune import Callback

from raytune_hpt import storage
from raytune_hpt._checks import is_finite_number
from raytune_hpt._record import PRUNED_FILE
from raytune_hpt.objective import Objective
from raytune_hpt.results import ExperimentResults, PrunedModels, TrialSource, read_pruned
from raytune_hpt.results import load as load_results
from raytune_hpt.settings import Settings

__all__ = ["KeepModels", "keep_models_callback"]

logger = logging.getLogger(__name__)


def keep_models_callback(settings: Settings, scheduler: Any) -> KeepModels | None:
    """The callback that applies ``settings.keep_models``; None when every model is kept
    (``keep_models=None``, or PBT, whose trials restore from each other's checkpoints)."""
    if settings.keep_models is None:
        return None
    from ray.tune.schedulers import PopulationBasedTraining

    if getattr(scheduler, "keeps_every_checkpoint", False) \
            or isinstance(scheduler, PopulationBasedTraining):
        logger.info("keep_models=%d is not applied under population-based training: its "
                    "trials continue from each other's checkpoints, so every trial's stays "
                    "on disk.", settings.keep_models)
        return None
    return KeepModels(settings.keep_models, settings.objective, settings.experiment_path)


class KeepModels(Callback):
    """Deletes the checkpoints of ended trials beyond the best ``keep``.

    Args:
        keep: how many ended trials keep their checkpoints (>= 1).
        objective: the search's objective (what "best" means).
        experiment_path: the experiment's folder or URI.
    """

    def __init__(self, keep: int, objective: Objective, experiment_path: str) -> None:
        self.keep, self.objective, self.path = keep, objective, experiment_path
        self._rows: dict[str, list[dict[str, Any]]] = {}  # trial id -> [best row, last row]
        self._kept: dict[str, str] = {}  # ended trials whose checkpoints stay: id -> folder
        self._pruned: dict[str, str] = {}  # every trial pruned, this run and before
        self._read = False  # the earlier runs' pruned and ended trials, read at first use
        self._recheck: dict[str, str] = {}  # pruned at the last event: swept once more

    # -- what each trial reported -----------------------------------------------------------
    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict,
                        **info: Any) -> None:
        row = {k: v for k, v in result.items() if k != "config"}
        best_last = self._rows.setdefault(trial.trial_id, [row, row])
        if self._better(row, best_last[0]):
            best_last[0] = row
        best_last[1] = row

    def _better(self, row: dict[str, Any], than: dict[str, Any]) -> bool:
        """As the results pick a trial's best epoch: the first best finite objective."""
        new, old = row.get(self.objective.name), than.get(self.objective.name)
        if not is_finite_number(new):
            return False
        if not is_finite_number(old):
            return True
        return new > old if self.objective.direction == "max" else new < old

    # -- a trial ended --------------------------------------------------------------------
    def on_step_begin(self, iteration: int, trials: list, **info: Any) -> None:
        self._read_back(trials)  # once, before any trial of this run reports

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._read_back(trials)
        self._sweep(self._recheck)
        self._recheck = {}
        if trial.trial_id not in self._rows:  # never reported (stopped while pending)
            return
        self._kept[trial.trial_id] = _folder(trial)
        self._prune(trials)

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        # A trial stopped mid-epoch may have finished one more checkpoint after its end.
        self._sweep(self._recheck)

    def _prune(self, trials: list) -> None:
        # in the experiment's order of trials, as the results list them: ties rank alike
        order = {t.trial_id: n for n, t in enumerate(trials)}
        sources = [TrialSource(trial_id=i, status="TERMINATED", config={},
                               rows=_distinct(self._rows[i]), last_result=self._rows[i][1])
                   for i in sorted(self._kept, key=lambda i: order.get(i, len(order)))]
        ranked = ExperimentResults(sources, {"objective": self.objective.to_dict()},
                                   self.path).ranked_trials()
        best = {t.trial_id for t in ranked[:self.keep]}
        gone = {i: folder for i, folder in self._kept.items() if i not in best}
        if not gone:
            return
        for trial_id, folder in gone.items():
            self._delete_checkpoints(folder)
            del self._kept[trial_id], self._rows[trial_id]
            self._pruned[trial_id] = folder
        self._recheck.update(gone)
        storage.write_text(storage.join(self.path, PRUNED_FILE),
                           PrunedModels(self.keep, dict(self._pruned)).to_jsonl())
        logger.debug("keep_models=%d: deleted the checkpoints of %s.", self.keep,
                     ", ".join(gone))

    def _sweep(self, pruned: dict[str, str]) -> None:
        for folder in pruned.values():
            self._delete_checkpoints(folder)

    def _delete_checkpoints(self, folder: str) -> None:
        trial_path = storage.join(self.path, folder)
        try:
            for name, is_dir in storage.list_dir(trial_path):
                if is_dir and name.startswith("checkpoint_"):
                    storage.delete(storage.join(trial_path, name))
        except OSError as error:  # the search goes on; the next sweep tries again
            logger.warning("keep_models: could not delete a checkpoint of %s: %s",
                           trial_path, error)

    # -- resume ---------------------------------------------------------------------------
    def _read_back(self, trials: list) -> None:
        """Once, on resume: the trials pruned before, and the best and last rows of every
        trial that reported in an earlier run (this run did not see those reports): the
        ended ones with their checkpoints are ranked with the new ones, and a trial the
        crash interrupted keeps its best epoch from before it."""
        if self._read:
            return
        self._read = True
        self._pruned = dict(read_pruned(self.path).trials)
        earlier = {t.trial_id: t for t in trials
                   if t.trial_id not in self._pruned and t.trial_id not in self._rows}
        if not earlier:
            return
        try:
            records = load_results(self.path).trials
        except (OSError, ValueError) as error:  # pruning goes on with what this run sees
            logger.warning("keep_models: could not read the earlier trials of %s: %s",
                           self.path, error)
            return
        for record in records:
            trial = earlier.get(record.trial_id)
            if trial is None or not record.history:
                continue
            for row in record.history:
                self.on_trial_result(0, trials, trial, row)
            if trial.status == "TERMINATED":
                self._kept[record.trial_id] = _folder(trial)



def _folder(trial: Any) -> str:
    """The trial's folder name inside the experiment (Ray's ``Trial.path`` is its full path)."""
    return os.path.basename(str(trial.path).rstrip("/"))


def _distinct(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return rows[1:] if rows[0] is rows[1] else rows
