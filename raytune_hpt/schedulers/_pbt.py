"""Population-based training on the package's space (driver side): which hyperparameters
PBT may change while a model trains, and Ray's PBT / PB2 bound to their domains.

``scheduler="pbt"`` (or ``"pb2"``) first gives an *unbound* Ray scheduler: its options are
checked, but the hyperparameters it explores are known only once the space is discovered.
:func:`prepare_population` (called by ``Tuner.search`` before any trial starts) then

1. refuses what PBT cannot do here (a ``run_trial`` override, several workers per trial, a
   searcher other than random or grid: Ray's PBT takes no search algorithm; a
   ``max_concurrent_trials`` below the population, whose late trials would never meet
   the early ones);
2. finds the hyperparameters that can change during training: the model is built with two
   values of each and its layers, weight shapes and optimizer state compared; one that
   changes them (units, layers, the optimizer's type) is refused by name, when named;
3. binds Ray's scheduler to their domains: resampling draws from the package's own
   hyperparameters and every explored value is snapped back into its domain;
4. draws the starting population from the searcher (Ray's ``BasicVariantGenerator`` runs
   those configurations, since PBT refuses any other search algorithm).

Exploiting happens on the workers: a trial restarted from a donor's checkpoint is built with
its new values and loads the donor's weights and optimizer state (``worker/_exploit.py``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import Any

from ray.tune.schedulers import PopulationBasedTraining, TrialScheduler
from ray.tune.search import BasicVariantGenerator

from raytune_hpt._checks import is_number
from raytune_hpt._record import EPOCH
from raytune_hpt._registry import spec_name
from raytune_hpt.errors import ConfigurationError
from raytune_hpt.hyperparameters import Choice, Fixed, HyperParameter, HyperParameters

__all__ = ["PBTOptions", "explorable", "prepare_population", "unbound_scheduler"]

# A stepped numeric range with at most this many values moves to a neighbouring value;
# a longer or continuous one is multiplied by 0.8 / 1.2 (Ray's rule) and snapped back.
_MAX_LIST = 10


@dataclass(frozen=True)
class PBTOptions:
    """The options of ``{"type": "pbt" | "pb2", ...}``, checked against the search's epochs."""

    kind: str
    perturbation_interval: int
    quantile_fraction: float = 0.25
    resample_probability: float = 0.25
    hyperparam_mutations: tuple[str, ...] | None = None
    burn_in_period: int = 0
    synchronous: bool = False
    epochs: int = 0  # the search's, not an option: no exploit at a trial's last epoch

    def check(self, epochs: int) -> None:
        prefix = f"scheduler {self.kind!r}: option"
        if not is_number(self.perturbation_interval, integer=True) or \
                not 1 <= self.perturbation_interval < epochs:
            raise ConfigurationError(
                f"{prefix} `1 <= perturbation_interval < epochs` must hold (epochs between "
                f"exploits), but got perturbation_interval={self.perturbation_interval!r} "
                f"with epochs={epochs}.")
        if not is_number(self.quantile_fraction) or not 0 < self.quantile_fraction <= 0.5:
            raise ConfigurationError(f"{prefix} `0 < quantile_fraction <= 0.5` must hold, "
                                     f"but got {self.quantile_fraction!r}.")
        if not is_number(self.resample_probability) or \
                not 0 <= self.resample_probability <= 1:
            raise ConfigurationError(f"{prefix} `0 <= resample_probability <= 1` must hold, "
                                     f"but got {self.resample_probability!r}.")
        if not is_number(self.burn_in_period, integer=True) or self.burn_in_period < 0:
            raise ConfigurationError(f"{prefix} burn_in_period must be an integer >= 0 "
                                     f"(epochs), but got {self.burn_in_period!r}.")
        if not isinstance(self.synchronous, bool):
            raise ConfigurationError(f"{prefix} synchronous must be true or false, "
                                     f"but got {self.synchronous!r}.")


def unbound_scheduler(kind: str, epochs: int, options: dict[str, Any]) -> Any:
    """A Ray PBT (or PB2) with checked options, to be bound to the space by
    :func:`prepare_population`; ``perturbation_interval`` defaults to a fifth of ``epochs``."""
    names = options.get("hyperparam_mutations")
    if names is not None and (isinstance(names, str) or not isinstance(names, (list, tuple))
                              or not names or not all(isinstance(n, str) for n in names)):
        raise ConfigurationError(
            f"scheduler {kind!r}: option hyperparam_mutations must be a non-empty list of "
            f"hyperparameter names, but got {names!r}.")
    settings = {**options, "hyperparam_mutations": tuple(names) if names else None}
    settings.setdefault("perturbation_interval", max(1, epochs // 5))
    pbt_options = PBTOptions(kind=kind, epochs=epochs, **settings)
    pbt_options.check(epochs)
    return _Unbound(pbt_options)


def _ray_arguments(options: PBTOptions) -> dict[str, Any]:
    arguments = {"time_attr": EPOCH, "perturbation_interval": options.perturbation_interval,
                 "quantile_fraction": options.quantile_fraction, "synch": options.synchronous}
    if options.kind == "pbt":
        arguments.update(burn_in_period=options.burn_in_period,
                         resample_probability=options.resample_probability)
    return arguments


class _Unbound(PopulationBasedTraining):
    """Ray's PBT with the options checked and nothing to explore yet (never run as it is)."""

    def __init__(self, options: PBTOptions) -> None:
        super().__init__(**_ray_arguments(replace(options, kind="pbt")),
                         custom_explore_fn=_IntoSpace({}))
        self.options = options


class _Resample:
    """A fresh value from a hyperparameter's own domain (PBT's resampling)."""

    def __init__(self, hp: HyperParameter, rng: random.Random) -> None:
        self.hp, self.rng = hp, rng

    def __call__(self) -> Any:
        return self.hp.random_sample(self.rng)


class _IntoSpace:
    """Ray's ``custom_explore_fn``: every explored value snapped back into its domain
    (Ray multiplies numbers by 0.8 or 1.2, which can leave a range or miss its steps)."""

    def __init__(self, hps: dict[str, HyperParameter]) -> None:
        self.hps = hps

    def __call__(self, config: dict[str, Any]) -> dict[str, Any]:
        for name, hp in self.hps.items():
            if name in config:
                config[name] = hp.snap(config[name])
        return config


class _Population(BasicVariantGenerator):
    """The starting configurations, run as they are (PBT refuses other search algorithms)."""

    def __init__(self, points: list[dict[str, Any]]) -> None:
        super().__init__(points_to_evaluate=points)
        self._size = len(points)
        self._names = sorted({name for point in points for name in point})

    def __len__(self) -> int:
        return self._size

    def add_configurations(self, experiments: Any) -> None:
        # Ray applies a preset point only over keys of the Tuner's param_space, which this
        # package leaves empty: every key is declared (and each point sets all of them).
        from ray.tune.experiment import Experiment

        for experiment in experiments if isinstance(experiments, list) else [experiments]:
            if isinstance(experiment, Experiment):
                config = experiment.spec.setdefault("config", {})
                for name in self._names:
                    config.setdefault(name, None)
        super().add_configurations(experiments)


def _bind(options: PBTOptions, hps: dict[str, HyperParameter], seed: int | None) -> Any:
    """Ray's scheduler exploring ``hps`` inside their domains."""
    rng = random.Random(seed)
    if options.kind == "pb2":
        bounds = {name: [hp.min_value, hp.max_value] for name, hp in hps.items()}
        scheduler = _pb2_class()(**_ray_arguments(options), hyperparam_bounds=bounds,
                                 custom_explore_fn=_IntoSpace(hps))
        scheduler.last_epoch = options.epochs
        return scheduler
    mutations: dict[str, Any] = {}
    for name, hp in hps.items():
        values = hp.values_list()
        mutations[name] = (list(values) if values is not None and
                           (isinstance(hp, Choice) or len(values) <= _MAX_LIST)
                           else _Resample(hp, rng))
    scheduler = _BoundPBT(**_ray_arguments(options), hyperparam_mutations=mutations,
                          custom_explore_fn=_IntoSpace(hps))
    scheduler.last_epoch = options.epochs
    return scheduler


class _Bound:
    """What the package adds to Ray's PBT and PB2: runs keep every checkpoint (a donor's must
    stay readable), and a trial's last epoch is never a perturbation point (exploiting a
    trial that has finished would restart it only to report that epoch again)."""

    keeps_every_checkpoint = True
    last_epoch = 0

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict) -> str:
        if self.last_epoch and result.get(EPOCH, 0) >= self.last_epoch:
            return TrialScheduler.CONTINUE
        return super().on_trial_result(tune_controller, trial, result)  # type: ignore[misc]


class _BoundPBT(_Bound, PopulationBasedTraining):
    """Ray's PBT, bound to the space."""


def _pb2_class() -> type:
    """Ray's PB2 (scikit-learn's Gaussian process over numeric ranges; Ray imports it on
    demand), with the package's additions (:class:`_Bound`)."""
    from ray.tune.schedulers.pb2 import PB2

    return type("_BoundPB2", (_Bound, PB2), {})


def prepare_population(scheduler: Any, searcher: Any, *, hypermodel: Any,
                       space: HyperParameters, searcher_spec: Any, max_trials: int,
                       max_concurrent_trials: int | None, workers_per_trial: int,
                       seed: int | None, custom_trial: bool) -> tuple[Any, Any]:
    """For a PBT scheduler: (the scheduler bound to ``space``, the starting population as
    Ray's search algorithm); anything else is returned unchanged.

    Raises:
        ConfigurationError: an unsupported combination, or a named hyperparameter PBT cannot
            change during training (before any trial starts).
    """
    if not isinstance(scheduler, PopulationBasedTraining):
        return scheduler, searcher
    kind = scheduler.options.kind if isinstance(scheduler, _Unbound) else "pbt"
    _refuse_unsupported(kind, searcher_spec=searcher_spec, max_trials=max_trials,
                        max_concurrent_trials=max_concurrent_trials,
                        workers_per_trial=workers_per_trial, custom_trial=custom_trial)
    if isinstance(scheduler, _Unbound):
        options = scheduler.options
        names = explorable(hypermodel, space, options.hyperparam_mutations,
                           numeric_only=options.kind == "pb2")
        hps = {hp.name: hp for hp in space.space if hp.name in names}
        scheduler = _bind(options, hps, seed)
    else:  # a Ray PBT given as it is: its donors' checkpoints must stay readable too
        scheduler.keeps_every_checkpoint = True
    points = []
    for index in range(max_trials):
        point = searcher.suggest(f"population_{index}")
        if not isinstance(point, dict):  # a grid that ran out
            break
        # inactive (conditional) hyperparameters at their defaults, as Ray's searchers do
        points.append({**{hp.name: hp.default for hp in space.space}, **point})
    return scheduler, _Population(points)


def _refuse_unsupported(kind: str, *, searcher_spec: Any, max_trials: int,
                        max_concurrent_trials: int | None, workers_per_trial: int,
                        custom_trial: bool) -> None:
    searcher = spec_name(searcher_spec) or type(searcher_spec).__name__
    problem = None
    if custom_trial:
        problem = ("a run_trial override: PBT restarts trials from other trials' checkpoints, "
                   "which only the package's own training loop writes and reads")
    elif max_trials < 2:
        problem = "max_trials=1: the population needs at least 2 trials (4 or more to learn)"
    elif workers_per_trial > 1:
        problem = f"workers_per_trial={workers_per_trial}: use workers_per_trial=1"
    elif max_concurrent_trials is not None and max_concurrent_trials < max_trials:
        problem = (f"max_concurrent_trials={max_concurrent_trials} below the population "
                   f"(max_trials={max_trials}): the trials beyond it would start only as "
                   "others end, and an ended trial never donates, so nothing would be "
                   "exploited. Leave max_concurrent_trials out (trials beyond the free "
                   "slots then take turns, paused at each interval) or make it at least "
                   "max_trials")
    elif searcher not in ("random", "grid"):
        problem = (f"searcher {searcher!r}: Ray's PBT takes no search algorithm; the "
                   "population starts from searcher 'random' (or 'grid') samples and PBT "
                   "explores from there")
    if problem:
        raise ConfigurationError(f"scheduler {kind!r} does not support {problem}.")


# -- which hyperparameters can change during training --------------------------------------
def explorable(hypermodel: Any, space: HyperParameters, names: tuple[str, ...] | None,
               *, numeric_only: bool = False) -> list[str]:
    """The hyperparameters PBT may change while a model trains: ``names`` if every one of
    them can, else (``names=None``) every one that can.

    One can when building the model with another of its values leaves the layers, their
    weights' shapes and the optimizer's type and state shapes as they are (a learning
    rate, a dropout rate, a batch size given to ``HyperModel.fit``). Fixed and conditional
    hyperparameters never can (one value; not every trial has them).

    Raises:
        ConfigurationError: a named hyperparameter that cannot change during training (one
            error naming each and why), or none that can.
    """
    base = _signature(hypermodel, space, {})
    candidates = list(names) if names is not None else [hp.name for hp in space.space]
    reasons = {name: _why_not(hypermodel, space, name, base, numeric_only)
               for name in candidates}
    refused = {name: why for name, why in reasons.items() if why}
    if names is not None and refused:
        lines = "; ".join(f"{name!r}: {why}" for name, why in refused.items())
        raise ConfigurationError(
            "population-based training explores only hyperparameters that can change during "
            "training without changing the model's weights' shapes (a learning rate, a dropout "
            f"rate, a batch size); hyperparam_mutations names some that cannot: {lines}.")
    chosen = [name for name in candidates if not reasons[name]]
    if not chosen:
        raise ConfigurationError(
            "population-based training found no hyperparameter that can change during training "
            f"(checked {candidates}): every one changes the model's weights' shapes, is "
            "Fixed or is conditional. Declare one (a learning rate, a dropout rate) or use "
            "another scheduler.")
    return chosen


def _why_not(hypermodel: Any, space: HyperParameters, name: str, base: Any,
             numeric_only: bool) -> str | None:
    """Why PBT cannot change ``name`` during training; None when it can."""
    hp = next((h for h in space.space if h.name == name), None)
    if hp is None:
        return f"not a hyperparameter of the model (known: {[h.name for h in space.space]})"
    if isinstance(hp, Fixed):
        return "Fixed: it has one value"
    if any(hp.condition_sets):
        parents = sorted({c.parent_name for cs in hp.condition_sets for c in cs})
        return (f"conditional (active only for some values of {parents}): PBT explores "
                "only hyperparameters every trial has")
    if numeric_only and not hasattr(hp, "max_value"):
        return "not numeric: 'pb2' explores numeric ranges only (use 'pbt' for choices)"
    for value in _probe_values(hp):
        try:
            other = _signature(hypermodel, space, {name: value})
        except ConfigurationError:
            raise
        except Exception as error:  # a build that fails for this value: cannot be checked
            return f"building the model with {name}={value!r} failed ({error!r:.120})"
        difference = _difference(base, other)
        if difference:
            return (f"building with {name}={hp.default!r} and {name}={value!r} gives "
                    f"{difference}")
    return None


def _probe_values(hp: HyperParameter) -> list[Any]:
    """Values to compare with the default: every other choice, or both ends of a range."""
    values = hp.values_list()
    if isinstance(hp, Choice) and values is not None:
        return [v for v in values if v != hp.default]
    ends = [hp.from_unit(0.0), hp.from_unit(1.0)]
    return [v for i, v in enumerate(ends) if v != hp.default and v not in ends[:i]]


def _signature(hypermodel: Any, space: HyperParameters, values: dict[str, Any]) -> Any:
    """The model's layers with their weights' shapes, and the optimizer's type and state."""
    import keras

    try:
        model = hypermodel.build(space.copy(values))
        if not getattr(model, "built", False):
            raise ConfigurationError(
                "population-based training compares the model's weights for two values of each "
                "hyperparameter, but build(hp) returned a model that is not built: give it "
                "an input shape (keras.Input(...)).")
        layers = tuple((type(layer).__name__, tuple(tuple(w.shape) for w in layer.weights))
                       for layer in model.layers)
        optimizer = getattr(model, "optimizer", None)
        state = None
        if optimizer is not None:
            if not optimizer.built:
                optimizer.build(model.trainable_variables)
            state = (type(optimizer).__name__, tuple(tuple(v.shape) for v in optimizer.variables))
        return layers, state
    finally:
        keras.backend.clear_session(free_memory=False)


def _difference(base: Any, other: Any) -> str | None:
    (layers, state), (other_layers, other_state) = base, other
    if [kind for kind, _ in layers] != [kind for kind, _ in other_layers]:
        return (f"other layers ({[k for k, _ in layers]} and {[k for k, _ in other_layers]})")
    for (kind, shapes), (_, other_shapes) in zip(layers, other_layers, strict=True):
        if shapes != other_shapes:
            return (f"other weight shapes in a {kind} layer ({list(shapes)} and "
                    f"{list(other_shapes)})")
    if state != other_state:
        return (f"another optimizer state ({state[0] if state else None} with "
                f"{len(state[1]) if state else 0} variables, and "
                f"{other_state[0] if other_state else None} with "
                f"{len(other_state[1]) if other_state else 0})")
    return None
