"""One pipeline, refusing what it does not support: a ``run_trial`` override trains each
trial in one worker, so ``workers_per_trial > 1`` is refused before anything starts (it used
to be ignored while the start line announced N workers)."""

from __future__ import annotations

import pytest

import raytune_hpt as rth
from raytune_hpt.errors import ConfigurationError


class OwnTrial(rth.Tuner):
    def run_trial(self, trial, *args, **kwargs):
        return trial.hyperparameters.Float("x", -1, 1) ** 2


def test_a_run_trial_override_refuses_several_workers(tmp_path):
    tuner = OwnTrial(objective=rth.Objective("score", "min"), max_trials=2,
                     workers_per_trial=2, storage_path=str(tmp_path), name="own")
    with pytest.raises(ConfigurationError, match="workers_per_trial=2") as error:
        tuner.search()
    assert "run_trial" in str(error.value)
    assert not (tmp_path / "own").exists()  # nothing started or written
