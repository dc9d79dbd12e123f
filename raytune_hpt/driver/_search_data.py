"""The data given to ``Tuner.search``, checked in the driver and shaped for Ray's object store.

Arrays (or a zero-argument loader run on each worker) go into the object store once and
every trial reads the same copy; numpy data of at least :data:`raytune_hpt.settings.SHARED_ARRAYS_MB` is then fed
to Keras batch by batch from that copy (``raytune_hpt.worker``'s ``_feeding``).
"""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np

from raytune_hpt import storage
from raytune_hpt.errors import ConfigurationError
from raytune_hpt.worker import SavedDataset

__all__ = ["check_fit_data", "ship_datasets", "split_fit_arguments"]


def _length(name: str, array: Any) -> int | None:
    try:
        return len(array)
    except TypeError:
        return None


def _check_finite(name: str, array: Any) -> None:
    if isinstance(array, np.ndarray) and np.issubdtype(array.dtype, np.floating):
        bad = int(np.count_nonzero(~np.isfinite(array)))
        if bad:
            raise ValueError(
                f"{name} must hold only finite numbers, but it has {bad} NaN or infinite "
                f"value(s) out of {array.size}; impute or drop them before the search."
            )


def check_fit_data(x: Any, y: Any, *, validation_data: Any, cv: int | None,
                   fit_kwargs: dict[str, Any]) -> dict[str, Any]:
    """Check the data given to ``search`` and shape it for the object store.

    Raises:
        ValueError/TypeError: no data, lengths that differ, NaNs, or cross-validation on
            something that is not an array.
    """
    if x is None:
        raise ValueError("search() needs training data: pass x (and y), or x as a loader function.")
    if callable(x) and not hasattr(x, "shape"):
        if y is not None or validation_data is not None or cv:
            raise ValueError(
                "With x as a loader function, the loader returns x, y and validation_data "
                "itself; y, validation_data and cv must not be given."
            )
        # the workers' cache key: each trial unpickles its own copy of the loader, so
        # neither its identity nor its id() survives the trip
        return {"loader": x, "loader_key": uuid.uuid4().hex}
    type_name = type(x).__module__ + "." + type(x).__name__
    if "tensorflow" in type_name and "Dataset" in type_name:
        raise TypeError(
            "A tf.data.Dataset cannot be shipped to Ray workers; pass x as a zero-argument "
            "function that builds the dataset on the worker."
        )
    for name, array in (("x", x), ("y", y)):
        _check_finite(name, array)
        if _length(name, array) == 0:
            raise ValueError(f"{name} must hold at least one sample, but it is empty.")
    if y is not None and _length("x", x) is not None and _length("x", x) != _length("y", y):
        raise ValueError(
            f"x and y must have the same number of samples, but got {_length('x', x)} and "
            f"{_length('y', y)}."
        )
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise TypeError(
                "validation_data must be a tuple (x_val, y_val), but got "
                f"{type(validation_data).__name__}."
            )
        xv, yv = validation_data[0], validation_data[1]
        _check_finite("validation_data[0]", xv)
        if _length("xv", xv) == 0:
            raise ValueError("validation_data must hold at least one sample, but it is empty.")
        if _length("xv", xv) != _length("yv", yv):
            raise ValueError(
                f"validation_data's x and y must have the same number of samples, but got "
                f"{_length('xv', xv)} and {_length('yv', yv)}."
            )
        validation_data = tuple(validation_data)
    if cv:
        if not isinstance(x, np.ndarray) or not isinstance(y, np.ndarray):
            raise TypeError("cv needs x and y as numpy arrays.")
        if validation_data is not None or fit_kwargs.get("validation_split"):
            raise ValueError("cv makes its own validation folds; do not also give validation data.")
        if len(x) < cv:
            raise ValueError(f"cv={cv} needs at least {cv} samples, but x has {len(x)}.")
    return {"x": x, "y": y, "validation_data": validation_data}


def ship_datasets(args: tuple, kwargs: dict[str, Any],
                  experiment_path: str) -> tuple[tuple, dict[str, Any]]:
    """A custom ``run_trial``'s arguments with each ``tf.data.Dataset`` saved to disk.

    A dataset cannot be pickled to the workers; it is written once with
    ``Dataset.save`` under ``<experiment>/datasets/`` and loaded on each worker.

    Raises:
        ConfigurationError: a dataset with an experiment in object storage (the workers
            would need a shared disk); pass a loader function instead.
    """
    def ship(value: Any, key: str) -> Any:
        kind = type(value).__module__ + "." + type(value).__name__
        if "tensorflow" not in kind or "Dataset" not in kind:
            return value
        if storage.is_uri(experiment_path):
            raise ConfigurationError(
                f"search() argument {key} is a tf.data.Dataset, which needs the experiment "
                f"on a disk the workers share; with storage at {experiment_path}, pass a "
                "function that builds the dataset instead.")
        path = storage.join(experiment_path, "datasets", key)
        value.save(path)
        return SavedDataset(path)

    shipped_args = tuple(ship(v, f"arg{k}") for k, v in enumerate(args))
    return shipped_args, {k: ship(v, k) for k, v in kwargs.items()}


def split_fit_arguments(args: tuple, kwargs: dict[str, Any]) -> tuple:
    """``x, y, validation_data, epochs, cv`` out of ``fit``-style arguments (popped)."""
    if len(args) > 2:
        raise TypeError(f"search() takes x and y as positional arguments; got {len(args)}.")
    x = args[0] if args else kwargs.pop("x", None)
    y = args[1] if len(args) > 1 else kwargs.pop("y", None)
    return (x, y, kwargs.pop("validation_data", None), kwargs.pop("epochs", 1),
            kwargs.pop("cv", None))
