"""Check the package's layout rules (issue 13); exit 1 and list what breaks them.

* no module of ``raytune_hpt`` over ``MAX_MODULE_LINES`` lines;
* no function over ``MAX_FUNCTION_LINES`` lines, counted from ``def`` to the last line of its
  body, docstring included;
* private Ray and Keras names (``ray._private``, ``ray.train._internal``, ``_local_tuner``,
  ``_experiment_analysis``, ``model._symbolic_build``, ...) only in ``raytune_hpt/_ray_compat/``;
* a subpackage's private file (``raytune_hpt/<pkg>/_<file>.py``) or private name is imported
  only from inside that subpackage;
* no import circle between the package's modules (issue 24), counting every import: at the
  top, inside functions, under ``if TYPE_CHECKING:``, and the lazy ones a string names
  (``lazy_attributes(__name__, {...: "_report"})``, or the table passed by the name of a
  module-level variable, ``lazy_attributes(__name__, _LAZY)``; ``import_module("raytune_hpt.x")``);
  a module importing its own package's ``__init__`` is counted, the parent package Python
  runs first is not;
* a parameter named ``settings`` or ``tuner`` is annotated with its type, never ``Any``
  (issue 24: the settings object travels, not a bag of attributes).

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
COMPAT = PACKAGE / "_ray_compat"

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
        if COMPAT in path.parents:
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


def _module_names() -> dict[str, Path]:
    return {_module_of(path): path for path in package_files()}


def _resolve(module: str, name: str | None, modules: dict[str, Path]) -> str | None:
    """The package module an import names: ``pkg.name`` when that is a module, else ``pkg``."""
    if name is not None and f"{module}.{name}" in modules:
        return f"{module}.{name}"
    return module if module in modules else None


def _absolute(path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = _module_of(path).split(".")
    if path.name != "__init__.py":
        base.pop()
    base = base[: len(base) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def _module_values(tree: ast.Module) -> dict[str, ast.AST]:
    """``NAME`` -> the value a module-level ``NAME = ...`` (or ``NAME: T = ...``) gives it."""
    values: dict[str, ast.AST] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    values[target.id] = node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            if isinstance(node.target, ast.Name):
                values[node.target.id] = node.value
    return values


def _lazy_targets(path: Path, node: ast.Call, modules: dict[str, Path],
                  values: dict[str, ast.AST]) -> Iterator[str]:
    """Submodules that ``lazy_attributes(__name__, {...})`` of this package loads by name,
    the table written inline or passed by the name of a module-level variable (``_LAZY``)."""
    package = _module_of(path)
    for argument in (*node.args, *(k.value for k in node.keywords)):
        if isinstance(argument, ast.Name) and argument.id in values:
            argument = values[argument.id]
        for child in ast.walk(argument):
            if isinstance(child, ast.Constant) and isinstance(child.value, str):
                if f"{package}.{child.value}" in modules:
                    yield f"{package}.{child.value}"


def module_imports(path: Path, modules: dict[str, Path] | None = None) -> set[str]:
    """Every package module ``path`` imports, wherever the import stands, lazy ones included."""
    modules = modules if modules is not None else _module_names()
    found: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    values = _module_values(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in modules)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(path, node)
            found.update(t for a in node.names if (t := _resolve(base, a.name, modules)))
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "lazy_attributes":
            found.update(_lazy_targets(path, node, modules, values))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            named = node.value.split(":")[0]  # import_module("x"), a registry's "x:Name"
            if named in modules:
                found.add(named)
    found.discard(_module_of(path))
    return found


def import_graph() -> dict[str, set[str]]:
    """``module`` -> the package modules it imports."""
    modules = _module_names()
    return {name: module_imports(path, modules) for name, path in modules.items()}


def _strong_components(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components, iteratively (no recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next((c for c in children if c in graph), None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
    return components


def import_circles(graph: dict[str, set[str]] | None = None) -> dict[str, str]:
    """``circle: a, b, ...`` -> one line naming who imports whom, for every import circle."""
    graph = graph if graph is not None else import_graph()
    found = {}
    for component in _strong_components(graph):
        if len(component) < 2:
            continue
        members = set(component)
        ties = "; ".join(f"{m} -> {', '.join(sorted(graph[m] & members))}" for m in component)
        found[f"circle: {', '.join(component)}"] = ties
    return found


#: Parameters that carry the search's settings: annotated with their type, never ``Any``.
SETTINGS_PARAMETERS = frozenset({"settings", "tuner"})


def _is_any(annotation: ast.AST | None) -> bool:
    if annotation is None:
        return True
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        return annotation.value.strip() in ("Any", "typing.Any")
    return ast.unparse(annotation) in ("Any", "typing.Any")


def untyped_settings_parameters() -> list[str]:
    """``path:function: parameter`` of every ``settings``/``tuner`` parameter typed ``Any``
    (or not typed at all)."""
    found = []
    for path in package_files():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for qualname, node in _functions(tree):
            arguments = node.args
            for arg in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs):
                if arg.arg in SETTINGS_PARAMETERS and _is_any(arg.annotation):
                    found.append(f"{_name(path)}:{qualname}: {arg.arg}")
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
        (use, f"private Ray/Keras name outside _ray_compat/: {use}")
        for use in private_engine_names()
    )
    found.update(
        (key, f"another subpackage's private file or name imported: {key} (line {line})")
        for key, line in cross_package_private_imports().items()
    )
    found.update(
        (key, f"import {key} (lazy imports included): {ties}")
        for key, ties in import_circles().items()
    )
    found.update(
        (key, f"the settings travel typed, never as Any: {key}")
        for key in untyped_settings_parameters()
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
