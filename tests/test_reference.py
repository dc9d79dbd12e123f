"""The documentation site and its API reference (mkdocs.yml, docs/reference/): the documented
command builds it offline, without importing TensorFlow, and every public name is in it.

One build (a few seconds) for the module: ``mkdocs build --strict`` as the docs extra runs it,
in a subprocess whose proxy points at a closed port, so that a build reaching the network
fails. ``--strict`` makes every warning fatal: a docstring griffe cannot parse, a name the
reference pages point at that no longer exists, a page of docs/ left out of the nav, a link
or an anchor that leads nowhere.
"""

from __future__ import annotations

import importlib
import inspect
import os
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

import raytune_hpt

ROOT = Path(__file__).resolve().parents[1]

# Runs mkdocs as `mkdocs build --strict -d SITE` would, then says whether TensorFlow or Ray
# were imported during the build.
BUILD = """
import sys
from mkdocs.__main__ import cli
try:
    cli(["build", "--strict", "--site-dir", sys.argv[1]])
except SystemExit as stop:
    if stop.code:
        raise
print("imported:", sorted(m for m in ("tensorflow", "ray", "keras") if m in sys.modules))
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    closed = "http://127.0.0.1:9"  # the discard port: nothing answers
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HTTP_PROXY": closed, "HTTPS_PROXY": closed,
           "http_proxy": closed, "https_proxy": closed, "NO_PROXY": "", "no_proxy": ""}
    done = subprocess.run([sys.executable, "-c", BUILD, str(out)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, (
        "`mkdocs build --strict` failed (pip install -e '.[docs]'):\n" + done.stdout + done.stderr
    )
    assert "imported: []" in done.stdout, f"the build imported heavy modules: {done.stdout}"
    return out


def _inventory(site: Path) -> set[str]:
    """The objects the reference documents, from the Sphinx inventory mkdocstrings writes."""
    data = (site / "objects.inv").read_bytes()
    header_end = 0
    for _ in range(4):  # four text lines, then zlib
        header_end = data.index(b"\n", header_end) + 1
    lines = zlib.decompress(data[header_end:]).decode().splitlines()
    return {line.split(" ", 1)[0] for line in lines if line}


def _defined_at(obj: object) -> str:
    """Where a public object is defined: ``raytune_hpt.tuner.Tuner``, ``raytune_hpt.errors``."""
    if inspect.ismodule(obj):
        return obj.__name__
    return f"{obj.__module__}.{obj.__qualname__}"


def _public_objects() -> dict[str, object]:
    """Every public name a user reaches: ``raytune_hpt.X`` and the members of the public
    modules it exports (``raytune_hpt.errors.*``, ``raytune_hpt.oracles.*``)."""
    found = {}
    for name in raytune_hpt.__all__:
        if name == "__version__":
            continue
        obj = getattr(raytune_hpt, name)
        found[f"raytune_hpt.{name}"] = obj
        if inspect.ismodule(obj):
            module = importlib.import_module(obj.__name__)
            for member in module.__all__:
                found[f"raytune_hpt.{name}.{member}"] = getattr(module, member)
    return found


def test_the_documented_command_is_the_one_tested():
    """mkdocs.yml, pyproject's docs extra and the page that tells users how to build agree."""
    config = (ROOT / "mkdocs.yml").read_text()
    assert "docs_dir: docs" in config and "strict: true" in config
    pyproject = (ROOT / "pyproject.toml").read_text()
    docs_extra = next(line for line in pyproject.splitlines() if line.startswith("docs = "))
    assert "mkdocs" in docs_extra and "mkdocstrings-python" in docs_extra
    how = (ROOT / "docs" / "reference" / "index.md").read_text()
    assert 'pip install -e ".[docs]"' in how and "mkdocs build --strict" in how


def test_every_public_name_is_in_the_reference(site):
    documented = _inventory(site)
    objects = _public_objects()
    assert {"raytune_hpt.Tuner", "raytune_hpt.ExperimentResults", "raytune_hpt.Hyperband",
            "raytune_hpt.errors.ExperimentError",
            "raytune_hpt.oracles.HyperbandOracle"} <= set(objects)
    missing = sorted(name for name, obj in objects.items() if _defined_at(obj) not in documented)
    assert missing == [], (
        "add these public names to a page of docs/reference/ (`::: module.Name`): "
        f"{missing}"
    )


def test_the_keras_tuner_classes_and_results_show_their_methods(site):
    documented = _inventory(site)
    expected = [
        "raytune_hpt.tuner.Tuner.search",
        "raytune_hpt.tuner.Tuner.get_best_models",
        "raytune_hpt.tuner.Tuner.get_best_hyperparameters",
        "raytune_hpt.tuner.Tuner.results_summary",
        "raytune_hpt.results.ExperimentResults.best_trial",
        "raytune_hpt.results.ExperimentResults.to_table",
        "raytune_hpt.results.ExperimentResults.report",
        "raytune_hpt.hyperparameters.HyperParameters.Int",
        "raytune_hpt.hyperparameters.HyperParameters.Choice",
    ]
    assert [name for name in expected if name not in documented] == []
    tuner_page = (site / "reference" / "tuner.html").read_text()
    assert "max_trials" in tuner_page and "Tune a Keras model" in tuner_page  # its docstring
    assert "__version__" in (site / "reference" / "index.html").read_text()


def test_the_site_needs_nothing_from_the_network(site):
    """Scripts and styles come from the site itself: it reads offline, from a file."""
    remote = []
    for page in site.rglob("*.html"):
        text = page.read_text()
        remote += [f"{page.name}: {tag}" for tag in ('src="http', "src='http")
                   if tag in text]
        remote += [f"{page.name}: stylesheet" for line in text.splitlines()
                   if 'rel="stylesheet"' in line and 'href="http' in line]
    assert remote == []
