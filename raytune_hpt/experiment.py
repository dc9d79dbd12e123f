"""The experiment file: its schema, its validation and its translation into ``Tuner`` arguments.

One YAML file says everything a search needs: model, data, objective, searcher, scheduler,
budget, ``fit`` arguments, extra ``space`` entries, resources, storage and seed (the reference
is ``docs/cli.md``; the bundled examples are in :mod:`raytune_hpt.examples`).

:func:`load_experiment` reads it with ``yaml.safe_load``, applies ``--set key=value``
overrides and validates it without importing TensorFlow or Ray. Any problem raises
:class:`ExperimentError` whose message starts with the field's path:
``searcher.type: must be one of bayesopt, grid, hyperopt, optuna, random; got 'bayes'``.
:func:`resolve` then imports the model and loads the data (still before Ray starts), and
:func:`build_tuner` makes the :class:`~raytune_hpt.Tuner`.

A ``space`` entry named like a ``fit`` argument (``batch_size``) is passed to ``model.fit``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from raytune_hpt.data import check_ref, check_section, import_object, prepare_section
from raytune_hpt.errors import ConfigurationError
from raytune_hpt.hypermodel import HyperModel, as_hypermodel
from raytune_hpt.hyperparameters import HyperParameters
from raytune_hpt.objective import Objective
from raytune_hpt.schedulers import SCHEDULERS
from raytune_hpt.searchers import SEARCHERS

__all__ = [
    "EXPERIMENT_FILE",
    "FIT_HYPERPARAMETERS",
    "Experiment",
    "ExperimentError",
    "Resolved",
    "apply_overrides",
    "build_tuner",
    "load_experiment",
    "load_saved_experiment",
    "parse_experiment",
    "resolve",
    "save_experiment",
]

logger = logging.getLogger(__name__)

EXPERIMENT_FILE = "raytune_hpt_experiment.yaml"
FIT_HYPERPARAMETERS = ("batch_size", "epochs", "shuffle")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class ExperimentError(ConfigurationError):
    """The experiment file or an argument is invalid; ``field`` is the path of the culprit."""

    def __init__(self, field: str, message: str) -> None:
        self.field, self.message = field, message
        super().__init__(f"{field}: {message}")


def _fail(message: str, field: str | None = None) -> PydanticCustomError:
    """An error for a validator; ``field`` is appended to the location pydantic reports."""
    return PydanticCustomError("experiment", message, {"field": field} if field else {})


def _check_ref(value: str) -> str:
    problem = check_ref(value)
    if problem is not None:
        raise _fail(problem)
    return value


class _Strict(BaseModel):
    """Exact types, no unknown keys (with a suggestion for a misspelt one), immutable."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if isinstance(data, dict) and cls.model_config.get("extra") == "forbid":
            known = sorted(cls.model_fields)
            for key in data:
                if key not in known:
                    import difflib

                    close = difflib.get_close_matches(str(key), known, n=1)
                    hint = f"did you mean {close[0]!r}? " if close else ""
                    raise _fail(
                        f"unknown field; {hint}expected one of {', '.join(known)}", str(key)
                    )
        return data


class ObjectiveSpec(_Strict):
    """``objective: val_accuracy`` or ``objective: {name: val_loss, direction: min}``."""

    name: str
    direction: Literal["min", "max"] | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, data: Any) -> Any:
        return {"name": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _direction_known(self) -> ObjectiveSpec:
        try:
            Objective(self.name, self.direction)
        except ValueError as error:
            raise _fail(str(error).rstrip(".")) from None
        return self

    def to_objective(self) -> Objective:
        return Objective(self.name, self.direction)


class _Component(BaseModel):
    """``searcher: random`` or ``searcher: {type: bayesopt, **options}``; options pass through."""

    model_config = ConfigDict(strict=True, extra="allow", frozen=True)
    type: str

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, data: Any) -> Any:
        return {"type": data} if isinstance(data, str) else data

    def spec(self) -> dict[str, Any]:
        return self.model_dump()


class SearcherSpec(_Component):
    @field_validator("type")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in SEARCHERS:
            raise _fail(f"must be one of {', '.join(sorted(SEARCHERS))}; got {value!r}")
        return value


class SchedulerSpec(_Component):
    @field_validator("type")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in SCHEDULERS:
            raise _fail(f"must be one of {', '.join(sorted(SCHEDULERS))}; got {value!r}")
        return value


_HP_FIELDS = {
    "int": {"min_value", "max_value", "step", "sampling", "default"},
    "float": {"min_value", "max_value", "step", "sampling", "default"},
    "choice": {"values", "ordered", "default"},
    "boolean": {"default"},
    "fixed": {"value"},
}


class HyperparameterSpec(_Strict):
    """One entry of ``space``: ``{type: int|float|choice|boolean|fixed, ...}`` as ``hp.Int`` etc."""

    type: str
    min_value: int | float | None = None
    max_value: int | float | None = None
    step: int | float | None = None
    sampling: Literal["linear", "log", "reverse_log"] | None = None
    values: list[int | float | str | bool] | None = None
    ordered: bool | None = None
    default: int | float | str | bool | None = None
    value: int | float | str | bool | None = None

    @field_validator("type")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in _HP_FIELDS:
            raise _fail(f"must be one of {', '.join(sorted(_HP_FIELDS))}; got {value!r}")
        return value

    @model_validator(mode="after")
    def _fields_fit_type(self) -> HyperparameterSpec:
        given = {k for k in self.model_fields_set if k != "type"}
        extra = sorted(given - _HP_FIELDS[self.type])
        if extra:
            raise _fail(
                f"a {self.type} hyperparameter takes {', '.join(sorted(_HP_FIELDS[self.type]))}; "
                f"got {', '.join(extra)}",
                extra[0],
            )
        return self

    def declare(self, hp: HyperParameters, name: str) -> None:
        """Declare this hyperparameter on ``hp`` (raises ``ValueError`` for a bad domain)."""
        options = {k: getattr(self, k) for k in self.model_fields_set if k != "type"}
        method = {
            "int": hp.Int,
            "float": hp.Float,
            "choice": hp.Choice,
            "boolean": hp.Boolean,
            "fixed": hp.Fixed,
        }[self.type]
        method(name, **options)


class DataSpec(_Strict):
    """Where the data comes from (one of dataset, loader, parquet) and how it is validated."""

    dataset: str | None = None
    loader: str | None = None
    kwargs: dict[str, Any] | None = None
    parquet: str | None = None
    features: list[str] | None = None
    label: str | None = None
    validation: str | None = None
    s3: dict[str, Any] | None = None
    validation_split: float | None = Field(None, gt=0, lt=1)
    cv: int | None = Field(None, ge=2)
    seed: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, data: Any) -> Any:
        return {"dataset": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _consistent(self) -> DataSpec:
        problem = check_section(self.model_dump())
        if problem is not None:
            raise _fail(problem[1], problem[0] or None)
        return self


class FitSpec(_Strict):
    """Arguments for ``model.fit`` in every trial."""

    epochs: int = Field(10, ge=1)
    batch_size: int = Field(32, ge=1)
    shuffle: bool | None = None
    class_weight: dict[int, float] | None = None
    steps_per_epoch: int | None = Field(None, ge=1)
    validation_steps: int | None = Field(None, ge=1)
    validation_freq: int | None = Field(None, ge=1)

    def extra_kwargs(self) -> dict[str, Any]:
        return self.model_dump(exclude={"epochs", "batch_size"}, exclude_none=True)


class ResourcesSpec(_Strict):
    """What one trial books: CPUs, (fractions of) GPUs, memory and custom Ray resources."""

    cpu: float = Field(1, gt=0)
    gpu: float = Field(0, ge=0)
    memory: int | None = Field(None, gt=0)  # bytes
    gpu_memory_mb: int | None = Field(None, gt=0)  # when nvidia-smi cannot tell
    custom: dict[str, float] = {}  # e.g. {"accelerator_type:A100": 0.01}

    def to_tuner(self) -> dict[str, Any]:
        values = {k: v for k, v in self.model_dump().items() if k != "custom" and v is not None}
        return {**values, **self.custom}


class Experiment(_Strict):
    """A validated experiment file. Build one with :func:`load_experiment`."""

    name: str | None = None
    description: str | None = None
    model: str
    data: DataSpec
    objective: ObjectiveSpec = ObjectiveSpec(name="val_loss")
    searcher: SearcherSpec = SearcherSpec(type="random")
    scheduler: SchedulerSpec = SchedulerSpec(type="fifo")
    max_trials: int = Field(10, ge=1)
    max_concurrent_trials: int | None = Field(None, ge=1)
    max_failures: int = Field(0, ge=0)
    fit: FitSpec = FitSpec()
    space: dict[str, HyperparameterSpec] = {}
    resources: ResourcesSpec | Literal["auto"] = ResourcesSpec()

    @field_validator("resources", mode="before")
    @classmethod
    def _resources_shape(cls, value: Any) -> Any:
        if isinstance(value, str) and value != "auto":
            raise PydanticCustomError(
                "experiment",
                "must be 'auto' or a mapping of cpu, gpu, memory, gpu_memory_mb, custom; "
                "got {got}",
                {"got": repr(value)},
            )
        return value

    workers_per_trial: int = Field(1, ge=1)
    tracking: dict[str, Any] | None = None  # {tensorboard: true, mlflow: URI}
    storage_path: str | None = None
    seed: int | None = Field(None, ge=0)
    base_dir: str | None = None  # where relative model, loader and Parquet paths start

    @field_validator("name")
    @classmethod
    def _folder_name(cls, value: str | None) -> str | None:
        if value is not None and not _NAME.match(value):
            raise _fail(f"must be letters, digits, '.', '_' or '-' (a folder name); got {value!r}")
        return value

    @field_validator("model")
    @classmethod
    def _model_ref(cls, value: str) -> str:
        return _check_ref(value)

    @model_validator(mode="after")
    def _space_domains(self) -> Experiment:
        hp = HyperParameters()
        for name, spec in self.space.items():
            try:
                spec.declare(hp, name)
            except (ValueError, TypeError) as error:
                raise _fail(str(error).rstrip("."), f"space.{name}") from None
        return self

    def hyperparameters(self) -> HyperParameters:
        """The ``space`` entries declared on a fresh :class:`HyperParameters`."""
        hp = HyperParameters()
        for name, spec in self.space.items():
            spec.declare(hp, name)
        return hp

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json", exclude_none=True), sort_keys=False)


_MESSAGES = {  # pydantic's error type -> our wording; "{}" takes the bound
    **dict.fromkeys(("dict_type", "model_type", "model_attributes_type"), "must be a mapping"),
    "int_type": "must be an integer",
    "float_type": "must be a number",
    "string_type": "must be a string",
    "bool_type": "must be true or false",
    "list_type": "must be a list",
    "greater_than": "must be > {}",
    "greater_than_equal": "must be >= {}",
    "less_than": "must be < {}",
    "less_than_equal": "must be <= {}",
    "literal_error": "must be one of {}",
}


def _format(error: dict[str, Any]) -> ExperimentError:
    loc, ctx, kind = [str(p) for p in error["loc"]], error.get("ctx") or {}, error["type"]
    # A union's branch tags (ResourcesSpec, literal['auto']) are not field names.
    loc = [p for p in loc if not re.fullmatch(r"[A-Z]\w*Spec|\w+\[.*\]", p)]
    if kind == "experiment":
        message = error["msg"]
        loc += [ctx["field"]] if ctx.get("field") else []
    elif kind == "missing":
        message = "is required"
    elif kind in _MESSAGES:
        message = _MESSAGES[kind].format(*ctx.values()) + f"; got {error['input']!r}"
    else:
        message = error["msg"][0].lower() + error["msg"][1:]
    return ExperimentError(".".join(loc) or "experiment", message)


def parse_experiment(raw: Any, *, base_dir: str | None = None) -> Experiment:
    """Validate a parsed experiment file.

    Args:
        raw: what ``yaml.safe_load`` returned.
        base_dir: the folder relative paths in the file start from.

    Raises:
        ExperimentError: for the first problem found, naming its field path.
    """
    if not isinstance(raw, dict):
        raise ExperimentError(
            "experiment", f"the file must be a mapping of fields; got {type(raw).__name__}"
        )
    if base_dir is not None and raw.get("base_dir") is None:
        raw = {**raw, "base_dir": base_dir}
    try:
        return Experiment.model_validate(raw)
    except ValidationError as errors:
        raise _format(errors.errors()[0]) from None


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``key.sub=value`` overrides (values parsed as YAML) to a copy of ``raw``.

    A string shorthand on the way (``searcher: random``) becomes its mapping form first.

    Raises:
        ExperimentError: for an override without ``=`` or a path through a non-mapping.
    """
    import copy

    shorthand = {"searcher": "type", "scheduler": "type", "objective": "name", "data": "dataset"}
    result = copy.deepcopy(raw)
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key or not all(key.split(".")):
            raise ExperimentError("--set", f"must be key=value (e.g. fit.epochs=1); got {item!r}")
        try:
            value = yaml.safe_load(text) if text else ""
        except yaml.YAMLError:
            value = text
        parts = key.split(".")
        node = result
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif isinstance(child, str) and depth == 0 and part in shorthand:
                child = node[part] = {shorthand[part]: child}
            if not isinstance(child, dict):
                path = ".".join(parts[: depth + 1])
                raise ExperimentError(key, f"cannot set a key inside {path}, which is {child!r}")
            node = child
        node[parts[-1]] = value
    return result


def load_experiment(
    path: str | Path, overrides: list[str] | None = None, **fields: Any
) -> Experiment:
    """Read, override and validate an experiment file; imports neither TensorFlow nor Ray.

    Args:
        path: the YAML file.
        overrides: ``key.sub=value`` strings, applied in order.
        **fields: top-level fields to set (``name``, ``storage_path``, ``max_trials``) when
            not ``None``; they win over the file and the overrides.

    Raises:
        ExperimentError: naming the field at fault (``FILE`` for an unreadable file).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ExperimentError(
            str(path), f"cannot read the experiment file ({error.strerror})"
        ) from None
    except UnicodeDecodeError as error:
        raise ExperimentError(
            str(path), f"must be UTF-8 text, but byte {error.start} is not ({error.reason})"
        ) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ExperimentError(str(path), f"{where}invalid YAML ({problem})") from None
    if raw is None:
        raise ExperimentError(str(path), "the file is empty; it needs at least model and data")
    if not isinstance(raw, dict):
        raise ExperimentError(str(path), f"must be a mapping of fields; got {type(raw).__name__}")
    raw = apply_overrides(raw, overrides or [])
    raw.update({k: v for k, v in fields.items() if v is not None})
    raw.setdefault("name", re.sub(r"[^A-Za-z0-9._-]", "-", path.stem))
    return parse_experiment(raw, base_dir=str(path.resolve().parent))


def save_experiment(experiment: Experiment, experiment_path: str) -> str:
    """Write the experiment as ``EXPERIMENT_FILE`` in ``experiment_path`` (a folder or a URI).

    ``resume`` rebuilds the run from it; ``base_dir`` keeps relative paths resolvable.

    Returns:
        Where the file was written.
    """
    from raytune_hpt import storage

    target = storage.join(storage.normalize(experiment_path), EXPERIMENT_FILE)
    storage.write_text(target, experiment_yaml(experiment))
    return target


def experiment_yaml(experiment: Experiment) -> str:
    """The experiment as saved beside its results (the storage path is where it lies)."""
    return experiment.model_copy(update={"storage_path": None}).to_yaml()


def load_saved_experiment(experiment_path: str) -> Experiment:
    """The experiment ``raytune-hpt run`` saved in ``experiment_path`` (a folder or a URI).

    Raises:
        ExperimentError: when the folder holds no saved experiment.
    """
    from raytune_hpt import storage

    try:
        text = storage.read_text(storage.join(storage.normalize(experiment_path), EXPERIMENT_FILE))
    except OSError:
        raise ExperimentError(
            "DIR",
            f"{experiment_path} holds no {EXPERIMENT_FILE}; is it a folder `raytune-hpt run` made?",
        ) from None
    return parse_experiment(yaml.safe_load(text))


class ExperimentHyperModel(HyperModel):
    """The file's model, passing space entries named like ``fit`` arguments to ``fit``."""

    def __init__(self, inner: Any, fit_hyperparameters: tuple[str, ...]) -> None:
        super().__init__(name=getattr(inner, "name", None))
        self.inner = inner
        self.fit_hyperparameters = fit_hyperparameters

    def build(self, hp: HyperParameters) -> Any:
        return self.inner.build(hp)

    def fit(self, hp: HyperParameters, model: Any, *args: Any, **kwargs: Any) -> Any:
        for name in self.fit_hyperparameters:
            kwargs[name] = hp.get(name)
        return self.inner.fit(hp, model, *args, **kwargs)


@dataclass
class Resolved:
    """An experiment with its model imported and its data loaded: ready for a ``Tuner``."""

    experiment: Experiment
    hypermodel: Any
    search_kwargs: dict[str, Any]


def _hypermodel(experiment: Experiment) -> Any:
    value = import_object(experiment.model, base_dir=experiment.base_dir, field="model")
    try:
        inner = as_hypermodel(value() if isinstance(value, type) else value)
    except TypeError as error:
        raise ExperimentError("model", str(error).rstrip(".")) from None
    fit_hps = tuple(n for n in FIT_HYPERPARAMETERS if n in experiment.space)
    return ExperimentHyperModel(inner, fit_hps) if fit_hps else inner


def resolve(experiment: Experiment) -> Resolved:
    """Import the model and load the data, before Ray starts.

    Raises:
        DataError: for a model or loader that cannot be imported, or data that cannot be
            loaded as configured (``field`` names the setting: ``model``, ``data.*``).
        ExperimentError: for a model that is not a ``build(hp)`` function or ``HyperModel``.
    """
    seed = experiment.data.seed if experiment.data.seed is not None else (experiment.seed or 0)
    section = experiment.data.model_dump(exclude={"seed"})
    arrays = prepare_section(section, base_dir=experiment.base_dir or ".", seed=seed)
    search_kwargs = {
        **arrays,
        "epochs": experiment.fit.epochs,
        "batch_size": experiment.fit.batch_size,
        **experiment.fit.extra_kwargs(),
    }
    return Resolved(experiment, _hypermodel(experiment), search_kwargs)


def check_components(experiment: Experiment) -> None:
    """Check the searcher's and scheduler's options (imports Ray, starts nothing).

    Raises:
        ExperimentError: naming ``searcher`` or ``scheduler``.
    """
    from raytune_hpt.schedulers import validate_scheduler
    from raytune_hpt.searchers import validate_searcher

    try:
        validate_searcher(experiment.searcher.spec())
    except (ValueError, TypeError) as error:
        raise ExperimentError("searcher", str(error).rstrip(".")) from None
    try:
        validate_scheduler(experiment.scheduler.spec(), experiment.fit.epochs)
    except (ValueError, TypeError) as error:
        raise ExperimentError("scheduler", str(error).rstrip(".")) from None


def storage_path(experiment: Experiment) -> str:
    """The storage path as an absolute path or URI; ``./results`` when the file gives none."""
    path = experiment.storage_path or "results"
    return path if "://" in path else str(Path(path).expanduser().resolve())


def build_tuner(
    experiment: Experiment,
    hypermodel: Any,
    *,
    overwrite: bool = False,
    verbose: int = 1,
    address: str | None = None,
) -> Any:
    """The :class:`raytune_hpt.Tuner` an experiment describes.

    Args:
        experiment: the validated file.
        hypermodel: what :func:`resolve` made of its ``model``.
        overwrite: start afresh if the experiment exists (otherwise it is resumed).
        verbose: Ray Tune's console verbosity.
        address: a Ray cluster to connect to; default: start Ray locally.
    """
    from raytune_hpt.tuner import Tuner

    return Tuner(
        hypermodel,
        objective=experiment.objective.to_objective(),
        searcher=experiment.searcher.spec(),
        scheduler=experiment.scheduler.spec(),
        max_trials=experiment.max_trials,
        hyperparameters=experiment.hyperparameters() if experiment.space else None,
        resources=experiment.resources if experiment.resources == "auto"
        else experiment.resources.to_tuner(),
        workers_per_trial=experiment.workers_per_trial,
        tracking=experiment.tracking,
        max_concurrent_trials=experiment.max_concurrent_trials,
        storage_path=storage_path(experiment),
        name=experiment.name,
        seed=experiment.seed,
        overwrite=overwrite,
        max_failures=experiment.max_failures,
        verbose=verbose,
        address=address,
    )
