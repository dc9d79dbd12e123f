"""The layout rules of issue 13, checked by scripts/check_layout.py (the same functions)."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import re
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "check_layout.py"


@pytest.fixture(scope="module")
def layout():
    spec = importlib.util.spec_from_file_location("check_layout", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _new(layout, found) -> list[str]:
    return sorted(key for key in found if key not in layout.KNOWN_EXCEPTIONS)


def test_no_module_over_400_lines(layout):
    assert layout.MAX_MODULE_LINES == 400
    assert _new(layout, layout.long_modules()) == [], "split these modules"


def test_no_function_over_60_lines(layout):
    assert layout.MAX_FUNCTION_LINES == 60
    too_long = layout.long_functions()
    new = {key: too_long[key] for key in _new(layout, too_long)}
    assert new == {}, "write these as a short list of named steps"


def test_private_ray_and_keras_names_only_in_the_compat_module(layout):
    assert layout.private_engine_names() == [], (
        "move these into raytune_hpt/_ray_compat.py (with why and the version checked)"
    )


def test_no_private_file_or_name_imported_from_another_subpackage(layout):
    assert _new(layout, layout.cross_package_private_imports()) == [], (
        "import from the subpackage's __init__ (its API) instead"
    )


def test_known_exceptions_are_still_exceptions(layout):
    """The set only shrinks: an entry fixed since must leave it."""
    fixed = sorted(layout.KNOWN_EXCEPTIONS - set(layout.all_problems()))
    assert fixed == [], "remove these from KNOWN_EXCEPTIONS in scripts/check_layout.py"


def test_the_checks_catch_what_they_are_for(layout, tmp_path):
    """Each check finds a planted offence (so an empty answer means something)."""
    source = (
        "import ray._private.utils\n"
        "from ray.train._internal import storage\n"
        "def f(grid, tuner):\n"
        "    tuner._local_tuner.get_run_config()\n"
        "    return grid._experiment_analysis\n"
    )
    uses = sorted(what for _, what in layout._private_uses(ast.parse(source)))
    assert uses == [
        "_experiment_analysis",
        "_local_tuner",
        "ray._private.utils",
        "ray.train._internal",
    ]
    body = "\n".join(f"    x = {i}" for i in range(60))
    tree = ast.parse(f"class A:\n  def g(self):\n{body}\n")
    assert [(name, n.end_lineno - n.lineno + 1) for name, n in layout._functions(tree)] == [
        ("A.g", 61)
    ]
    imports = ast.parse("from raytune_hpt.worker._report import MODEL_FILE\n").body[0]
    assert list(layout._imported(imports)) == [("raytune_hpt.worker._report", True)]
    assert layout._subpackage("raytune_hpt.worker._report") == "raytune_hpt.worker"
    assert layout._subpackage("raytune_hpt._checks") is None


def test_no_import_circles_lazy_imports_included(layout):
    circles = layout.import_circles()
    assert _new(layout, circles) == [], (
        "break these circles: move what both sides need into a module both import "
        f"(as _record.py does for the worker and results/): {circles}"
    )


def test_the_settings_travel_typed(layout):
    assert _new(layout, layout.untyped_settings_parameters()) == [], (
        "annotate these with Settings (or the Tuner), never Any"
    )


def _planted_graph(layout, root: Path) -> dict[str, set[str]]:
    """The import graph of a package planted under ``root`` (``root/raytune_hpt``)."""
    original_root = layout.ROOT
    layout.ROOT = root
    try:
        modules = {layout._module_of(p): p for p in (root / "raytune_hpt").rglob("*.py")}
        return {name: layout.module_imports(path, modules) for name, path in modules.items()}
    finally:
        layout.ROOT = original_root


def test_the_circle_and_settings_checks_catch_what_they_are_for(layout, tmp_path):
    """A planted circle (one side lazy, inside a function; one through a lazy-attribute map)
    and a planted ``tuner: Any`` are found."""
    package = tmp_path / "raytune_hpt"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("def f():\n    from raytune_hpt.b import g\n    return g\n")
    (package / "b.py").write_text("from raytune_hpt import a\n\ndef g(tuner: 'Any') -> None:\n"
                                  "    pass\n")
    (package / "sub" / "__init__.py").write_text(
        "from raytune_hpt._lazy import lazy_attributes\n"
        "__getattr__ = lazy_attributes(__name__, {'X': '_x'})\n")
    (package / "sub" / "_x.py").write_text("from raytune_hpt.sub import Y\n")
    (package / "c.py").write_text(
        "import importlib\nM = importlib.import_module('raytune_hpt.a')\n")
    graph = _planted_graph(layout, tmp_path)
    assert graph["raytune_hpt.c"] == {"raytune_hpt.a"}
    assert sorted(layout.import_circles(graph)) == [
        "circle: raytune_hpt.a, raytune_hpt.b",
        "circle: raytune_hpt.sub, raytune_hpt.sub._x",
    ]
    tree = ast.parse((package / "b.py").read_text())
    assert [layout._is_any(a.annotation) for a in tree.body[1].args.args] == [True]
    assert not layout._is_any(ast.parse("def f(settings: Settings): pass").body[0].args.args[0]
                              .annotation)


def test_a_lazy_table_passed_by_name_is_an_import(layout, tmp_path):
    """``lazy_attributes(__name__, _LAZY)``: the table is read from the module's own
    ``_LAZY = {...}``, so a circle through it is found (issue 34, seam 7)."""
    package = tmp_path / "raytune_hpt"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text(
        "from raytune_hpt._lazy import lazy_attributes\n"
        "_LAZY = {'X': '_x', 'Y': '_y'}\n"
        "__getattr__ = lazy_attributes(__name__, _LAZY)\n")
    (package / "sub" / "_x.py").write_text("from raytune_hpt.sub import Y\n")
    (package / "sub" / "_y.py").write_text("Y = 1\n")
    graph = _planted_graph(layout, tmp_path)
    assert graph["raytune_hpt.sub"] == {"raytune_hpt.sub._x", "raytune_hpt.sub._y"}
    assert sorted(layout.import_circles(graph)) == ["circle: raytune_hpt.sub, raytune_hpt.sub._x"]


def _lazy_table(package: str) -> dict[str, str] | None:
    """The ``where`` table of a package's ``lazy_attributes`` ``__getattr__``, read at run time."""
    getter = getattr(importlib.import_module(package), "__getattr__", None)
    if getter is None or getter.__qualname__ != "lazy_attributes.<locals>.__getattr__":
        return None
    cells = {name: cell.cell_contents
             for name, cell in zip(getter.__code__.co_freevars, getter.__closure__, strict=True)}
    return cells["where"]


def test_every_lazy_table_of_the_package_is_in_the_import_graph(layout):
    """What each subpackage's ``__getattr__`` really loads (its table as Python holds it, however
    the source spells it) is an edge of the graph the circle check walks."""
    graph = layout.import_graph()
    packages = sorted(name for name, path in layout._module_names().items()
                      if path.name == "__init__.py" and "lazy_attributes(" in path.read_text())
    assert {"raytune_hpt.tracking", "raytune_hpt.worker"} <= set(packages)
    missing = {}
    for package in packages:
        table = _lazy_table(package)
        assert table, f"{package} calls lazy_attributes but its __getattr__ is not one"
        targets = {f"{package}.{module}" for module in table.values()}
        if targets - graph[package]:
            missing[package] = sorted(targets - graph[package])
    assert missing == {}, "scripts/check_layout.py misses these lazy imports"


ARCHITECTURE = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"
#: Folders the page describes as a whole: their files are data and small model modules.
WHOLE_FOLDERS = ("examples/",)


def _tree_modules(text: str) -> set[str]:
    """``folder/_file.py`` for every module named in the trees of docs/architecture.md's
    "The tree" section: the names a line starts with (``_trial.py``, ``_gp.py, _acquisition.py``)
    under the nearest less indented folder (``worker/``); wrapped descriptions are skipped."""
    section = text.split("## The tree", 1)[1].split("\n## ", 1)[0]
    found: set[str] = set()
    folders: list[tuple[int, str]] = []  # (indent, "worker/")
    for line in section.splitlines():
        if not line.strip() or line.startswith(("```", "#")):
            continue
        indent = len(line) - len(line.lstrip())
        entry = re.match(r"(?:\w+\.py|\w+/)(?:,\s*\w+\.py)*(?=\s|$)", line.strip())
        if entry is None or entry.group() == "raytune_hpt/":
            continue  # a wrapped description, or the root
        column = entry.group()
        names = re.findall(r"\w+\.py|\w+/", column)
        while folders and folders[-1][0] >= indent:
            folders.pop()
        if column.endswith("/"):
            folders.append((indent, column))
            continue
        found.update("".join(f for _, f in folders) + name for name in names)
    return found


def test_every_module_is_in_the_architecture_page(layout):
    """docs/architecture.md's tree names every module of the package, and only those."""
    modules = {p.relative_to(layout.PACKAGE).as_posix() for p in layout.package_files()}
    modules = {m for m in modules
               if not m.endswith("__init__.py") and not m.startswith(WHOLE_FOLDERS)}
    named = {m for m in _tree_modules(ARCHITECTURE.read_text()) if not m.endswith("__init__.py")}
    assert {"worker/_trial.py", "searchers/_gp.py", "cli/_main.py", "tuner.py",
            "__main__.py"} <= named  # the reading works
    assert sorted(modules - named) == [], "name these modules in docs/architecture.md's tree"
    assert sorted(named - modules) == [], "docs/architecture.md names modules that are gone"
