"""Check the package's layout rules (issue 13); exit 1 and list what breaks them.

* no module of ``raytune_hpt`` over ``MAX_MODULE_LINES`` lines;
* no function over ``MAX_FUNCTION_LINES`` lines, counted from ``def`` to the last line of its
  body, docstring included;
* private Ray and Keras names (``ray._private``, ``ray.train._internal``, ``_local_tuner``,
  ``_experiment_analysis``, ``model._symbolic_build``, ...) only in ``raytune_hpt/_ray_compat.py``;
* a subpackage's private file (``raytune_hpt/<pkg>/_<file>.py``) or private name is imported
  only from inside that subpackage.

``KNOWN_EXCEPTIONS`` lists what still breaks a rule in files being edited by others; it is
to be emptied, not grown. Run ``python scripts/check_layout.py``; ``tests/test_layout.py``
runs the same checks.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "raytune_hpt"
COMPAT = PACKAGE / "_ray_compat.py"

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60

#: Still breaking a rule, to be fixed by the files' owners: a module (``path``), a function
#: (``path:qualified.name``) or an import (``path -> module``). Empty it; never add to it.
KNOWN_EXCEPTIONS: frozenset[str] = frozenset()

#: Private attributes of Ray and Keras objects (see ``_ray_compat.PRIVATE_NAMES``).
PRIVATE_ATTRIBUTES = frozenset(
    {
        "_experiment_analysis",
        "_local_tuner",
        "_log_epoch_metrics",
        "_log_weights",
        "_pop_writer",
        "_symbolic_build",
        "_system_config",
        "_trial_runs",
        "_trial_to_result",
        "get_pickled_error",
    }
)
_ENGINES = ("ray", "keras", "tensorflow", "tensorboard")


def package_files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def long_modules(limit: int = MAX_MODULE_LINES) -> dict[str, int]:
    """``path`` -> lines of every module over ``limit`` lines."""
    found = {}
    for path in package_files():
        count = len(path.read_text(encoding="utf-8").splitlines())
        if count > limit:
            found[_name(path)] = count
    return found


def _functions(tree: ast.AST, prefix: str = "") -> Iterator[tuple[str, ast.AST]]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield prefix + node.name, node
            yield from _functions(node, f"{prefix}{node.name}.")
        elif isinstance(node, ast.ClassDef):
            yield from _functions(node, f"{prefix}{node.name}.")
        else:
            yield from _functions(node, prefix)


def function_lengths() -> dict[str, int]:
    """``path:qualified.name`` -> lines from ``def`` to the end of the body."""
    lengths = {}
    for path in package_files():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for qualname, node in _functions(tree):
            lengths[f"{_name(path)}:{qualname}"] = node.end_lineno - node.lineno + 1
    return lengths


def long_functions(limit: int = MAX_FUNCTION_LINES) -> dict[str, int]:
    """Every function over ``limit`` lines, known exceptions included."""
    return {name: n for name, n in function_lengths().items() if n > limit}


def _private_module(module: str) -> bool:
    parts = module.split(".")
    return parts[0] in _ENGINES and any(p.startswith("_") for p in parts[1:])


def _private_uses(tree: ast.AST) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, a.name) for a in node.names if _private_module(a.name))
        elif isinstance(node, ast.ImportFrom) and node.module and _private_module(node.module):
            yield node.lineno, node.module
        elif isinstance(node, ast.Attribute) and node.attr in PRIVATE_ATTRIBUTES:
            yield node.lineno, node.attr
        elif isinstance(node, ast.keyword) and node.arg in PRIVATE_ATTRIBUTES:
            yield node.value.lineno, node.arg
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if node.name in PRIVATE_ATTRIBUTES:  # overriding a private method
                yield node.lineno, node.name
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value in PRIVATE_ATTRIBUTES or _private_module(node.value.strip()):
                yield node.lineno, node.value


def private_engine_names() -> list[str]:
    """``path:line: name`` of every private Ray/Keras name used outside the compat module."""
    found = []
    for path in package_files():
        if path == COMPAT:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        found += [f"{_name(path)}:{line}: {what}" for line, what in sorted(_private_uses(tree))]
    return found


def _subpackage(module: str) -> str | None:
    """``raytune_hpt.worker`` for ``raytune_hpt.worker._trial``; None for top-level modules."""
    parts = module.split(".")
    if parts[0] != "raytune_hpt" or len(parts) < 2:
        return None
    if (PACKAGE / parts[1]).is_dir():
        return ".".join(parts[:2])
    return None


def _module_of(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported(node: ast.AST) -> Iterator[tuple[str, bool]]:
    """``(module, private)`` for each module or name an import statement takes."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name, any(p.startswith("_") for p in alias.name.split(".")[2:])
    elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        private_file = any(p.startswith("_") for p in node.module.split(".")[2:])
        for alias in node.names:
            yield node.module, private_file or alias.name.startswith("_")


def cross_package_private_imports() -> dict[str, int]:
    """``path -> module`` -> line where a file imports another subpackage's private file or
    name."""
    found = {}
    for path in package_files():
        home = _subpackage(_module_of(path))
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            for module, private in _imported(node):
                owner = _subpackage(module)
                if private and owner is not None and owner != home:
                    found.setdefault(f"{_name(path)} -> {module}", node.lineno)
    return found


def all_problems() -> dict[str, str]:
    """Everything that breaks a rule: key (as in ``KNOWN_EXCEPTIONS``) -> one line."""
    found = {
        key: f"module over {MAX_MODULE_LINES} lines: {key} ({n})"
        for key, n in long_modules().items()
    }
    found.update(
        (key, f"function over {MAX_FUNCTION_LINES} lines: {key} ({n})")
        for key, n in long_functions().items()
    )
    found.update(
        (use, f"private Ray/Keras name outside _ray_compat.py: {use}")
        for use in private_engine_names()
    )
    found.update(
        (key, f"another subpackage's private file or name imported: {key} (line {line})")
        for key, line in cross_package_private_imports().items()
    )
    return found


def problems() -> list[str]:
    """Everything that breaks a rule, known exceptions excepted."""
    return [line for key, line in sorted(all_problems().items()) if key not in KNOWN_EXCEPTIONS]


def main() -> int:
    found = all_problems()
    new = problems()
    for line in new:
        print(line)
    for key in sorted(KNOWN_EXCEPTIONS):
        state = f"still to fix: {found[key]}" if key in found else f"fixed, remove it: {key}"
        print(f"known exception, {state}")
    print(f"{len(new)} problem(s)" if new else "layout OK")
    return 1 if new else 0


if __name__ == "__main__":
    sys.exit(main())
