"""The experiment file's schema: one pydantic model per section, checked without importing
TensorFlow or Ray.

Types are exact, unknown keys are refused (with a suggestion for a misspelt one) and every
problem carries the path of its field; :func:`raytune_hpt.experiment.parse_experiment` turns
pydantic's errors into :class:`~raytune_hpt.experiment.ExperimentError`, and
:mod:`raytune_hpt.experiment` re-exports :class:`Experiment`.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from raytune_hpt._checks import check_path_name
from raytune_hpt.experiment._data import check_section
from raytune_hpt.experiment._refs import check_ref
from raytune_hpt.hyperparameters import HyperParameters
from raytune_hpt.objective import Objective, Pareto
from raytune_hpt.schedulers import SCHEDULERS
from raytune_hpt.searchers import SEARCHERS
from raytune_hpt.settings import TUNER_DEFAULTS as _DEFAULT
from raytune_hpt.settings import check_keep_models, parse_duration

__all__ = [
    "DataSpec",
    "Experiment",
    "FitSpec",
    "HyperparameterSpec",
    "ObjectiveSpec",
    "ParetoTermSpec",
    "ResourcesSpec",
    "SchedulerSpec",
    "SearcherSpec",
]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def _fail(message: str, field: str | None = None) -> PydanticCustomError:
    """An error for a validator; ``field`` is appended to the location pydantic reports."""
    return PydanticCustomError("experiment", message, {"field": field} if field else {})


def _check_ref(value: str) -> str:
    problem = check_ref(value)
    if problem is not None:
        raise _fail(problem)
    return value


def _shorthand(key: str) -> Any:
    """A before-validator reading a bare string as ``{key: string}`` (``objective: val_loss``)."""

    def expand(cls: type, data: Any) -> Any:
        return {key: data} if isinstance(data, str) else data

    return model_validator(mode="before")(expand)


def _one_of(registry: dict[str, Any]) -> Any:
    """A validator of the ``type`` field: one of the registry's names."""

    def known(cls: type, value: str) -> str:
        if value not in registry:
            raise _fail(f"must be one of {', '.join(sorted(registry))}; got {value!r}")
        return value

    return field_validator("type")(known)


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


class ParetoTermSpec(_Strict):
    """One objective of a Pareto front: ``params`` or ``{name: params, direction: min}``."""

    name: str
    direction: Literal["min", "max"] | None = None

    _from_name = _shorthand("name")


class ObjectiveSpec(_Strict):
    """``objective: val_accuracy``, ``objective: {name: val_loss, direction: min}``, or a
    Pareto front: ``objective: {pareto: [val_accuracy, {name: params, direction: min}]}``
    (``name`` is then the first objective's)."""

    name: str
    direction: Literal["min", "max"] | None = None
    pareto: list[ParetoTermSpec] | None = None

    _from_name = _shorthand("name")

    @model_validator(mode="before")
    @classmethod
    def _pareto_name(cls, data: Any) -> Any:
        """A Pareto objective's ``name`` is its first term's (what one-metric code reads)."""
        if isinstance(data, dict) and isinstance(data.get("pareto"), list) and data["pareto"]:
            first = data["pareto"][0]
            first = first.get("name") if isinstance(first, dict) else first
            if "name" not in data and isinstance(first, str):
                data = {**data, "name": first}
        return data

    @model_validator(mode="after")
    def _direction_known(self) -> ObjectiveSpec:
        if self.pareto is not None and (self.direction is not None
                                        or self.name != self.pareto[0].name):
            raise _fail("a Pareto objective takes only pareto: [...] (each term with its own "
                        f"direction); got name={self.name!r}, direction={self.direction!r}")
        try:
            self.to_objective()
        except (TypeError, ValueError) as error:
            raise _fail(str(error).rstrip(".")) from None
        return self

    def to_objective(self) -> Objective:
        if self.pareto is not None:
            return Pareto([(t.name, t.direction) if t.direction else t.name
                           for t in self.pareto])
        return Objective(self.name, self.direction)


class _Component(BaseModel):
    """``searcher: random`` or ``searcher: {type: bayesopt, **options}``; options pass through."""

    model_config = ConfigDict(strict=True, extra="allow", frozen=True)
    type: str

    _from_name = _shorthand("type")

    def spec(self) -> dict[str, Any]:
        return self.model_dump()


class SearcherSpec(_Component):
    _known = _one_of(SEARCHERS)


class SchedulerSpec(_Component):
    _known = _one_of(SCHEDULERS)


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
    # numpy data of at least this many MB is fed from the one shared copy; 0 always, null never
    shared_arrays_mb: float | None = Field(_DEFAULT["shared_arrays_mb"], ge=0)

    _from_name = _shorthand("dataset")

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
    max_trials: int = Field(_DEFAULT["max_trials"], ge=1)
    max_concurrent_trials: int | None = Field(None, ge=1)
    max_failures: int = Field(_DEFAULT["max_failures"], ge=0)
    pending_timeout: float = Field(_DEFAULT["pending_timeout"], ge=1)  # seconds, no node
    fit: FitSpec = FitSpec()
    space: dict[str, HyperparameterSpec] = {}
    # Left out: the Tuner's default (one GPU per trial where Ray has GPUs, else one CPU).
    resources: ResourcesSpec | Literal["auto"] | None = None

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

    workers_per_trial: int = Field(_DEFAULT["workers_per_trial"], ge=1)
    tracking: dict[str, Any] | None = None  # {tensorboard: true, mlflow: URI}
    storage_path: str | None = None
    seed: int | None = Field(None, ge=0)
    base_dir: str | None = None  # where relative model, loader and Parquet paths start
    # configurations tried first; names and values are checked against the discovered space
    points_to_evaluate: list[dict[str, int | float | str | bool]] | None = Field(
        None, min_length=1)
    warm_start: str | None = Field(None, min_length=1)  # an earlier experiment's folder or URI
    max_time: int | float | str | None = None  # this run's budget: seconds, "90m", "2h"
    keep_models: int | None = _DEFAULT["keep_models"]  # the best trials' models kept; null: all

    @field_validator("keep_models", mode="before")
    @classmethod
    def _kept(cls, value: Any) -> Any:
        try:
            check_keep_models(value)
        except ValueError as error:
            raise _fail(str(error).removeprefix("keep_models ")) from None
        return value

    @field_validator("max_time")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        try:
            parse_duration("max_time", value)
        except ValueError as error:
            raise _fail(str(error).removeprefix("max_time ")) from None
        return value

    @field_validator("points_to_evaluate", mode="before")
    @classmethod
    def _points_shape(cls, value: Any) -> Any:
        if value is None:
            return value
        scalar = (bool, int, float, str)
        if not isinstance(value, list) or not all(
                isinstance(p, dict) and all(isinstance(k, str) and isinstance(v, scalar)
                                            for k, v in p.items()) for p in value):
            raise _fail("must be a list of mappings of hyperparameter names to values (int, "
                        "float, string or boolean), e.g. [{units: 64, lr: 0.001}]; "
                        f"got {value!r}")
        return value

    @field_validator("name")
    @classmethod
    def _folder_name(cls, value: str | None) -> str | None:
        if value is not None:  # the one rule for a name that becomes a folder, then ours
            try:
                check_path_name("name", value)
            except ValueError as error:
                raise _fail(str(error).removeprefix("name ")) from None
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
