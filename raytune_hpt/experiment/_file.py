"""Loading an experiment file (overrides, saved copies) and turning it into ``Tuner`` arguments.

One YAML file says everything a search needs: model, data, objective, searcher, scheduler,
budget, ``fit`` arguments, extra ``space`` entries, resources, storage and seed (the reference
is ``docs/cli.md``; the bundled examples are in :mod:`raytune_hpt.examples`).
Its schema, one pydantic model per section, is ``_schema.py`` beside this file.

:func:`load_experiment` reads it with ``yaml.safe_load``, applies ``--set key=value``
overrides and validates it without importing TensorFlow or Ray. Any problem raises
:class:`ExperimentError` whose message starts with the field's path:
``searcher.type: must be one of bayesopt, grid, hyperopt, optuna, random; got 'bayes'``.
:func:`resolve` then imports the model and loads the data (still before Ray starts), and
:func:`build_tuner` makes the :class:`~raytune_hpt.Tuner`.

A ``space`` entry named like a ``fit`` argument (``batch_size``) is passed to ``model.fit``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from raytune_hpt import storage
from raytune_hpt._secrets import REDACTED, redact, restore_redacted, secrets_in
from raytune_hpt.errors import ExperimentError
from raytune_hpt.experiment._data import prepare_section
from raytune_hpt.experiment._refs import import_object
from raytune_hpt.experiment._schema import Experiment
from raytune_hpt.hypermodel import HyperModel, as_hypermodel
from raytune_hpt.hyperparameters import HyperParameters
from raytune_hpt.settings import Settings, tuner_arguments
from raytune_hpt.tuner import Tuner

__all__ = [
    "EXPERIMENT_FILE",
    "FIT_HYPERPARAMETERS",
    "REDACTED",
    "Resolved",
    "apply_overrides",
    "build_tuner",
    "load_experiment",
    "load_saved_experiment",
    "parse_experiment",
    "redacted_yaml",
    "resolve",
    "save_experiment",
    "secret_fields",
]


EXPERIMENT_FILE = "raytune_hpt_experiment.yaml"
FIT_HYPERPARAMETERS = ("batch_size", "epochs", "shuffle")


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
        **fields: top-level fields to set (``name``, ``storage_path``, ``max_trials``,
            ``max_time``) when
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

    target = storage.join(storage.normalize(experiment_path), EXPERIMENT_FILE)
    storage.write_text(target, experiment_yaml(experiment))
    return target


def experiment_yaml(experiment: Experiment) -> str:
    """The experiment as saved beside its results (the storage path is where it lies), its
    secrets redacted (results folders are shared; ``resume`` takes credentials from the
    environment)."""
    return redacted_yaml(experiment.model_copy(update={"storage_path": None}))


def secret_fields(experiment: Experiment) -> list[str]:
    """The dotted names of the settings that hold a secret (``data.kwargs.api_token``,
    ``tracking.mlflow`` with ``user:password@``...), by the rule of :mod:`raytune_hpt._secrets`."""
    return list(secrets_in(experiment.model_dump(mode="json", exclude_none=True)))


def redacted_yaml(experiment: Experiment) -> str:
    """The experiment as YAML with every secret replaced by ``<redacted>``: what the package
    writes or prints (the saved copy, ``run --dry-run``)."""
    return yaml.safe_dump(redact(yaml.safe_load(experiment.to_yaml())), sort_keys=False)


def load_saved_experiment(experiment_path: str) -> Experiment:
    """The experiment ``raytune-hpt run`` saved in ``experiment_path`` (a folder or a URI).

    Raises:
        ExperimentError: when the folder holds no saved experiment.
    """

    try:
        text = storage.read_text(storage.join(storage.normalize(experiment_path), EXPERIMENT_FILE))
    except OSError:
        raise ExperimentError(
            "DIR",
            f"{experiment_path} holds no {EXPERIMENT_FILE}; is it a folder `raytune-hpt run` made?",
        ) from None
    return parse_experiment(restore_redacted(yaml.safe_load(text)))


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
    """Load the data and import the model, before Ray starts.

    Raises:
        ExperimentError: for a model or loader that cannot be imported, or data that cannot be
            loaded as configured (``field`` names the setting: ``model``, ``data.*``).
    """
    seed = experiment.data.seed if experiment.data.seed is not None else (experiment.seed or 0)
    section = experiment.data.model_dump(exclude={"seed", "shared_arrays_mb"})
    arrays = prepare_section(section, base_dir=experiment.base_dir or ".", seed=seed)
    search_kwargs = {
        **arrays,
        "epochs": experiment.fit.epochs,
        "batch_size": experiment.fit.batch_size,
        **experiment.fit.extra_kwargs(),
    }
    return Resolved(experiment, _hypermodel(experiment), search_kwargs)


def storage_path(experiment: Experiment) -> str:
    """The storage path as an absolute path or URI; ``./results`` when the file gives none.

    Raises:
        ExperimentError: a URI that storage refuses (a query string, credentials...).
    """
    path = experiment.storage_path or "results"
    if storage.is_uri(path):
        try:
            storage.normalize(path)
        except ValueError as error:
            raise ExperimentError("storage_path", str(error).rstrip(".")) from None
    return _absolute(path)


def _absolute(path: str) -> str:
    """A folder (relative to the working directory, as ``storage_path``) made absolute; a URI
    as it is."""
    return path if storage.is_uri(path) else str(Path(path).expanduser().resolve())


def build_tuner(
    experiment: Experiment,
    hypermodel: Any,
    *,
    overwrite: bool = False,
    verbose: int = 1,
    address: str | None = None,
) -> Tuner:
    """The :class:`raytune_hpt.Tuner` an experiment describes, with its settings made here.

    Args:
        experiment: the validated file.
        hypermodel: what :func:`resolve` made of its ``model``.
        overwrite: start afresh if the experiment exists (otherwise it is resumed).
        verbose: Ray Tune's console verbosity.
        address: a Ray cluster to connect to; default: start Ray locally.
    """
    # Every setting the file writes as Settings names it (max_trials, seed, keep_models...)
    # passes as it is; the others are the file's own shapes, made into settings here.
    same = {name: getattr(experiment, name) for name in tuner_arguments()
            if name in Experiment.model_fields}
    return Tuner.from_settings(hypermodel, Settings.create(**{
        **same,
        "objective": experiment.objective.to_objective(),
        "searcher": experiment.searcher.spec(),
        "scheduler": experiment.scheduler.spec(),
        "hyperparameters": experiment.hyperparameters() if experiment.space else None,
        "resources": experiment.resources if experiment.resources in (None, "auto")
        else experiment.resources.to_tuner(),
        "storage_path": storage_path(experiment),
        "overwrite": overwrite, "verbose": verbose, "address": address,
        "shared_arrays_mb": experiment.data.shared_arrays_mb,
        "warm_start": experiment.warm_start and _absolute(experiment.warm_start),
    }))
