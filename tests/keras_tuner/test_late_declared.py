"""A ``run_trial`` that declares its hyperparameters as it runs: only the first trial takes
the defaults, as in Keras Tuner, even with several trials at once.

The guides' "tune any function" tuner starts from an empty space. Ray starts as many trials
as fit; all of them used to be suggested before the first one had declared ``x``, so the
first wave all ran the default (4 of 10 trials at ``x = -1.0`` with 2 at once).
"""

from __future__ import annotations

import raytune_hpt as kt


class _AnyFunction(kt.RandomSearch):
    def run_trial(self, trial, *args, **kwargs):
        x = trial.hyperparameters.Float("x", min_value=-1.0, max_value=1.0)
        return x * x + 1


def test_only_the_first_trial_takes_the_default(ray_local, tmp_path):
    tuner = _AnyFunction(max_trials=8, overwrite=True, directory=str(tmp_path),
                         project_name="late", seed=3)
    tuner.search()

    trials = tuner.oracle.get_best_trials(100)
    xs = [t.hyperparameters.get("x") for t in trials]
    assert len(xs) == 8
    assert xs.count(-1.0) == 1, f"trials at the default x=-1.0: {sorted(xs)}"
    assert len(set(xs)) == 8, f"repeated x: {sorted(xs)}"
    assert all(t.score == x * x + 1 for t, x in zip(trials, xs, strict=True))
