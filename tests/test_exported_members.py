"""The public API: a short, curated, sorted ``__all__``, cheap to import; and each
subpackage's ``__init__`` (its API) with a sorted ``__all__`` of names it really has."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import pytest

import raytune_hpt

PUBLIC_API = [
    "BayesianOptimization",
    "ConfigurationError",
    "ExperimentResults",
    "GridSearch",
    "HyperModel",
    "HyperParameters",
    "Hyperband",
    "Objective",
    "Pareto",
    "RandomSearch",
    "TrialFailedError",
    "Tuner",
    "__version__",
    "errors",
    "load_results",
    "oracles",
]


def test_all_is_sorted_and_curated():
    assert raytune_hpt.__all__ == sorted(raytune_hpt.__all__)
    assert raytune_hpt.__all__ == PUBLIC_API


def test_every_exported_name_resolves():
    for name in raytune_hpt.__all__:
        assert getattr(raytune_hpt, name) is not None, name
    assert isinstance(raytune_hpt.__version__, str)
    assert callable(raytune_hpt.load_results)


def test_exports_are_the_package_objects():
    from raytune_hpt.errors import ConfigurationError, TrialFailedError
    from raytune_hpt.hypermodel import HyperModel
    from raytune_hpt.hyperparameters import HyperParameters
    from raytune_hpt.objective import Objective
    from raytune_hpt.results import ExperimentResults
    from raytune_hpt.tuner import Tuner

    assert raytune_hpt.ConfigurationError is ConfigurationError
    assert raytune_hpt.TrialFailedError is TrialFailedError
    assert raytune_hpt.HyperModel is HyperModel
    assert raytune_hpt.HyperParameters is HyperParameters
    assert raytune_hpt.Objective is Objective
    assert raytune_hpt.ExperimentResults is ExperimentResults
    assert raytune_hpt.Tuner is Tuner


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'Tunr'"):
        raytune_hpt.Tunr  # noqa: B018


def test_dir_lists_the_public_api():
    assert set(PUBLIC_API) <= set(dir(raytune_hpt))


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print('\\n'.join(sorted(sys.modules)))"],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    return set(out.split())


def _heavy(modules: set[str]) -> set[str]:
    roots = {"tensorflow", "keras", "ray", "keras_tuner"}
    return {m for m in modules if m.split(".")[0] in roots}


def test_import_is_cheap():
    loaded = _modules_after("import raytune_hpt")
    assert "raytune_hpt" in loaded
    assert _heavy(loaded) == set()


def test_declaring_hyperparameters_and_objectives_stays_cheap():
    # What a build function's module and a config need; TensorFlow and Ray wait for search().
    loaded = _modules_after(
        "import raytune_hpt as rth\n"
        "hp = rth.HyperParameters(); hp.Int('units', 8, 64, step=8); hp.grid()\n"
        "rth.Objective('val_loss'); rth.HyperModel; rth.ConfigurationError"
    )
    assert _heavy(loaded) == set()


SUBPACKAGES = sorted(
    f"raytune_hpt.{info.name}"
    for info in pkgutil.iter_modules(raytune_hpt.__path__)
    if info.ispkg
)


def _isort_order(name: str) -> tuple[int, str]:
    """ruff's RUF022 order: CONSTANTS, then Classes, then functions, each alphabetical."""
    if name.isupper() or (name.upper() == name and "_" in name):
        return 0, name
    return (1 if name[:1].isupper() else 2), name


def test_the_subpackages_are_the_documented_ones():
    assert {"raytune_hpt.cli", "raytune_hpt.experiment", "raytune_hpt.hyperparameters",
            "raytune_hpt.results", "raytune_hpt.searchers", "raytune_hpt.tracking",
            "raytune_hpt.worker"} <= set(SUBPACKAGES)


@pytest.mark.parametrize("package", SUBPACKAGES)
def test_each_subpackage_all_is_sorted_and_importable(package):
    module = importlib.import_module(package)
    exported = module.__all__
    assert exported, f"{package} has an empty __all__"
    assert exported == sorted(exported, key=_isort_order), f"sort {package}.__all__"
    assert len(set(exported)) == len(exported), f"{package}.__all__ repeats a name"
    missing = [name for name in exported if not hasattr(module, name)]
    assert missing == [], f"{package}.__all__ names what it does not have"
    private = [name for name in exported if name.startswith("_")]
    assert private == [], f"{package}.__all__ exports private names"
