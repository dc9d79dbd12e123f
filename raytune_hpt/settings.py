"""Everything a search needs but the model and the data: one frozen object, checked once.

``Tuner(...)``, the Keras Tuner classes (``kt.RandomSearch(...)``, ...) and the experiment file
each make a :class:`Settings` with :meth:`Settings.create`, which coerces and checks every
value before anything starts; the driver then reads it and nothing else. It is frozen, in the
spirit of Ray's ``TuneConfig``/``RunConfig``: a changed value is a new object
(:meth:`Settings.replace`, checked again).

Example:
    >>> from raytune_hpt.settings import Settings
    >>> settings = Settings.create(objective="val_accuracy", max_trials=20, name="demo")
    >>> settings.objective.direction, settings.max_trials, settings.experiment_path[-5:]
    ('max', 20, '/demo')
"""

from __future__ import annotations

import dataclasses
import datetime
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from raytune_hpt import storage
from raytune_hpt._checks import (
    check_bool,
    check_int,
    check_number,
    check_one_of,
    check_path_name,
    is_finite_number,
    is_number,
)
from raytune_hpt._job_env import job_storage_path
from raytune_hpt._registry import spec_name
from raytune_hpt.errors import ConfigurationError
from raytune_hpt.hyperparameters import HyperParameters
from raytune_hpt.objective import Objective
from raytune_hpt.resources import Resources, requested
from raytune_hpt.schedulers import validate_scheduler
from raytune_hpt.searchers import validate_searcher
from raytune_hpt.tracking import validate_tracking

__all__ = [
    "DEFAULT_STORAGE_PATH",
    "KEEP_MODELS",
    "PARETO_SCHEDULERS",
    "PARETO_SEARCHERS",
    "SHARED_ARRAYS_MB",
    "TUNER_DEFAULTS",
    "Settings",
    "check_keep_models",
    "check_pareto_search",
    "default_name",
    "field_default",
    "parse_duration",
    "tuner_arguments",
]

DEFAULT_STORAGE_PATH = os.path.join("~", "ray_results")

#: numpy training data of at least this many MB is fed to Keras batch by batch from the shared
#: object-store copy by default: ``Tuner(shared_arrays_mb=...)``, ``data.shared_arrays_mb``.
SHARED_ARRAYS_MB = 32

#: The best trials whose models (checkpoints) stay on disk by default: ``Tuner(keep_models=...)``,
#: the experiment file's ``keep_models``; None keeps every trial's (Keras Tuner's way).
KEEP_MODELS = 10

#: What a Pareto objective may be combined with: searchers with a multi-objective rule (or
#: none: random, grid) and a scheduler that stops nothing by rank.
PARETO_SEARCHERS = ("bayesopt", "grid", "optuna", "optuna_gp", "random")
PARETO_SCHEDULERS = ("fifo",)


#: The metadata of a field that Keras Tuner's arguments set (``keras_tuner.translate``),
#: not a ``Tuner`` argument of that name.
_FROM_KERAS_TUNER = {"set_by": "keras_tuner"}


@dataclass(frozen=True)
class Settings:
    """One search's settings, as :class:`~raytune_hpt.Tuner` documents each argument.

    Its fields are the one list of settings: the Tuner's keyword arguments and their defaults
    (:func:`tuner_arguments`), the attributes a Tuner shows, the experiment file's settings
    and the record's are derived from them. Beyond the Tuner's own arguments, four fields
    (marked ``_FROM_KERAS_TUNER``) hold what a Keras Tuner argument asks of each trial:
    ``compile_overrides`` (its ``optimizer``/``loss``/``metrics``), ``max_model_size``,
    ``epochs`` (every trial's epochs, fixed: Keras Tuner's Hyperband ``max_epochs``) and
    ``tune_new_entries`` (False: hyperparameters the model declares beyond
    ``hyperparameters`` keep their default).
    """

    objective: Objective
    name: str
    storage_path: str
    searcher: Any = "random"  # a registry name, {"type": name, **options} or a Ray Searcher
    scheduler: Any = "fifo"  # a registry name, {"type": name, ...} or a Ray TrialScheduler
    max_trials: int = 10
    hyperparameters: HyperParameters | None = None
    resources: Resources | str = "auto"  # "auto": one GPU per trial where Ray has GPUs
    max_concurrent_trials: int | None = None
    workers_per_trial: int = 1
    seed: int | None = None
    overwrite: bool = False
    max_failures: int = 0
    verbose: int = 1
    address: str | None = None
    tracking: Mapping[str, Any] | None = None
    meta_optimizer: bool = False
    shared_arrays_mb: float | None = SHARED_ARRAYS_MB
    executions_per_trial: int = 1
    max_consecutive_failed_trials: int | None = None
    points_to_evaluate: list[dict[str, Any]] | None = None
    warm_start: str | None = None
    pending_timeout: float = 600.0
    compile_overrides: Mapping[str, Any] = field(default_factory=dict,
                                                 metadata=_FROM_KERAS_TUNER)
    max_model_size: int | None = field(default=None, metadata=_FROM_KERAS_TUNER)
    epochs: int | None = field(default=None, metadata=_FROM_KERAS_TUNER)
    tune_new_entries: bool = field(default=True, metadata=_FROM_KERAS_TUNER)
    max_time: float | str | None = None  # seconds, or "90m", "2h", "1h30m", "45s"
    keep_models: int | None = KEEP_MODELS  # None: every trial's checkpoints stay on disk

    def __post_init__(self) -> None:
        # a duration written as text becomes seconds (the object is frozen: set it once here)
        object.__setattr__(self, "max_time", parse_duration("max_time", self.max_time))
        self._check()

    @classmethod
    def create(cls, *, objective: Any = None, name: str | None = None,
               storage_path: str | None = None, resources: Resources | dict | str | None = None,
               points_to_evaluate: Any = None, **values: Any) -> Settings:
        """Coerce the values a person writes (``"val_accuracy"``, a resources dict, a relative
        path, no name) and check them all.

        Raises:
            ConfigurationError, ValueError, TypeError: the first value that is wrong, with
                what must hold and what was received.
        """
        _check_points_shape(points_to_evaluate)
        return cls(
            objective=Objective("val_loss") if objective is None else Objective.coerce(objective),
            name=default_name() if name is None else name,
            # a submitted job's --storage-path wins (read here, where every Settings is made)
            storage_path=storage.normalize(job_storage_path(storage_path)
                                           or DEFAULT_STORAGE_PATH, field="storage_path"),
            # None and "auto" are resolved against the running Ray when the search starts
            resources=requested(resources),
            points_to_evaluate=None if points_to_evaluate is None else list(points_to_evaluate),
            **values,
        )

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes``, checked again."""
        return dataclasses.replace(self, **changes)

    @property
    def experiment_path(self) -> str:
        """Where Ray Tune keeps this experiment: ``<storage_path>/<name>``."""
        return storage.join(self.storage_path, self.name)

    @property
    def shared_arrays_bytes(self) -> int | None:
        return None if self.shared_arrays_mb is None else int(self.shared_arrays_mb * 2**20)

    def _check(self) -> None:
        """Every check of the values: the one place they are validated."""
        if not isinstance(self.objective, Objective):
            raise TypeError(f"objective must be an Objective, but got {self.objective!r}.")
        validate_searcher(self.searcher)
        validate_scheduler(self.scheduler)
        check_int("max_trials", self.max_trials, 1)
        check_int("max_concurrent_trials", self.max_concurrent_trials, 1, optional=True)
        check_int("max_failures", self.max_failures, -1)
        check_int("seed", self.seed, 0, optional=True)
        check_int("workers_per_trial", self.workers_per_trial, 1)
        check_int("executions_per_trial", self.executions_per_trial, 1)
        check_int("max_consecutive_failed_trials", self.max_consecutive_failed_trials, 1,
                  optional=True)
        check_number("shared_arrays_mb", self.shared_arrays_mb, minimum=0, optional=True)
        if not (is_finite_number(self.pending_timeout) and self.pending_timeout >= 1):
            raise ValueError("pending_timeout must be a finite number of seconds >= 1 (a "
                             f"search never waits forever), but got {self.pending_timeout!r}.")
        check_int("max_model_size", self.max_model_size, 1, optional=True)
        check_int("epochs", self.epochs, 1, optional=True)
        check_keep_models(self.keep_models)
        check_pareto_search(self.objective, self.searcher, self.scheduler)
        validate_tracking(self.tracking)
        if self.resources != "auto" and not isinstance(self.resources, Resources):
            raise TypeError(f"resources must be Resources or 'auto', but got {self.resources!r}.")
        check_path_name("name", self.name)
        check_bool("overwrite", self.overwrite)
        check_one_of("verbose", self.verbose, (0, 1, 2))
        _check_points_shape(self.points_to_evaluate)
        if self.warm_start is not None and (
                not isinstance(self.warm_start, (str, os.PathLike))
                or not str(self.warm_start).strip()):
            raise ConfigurationError(
                "warm_start must be the path (or URI) of an earlier experiment, but got "
                f"{self.warm_start!r}.")


def tuner_arguments() -> dict[str, dataclasses.Field]:
    """The ``Tuner``'s keyword arguments, each a field of :class:`Settings` (its name, type
    and default): every field but ``objective`` (the Tuner's second positional argument) and
    those Keras Tuner's arguments set. A field without a default (``name``,
    ``storage_path``) is None until :meth:`Settings.create` makes it."""
    return {f.name: f for f in dataclasses.fields(Settings)
            if f.name != "objective" and f.metadata != _FROM_KERAS_TUNER}


def field_default(item: dataclasses.Field) -> Any:
    """A field's default (None when it has none: :meth:`Settings.create` makes it)."""
    if item.default is not dataclasses.MISSING:
        return item.default
    if item.default_factory is not dataclasses.MISSING:
        return item.default_factory()
    return None


#: Each Tuner argument's default (Settings' fields'): the experiment file's defaults too.
TUNER_DEFAULTS = {name: field_default(item) for name, item in tuner_arguments().items()}


_DURATION = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)\s*h)?\s*(?:(\d+(?:\.\d+)?)\s*m)?"
                       r"\s*(?:(\d+(?:\.\d+)?)\s*s)?\s*$")


def parse_duration(name: str, value: Any) -> float | None:
    """Seconds from a number of seconds or a text such as ``"90m"``, ``"2h"``, ``"1h30m"``,
    ``"45s"`` (None stays None).

    Example:
        >>> parse_duration("max_time", "1h30m"), parse_duration("max_time", 90)
        (5400.0, 90.0)

    Raises:
        ConfigurationError: not a positive, finite duration.
    """
    if value is None:
        return None
    seconds: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        match = _DURATION.match(value)
        if match and any(match.groups()):
            h, m, sec = (float(g) if g else 0.0 for g in match.groups())
            seconds = h * 3600 + m * 60 + sec
    if seconds is None or not math.isfinite(seconds) or seconds <= 0:
        raise ConfigurationError(
            f"{name} must be a positive duration: seconds (a number) or a text such as "
            f"'90m', '2h', '1h30m' or '45s'; got {value!r}.")
    return seconds


def check_keep_models(value: Any) -> None:
    """``keep_models`` is a whole number of trials >= 1, or None (keep every trial's model).

    Raises:
        ConfigurationError: anything else (0, -1, 1.5, ``"10"``, True).
    """
    if value is None or (is_number(value, integer=True) and value >= 1):
        return
    raise ConfigurationError(
        "keep_models must be a whole number of trials >= 1 (the best trials whose models "
        "stay on disk) or None (keep every trial's model), but got "
        f"{value!r} ({type(value).__name__}).")


def default_name(model_name: str | None = None) -> str:
    """``<model name or "search">_<date>_<time>``: a new experiment's folder."""
    return f"{model_name or 'search'}_{datetime.datetime.now():%Y-%m-%d_%H-%M-%S}"


def _check_points_shape(points_to_evaluate: Any) -> None:
    """What can be checked of ``points_to_evaluate`` before the space is known."""
    if points_to_evaluate is None:
        return
    if not isinstance(points_to_evaluate, (list, tuple)):
        raise ConfigurationError(
            "points_to_evaluate must be a list of {hyperparameter: value} dicts, but got "
            f"{type(points_to_evaluate).__name__}: {points_to_evaluate!r}.")
    for i, point in enumerate(points_to_evaluate):
        if not isinstance(point, dict) or not all(isinstance(k, str) for k in point):
            raise ConfigurationError(
                f"points_to_evaluate[{i}] must be a dict of hyperparameter names to values, "
                f"but got {point!r}.")


def check_pareto_search(objective: Objective, searcher: Any, scheduler: Any) -> None:
    """Refuse a searcher or scheduler that cannot serve a Pareto objective (a ready Ray
    ``Searcher`` or ``TrialScheduler`` is the user's own and is used as it is).

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
