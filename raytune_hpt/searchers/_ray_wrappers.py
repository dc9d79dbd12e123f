"""Ray's own TPE searchers (hyperopt, Optuna) over the discovered space; optional extras.

Both take ``points_to_evaluate`` (Optuna enqueues them: ``Study.enqueue_trial``). Trials run
elsewhere (a warm start) reach ``OptunaSearch`` through its ``add_evaluated_point``;
``HyperOptSearch`` has none, so they are put first in its ``points_to_evaluate`` and replayed
at once (suggested, then completed with their known value), before Ray asks for a trial.
"""

from __future__ import annotations

from typing import Any

from raytune_hpt.hyperparameters import HyperParameters

__all__ = ["hyperopt_searcher", "optuna_searcher"]


def _require(module: str, searcher: str, how: str | None = None) -> None:
    """Import ``module`` or raise one ImportError saying how to install it."""
    try:
        __import__(module)
    except ImportError as error:
        how = how or f"pip install 'raytune-hpt[{searcher}]'."
        raise ImportError(
            f"The '{searcher}' searcher needs the {module} package: {how}"
        ) from error


def hyperopt_searcher(space: HyperParameters, metric: str, mode: str, seed: int | None = None,
                      n_initial_points: int = 5,
                      points_to_evaluate: list[dict[str, Any]] | None = None,
                      evaluated: list[dict[str, Any]] | None = None) -> Any:
    """Tree-structured Parzen estimators from hyperopt, via ``ray.tune.search.hyperopt``.

    ``evaluated``: ``add_evaluated_point`` arguments of trials run elsewhere, replayed.
    """
    _require("hyperopt", "hyperopt")
    from ray.tune.search.hyperopt import HyperOptSearch

    evaluated = evaluated or []
    # HyperOptSearch converts its points in place: give it copies
    points = [dict(e["parameters"]) for e in evaluated] + [dict(p) for p in
                                                           points_to_evaluate or []]
    searcher = HyperOptSearch(space=space.to_ray_space(), metric=metric, mode=mode,
                              n_initial_points=n_initial_points, random_state_seed=seed,
                              points_to_evaluate=points or None)
    for i, earlier in enumerate(evaluated):
        trial_id = f"evaluated_{i}"
        searcher.suggest(trial_id)
        result = None if earlier.get("error") else {metric: earlier["value"]}
        searcher.on_trial_complete(trial_id, result, error=bool(earlier.get("error")))
    return searcher


def optuna_searcher(space: HyperParameters, metric: str | list[str], mode: str | list[str],
                    seed: int | None = None, n_startup_trials: int = 5, sampler: str = "tpe",
                    population_size: int | None = None, max_trials: int | None = None,
                    points_to_evaluate: list[dict[str, Any]] | None = None) -> Any:
    """Optuna's TPE (or NSGA-II) sampler, via ``ray.tune.search.optuna``.

    ``metric`` and ``mode`` may be lists (a Pareto objective): both samplers are then
    multi-objective. ``sampler="nsga2"``'s ``population_size`` defaults to Optuna's 50, but
    at most a third of ``max_trials`` (at least 4), so that a small budget sees three
    generations instead of one random population.
    """
    _require("optuna", "optuna")
    import optuna
    from ray.tune.search.optuna import OptunaSearch

    if sampler not in ("tpe", "nsga2"):
        raise ValueError(f"searcher 'optuna' option sampler must be 'tpe' or 'nsga2', "
                         f"but got {sampler!r}.")
    if sampler == "nsga2":
        size = population_size or max(4, min(50, (max_trials or 150) // 3))
        chosen = optuna.samplers.NSGAIISampler(seed=seed, population_size=size)
    else:
        chosen = optuna.samplers.TPESampler(seed=seed, n_startup_trials=n_startup_trials)
    return OptunaSearch(space=space.to_ray_space(), metric=metric, mode=mode, sampler=chosen,
                        points_to_evaluate=points_to_evaluate or None)
