"""Ray's own TPE searchers (hyperopt, Optuna) over the discovered space; optional extras."""

from __future__ import annotations

from typing import Any

from raytune_hpt.hyperparameters import HyperParameters

__all__ = ["hyperopt_searcher", "optuna_searcher"]


def _require(module: str, extra: str) -> None:
    try:
        __import__(module)
    except ImportError as error:
        raise ImportError(
            f"The '{extra}' searcher needs the {module} package: "
            f"pip install 'raytune-hpt[{extra}]'."
        ) from error


def hyperopt_searcher(space: HyperParameters, metric: str, mode: str, seed: int | None = None,
                      n_initial_points: int = 5) -> Any:
    """Tree-structured Parzen estimators from hyperopt, via ``ray.tune.search.hyperopt``."""
    _require("hyperopt", "hyperopt")
    from ray.tune.search.hyperopt import HyperOptSearch

    return HyperOptSearch(space=space.to_ray_space(), metric=metric, mode=mode,
                          n_initial_points=n_initial_points, random_state_seed=seed)


def optuna_searcher(space: HyperParameters, metric: str, mode: str, seed: int | None = None,
                    n_startup_trials: int = 5) -> Any:
    """Optuna's TPE sampler, via ``ray.tune.search.optuna``."""
    _require("optuna", "optuna")
    import optuna
    from ray.tune.search.optuna import OptunaSearch

    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=n_startup_trials)
    return OptunaSearch(space=space.to_ray_space(), metric=metric, mode=mode, sampler=sampler)
