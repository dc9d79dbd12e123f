"""The experiment file: its schema, its validation and its translation into ``Tuner`` arguments.

One YAML file says everything a search needs::

    name: mnist-mlp
    model: raytune_hpt.examples.mnist:build_mlp   # module:function or path/to/file.py:function
    data: {dataset: mnist, validation_split: 0.2}
    objective: val_accuracy                       # or {name: val_loss, direction: min}
    searcher: {type: bayesopt, random_initial: 4}
    scheduler: {type: asha, grace_period: 1}
    max_trials: 20
    fit: {epochs: 10, batch_size: 32}
    space:                                        # hyperparameters declared up front
      batch_size: {type: choice, values: [32, 64, 128]}
    resources: {cpu: 1, gpu: 0}
    storage_path: ./results
    seed: 0

:func:`load_experiment` reads it with ``yaml.safe_load``, applies ``--set key=value``
overrides and validates it without importing TensorFlow or Ray. Any problem raises
:class:`ExperimentError` whose message starts with the field's path:
``searcher.type: must be one of bayesopt, grid, hyperopt, optuna, random; got 'bayes'``.
:func:`resolve` then imports the model and loads the data (still before Ray starts), and
:func:`build_tuner` makes the :class:`~raytune_hpt.Tuner`.

A space entry named like a ``model.fit`` argument (``batch_size``, ``epochs``, ``shuffle``) is
passed to ``model.fit`` in each trial.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import logging
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from raytune_hpt.data import DATASETS, DataError
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
    "import_ref",
    "load_experiment",
    "load_saved_experiment",
    "parse_experiment",
    "resolve",
    "save_experiment",
]

logger = logging.getLogger(__name__)

EXPERIMENT_FILE = "raytune_hpt_experiment.yaml"
FIT_HYPERPARAMETERS = ("batch_size", "epochs", "shuffle")
_MODULE = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class ExperimentError(ConfigurationError):
    """The experiment file or an argument is invalid; ``field`` is the path of the culprit."""

    def __init__(self, field: str, message: str) -> None:
        self.field, self.message = field, message
        super().__init__(f"{field}: {message}")


def _fail(message: str, field: str | None = None) -> PydanticCustomError:
    """An error for a validator; ``field`` is appended to the location pydantic reports."""
    return PydanticCustomError("experiment", message, {"field": field} if field else {})


def _is_file_ref(target: str) -> bool:
    return target.endswith(".py") or "/" in target or "\\" in target


def _check_ref(value: str) -> str:
    target, _, attr = value.rpartition(":")
    if not (target and _MODULE.match(attr) and (_is_file_ref(target) or _MODULE.match(target))):
        raise _fail(f"must be 'module:function' or 'path/to/file.py:function'; got {value!r}")
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
                    raise _fail(f"unknown field; {hint}expected one of {', '.join(known)}", str(key))
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
        method = {"int": hp.Int, "float": hp.Float, "choice": hp.Choice,
                  "boolean": hp.Boolean, "fixed": hp.Fixed}[self.type]
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

    @field_validator("dataset")
    @classmethod
    def _known_dataset(cls, value: str | None) -> str | None:
        if value is not None and value not in DATASETS:
            raise _fail(f"must be one of {', '.join(sorted(DATASETS))}; got {value!r}")
        return value

    @field_validator("loader")
    @classmethod
    def _loader_ref(cls, value: str | None) -> str | None:
        return None if value is None else _check_ref(value)

    @model_validator(mode="after")
    def _consistent(self) -> DataSpec:
        sources = [n for n in ("dataset", "loader", "parquet") if getattr(self, n) is not None]
        if len(sources) != 1:
            found = ", ".join(sources) if sources else "none"
            raise _fail(f"give exactly one of dataset, loader, parquet; got {found}")
        if self.parquet is None:
            for name in ("features", "label", "validation", "s3"):
                if getattr(self, name) is not None:
                    raise _fail("only Parquet data takes this field; drop it or give parquet", name)
        elif self.label is None:
            raise _fail("Parquet data needs the name of its label column", "label")
        if self.kwargs is not None and self.loader is None:
            raise _fail("only a loader takes kwargs", "kwargs")
        ways = [n for n in ("validation_split", "cv", "validation") if getattr(self, n) is not None]
        if len(ways) > 1:
            raise _fail(f"choose one way to validate; got {' and '.join(ways)}", ways[1])
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
    """What one trial books: CPUs and (fractions of) GPUs."""

    cpu: float = Field(1, gt=0)
    gpu: float = Field(0, ge=0)


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
    resources: ResourcesSpec = ResourcesSpec()
    storage_path: str | None = None
    seed: int | None = None
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


_MESSAGES = {
    "int_type": "must be an integer",
    "float_type": "must be a number",
    "string_type": "must be a string",
    "bool_type": "must be true or false",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    "list_type": "must be a list",
    "missing": "is required",
}


def _format(error: dict[str, Any]) -> ExperimentError:
    loc = [str(p) for p in error["loc"]]
    ctx = error.get("ctx") or {}
    if error["type"] == "experiment":
        if ctx.get("field"):
            loc.append(ctx["field"])
        message = error["msg"]
    elif error["type"] in _MESSAGES:
        message = _MESSAGES[error["type"]]
        if error["type"] != "missing":
            message += f"; got {error['input']!r}"
    elif error["type"] in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        sign = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<",
                "less_than_equal": "<="}[error["type"]]
        bound = next(iter(ctx.values()))
        message = f"must be {sign} {bound}; got {error['input']!r}"
    elif error["type"] == "literal_error":
        message = f"must be one of {ctx.get('expected', '')}; got {error['input']!r}"
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
        raise ExperimentError("experiment", f"the file must be a mapping of fields; got {type(raw).__name__}")
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
        raise ExperimentError(str(path), f"cannot read the experiment file ({error.strerror})") from None
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


def _join(base: str, path: str) -> str:
    return path if "://" in path or Path(path).is_absolute() else str((Path(base) / path).resolve())


def save_experiment(experiment: Experiment, experiment_path: str) -> str:
    """Write the experiment, with absolute paths, as ``EXPERIMENT_FILE`` under ``experiment_path``.

    ``resume`` rebuilds the run from it. ``experiment_path`` may be local or a URI.

    Returns:
        Where the file was written.
    """
    import pyarrow.fs

    saved = experiment.model_copy(update={"storage_path": None, "name": experiment.name})
    if "://" in experiment_path:
        filesystem, folder = pyarrow.fs.FileSystem.from_uri(experiment_path)
    else:
        filesystem, folder = pyarrow.fs.LocalFileSystem(), str(Path(experiment_path).resolve())
    filesystem.create_dir(folder, recursive=True)
    target = f"{folder.rstrip('/')}/{EXPERIMENT_FILE}"
    with filesystem.open_output_stream(target) as stream:
        stream.write(saved.to_yaml().encode("utf-8"))
    return target


def load_saved_experiment(experiment_path: str) -> Experiment:
    """The experiment ``raytune-hpt run`` saved in ``experiment_path`` (local or a URI).

    Raises:
        ExperimentError: when the folder holds no saved experiment.
    """
    import pyarrow.fs

    if "://" in experiment_path:
        filesystem, folder = pyarrow.fs.FileSystem.from_uri(experiment_path)
    else:
        filesystem, folder = pyarrow.fs.LocalFileSystem(), str(Path(experiment_path).resolve())
    target = f"{folder.rstrip('/')}/{EXPERIMENT_FILE}"
    try:
        with filesystem.open_input_stream(target) as stream:
            raw = yaml.safe_load(stream.read().decode("utf-8"))
    except (OSError, FileNotFoundError):
        raise ExperimentError(
            "DIR", f"{experiment_path} holds no {EXPERIMENT_FILE}; is it a folder `raytune-hpt run` made?"
        ) from None
    return parse_experiment(raw)


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


def _top_level_names(source: str) -> set[str] | None:
    """Names a module binds at top level, or ``None`` when it may bind others dynamically."""
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None  # importing reports it properly
    names: set[str] = set()
    statements = list(tree.body)
    while statements:
        node = statements.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == "*":
                    return None
                names.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.For, ast.With)):
            names.update(n.id for n in ast.walk(node) if isinstance(n, ast.Name))
        elif isinstance(node, ast.Expr):
            continue
        if isinstance(node, (ast.If, ast.Try, ast.For, ast.While, ast.With)):
            for block in ("body", "orelse", "finalbody", "handlers"):
                statements.extend(getattr(node, block, []) or [])
        elif isinstance(node, ast.ExceptHandler):
            statements.extend(node.body)
        elif not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import,
                                   ast.ImportFrom, ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Expr)):
            return None  # something unusual (walrus, match, global tricks): ask the import
    return None if "__getattr__" in names else names


def _check_defined(source_file: str | None, attr: str, *, target: str, field: str) -> None:
    # Reading the source first catches a misspelt function without importing the module,
    # which would import TensorFlow (slow, and it writes to stderr) just to report a typo.
    if not source_file or not source_file.endswith(".py"):
        return
    try:
        names = _top_level_names(Path(source_file).read_text(encoding="utf-8"))
    except OSError:
        return
    first = attr.split(".")[0]
    if names is not None and first not in names:
        import difflib

        close = difflib.get_close_matches(first, sorted(names), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ExperimentError(field, f"{target!r} has no attribute {first!r}{hint}")


def _import_file(file: Path, *, field: str) -> Any:
    digest = hashlib.sha1(str(file).encode()).hexdigest()[:10]
    module_name = f"raytune_hpt_user_{re.sub(r'[^A-Za-z0-9_]', '_', file.stem)}_{digest}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, file)
    if spec is None or spec.loader is None:
        raise ExperimentError(field, f"cannot load {str(file)!r} as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # cloudpickle wants registered modules in sys.modules
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        del sys.modules[module_name]
        raise ExperimentError(field, f"importing {str(file)!r} failed: {_describe(error)}") from None
    from ray import cloudpickle

    cloudpickle.register_pickle_by_value(module)
    return module


def _module_source(target: str, ref: str, *, field: str) -> str | None:
    """The file of module ``target``, found without importing it (its parents are imported)."""
    try:
        spec = importlib.util.find_spec(target)
    except ModuleNotFoundError as error:
        name = error.name or target
        raise ExperimentError(field, f"no module named {name!r} (from {ref!r})") from None
    except Exception as error:  # a parent package failed to import
        raise ExperimentError(field, f"importing {target!r} failed: {_describe(error)}") from None
    if spec is None:
        raise ExperimentError(field, f"no module named {target!r} (from {ref!r})")
    return spec.origin


def import_ref(ref: str, *, base_dir: str | None = None, field: str = "model") -> Any:
    """Import ``module:attr`` or ``path/to/file.py:attr``.

    A module loaded from a file is registered with ``ray.cloudpickle`` to be pickled by value,
    so that Ray workers, which cannot import it, receive its code. A relative file path starts
    at ``base_dir`` (the experiment file's folder).

    Raises:
        ExperimentError: when the module or attribute cannot be found or the import fails.
    """
    target, _, attr = ref.rpartition(":")
    if _is_file_ref(target):
        file = Path(_join(base_dir or ".", target))
        if not file.is_file():
            raise ExperimentError(field, f"no such file {str(file)!r} (from {ref!r})")
        _check_defined(str(file), attr, target=target, field=field)
        module = _import_file(file, field=field)
    else:
        _check_defined(_module_source(target, ref, field=field), attr, target=target, field=field)
        try:
            module = importlib.import_module(target)
        except Exception as error:
            raise ExperimentError(field, f"importing {target!r} failed: {_describe(error)}") from None
    value: Any = module
    for part in attr.split("."):
        if not hasattr(value, part):
            raise ExperimentError(field, f"{target!r} has no attribute {attr!r}")
        value = getattr(value, part)
    return value


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
    value = import_ref(experiment.model, base_dir=experiment.base_dir, field="model")
    if isinstance(value, type):
        try:
            value = value()
        except TypeError as error:
            raise ExperimentError("model", f"cannot instantiate {experiment.model}: {error}") from None
    try:
        inner = as_hypermodel(value)
    except TypeError as error:
        raise ExperimentError("model", str(error).rstrip(".")) from None
    fit_hps = tuple(n for n in FIT_HYPERPARAMETERS if n in experiment.space)
    return ExperimentHyperModel(inner, fit_hps) if fit_hps else inner


def resolve(experiment: Experiment) -> Resolved:
    """Import the model and load the data, before Ray starts.

    Raises:
        ExperimentError: for a model or data reference that cannot be found, or data that
            does not fit the validation settings.
    """
    from raytune_hpt import data as data_module

    spec = experiment.data
    base = experiment.base_dir or "."
    loader = import_ref(spec.loader, base_dir=base, field="data.loader") if spec.loader else None
    if loader is not None and not callable(loader):
        raise ExperimentError("data.loader", f"{spec.loader} is not a function")
    seed = spec.seed if spec.seed is not None else (experiment.seed or 0)
    try:
        arrays = data_module.prepare(
            dataset=spec.dataset,
            loader=loader,
            loader_kwargs=spec.kwargs,
            parquet=_join(base, spec.parquet) if spec.parquet else None,
            features=spec.features,
            label=spec.label,
            validation=_join(base, spec.validation) if spec.validation else None,
            filesystem_options=spec.s3,
            validation_split=spec.validation_split,
            cv=spec.cv,
            seed=seed,
        )
    except DataError as error:
        field, _, message = str(error).partition(": ")
        raise ExperimentError(field, message) from None
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

    for field, check in (
        ("searcher", lambda: validate_searcher(experiment.searcher.spec())),
        ("scheduler", lambda: validate_scheduler(experiment.scheduler.spec(), experiment.fit.epochs)),
    ):
        try:
            check()
        except (ValueError, TypeError) as error:
            raise ExperimentError(field, str(error).rstrip(".")) from None


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
        resources=experiment.resources.model_dump(),
        max_concurrent_trials=experiment.max_concurrent_trials,
        storage_path=storage_path(experiment),
        name=experiment.name,
        seed=experiment.seed,
        overwrite=overwrite,
        max_failures=experiment.max_failures,
        verbose=verbose,
        address=address,
    )
