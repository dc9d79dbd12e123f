"""Trial schedulers by name: which running trials to stop (or pause) early.

``fifo`` runs every trial to the end; ``asha``, ``async_hyperband``, ``hyperband`` and
``median`` cut bad trials using the per-epoch reports; ``pbt`` and ``pb2`` (population-based
training, ``_pbt.py``, docs/pbt.md) restart bad trials from good ones' checkpoints with
perturbed values. Which to pick: ``docs/choosing.md``.
``hyperband`` is Ray's synchronous ``HyperBandScheduler`` with its brackets in the paper's
(and Keras Tuner's) order, the most aggressive first (``_ray_compat.aggressive_first_hyperband``;
Ray's own order starts with plain full-budget trials).
Time is counted in epochs (the ``epoch`` key every trial reports), so ``max_t`` defaults to
the search's ``epochs``.

A name (``"asha"``) or a dict (``{"type": "asha", "grace_period": 1}``) picks one from
:data:`SCHEDULERS`; a Ray ``TrialScheduler`` instance is used as it is.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from raytune_hpt._checks import is_number
from raytune_hpt._lazy import lazy_attributes
from raytune_hpt._record import EPOCH
from raytune_hpt._registry import check_options, split_spec
from raytune_hpt.errors import ConfigurationError

__all__ = [
    "SCHEDULERS",
    "TIME_ATTR",
    "PBTOptions",
    "create_scheduler",
    "explorable",
    "prepare_population",
    "validate_scheduler",
]

#: Time is counted in epochs: the field every trial reports.
TIME_ATTR = EPOCH


def _positive(name: str, value: Any, *, integer: bool = True, above: float = 0) -> None:
    if not is_number(value, integer=integer) or not value > above:
        what = "an integer" if integer else "a number"
        raise ConfigurationError(
            f"scheduler option {name} must be {what} > {above}, but got {value!r}.")


def _fifo(epochs: int) -> Any:
    from ray.tune.schedulers import FIFOScheduler

    return FIFOScheduler()


def _asha(epochs: int, max_t: int | None = None, grace_period: int = 1,
          reduction_factor: float = 3, brackets: int = 1) -> Any:
    """Asynchronous successive halving: stops trials below the top 1/reduction_factor."""
    from ray.tune.schedulers import ASHAScheduler

    max_t = max_t or epochs
    _positive("max_t", max_t)
    _positive("grace_period", grace_period)
    _positive("reduction_factor", reduction_factor, integer=False, above=1)
    _positive("brackets", brackets)
    if grace_period > max_t:
        raise ConfigurationError(
            f"scheduler option `grace_period <= max_t` must hold, but got grace_period="
            f"{grace_period}, max_t={max_t} (max_t defaults to the search's epochs)."
        )
    return ASHAScheduler(time_attr=TIME_ATTR, max_t=max_t, grace_period=grace_period,
                         reduction_factor=reduction_factor, brackets=brackets)


def _async_hyperband(epochs: int, max_t: int | None = None, grace_period: int = 1,
                     reduction_factor: float = 3) -> Any:
    """Asynchronous HyperBand: ASHA over every HyperBand bracket (first rung at grace_period,
    grace_period * reduction_factor, ... up to max_t); stops trials, never pauses them."""
    max_t = max_t or epochs
    _positive("max_t", max_t)
    _positive("grace_period", grace_period)
    _positive("reduction_factor", reduction_factor, integer=False, above=1)
    ratio = max(max_t / grace_period, 1.0)
    brackets = int(math.floor(math.log(ratio) / math.log(reduction_factor) + 1e-9)) + 1
    return _asha(epochs, max_t=max_t, grace_period=grace_period,
                 reduction_factor=reduction_factor, brackets=brackets)


def _hyperband(epochs: int, max_t: int | None = None, reduction_factor: float = 3) -> Any:
    """Synchronous HyperBand: pauses trials at each rung and resumes the best from checkpoints;
    the most aggressive bracket first, as in the paper and Keras Tuner (Ray starts with the
    full-budget one)."""
    from raytune_hpt._ray_compat import aggressive_first_hyperband

    max_t = max_t or epochs
    _positive("max_t", max_t)
    _positive("reduction_factor", reduction_factor, integer=False, above=1)
    return aggressive_first_hyperband(time_attr=TIME_ATTR, max_t=max_t,
                                      reduction_factor=reduction_factor)


def _median(epochs: int, grace_period: int = 1, min_samples_required: int = 3) -> Any:
    """Stops a trial whose best result is below the median of the others' running averages."""
    from ray.tune.schedulers import MedianStoppingRule

    _positive("grace_period", grace_period)
    _positive("min_samples_required", min_samples_required)
    return MedianStoppingRule(time_attr=TIME_ATTR, grace_period=grace_period,
                              min_samples_required=min_samples_required)


def _pbt(epochs: int, perturbation_interval: int | None = None,
         quantile_fraction: float = 0.25, resample_probability: float = 0.25,
         hyperparam_mutations: list[str] | None = None, burn_in_period: int = 0,
         synchronous: bool = False) -> Any:
    """Population-based training: every ``perturbation_interval`` epochs the bottom
    ``quantile_fraction`` of trials continue from a top trial's checkpoint with its
    hyperparameters perturbed (or resampled with ``resample_probability``). Explores
    ``hyperparam_mutations`` (names; default: every hyperparameter that can change during
    training). ``synchronous``: every trial waits at each interval for the whole population.
    Bound to the space by ``_pbt.prepare_population`` once it is discovered."""
    from raytune_hpt.schedulers._pbt import unbound_scheduler  # imports Ray

    return unbound_scheduler("pbt", epochs, {
        "quantile_fraction": quantile_fraction, "resample_probability": resample_probability,
        "hyperparam_mutations": hyperparam_mutations, "burn_in_period": burn_in_period,
        "synchronous": synchronous, **({} if perturbation_interval is None
           else {"perturbation_interval": perturbation_interval})})


def _pb2(epochs: int, perturbation_interval: int | None = None,
         quantile_fraction: float = 0.25, hyperparam_mutations: list[str] | None = None,
         synchronous: bool = False) -> Any:
    """PB2: PBT whose explore step picks new values with a Gaussian-process bandit
    (scikit-learn) over the numeric hyperparameters' ranges."""
    from raytune_hpt.schedulers._pbt import unbound_scheduler  # imports Ray

    return unbound_scheduler("pb2", epochs, {
        "quantile_fraction": quantile_fraction, "hyperparam_mutations": hyperparam_mutations,
        "synchronous": synchronous, **({} if perturbation_interval is None
           else {"perturbation_interval": perturbation_interval})})


SCHEDULERS: dict[str, Callable[..., Any]] = {
    "asha": _asha,
    "async_hyperband": _async_hyperband,
    "fifo": _fifo,
    "hyperband": _hyperband,
    "median": _median,
    "pb2": _pb2,
    "pbt": _pbt,
}


def _split(spec: Any) -> tuple[str, dict[str, Any]]:
    return split_spec(spec, SCHEDULERS, "scheduler", "ray.tune.schedulers.TrialScheduler")


def _is_ray_scheduler(spec: Any) -> bool:
    from ray.tune.schedulers import TrialScheduler

    return isinstance(spec, TrialScheduler)


# Stands in for the search's epochs before search() is called: the checks against them
# (grace_period <= max_t, perturbation_interval < epochs) wait for the real number.
_EPOCHS_NOT_KNOWN_YET = 10**6


def validate_scheduler(spec: Any, epochs: int | None = None) -> None:
    """Check a scheduler spec, its option names and values, without starting anything;
    ``epochs=None``: the search's epochs are not known yet."""
    create_scheduler(spec, epochs=max(epochs, 1) if epochs else _EPOCHS_NOT_KNOWN_YET)


def create_scheduler(spec: Any, *, epochs: int) -> Any:
    """Build the scheduler ``spec`` names; ``max_t`` defaults to ``epochs``.

    Raises:
        ValueError: for an unknown name, an unknown option or an invalid value.
    """
    if not isinstance(spec, (str, dict)) and _is_ray_scheduler(spec):
        return spec
    name, options = _split(spec)
    factory = SCHEDULERS[name]
    check_options(factory, options, "scheduler", name, context={"epochs"})
    return factory(epochs, **options)


# PBT imports Ray: its driver-side names are loaded on first use.
__getattr__ = lazy_attributes(__name__, dict.fromkeys(
    ("PBTOptions", "explorable", "prepare_population"), "_pbt"))
