"""The one number checker (what counts as a number in user input, and its error message),
and the one check of a name that becomes a folder.

``True`` is an ``int`` in Python but never a count or a rate here, so every check rejects
booleans; messages say what must hold and what was received.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

__all__ = [
    "check_bool", "check_int", "check_number", "check_one_of", "check_path_name",
    "is_finite_number", "is_number",
]


def is_number(value: Any, *, integer: bool = False) -> bool:
    """Whether ``value`` is a real number (an integer if asked), booleans excluded."""
    kind = numbers.Integral if integer else numbers.Real
    return isinstance(value, kind) and not isinstance(value, bool)


def is_finite_number(value: Any) -> bool:
    """A real number that is neither NaN nor infinite (booleans excluded)."""
    return is_number(value) and math.isfinite(value)


def check_int(name: str, value: Any, minimum: int, *, optional: bool = False) -> None:
    """Raise ``ValueError`` unless ``value`` is an integer >= ``minimum`` (or None if optional).

    Example:
        >>> check_int("max_trials", 0, 1)
        Traceback (most recent call last):
        ...
        ValueError: max_trials must be an integer >= 1, but got 0.
    """
    if optional and value is None:
        return
    if not is_number(value, integer=True) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, but got {value!r}.")


def check_number(name: str, value: Any, *, minimum: float | None = None,
                 above: float | None = None, optional: bool = False) -> None:
    """Raise ``ValueError`` unless ``value`` is a number >= ``minimum`` / > ``above``."""
    if optional and value is None:
        return
    bound = (f" >= {minimum}" if minimum is not None else "") + (
        f" > {above}" if above is not None else "")
    ok = is_number(value) and (minimum is None or value >= minimum) and (
        above is None or value > above)
    if not ok:
        suffix = " or None" if optional else ""
        raise ValueError(f"{name} must be a number{bound}{suffix}, but got {value!r}.")


def check_bool(name: str, value: Any) -> bool:
    """``value`` if it is ``True`` or ``False``, else ``TypeError`` (``"no"`` is truthy)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, but got {value!r}.")
    return value


def check_one_of(name: str, value: Any, choices: tuple[int, ...]) -> int:
    """``value`` if it is one of the integers ``choices``, else ``ValueError``."""
    if not is_number(value, integer=True) or value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, but got {value!r}.")
    return value


def check_path_name(field: str, value: Any) -> str:
    """``value`` if it can name one folder (an experiment's ``name``), else ``ValueError``.

    The one rule for the Python API and the experiment file: a non-empty string, not ``.`` or
    ``..``, without ``/`` or ``\\`` and without control characters, so that
    ``<storage_path>/<name>`` stays a child of the storage path (``overwrite`` deletes it).

    Example:
        >>> check_path_name("name", "..")
        Traceback (most recent call last):
        ...
        ValueError: name must be a folder name (not '.' or '..', no '/', '\\' or control characters), but got '..'.
    """
    ok = (isinstance(value, str) and value.strip() != "" and value not in (".", "..")
          and not any(c in "/\\" or ord(c) < 32 or ord(c) == 127 for c in value))
    if not ok:
        raise ValueError(f"{field} must be a folder name (not '.' or '..', no '/', '\\' or "
                         f"control characters), but got {value!r}.")
    return value
