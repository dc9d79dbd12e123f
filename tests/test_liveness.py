"""No search waits forever: HyperBand with trials that end before their rung, and the
driver's liveness rule for any scheduler that leaves trials paused."""

from __future__ import annotations

import math
import tempfile
import time

import pytest

import raytune_hpt as rth
from raytune_hpt.driver._supervision import STUCK_SECONDS
from raytune_hpt.schedulers import TIME_ATTR, create_scheduler

# The promoted trials of HyperBand's first bracket (max_t=9, factor 3: 9 trials from epoch
# 1, the best 3 go on to epoch 3) are x = 0, 1, 2; x = 1 and 2 end at epoch 2, before the
# rung, while x = 0 waits paused at epoch 3 for them.
_ENDS_EARLY = (1, 2)


def _ending_trainable(config):
    """Reports ``loss = x`` each epoch up to 9 with a checkpoint; x in _ENDS_EARLY ends at
    epoch 2 in the way ``config["how"]`` names."""
    from ray import tune

    from tests._helpers.epochs import report_epoch, resumed_epoch

    start = resumed_epoch()
    for epoch in range(start + 1, 10):
        if config["x"] in _ENDS_EARLY and epoch == 2:
            how = config["how"]
            if how == "returns":  # EarlyStopping: fit returns, the function ends
                return
            if how == "failed_trial":  # raytune_hpt's FailedTrialError report: no epoch
                tune.report({"loss": math.nan, "trial_error": "FailedTrialError: bad units"})
                return
            if how == "raises":
                raise RuntimeError("out of memory")
            if how == "raises_once" and start == 0:  # retried from its epoch-1 checkpoint
                raise RuntimeError("lost the GPU once")
        report_epoch(config["x"], epoch)


@pytest.mark.slow
@pytest.mark.timeout(240)
@pytest.mark.parametrize("how", ["returns", "failed_trial", "raises", "raises_once"])
def test_hyperband_ends_when_promoted_trials_end_before_their_rung(ray_local, tmp_path, how):
    """Ray 2.60's HyperBand waited forever here: the bracket's flag that it is being
    processed, set at its first halving, was never cleared."""
    from ray import tune

    tuner = tune.Tuner(
        _ending_trainable,
        param_space={"x": tune.grid_search(list(range(9))), "how": how},
        # reuse_actors as raytune_hpt's own searches run (driver/_tune_run.py); without it
        # each start and resume of the 9 trials spawns a worker process (~1 s each)
        tune_config=tune.TuneConfig(metric="loss", mode="min", reuse_actors=True,
                                    scheduler=create_scheduler("hyperband", epochs=9)),
        run_config=tune.RunConfig(name=how, storage_path=str(tmp_path), verbose=0,
                                  failure_config=tune.FailureConfig(
                                      max_failures=1 if how == "raises_once" else 0)),
    )
    grid = tuner.fit()  # the test's timeout is the hang
    statuses = {r.config["x"]: ("ERROR" if r.error else "TERMINATED") for r in grid}
    assert len(statuses) == 9
    epochs = {r.config["x"]: r.metrics.get(TIME_ATTR) for r in grid}
    assert epochs[0] == 9, f"the best trial was not promoted to the end: {epochs}"
    if how == "raises":
        assert {x for x, s in statuses.items() if s == "ERROR"} == set(_ENDS_EARLY)
    if how == "raises_once":  # retried from its checkpoint, then a normal rung member
        assert all(s == "TERMINATED" for s in statuses.values())
        assert epochs[1] == 3 and epochs[2] == 3, epochs


def _pausing_trainable(config):
    from ray import tune

    for epoch in range(1, 4):
        with tempfile.TemporaryDirectory() as folder:
            tune.report({"loss": config["x"], TIME_ATTR: epoch},
                        checkpoint=tune.Checkpoint.from_directory(folder))


def _never_resumes():
    """A user's scheduler that pauses every trial at its first report and resumes none."""
    from ray.tune.experiment import Trial
    from ray.tune.schedulers import FIFOScheduler, TrialScheduler

    class NeverResumes(FIFOScheduler):
        def on_trial_result(self, tune_controller, trial, result):
            return TrialScheduler.PAUSE

        def choose_trial_to_run(self, tune_controller):
            for trial in tune_controller.get_trials():
                if trial.status == Trial.PENDING:
                    return trial
            return None

    return NeverResumes()


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_liveness_rule_ends_a_search_whose_trials_stay_paused(ray_local, digits, build_mlp,
                                                              tmp_path, caplog):
    (x, y), (xv, yv) = digits
    tuner = rth.Tuner(build_mlp, objective="val_accuracy", scheduler=_never_resumes(),
                      max_trials=3, storage_path=str(tmp_path), name="stuck", seed=0,
                      verbose=0)
    results = tuner.search(x[:300], y[:300], validation_data=(xv, yv), epochs=3)
    ended = time.time()
    assert len(results.trials) == 3
    assert all(t.epochs == 1 for t in results.trials), [t.epochs for t in results.trials]
    last_report = max(t.history[-1]["tf_reported_at"] for t in results.trials)
    stuck_for = ended - last_report
    # The documented bound (STUCK_SECONDS) plus the time to stop three paused trials and
    # write the experiment on a loaded 2-core machine.
    assert STUCK_SECONDS <= stuck_for < STUCK_SECONDS + 30, stuck_for
    said = [r.getMessage() for r in caplog.records if "the search ends here" in r.getMessage()]
    assert len(said) == 1 and "3 trial(s) stayed paused" in said[0], said
