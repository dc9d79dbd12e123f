"""Warm starts: configurations tried first and an earlier experiment's trials given to the searcher.

``Tuner(points_to_evaluate=[...])`` runs the given configurations first, in order; each point
is checked against the discovered space before any trial starts:

* a name that is not a hyperparameter of the space, a value outside its domain (an ``Int``
  or stepped ``Float`` off its grid, a ``Choice`` value not listed, a ``Fixed`` other than its
  value) or a value for a hyperparameter that the point's own values switch off is refused;
* a hyperparameter the point leaves out takes its default (Keras Tuner's rule for
  ``hp.values``), so ``{"units": 64}`` is a complete point.

``Tuner(warm_start=PATH)`` reads the earlier experiment at ``PATH`` with
:func:`raytune_hpt.results.load` and gives its trials to the searcher without running them
again (Ray's ``Searcher.add_evaluated_point``, which the package's own searchers implement;
the ``hyperopt`` wrapper replays them through its ``points_to_evaluate``):

* a finished (or scheduler-stopped) trial gives its configuration, its objective at its last
  epoch (what a searcher sees live) and its value at every epoch (``intermediate_values``,
  index ``i`` is epoch ``i + 1``); a failed or diverged one gives its configuration as an
  error; trials that never ended (running, pending, paused) are left out;
* the earlier experiment must optimize the same objective in the same direction and have the
  same space (the same names, each with the same type, domain and conditions; defaults may
  differ), else one ``ConfigurationError`` names every mismatch;
* a point of ``points_to_evaluate`` that the earlier experiment already ran is dropped;
* no searcher proposes an earlier configuration again (Ray's wrapped libraries through
  ``searchers/_skip_evaluated.py``).

Every searcher of the registry takes both; a ready Ray ``Searcher`` takes ``warm_start`` only
if it implements ``add_evaluated_point`` and ``points_to_evaluate`` never (give it to its
constructor instead).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

from raytune_hpt import storage
from raytune_hpt._checks import is_finite_number, is_number
from raytune_hpt.errors import ConfigurationError
from raytune_hpt.hyperparameters import Fixed, HyperParameters
from raytune_hpt.results import load as load_results
from raytune_hpt.searchers import point_key

__all__ = ["WarmStart", "check_points", "compare_spaces", "prepare"]

logger = logging.getLogger(__name__)


@dataclass
class WarmStart:
    """What the searcher is created with: points to try first, trials already evaluated.

    ``points`` and each evaluated ``parameters`` hold a value for every hyperparameter but
    ``Fixed`` ones (inactive ones at their default), as Ray's searchers expect; the package's
    own searchers keep only the active values.
    """
    points: list[dict[str, Any]] = field(default_factory=list)
    evaluated: list[dict[str, Any]] = field(default_factory=list)


def prepare(space: HyperParameters, objective: Any, searcher: Any,
            points_to_evaluate: list[dict[str, Any]] | None, warm_start: Any,
            experiment_path: str, overwrite: bool = False) -> WarmStart:
    """Check the points and the earlier experiment against ``space``; what the searcher gets.

    An experiment that is resumed (it exists and ``overwrite`` is off) keeps its searcher's
    saved state, which already holds the warm start: the earlier experiment is not read.

    Raises:
        ConfigurationError: a bad point, an earlier experiment that cannot seed this search
            (missing, another objective, another space), or a ready Ray ``Searcher`` that
            cannot take them.
    """
    points = check_points(points_to_evaluate or [], space)
    resuming = not overwrite and _can_resume(experiment_path)
    if warm_start is not None and resuming:
        logger.info("Resuming %s: its searcher already holds the warm start.", experiment_path)
    evaluated = ([] if warm_start is None or resuming
                 else _evaluated(space, objective, warm_start, experiment_path))
    if evaluated:
        done = {_key(space, e["parameters"]) for e in evaluated}
        kept = [p for p in points if _key(space, p) not in done]
        if len(kept) < len(points):
            logger.warning("%d of points_to_evaluate already ran in the warm-start experiment "
                           "and are left out.", len(points) - len(kept))
        points = kept
    _check_ray_searcher(searcher, points, evaluated)
    return WarmStart(points=points, evaluated=evaluated)


def _can_resume(path: str) -> bool:
    """What ``_tune_run`` decides: the experiment exists and Ray can restore it."""
    if not storage.exists(path):
        return False
    from ray import tune

    return tune.Tuner.can_restore(path)


def _key(space: HyperParameters, point: dict[str, Any]) -> tuple:
    return point_key(space.active_values(point))


def _check_ray_searcher(searcher: Any, points: list, evaluated: list) -> None:
    if isinstance(searcher, (str, dict)):
        return
    if points:
        raise ConfigurationError(
            f"points_to_evaluate works with the searchers named in raytune_hpt.searchers; for "
            f"your own {type(searcher).__name__}, give the points to its constructor.")
    from ray.tune.search import Searcher

    if evaluated and type(searcher).add_evaluated_point is Searcher.add_evaluated_point:
        raise ConfigurationError(
            f"warm_start needs a searcher that implements add_evaluated_point; "
            f"{type(searcher).__name__} does not. Use a searcher by name (e.g. 'bayesopt').")


# -- points ------------------------------------------------------------------------------------
def check_points(points: list[dict[str, Any]], space: HyperParameters,
                 label: str = "points_to_evaluate") -> list[dict[str, Any]]:
    """Each point checked and completed (defaults for what it leaves out).

    Raises:
        ConfigurationError: naming every problem of every point.
    """
    problems, completed = [], []
    for i, point in enumerate(points):
        full, errors = _complete(point, space)
        problems += [f"{label}[{i}]: {error}" for error in errors]
        completed.append(full)
    if problems:
        names = ", ".join(hp.name for hp in space.space) or "none"
        raise ConfigurationError(
            "Each point must give hyperparameters of the search space (its hyperparameters: "
            f"{names}) values inside their domains; " + "; ".join(problems) + ".")
    return completed


def _complete(point: dict[str, Any], space: HyperParameters) -> tuple[dict[str, Any], list[str]]:
    errors = [f"{name!r} is not a hyperparameter of the space" for name in point
              if name not in space]
    values: dict[str, Any] = {}
    for hp in space.space:
        if hp.name in point:
            value, problem = _in_domain(hp, point[hp.name])
            if problem:
                errors.append(problem)
            values[hp.name] = value
    probe = space.copy(values)
    for hp in space.space:
        if hp.name in point and not probe.is_active(hp):
            parents = sorted({c.parent_name for cs in hp.condition_sets for c in cs})
            errors.append(f"{hp.name!r} is inactive with this point's value of "
                          f"{', '.join(map(repr, parents))}; leave it out")
    full = {hp.name: values.get(hp.name, hp.default) for hp in space.space
            if not isinstance(hp, Fixed)}
    return full, errors


def _in_domain(hp: Any, value: Any) -> tuple[Any, str | None]:
    """``value`` as the hyperparameter's own value, or a problem saying what must hold."""
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    allowed = hp.values_list()
    if hp.type_name in ("choice", "boolean", "fixed"):
        for v in allowed:
            if isinstance(v, bool) == isinstance(value, bool) and v == value:
                return v, None
        return value, f"{hp.name!r} must be one of {allowed!r}, but got {value!r}"
    integer = hp.type_name == "int"
    if not is_finite_number(value) or (integer and int(value) != value):
        kind = "an integer" if integer else "a finite number"
        return value, f"{hp.name!r} must be {kind}, but got {value!r}"
    for v in allowed or []:  # a listed value may be off in its last bits (0.1 * 3)
        if math.isclose(v, value, rel_tol=1e-9, abs_tol=1e-12):
            return (float(f"{v:.12g}") if isinstance(v, float) else v), None
    if not hp.min_value <= value <= hp.max_value:
        return value, (f"{hp.name!r} must lie in [{hp.min_value}, {hp.max_value}], but got "
                       f"{value!r}")
    if allowed is None:
        return (int(value) if integer else float(value)), None
    shown = allowed if len(allowed) <= 12 else [*allowed[:5], "...", *allowed[-5:]]
    return value, f"{hp.name!r} must be one of its steps {shown}, but got {value!r}"


# -- the earlier experiment ---------------------------------------------------------------------
def _evaluated(space: HyperParameters, objective: Any, path: Any,
               experiment_path: str) -> list[dict[str, Any]]:
    path = storage.normalize(str(path))
    if path.rstrip("/") == experiment_path.rstrip("/"):
        raise ConfigurationError(
            f"warm_start must name an earlier experiment, not this one ({path}); re-running "
            "an experiment with the same name resumes it.")
    try:
        earlier = load_results(path)  # plain data only: an earlier experiment runs no code
    except (FileNotFoundError, ValueError) as error:
        raise ConfigurationError(f"warm_start: {error}") from None
    mine, theirs = objective, earlier.objective
    if getattr(mine, "is_pareto", False):
        raise ConfigurationError("warm_start seeds a search of one objective, but this search "
                                 f"has a Pareto objective of {mine.metric_names()}.")
    if mine.to_dict() != theirs.to_dict():
        raise ConfigurationError(
            f"warm_start: the earlier experiment at {path} optimized {_describe(theirs)}, "
            f"this search optimizes {_describe(mine)}; its trials can seed only a search of "
            "the same objective (the same metric in the same direction).")
    mismatches = compare_spaces(space, earlier.space)
    if mismatches:
        raise ConfigurationError(
            f"warm_start: the earlier experiment at {path} has another search space; the "
            "same hyperparameters with the same types, domains and conditions must hold, but "
            + "; ".join(mismatches) + ".")
    return _observations(space, earlier)


def _describe(objective: Any) -> str:
    return f"{objective.name!r} ({objective.direction})"


def compare_spaces(space: HyperParameters, earlier: HyperParameters) -> list[str]:
    """One line per hyperparameter that differs between ``space`` and ``earlier``."""
    mine, theirs = {hp.name: hp for hp in space.space}, {hp.name: hp for hp in earlier.space}
    lines = [f"{name!r} is only in the earlier experiment ({theirs[name]!r})"
             for name in theirs if name not in mine]
    lines += [f"{name!r} is only in this search ({mine[name]!r})"
              for name in mine if name not in theirs]
    for name in mine.keys() & theirs.keys():
        a, b = _domain(mine[name]), _domain(theirs[name])
        if a != b:
            lines.append(f"{name!r} is {mine[name]!r} here and {theirs[name]!r} in the "
                         "earlier experiment")
        elif _conditions(mine[name]) != _conditions(theirs[name]):
            lines.append(f"{name!r} is active {_conditions(mine[name])} here and "
                         f"{_conditions(theirs[name])} in the earlier experiment")
    return sorted(lines)


def _domain(hp: Any) -> dict[str, Any]:
    config = hp.get_config()
    config.pop("default", None), config.pop("condition_sets", None)
    return config


def _conditions(hp: Any) -> str:
    """``"always"`` or ``"when opt in ['sgd'] or ..."``, the same for the same conditions."""
    sets = sorted(" and ".join(sorted(f"{c.parent_name} in {list(c.values)!r}" for c in cs))
                  for cs in hp.condition_sets)
    return "always" if "" in sets else "when " + " or ".join(sets)


def _observations(space: HyperParameters, earlier: Any) -> list[dict[str, Any]]:
    name = earlier.objective.name
    observations, skipped = [], 0
    for trial in earlier.trials:
        if trial.status not in ("finished", "stopped", "failed", "diverged"):
            skipped += 1
            continue
        parameters, errors = _complete(trial.hyperparameters, space)
        if errors:  # a trial that grew its own hyperparameters: nothing to learn from it
            skipped += 1
            continue
        value = trial.metrics.get(name)
        if trial.status in ("failed", "diverged") or not is_finite_number(value):
            observations.append({"parameters": parameters, "value": None, "error": True})
            continue
        observations.append({"parameters": parameters, "value": float(value), "error": False,
                             "intermediate_values": _per_epoch(trial.history, name)})
    if skipped:
        logger.warning("warm_start: %d trials of %s had not ended and are left out.", skipped,
                       earlier.path)
    logger.info("warm_start: %d trials of %s given to the searcher.", len(observations),
                earlier.path)
    return observations


def _per_epoch(history: list[dict[str, Any]], name: str) -> list[float] | None:
    """The objective at epochs 1..n, or ``None`` when an epoch is missing or not finite."""
    by_epoch = {row.get("epoch"): row.get(name) for row in history}
    epochs = sorted(e for e in by_epoch if is_number(e, integer=True))
    if not epochs or epochs != list(range(1, len(epochs) + 1)):
        return None
    values = [by_epoch[e] for e in epochs]
    return [float(v) for v in values] if all(is_finite_number(v) for v in values) else None
