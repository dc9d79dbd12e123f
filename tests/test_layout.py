"""The layout rules of issue 13, checked by scripts/check_layout.py (the same functions)."""

from __future__ import annotations

import ast
import importlib.util
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
    (package / "c.py").write_text("import importlib\nM = importlib.import_module('raytune_hpt.a')\n")
    original_root = layout.ROOT
    layout.ROOT = tmp_path
    try:
        modules = {layout._module_of(p): p for p in package.rglob("*.py")}
        graph = {name: layout.module_imports(path, modules) for name, path in modules.items()}
    finally:
        layout.ROOT = original_root
    assert graph["raytune_hpt.c"] == {"raytune_hpt.a"}
    assert sorted(layout.import_circles(graph)) == [
        "circle: raytune_hpt.a, raytune_hpt.b",
        "circle: raytune_hpt.sub, raytune_hpt.sub._x",
    ]
    tree = ast.parse((package / "b.py").read_text())
    assert [layout._is_any(a.annotation) for a in tree.body[1].args.args] == [True]
    assert not layout._is_any(ast.parse("def f(settings: Settings): pass").body[0].args.args[0]
                              .annotation)
