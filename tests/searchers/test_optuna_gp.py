"""The optional optuna_gp searcher: a missing PyTorch says what to install."""

from __future__ import annotations

import subprocess
import sys

import pytest

from raytune_hpt.hyperparameters import HyperParameters
from raytune_hpt.searchers import create_searcher


def test_missing_torch_names_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    hp = HyperParameters()
    hp.Float("x", 0.0, 1.0)
    with pytest.raises(ImportError, match=r"needs the torch package: pip install torch"):
        create_searcher("optuna_gp", space=hp, metric="loss", mode="min")


def test_bayesopt_never_imports_torch():
    code = """
import sys
from raytune_hpt.hyperparameters import HyperParameters
from raytune_hpt.searchers import create_searcher
hp = HyperParameters()
hp.Float("x", 0.0, 1.0)
hp.Choice("kind", ["a", "b", "c"])
s = create_searcher("bayesopt", space=hp, metric="loss", mode="min", seed=0)
for i in range(8):
    c = s.suggest(f"t{i}")
    s.on_trial_complete(f"t{i}", {"loss": c["x"] + (c["kind"] != "b")})
print("torch" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
