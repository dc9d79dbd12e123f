"""Choosing a component by name: the shared half of the searcher and scheduler registries."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["check_options", "spec_name", "split_spec"]


def split_spec(
    spec: Any, names: Iterable[str], kind: str, ray_class: str
) -> tuple[str, dict[str, Any]]:
    """``"name"`` or ``{"type": "name", **options}`` as ``(name, options)``.

    Raises:
        TypeError: neither a name nor a dict.
        ValueError: a name not among ``names`` (the error lists them).
    """
    if isinstance(spec, str):
        name, options = spec, {}
    elif isinstance(spec, dict):
        options = dict(spec)
        name = options.pop("type", None)
    else:
        raise TypeError(
            f"{kind} must be a name, a dict with a 'type' key or a {ray_class}, but got {spec!r}."
        )
    if name not in names:
        raise ValueError(f"{kind} must be one of {sorted(names)}; got {name!r}.")
    return name, options


def check_options(factory: Callable[..., Any], options: dict[str, Any], kind: str, name: str,
                  context: Iterable[str]) -> None:
    """Raise if ``options`` has a key ``factory`` does not take (``context`` keys are ours)."""
    accepted = inspect.signature(factory).parameters
    if any(p.kind is p.VAR_KEYWORD for p in accepted.values()):
        return
    allowed = sorted(set(accepted) - set(context))
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"{kind} '{name}' takes the options {allowed}; got unknown {unknown}.")


def spec_name(spec: Any) -> str | None:
    """The registered name a spec gives (``"asha"``, ``{"type": "asha", ...}``), or None for
    a ready Ray object (or a dict without a string ``type``)."""
    if isinstance(spec, str):
        return spec
    if isinstance(spec, dict):
        name = spec.get("type")
        return name if isinstance(name, str) else None
    return None
