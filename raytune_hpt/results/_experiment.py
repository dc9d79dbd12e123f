"""Reading an experiment: trials, the best one, its model, a table.

One module reads results for everybody (``Tuner``, the ``best``/``results``/``resume``
commands): a finished run's ``ResultGrid``, or Ray's standard layout on disk or in object
storage (``<storage_path>/<name>/<trial>/{result.json,progress.csv,checkpoint_*}``) plus the
``raytune_hpt.json`` the Tuner writes beside it (objective and space), read as plain data
only (``_files.py``: never a pickle).

A trial's score is its objective at its best epoch (Keras Tuner's rule) and its model is
the checkpoint of that epoch, so evaluating the best model reproduces the best score.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from raytune_hpt import storage
from raytune_hpt._checks import is_finite_number
from raytune_hpt._format import best_trial_lines, format_value
from raytune_hpt._record import (
    METADATA_FILE,
    TRIAL_ERROR,
    TRIAL_TRACEBACK,
)
from raytune_hpt.hyperparameters import HyperParameters
from raytune_hpt.objective import Objective
from raytune_hpt.results._checkpoints import checkpoint_folder, model_from
from raytune_hpt.results._ended import diverged_text, ended_lines, ended_status, error_text
from raytune_hpt.results._files import TrialSource, from_result_grid, read_trials
from raytune_hpt.results._kept import PrunedModels, read_pruned
from raytune_hpt.results._keys import is_metric_key

_STATUS = {"TERMINATED": "finished", "ERROR": "failed", "RUNNING": "running",
           "PENDING": "pending", "PAUSED": "paused"}

__all__ = ["ExperimentResults", "TrialRecord", "load", "read_metadata"]


@dataclass
class TrialRecord:
    """One trial as a person reads it."""

    trial_id: str
    status: str  # finished|stopped|diverged|failed|running|pending|paused|not started
    hyperparameters: dict[str, Any]
    metrics: dict[str, float]  # at the last epoch run
    best_metrics: dict[str, float]  # at the epoch where the objective was best
    epochs: int
    wall_time: float
    error: str | None = None
    checkpoint: str | None = None  # the best epoch's checkpoint folder (path or URI)
    model_pruned: bool = False  # its checkpoints were deleted under keep_models
    node_id: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list, repr=False)

    def score(self, objective: Objective) -> float:
        value = self.best_metrics.get(objective.name) if self.status != "diverged" else None
        return value if isinstance(value, float) and math.isfinite(value) else math.nan


def _finite(value: Any) -> bool:
    return is_finite_number(value)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _user_metrics(row: dict[str, Any]) -> dict[str, float]:
    """The metrics of one report, without Ray's bookkeeping and the config columns."""
    return {k: float(v) for k, v in row.items() if _finite(v) and is_metric_key(k)}


class ExperimentResults:
    """All trials of one experiment.

    Args:
        trials: each trial as read from plain files (:func:`load`) or from the ``ResultGrid``
            a search just returned (:meth:`from_result_grid`).
        metadata: what the Tuner recorded: objective, space, searcher, epochs; ``"ended"``
            once the search has ended (a paused trial is then one HyperBand stopped).
        path: the experiment's folder or URI.
        result_grid: Ray's ``ResultGrid`` when the results come from a search this process
            ran; None when read from storage (reading one from storage unpickles it).
        pruned: the trials whose checkpoints ``keep_models`` deleted (``_kept.py``).
    """

    def __init__(self, trials: list[TrialSource], metadata: dict[str, Any], path: str,
                 result_grid: Any = None, pruned: PrunedModels | None = None) -> None:
        self.result_grid = result_grid
        self.pruned = pruned or PrunedModels()
        self.metadata = metadata
        self.objective = Objective.coerce(metadata["objective"])
        self.space = HyperParameters.from_config(metadata.get("space", {"space": []}))
        self.path = path
        self.ended = bool(metadata.get("ended"))
        self.trials = [self._record(source) for source in trials]

    @classmethod
    def from_result_grid(cls, result_grid: Any, metadata: dict[str, Any]) -> ExperimentResults:
        """The results of a search this process just ran (its own, trusted ``ResultGrid``)."""
        return cls(from_result_grid(result_grid), {**metadata, "ended": True},
                   result_grid.experiment_path, result_grid=result_grid,
                   pruned=read_pruned(result_grid.experiment_path))

    def _best_checkpoint(self, source: TrialSource) -> str | None:
        name, mode = self.objective.name, self.objective.direction
        finite = [(c, m) for c, m in source.checkpoints if _finite(m.get(name))]
        if finite:
            return (max if mode == "max" else min)(finite, key=lambda cm: cm[1][name])[0]
        return source.latest_checkpoint

    def _status(self, source: TrialSource, epochs: int, metrics: dict[str, float],
                failed_in_trial: str | None) -> str:
        status = _STATUS.get(source.status, source.status.lower())
        max_epochs = self.metadata.get("epochs")
        if failed_in_trial:
            return "failed"
        ended = ended_status(status, epochs, metrics, (source.rows or [source.last_result])[-1])
        if ended:
            return ended
        if (status == "finished" and max_epochs and epochs < max_epochs
                and _finite(metrics.get(self.objective.name))):
            return "stopped"
        if status == "paused" and self.ended:  # HyperBand never promoted it
            return "stopped"
        return status

    def _record(self, source: TrialSource) -> TrialRecord:
        name, mode = self.objective.name, self.objective.direction
        rows = source.rows
        last = rows[-1] if rows else source.last_result
        metrics = _user_metrics(last)
        scored = [r for r in rows if _finite(r.get(name))]
        best_row = (max if mode == "max" else min)(scored, key=lambda r: r[name]) if scored else {}
        best_metrics = _user_metrics(best_row)
        if rows and not scored and name in (rows[-1] or {}):
            best_metrics = {name: math.nan}
        epochs = int(max((r.get("epoch") or 0) for r in rows)) if rows else 0
        failed_in_trial = last.get(TRIAL_ERROR)  # FailedTrialError: reported, not raised
        failed_in_trial = failed_in_trial if isinstance(failed_in_trial, str) else None
        return TrialRecord(
            trial_id=source.trial_id,
            status=self._status(source, epochs, metrics, failed_in_trial),
            hyperparameters=(
                self.space.active_values(source.config) if self.space.space
                else dict(source.config)
            ),
            metrics=metrics,
            best_metrics=best_metrics,
            epochs=epochs,
            wall_time=float(last.get("time_total_s") or 0.0) if _finite(
                last.get("time_total_s")) else 0.0,
            error=(error_text(source.error) or _text(last.get(TRIAL_TRACEBACK))
                   or failed_in_trial or diverged_text(last)),
            checkpoint=(None if source.trial_id in self.pruned.trials
                        else self._best_checkpoint(source)),
            model_pruned=source.trial_id in self.pruned.trials,
            node_id=next((r["node_id"] for r in reversed(rows)
                          if isinstance(r.get("node_id"), str) and r["node_id"]), None),
            history=rows,
        )

    # -- ranking ------------------------------------------------------------------------
    def ranked_trials(self) -> list[TrialRecord]:
        """Trials with a finite objective, best first; NaN/inf and failed trials are never
        ranked (a trial that failed after a good epoch did not finish its training).

        For a Pareto objective: by Pareto rank (the front first), then by the first
        objective; trials without a finite value of every objective are not ranked."""
        scored = [t for t in self.trials
                  if t.status != "failed" and not math.isnan(t.score(self.objective))]
        ordered = sorted(scored, key=lambda t: t.score(self.objective),
                         reverse=self.objective.direction == "max")
        if self.objective.is_pareto:
            ranks = self.pareto_ranks()
            ordered = sorted((t for t in ordered if ranks[t.trial_id] is not None),
                             key=lambda t: ranks[t.trial_id])  # type: ignore[arg-type,return-value]
        return ordered

    def pareto_ranks(self) -> dict[str, int | None]:
        """Each trial's non-domination rank over the objective's terms (0: the Pareto front;
        None: a value missing). A single objective has one term: rank = place among ties."""
        from raytune_hpt.results._pareto import pareto_ranks, trial_point

        cached = getattr(self, "_pareto_ranks", None)  # sorting is quadratic in the trials
        if cached is not None and cached[0] is self.trials and len(cached[1]) == len(self.trials):
            return cached[1]
        terms = self.objective.terms if self.objective.is_pareto else (self.objective,)
        ranks = pareto_ranks([trial_point(t, terms) for t in self.trials],
                             [t.direction for t in terms])
        by_id = {t.trial_id: r for t, r in zip(self.trials, ranks, strict=True)}
        self._pareto_ranks = (self.trials, by_id)
        return by_id

    def pareto_front(self) -> list[TrialRecord]:
        """The non-dominated trials (rank 0), by the first objective; see :meth:`pareto_ranks`."""
        ranks = self.pareto_ranks()
        return [t for t in self.ranked_trials() if ranks[t.trial_id] == 0]

    def best_trials(self) -> list[TrialRecord]:
        """The Pareto front for a Pareto objective, else ``[best_trial()]``."""
        return self.pareto_front() if self.objective.is_pareto else [self.best_trial()]

    def best_trial(self) -> TrialRecord:
        ranked = self.ranked_trials()
        if not ranked:
            failed = [t for t in self.trials if t.error]
            reason = f" The first error: {failed[0].error}" if failed else ""
            raise ValueError(
                f"No trial of {self.path} reported a finite '{self.objective.name}'.{reason}"
            )
        return ranked[0]

    def best_hyperparameters(self, num_trials: int = 1) -> list[dict[str, Any]]:
        """The best ``num_trials`` trials' values; for a Pareto objective at least the whole
        front (``Tuner.get_best_hyperparameters()`` returns the front)."""
        if self.objective.is_pareto:
            num_trials = max(num_trials, len(self.pareto_front()))
        return [dict(t.hyperparameters) for t in self.ranked_trials()[:num_trials]]

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for trial in self.trials:
            counts[trial.status] = counts.get(trial.status, 0) + 1
        return counts

    def trials_at_once(self) -> int:
        """The most trials that ran at the same time (from when each started or resumed to
        its last report before a pause or the end)."""
        from raytune_hpt.results._intervals import max_trials_at_once, trial_runs

        return max_trials_at_once([run for t in self.trials for run in trial_runs(t.history)])

    # -- models ---------------------------------------------------------------------------
    def load_model(self, trial: TrialRecord, build: Callable[[], Any] | None = None) -> Any:
        """The trial's model at its best epoch.

        Args:
            build: builds the same model (weights and optimizer state are then loaded into
                it, so custom layers need no registration); without it the saved
                ``.keras`` file is loaded as it is.
        """
        self.require_models([trial], f"load_model(trial {trial.trial_id})")
        if trial.checkpoint is None:
            raise ValueError(f"Trial {trial.trial_id} has no checkpoint.")
        with checkpoint_folder(trial.checkpoint, self.result_grid) as folder:
            return model_from(folder, build)

    def require_models(self, trials: list[TrialRecord], asked: str) -> None:
        """Raise one :class:`ModelNotKeptError` if ``keep_models`` deleted any of their models."""
        if any(t.model_pruned for t in trials):
            raise self.pruned.not_kept([t.trial_id for t in trials], asked)

    def best_model(self) -> Any:
        return self.load_model(self.best_trial())

    def export_best_model(self, path: str) -> str:
        """Save the best model as a ``.keras`` file at ``path``."""
        if not path.endswith(".keras"):
            raise ValueError(f"The exported model's path must end with '.keras', but got {path!r}.")
        self.best_model().save(path)
        return path

    # -- tables -----------------------------------------------------------------------------
    def to_table(self) -> Any:
        """One row per trial as a ``pyarrow.Table``: id, status, each hyperparameter,
        final and best value of every metric, epochs, wall time, error, model kept or not."""
        from raytune_hpt.results._table import results_table

        return results_table(self)

    def summary(self, num_trials: int = 10) -> str:
        """A readable report: counts, the best trial, the top trials (the Pareto front)."""
        if self.objective.is_pareto:
            from raytune_hpt.results._pareto import front_lines

            counts = ", ".join(f"{n} {s}" for s, n in sorted(self.counts().items()))
            return "\n".join([f"Experiment: {self.path}",
                              f"Objective: {self.objective!r}   Trials: {len(self.trials)} "
                              f"({counts})", *front_lines(self, num_trials)])
        name = self.objective.name
        counts = ", ".join(f"{n} {s}" for s, n in sorted(self.counts().items()))
        lines = [f"Experiment: {self.path}",
                 f"Objective: {name} ({self.objective.direction})   Trials: {len(self.trials)} "
                 f"({counts}); at most {self.trials_at_once()} at once"]
        ranked = self.ranked_trials()
        if ranked:
            best = ranked[0]
            at = int(best.best_metrics.get("epoch", best.epochs))
            lines += best_trial_lines(best, self.objective, note=f" at epoch {at}")
            lines.append("")
            hp_names = list(best.hyperparameters)
            header = ["trial", "status", "epochs", name, *hp_names]
            table = [header] + [
                [t.trial_id, t.status, str(t.epochs), f"{t.score(self.objective):.4f}",
                 *(format_value(t.hyperparameters.get(h, "-")) for h in hp_names)]
                for t in ranked[:num_trials]
            ]
            widths = [max(len(row[i]) for row in table) for i in range(len(header))]
            lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
                      for row in table]
        failed = [t for t in self.trials if t.status == "failed"]
        for t in failed[:3]:
            lines.append(f"Failed trial {t.trial_id}: {t.error}")
        lines += ended_lines(self.trials, self.metadata)
        return "\n".join(lines)

    def report(self, path: str, objectives: list[Any] | None = None) -> str:
        """Write one self-contained HTML report (plots and the trial table) to ``path``.

        Needs plotly (``pip install 'raytune-hpt[report]'``); see ``_report.write_report``.
        """
        from raytune_hpt.results._report import write_report

        return write_report(self, path, objectives)


def load(path: str) -> ExperimentResults:
    """Read an experiment from ``<storage_path>/<name>`` (a folder or an ``s3://`` URI).

    Only plain data is read (``raytune_hpt.json``, Ray's JSON state fields, ``result.json``,
    ``progress.csv``, ``params.json``, ``error.txt``): a folder from someone else runs no
    code (docs/security.md). ``result_grid`` is None; for Ray's own ``ResultGrid`` of a
    folder you trust, use ``ray.tune.ExperimentAnalysis`` (it unpickles trial state).

    Raises:
        FileNotFoundError: ``path`` has no ``raytune_hpt.json``.
        ValueError: a state or metadata file is not the JSON the package and Ray write.
    """
    path = storage.normalize(path)
    metadata = read_metadata(path)
    return ExperimentResults(read_trials(path), metadata, path=path, pruned=read_pruned(path))


def read_metadata(path: str) -> dict[str, Any]:
    """The package's ``raytune_hpt.json`` of the experiment at ``path``, checked."""
    metadata_path = storage.join(path, METADATA_FILE)
    if not storage.exists(metadata_path):
        raise FileNotFoundError(
            f"{path} is not a raytune_hpt experiment: {METADATA_FILE} is missing."
        )
    try:
        metadata = json.loads(storage.read_text(metadata_path))
    except ValueError as error:
        raise ValueError(f"{metadata_path} is not valid JSON ({error}).") from None
    if not isinstance(metadata, dict) or "objective" not in metadata:
        raise ValueError(f"{metadata_path} must be a JSON object with an 'objective'.")
    return metadata
