"""What a Pareto (multi-objective) search may be combined with, checked before anything starts.

A :class:`~raytune_hpt.objective.Pareto` objective ranks no trial above another when neither
dominates, so a scheduler that stops "the worse half" has nothing to stop by: ASHA,
HyperBand and the median rule are refused with one error. FIFO runs every trial to the end.
Searchers: random and grid ignore the metrics; ``bayesopt`` (ParEGO scalarisations),
``optuna`` and ``optuna_gp`` (Optuna's multi-objective samplers) take the list of metrics;
``hyperopt`` cannot and is refused. A ready Ray ``Searcher`` or ``TrialScheduler`` is the
user's own and is used as it is.

Ray's ``TuneConfig`` takes one metric: for a Pareto objective it gets none (the searcher is
given the lists), and checkpoints are scored on the first objective (the epoch kept as a
trial's best).
"""

from __future__ import annotations

from typing import Any

from raytune_hpt._registry import spec_name
from raytune_hpt.errors import ConfigurationError
from raytune_hpt.objective import Objective

__all__ = ["PARETO_SCHEDULERS", "PARETO_SEARCHERS", "check_pareto_search", "tune_metric"]

PARETO_SEARCHERS = ("bayesopt", "grid", "optuna", "optuna_gp", "random")
PARETO_SCHEDULERS = ("fifo",)


def check_pareto_search(objective: Objective, searcher: Any, scheduler: Any) -> None:
    """Refuse a searcher or scheduler that cannot serve a Pareto objective.

    Raises:
        ConfigurationError: a scheduler other than ``fifo`` or the ``hyperopt`` searcher with
            a Pareto objective.
    """
    if not objective.is_pareto:
        return
    terms = ", ".join(objective.metric_names())
    scheduler_name = spec_name(scheduler)
    if scheduler_name is not None and scheduler_name not in PARETO_SCHEDULERS:
        raise ConfigurationError(
            f"A Pareto objective ({terms}) needs scheduler 'fifo': '{scheduler_name}' stops "
            "trials that rank low on one metric, and a Pareto search ranks no trial above "
            f"another it does not dominate. Got scheduler={scheduler!r}."
        )
    searcher_name = spec_name(searcher)
    if searcher_name is not None and searcher_name not in PARETO_SEARCHERS:
        raise ConfigurationError(
            f"A Pareto objective ({terms}) needs a searcher among {list(PARETO_SEARCHERS)} "
            f"(a multi-objective rule); got searcher={searcher!r}."
        )


def tune_metric(objective: Objective) -> dict[str, Any]:
    """``metric`` and ``mode`` for Ray's ``TuneConfig``: none for a Pareto objective."""
    if objective.is_pareto:
        return {"metric": None, "mode": None}
    return {"metric": objective.name, "mode": objective.mode}
