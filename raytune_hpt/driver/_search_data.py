"""The data given to ``Tuner.search``, checked in the driver and shaped for Ray's object store.

Arrays (or a zero-argument loader run on each worker) go into the object store once and
every trial reads the same copy; numpy data of at least
:data:`raytune_hpt.settings.SHARED_ARRAYS_MB` is then fed to Keras batch by batch from that
copy (``raytune_hpt.worker``'s ``_feeding``). A
``tf.data.Dataset`` travels as its serialized graph and is rebuilt in each trial
(``worker.ShippedDataset``), so its shuffles and random maps draw anew each epoch; the files
it names must be readable on every node that runs trials (checked before any trial starts).
A ``keras.utils.PyDataset`` is copied to the workers as it is (pickled); a Python generator
cannot be copied and is refused with the way out. docs/data.md has the whole picture.
"""

from __future__ import annotations

import inspect
import os
from typing import Any

import numpy as np

from raytune_hpt.errors import ConfigurationError

__all__ = ["check_dataset_files", "check_fit_data", "ship_dataset", "ship_datasets",
           "split_fit_arguments"]

#: Ops that call back into the driver's Python (tf.py_function, tf.numpy_function,
#: Dataset.from_generator): a graph holding one cannot run in another process.
_PYTHON_OPS = frozenset({"EagerPyFunc", "PyFunc", "PyFuncStateless"})
#: How long the check that every node reads a dataset's files may take.
FILE_CHECK_SECONDS = 60.0
_LOADER_HINT = ("pass x as a zero-argument function that builds the data on the worker and "
                "returns {'x': ..., 'validation_data': ...} (docs/data.md)")


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
        return {"loader": x, "loader_key": os.urandom(16).hex()}
    if inspect.isgenerator(x) or inspect.isgenerator(validation_data):
        raise TypeError(
            "A Python generator cannot be copied to Ray's workers (it lives in this process "
            f"and can be read once); {_LOADER_HINT}, or use a keras.utils.PyDataset.")
    if is_tf_dataset(x) or is_tf_dataset(validation_data) or _is_py_dataset(x):
        return _check_dataset_input(x, y, validation_data, cv, fit_kwargs)
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


def ship_datasets(args: tuple, kwargs: dict[str, Any]) -> tuple[tuple, dict[str, Any]]:
    """A custom ``run_trial``'s arguments with each ``tf.data.Dataset`` as its graph."""

    def ship(value: Any, key: str) -> Any:
        return ship_dataset(value, key) if is_tf_dataset(value) else value

    shipped_args = tuple(ship(v, f"argument {k}") for k, v in enumerate(args))
    return shipped_args, {k: ship(v, k) for k, v in kwargs.items()}


def is_tf_dataset(value: Any) -> bool:
    if not type(value).__module__.startswith("tensorflow"):
        return False
    import tensorflow as tf

    return isinstance(value, tf.data.Dataset)


def _is_py_dataset(value: Any) -> bool:
    return any(c.__name__ == "PyDataset" and c.__module__.startswith("keras")
               for c in type(value).__mro__)


def _check_dataset_input(x: Any, y: Any, validation_data: Any, cv: int | None,
                         fit_kwargs: dict[str, Any]) -> dict[str, Any]:
    """A ``tf.data.Dataset`` or ``PyDataset`` as x or validation_data (Keras's own rules)."""
    if y is not None and not isinstance(y, np.ndarray | list) or (
            y is not None and (is_tf_dataset(x) or _is_py_dataset(x))):
        raise ValueError(f"With x a {type(x).__name__}, the dataset yields the targets: y must "
                         f"not be given, but got {type(y).__name__}.")
    if cv or fit_kwargs.get("validation_split"):
        what = "cv" if cv else "validation_split"
        raise ValueError(f"{what} needs x and y as arrays; a dataset cannot be split. Pass "
                         "validation_data=<a second dataset> instead.")
    if validation_data is not None and not (
            is_tf_dataset(validation_data) or _is_py_dataset(validation_data)
            or isinstance(validation_data, tuple | list)):
        raise TypeError("validation_data must be a tf.data.Dataset, a PyDataset or a tuple "
                        f"(x_val, y_val), but got {type(validation_data).__name__}.")
    return {
        "x": ship_dataset(x, "x") if is_tf_dataset(x) else x, "y": y,
        "validation_data": (ship_dataset(validation_data, "validation_data")
                            if is_tf_dataset(validation_data) else validation_data),
    }


def ship_dataset(dataset: Any, what: str) -> Any:
    """A ``tf.data.Dataset`` as a ``worker.ShippedDataset``: its graph, file paths made
    absolute (a trial runs in its own folder), and the files it names.

    Raises:
        ConfigurationError: the pipeline calls Python (it cannot run in another process).
    """
    import tensorflow as tf

    from raytune_hpt import _ray_compat
    from raytune_hpt.worker import ShippedDataset

    graph = tf.compat.v1.GraphDef()
    graph.ParseFromString(_ray_compat.serialized_dataset_graph(dataset))
    nodes = [*graph.node, *(n for f in graph.library.function for n in f.node_def)]
    python = sorted({n.op for n in nodes} & _PYTHON_OPS)
    if python:
        raise ConfigurationError(
            f"{what} is a tf.data.Dataset that calls Python ({', '.join(python)}: from "
            "tf.py_function, tf.numpy_function or Dataset.from_generator), which cannot run "
            f"in Ray's worker processes; {_LOADER_HINT}.")
    files = _absolute_file_paths(nodes)
    return ShippedDataset(graph.SerializeToString(), dataset.element_spec, tuple(files), what)


def _looks_like_path(text: str) -> bool:
    """A file or folder the pipeline names: one that exists here, or an absolute path in a
    folder that exists here (a file deleted or not yet on this machine). Relative names
    count only with a separator or an extension, so a feature key ``"x"`` never does."""
    if not text or len(text) > 4096 or "\0" in text or "://" in text:
        return False
    if os.path.isabs(text):
        return os.path.exists(text) or (len(text) > 1 and os.path.isdir(os.path.dirname(text)))
    return (os.sep in text or os.path.splitext(text)[1] != "") and os.path.exists(text)


def _absolute_file_paths(nodes: list) -> list[str]:
    """The files and folders named by the graph's string constants; relative ones are
    rewritten as absolute in place (the constant is replaced, shape and type kept)."""
    import tensorflow as tf

    files = []
    for node in nodes:
        tensor = node.attr["value"].tensor if "value" in node.attr else None
        if tensor is None or tensor.dtype != tf.string.as_datatype_enum:
            continue
        # parse_tensor reads both encodings (string_val, and tensor_content that
        # make_ndarray cannot read for strings)
        values = np.asarray(tf.io.parse_tensor(tensor.SerializeToString(), tf.string).numpy(),
                            dtype=object)
        flat, changed = values.reshape(-1), False
        for index, raw in enumerate(flat):
            text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else str(raw)
            if _looks_like_path(text):
                if not os.path.isabs(text):
                    text, changed = os.path.abspath(text), True
                    flat[index] = text.encode()
                files.append(text)
        if changed:
            tensor.CopyFrom(tf.make_tensor_proto(flat.reshape(values.shape), dtype=tf.string))
    return files


def check_dataset_files(data: dict[str, Any], timeout: float = FILE_CHECK_SECONDS) -> None:
    """Every node that may run trials reads the files the shipped datasets name.

    Checked in this process when Ray has one node here; else by a zero-CPU task per node.

    Raises:
        ConfigurationError: a file no trial could read, with the node and the rule.
    """
    files = sorted({f for v in data.values() for f in getattr(v, "files", ())})
    if not files:
        return
    import ray

    here = ray.get_runtime_context().get_node_id()
    nodes = [n["NodeID"] for n in ray.nodes() if n.get("Alive")]
    if nodes == [here]:
        unreadable = {"this machine": _unreadable(files)}
    else:
        unreadable = _unreadable_on_nodes(nodes, files, timeout)
    for node, missing in unreadable.items():
        if missing:
            shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more"
                                              if len(missing) > 3 else "")
            raise ConfigurationError(
                f"A tf.data.Dataset given to search() reads {len(missing)} file(s) that "
                f"cannot be read on {node}: {shown}. Every node that runs trials must see the "
                "dataset's files at the same paths (storage all nodes mount), or "
                f"{_LOADER_HINT}.")


def _unreadable(paths: list[str]) -> list[str]:
    return [p for p in paths if not os.access(p, os.R_OK)]


def _unreadable_on_nodes(nodes: list[str], files: list[str],
                         timeout: float) -> dict[str, list[str]]:
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    check = ray.remote(num_cpus=0)(_unreadable)
    refs = {f"node {node[:8]}": check.options(
        scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False)).remote(files)
        for node in nodes}
    try:
        return dict(zip(refs, ray.get(list(refs.values()), timeout=timeout), strict=True))
    except ray.exceptions.GetTimeoutError as error:
        raise ConfigurationError(
            f"Checking that every node reads the dataset's files took over {timeout:.0f} s "
            "(a node is busy or unreachable); the search did not start.") from error


def split_fit_arguments(args: tuple, kwargs: dict[str, Any]) -> tuple:
    """``x, y, validation_data, epochs, cv`` out of ``fit``-style arguments (popped)."""
    if len(args) > 2:
        raise TypeError(f"search() takes x and y as positional arguments; got {len(args)}.")
    x = args[0] if args else kwargs.pop("x", None)
    y = args[1] if len(args) > 1 else kwargs.pop("y", None)
    return (x, y, kwargs.pop("validation_data", None), kwargs.pop("epochs", 1),
            kwargs.pop("cv", None))
