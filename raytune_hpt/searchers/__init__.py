"""Searchers by name: which hyperparameter values the next trial gets.

Every searcher is a Ray Tune ``Searcher`` built from the discovered
:class:`~raytune_hpt.HyperParameters` space. A name (``"bayesopt"``) or a dict
(``{"type": "bayesopt", "random_initial": 4}``) picks one from :data:`SEARCHERS`;
a ready Ray ``Searcher`` instance is used as it is.

| name | what | file |
|---|---|---|
| ``random`` | seeded uniform sampling, conditional branches respected | ``_basic`` |
| ``grid`` | every combination of active values, in order | ``_basic`` |
| ``bayesopt`` | GP BO, log EI, mixed and conditional spaces; fitted per rung | ``_bayesopt`` |
| | under ASHA/HyperBand (BOHB's rule); numpy/scipy only | |
| ``hyperopt`` | TPE through Ray's ``HyperOptSearch`` (extra ``hyperopt``) | ``_ray_wrappers`` |
| ``optuna`` | TPE through Ray's ``OptunaSearch`` (extra ``optuna``) | ``_ray_wrappers`` |
| ``optuna_gp`` | Optuna's ``GPSampler`` via ``OptunaSearch`` (optuna + PyTorch) | ``_optuna_gp`` |

Which to pick for which budget: ``docs/choosing.md``.
"""

from __future__ import annotations

import importlib
import inspect
from typing import TYPE_CHECKING, Any

from raytune_hpt._registry import check_options, split_spec

if TYPE_CHECKING:
    from ray.tune.search import Searcher

    from raytune_hpt.hyperparameters import HyperParameters

__all__ = ["SEARCHERS", "create_searcher", "validate_searcher"]

# name -> "module:factory"; imported only when chosen.
SEARCHERS: dict[str, str] = {
    "bayesopt": "raytune_hpt.searchers._bayesopt:BayesOptSearcher",
    "grid": "raytune_hpt.searchers._basic:GridSearcher",
    "hyperopt": "raytune_hpt.searchers._ray_wrappers:hyperopt_searcher",
    "optuna": "raytune_hpt.searchers._ray_wrappers:optuna_searcher",
    "optuna_gp": "raytune_hpt.searchers._optuna_gp:optuna_gp_searcher",
    "random": "raytune_hpt.searchers._basic:RandomSearcher",
}


# What create_searcher passes itself; not user options.
_CONTEXT = ("space", "metric", "mode", "seed", "max_trials")


def _split(spec: Any) -> tuple[str, dict[str, Any]]:
    return split_spec(spec, SEARCHERS, "searcher", "ray.tune.search.Searcher")


def _factory(name: str) -> Any:
    module, attribute = SEARCHERS[name].split(":")
    return getattr(importlib.import_module(module), attribute)


def validate_searcher(spec: Any) -> None:
    """Check a searcher spec (name and option names) without building anything."""
    if _is_ray_searcher(spec):
        return
    name, options = _split(spec)
    check_options(_factory(name), options, "searcher", name, context=_CONTEXT)


def _is_ray_searcher(spec: Any) -> bool:
    try:
        from ray.tune.search import SearchAlgorithm, Searcher
    except ImportError:  # pragma: no cover - ray is a dependency
        return False
    return isinstance(spec, (Searcher, SearchAlgorithm))


def create_searcher(
    spec: Any,
    *,
    space: HyperParameters,
    metric: str,
    mode: str,
    seed: int | None = None,
    max_trials: int | None = None,
) -> Searcher:
    """Build the searcher ``spec`` names over ``space``.

    Args:
        spec: a name from :data:`SEARCHERS`, ``{"type": name, **options}`` or a Ray ``Searcher``.
        space: the discovered hyperparameters.
        metric: the objective's name.
        mode: ``"min"`` or ``"max"``.
        seed: makes the sequence of suggestions repeatable.
        max_trials: the trial budget (some searchers plan with it).

    Raises:
        ValueError: for an unknown name or option, or a space the searcher cannot handle.
    """
    if _is_ray_searcher(spec):
        return spec
    name, options = _split(spec)  # options were checked by validate_searcher
    factory = _factory(name)
    accepted = inspect.signature(factory).parameters
    context = {"space": space, "metric": metric, "mode": mode, "seed": seed,
               "max_trials": max_trials}
    kwargs = {k: v for k, v in context.items() if k in accepted}
    return factory(**kwargs, **options)
