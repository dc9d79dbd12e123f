"""A script named ``tensorboard.py`` hides the tensorboard package a search imports: one clear
error before any trial, not a search that never ends (the import ran the script again)."""

from __future__ import annotations

import os
import subprocess
import sys

_SCRIPT = """
import raytune_hpt as kt

class AnyFunction(kt.RandomSearch):
    def run_trial(self, trial, *args, **kwargs):
        return trial.hyperparameters.Float("x", -1.0, 1.0) ** 2

tuner = AnyFunction(max_trials=2, overwrite=True, directory="out", project_name="p", verbose=0)
tuner.search()
print("SEARCHED")
"""


def test_a_script_named_tensorboard_gets_one_clear_error(tmp_path):
    script = tmp_path / "tensorboard.py"
    script.write_text(_SCRIPT)
    env = {**os.environ, "RAYTUNE_HPT_STATE_DIR": str(tmp_path / "state")}
    env.pop("RAY_ADDRESS", None)
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=240)
    assert done.returncode != 0 and "SEARCHED" not in done.stdout
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("raytune_hpt.errors.ConfigurationError: "), done.stderr[-2000:]
    assert str(script) in last and "Rename the file" in last
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("result.json"))
