"""Module-level ``__getattr__`` (PEP 562) that imports a package's heavy names on first use."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any

__all__ = ["lazy_attributes"]


def lazy_attributes(package: str, where: dict[str, str]) -> Callable[[str], Any]:
    """A ``__getattr__`` for ``package``: ``where`` maps each lazy name to the private module
    of ``package`` that defines it (``{"EpochReporter": "_report"}``)."""

    def __getattr__(name: str) -> Any:
        if name in where:
            return getattr(import_module(f"{package}.{where[name]}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
