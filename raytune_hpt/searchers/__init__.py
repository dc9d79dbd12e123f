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
| ``optuna`` | TPE or NSGA-II via Ray's ``OptunaSearch`` (extra ``optuna``) | ``_ray_wrappers`` |
| ``optuna_gp`` | Optuna's ``GPSampler`` via ``OptunaSearch`` (optuna + PyTorch) | ``_optuna_gp`` |

For a Pareto objective ``metric`` and ``mode`` are lists: ``bayesopt`` scalarises them
(ParEGO, ``_parego``), Optuna's samplers are multi-objective, random and grid ignore them
(``docs/pareto.md``).

Which to pick for which budget: ``docs/choosing.md``. Every one takes ``points_to_evaluate``
(tried first, in order) and trials run elsewhere (a warm start: ``create_searcher``'s
``evaluated``), never proposed again (``_skip_evaluated`` for Ray's wrapped libraries);
``raytune_hpt.driver._warm_start`` checks both against the space.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from typing import TYPE_CHECKING, Any

from raytune_hpt._registry import check_options, split_spec
from raytune_hpt.errors import ConfigurationError
from raytune_hpt.searchers._keys import point_key

if TYPE_CHECKING:
    from ray.tune.search import Searcher

    from raytune_hpt.hyperparameters import HyperParameters

__all__ = ["SEARCHERS", "create_searcher", "point_key", "validate_searcher"]

logger = logging.getLogger(__name__)

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
_CONTEXT = ("space", "metric", "mode", "seed", "max_trials", "points_to_evaluate", "evaluated")


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
    points_to_evaluate: list[dict[str, Any]] | None = None,
    evaluated: list[dict[str, Any]] | None = None,
) -> Searcher:
    """Build the searcher ``spec`` names over ``space``.

    Args:
        spec: a name from :data:`SEARCHERS`, ``{"type": name, **options}`` or a Ray ``Searcher``.
        space: the discovered hyperparameters.
        metric: the objective's name (a list of names for a Pareto objective).
        mode: ``"min"`` or ``"max"``.
        seed: makes the sequence of suggestions repeatable.
        max_trials: the trial budget (some searchers plan with it).
        points_to_evaluate: configurations to try first, in order (every searcher here
            takes them; checked by :mod:`raytune_hpt.driver._warm_start`).
        evaluated: ``Searcher.add_evaluated_point`` arguments of trials run elsewhere (a
            warm start), given to the searcher before its first suggestion.

    Raises:
        ValueError: for an unknown name or option, or a space the searcher cannot handle.
    """
    if _is_ray_searcher(spec):
        searcher, accepted = spec, {}
    else:
        name, options = _split(spec)  # options were checked by validate_searcher
        factory = _factory(name)
        accepted = inspect.signature(factory).parameters
        if points_to_evaluate and "points_to_evaluate" not in accepted:
            raise ConfigurationError(f"searcher '{name}' does not take points_to_evaluate.")
        context = {"space": space, "metric": metric, "mode": mode, "seed": seed,
                   "max_trials": max_trials, "points_to_evaluate": points_to_evaluate or None,
                   "evaluated": evaluated or None}
        kwargs = {k: v for k, v in context.items() if k in accepted}
        searcher = factory(**kwargs, **options)
    if "evaluated" not in accepted:  # Ray's interface for trials run elsewhere
        for point in evaluated or []:
            try:
                searcher.add_evaluated_point(**point)
            except ValueError as error:  # outside the domain the wrapped library was given
                logger.warning("The searcher refused an earlier trial %s: %s",
                               point["parameters"], error)
    if evaluated and not getattr(searcher, "skips_evaluated", False):
        from raytune_hpt.searchers._skip_evaluated import SkipEvaluated

        searcher = SkipEvaluated(searcher, space, evaluated)  # Ray's libraries re-propose
    return searcher
