"""References to user code in an experiment file: ``module:function`` or ``file.py:function``.

:func:`check_ref` checks a reference's form (for the schema, nothing imported);
:func:`import_object` imports it, a file by path under a stable module name so that Ray's
cloudpickle can ship it to the workers. Every failure is one :class:`ExperimentError`
naming the field (``model``, ``data.loader``).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import re
import sys
from pathlib import Path
from typing import Any

from raytune_hpt import storage
from raytune_hpt.errors import ExperimentError

__all__ = ["check_ref", "import_object", "is_file_ref", "join_path"]

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


def join_path(base: str, path: str) -> str:
    """``path`` under ``base`` unless it is absolute or a URI."""
    return (
        path
        if storage.is_uri(path) or Path(path).is_absolute()
        else str((Path(base) / path).resolve())
    )


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
        raise ExperimentError(
            field, f"importing {str(file)!r} failed: {_describe(error)}"
        ) from None
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


def import_object(ref: str, *, base_dir: str | None = None, field: str = "model") -> Any:
    """Import ``module:attr`` or ``path/to/file.py:attr``.

    A module loaded from a file is registered with ``ray.cloudpickle`` to be pickled by value,
    so that Ray workers, which cannot import it, receive its code. A relative file path starts
    at ``base_dir`` (the experiment file's folder).

    Raises:
        ExperimentError: when the module or attribute cannot be found or the import fails.
    """
    target, _, attr = ref.rpartition(":")
    if is_file_ref(target):
        file = Path(join_path(base_dir or ".", target))
        if not file.is_file():
            raise ExperimentError(field, f"no such file {str(file)!r} (from {ref!r})")
        _check_defined(str(file), attr, target=target, field=field)
        module = _import_file(file, field=field)
    else:
        _check_defined(_module_source(target, ref, field=field), attr, target=target, field=field)
        try:
            module = importlib.import_module(target)
        except Exception as error:
            raise ExperimentError(
                field, f"importing {target!r} failed: {_describe(error)}"
            ) from None
    value: Any = module
    for part in attr.split("."):
        if not hasattr(value, part):
            raise ExperimentError(field, f"{target!r} has no attribute {attr!r}")
        value = getattr(value, part)
    return value
