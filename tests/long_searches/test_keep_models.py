"""Issue 33, item 4: ``keep_models`` bounds the disk: only the best trials' checkpoints (and
those of trials that may still run) stay in storage; metrics, logs and the results table
stay complete; asking for a deleted model is one clear error."""

from __future__ import annotations

import json

import pytest

import raytune_hpt as rth
from raytune_hpt.errors import ConfigurationError, ModelNotKeptError
from raytune_hpt.results import load as load_results
from tests.conftest import mlp_builder
from tests.test_schedulers import lr_builder


def _checkpointed(path) -> set[str]:
    """The trial folders of the experiment at ``path`` that hold a ``checkpoint_*`` folder."""
    return {d.name for d in path.iterdir() if d.is_dir()
            and any(c.is_dir() and c.name.startswith("checkpoint_") for c in d.iterdir())}


def _trial_dirs(path) -> list:
    return [d for d in path.iterdir() if d.is_dir() and (d / "params.json").exists()]


@pytest.mark.parametrize("value", [0, -1, 1.5, "10", True])
def test_a_bad_keep_models_is_one_error_before_any_trial(value, build_mlp, tmp_path):
    with pytest.raises(ConfigurationError, match="keep_models must be a whole number") as info:
        rth.Tuner(build_mlp, objective="val_accuracy", keep_models=value,
                  storage_path=str(tmp_path), name="bad")
    assert repr(value) in str(info.value) and "None" in str(info.value)
    with pytest.raises(ConfigurationError, match="keep_models must be a whole number"):
        rth.RandomSearch(build_mlp, objective="val_accuracy", keep_models=value,
                         directory=str(tmp_path), project_name="bad")
    assert not (tmp_path / "bad").exists()


def test_the_experiment_file_takes_keep_models(tmp_path):
    from raytune_hpt.errors import ExperimentError
    from raytune_hpt.experiment import Experiment

    base = {"model": "raytune_hpt.examples.digits:build_model", "data": {"dataset": "digits"}}
    assert Experiment.model_validate(base).keep_models == 10
    assert Experiment.model_validate({**base, "keep_models": None}).keep_models is None
    assert Experiment.model_validate({**base, "keep_models": 3}).keep_models == 3
    with pytest.raises((ExperimentError, ValueError), match="whole number of trials"):
        Experiment.model_validate({**base, "keep_models": 0})


def _search(data, storage, trials):
    (x, y), (xv, yv) = data
    tuner = rth.Tuner(mlp_builder, objective="val_accuracy", max_trials=trials, keep_models=2,
                      storage_path=str(storage), name="k2", seed=0, verbose=0)
    return tuner, tuner.search(x[:300], y[:300], validation_data=(xv, yv), epochs=2,
                               batch_size=64)


@pytest.fixture(scope="module")
def pruned_search(ray_local, digits, tmp_path_factory):
    """One search of 6 short trials with keep_models=2, read by several tests (the last
    test of the module resumes it with 2 more)."""
    storage = tmp_path_factory.mktemp("keep")
    tuner, results = _search(digits, storage, 6)
    return tuner, results, storage / "k2"


@pytest.mark.slow
def test_only_the_best_trials_checkpoints_stay(pruned_search):
    tuner, results, path = pruned_search
    folders = _trial_dirs(path)
    assert len(results.trials) == len(folders) == 6
    best = results.ranked_trials()[:2]
    by_id = {json.loads((d / "result.json").read_text().splitlines()[0])["trial_id"]: d.name
             for d in folders}
    assert _checkpointed(path) == {by_id[t.trial_id] for t in best}
    # every trial keeps its metrics and logs, pruned or not
    for folder in folders:
        assert (folder / "progress.csv").read_text().count("\n") == 3  # header + 2 epochs
    events = {t.trial_id: list((path / "tensorboard").glob(f"{t.trial_id}_*/**/events.*"))
              for t in results.trials}
    assert all(events.values()), events  # TensorBoard keeps every trial
    recorded = json.loads((path / "raytune_hpt.json").read_text())
    assert recorded["keep_models"] == 2


@pytest.mark.slow
def test_the_results_table_is_complete_and_says_which_have_no_model(pruned_search):
    tuner, results, path = pruned_search
    for read in (results, load_results(str(path))):  # as returned, and read from storage
        table = read.to_table().to_pylist()
        assert len(table) == 6 and all(r["epochs"] == 2 for r in table)
        best = {t.trial_id for t in read.ranked_trials()[:2]}
        assert {r["trial_id"]: r["model"] for r in table} == {
            r["trial_id"]: "kept" if r["trial_id"] in best else "pruned" for r in table}
        assert all(r["checkpoint"] is None for r in table if r["model"] == "pruned")


@pytest.mark.slow
def test_asking_for_a_pruned_model_says_why_and_how_to_keep_more(pruned_search):
    tuner, results, path = pruned_search
    models = tuner.get_best_models(2)
    assert len(models) == 2 and models[0].count_params() > 0
    with pytest.raises(ModelNotKeptError) as info:
        tuner.get_best_models(3)
    message = str(info.value)
    assert "keep_models=2 kept only the best 2" in message
    assert "keep_models=None" in message and "larger number" in message
    read = load_results(str(path))  # from storage, as `raytune-hpt best` reads it
    with pytest.raises(ModelNotKeptError, match="keep_models=2"):
        read.load_model(read.ranked_trials()[2])


@pytest.mark.slow
def test_keep_models_none_keeps_every_model(ray_local, digits, build_mlp, tmp_path):
    (x, y), (xv, yv) = digits
    tuner = rth.RandomSearch(build_mlp, objective="val_accuracy", max_trials=2,
                             keep_models=None, directory=str(tmp_path), project_name="all",
                             seed=0, verbose=0)
    results = tuner.search(x[:100], y[:100], validation_data=(xv, yv), epochs=1)
    path = tmp_path / "all"
    assert len(_checkpointed(path)) == len(_trial_dirs(path)) == 2
    assert not (path / "pruned_models.jsonl").exists()
    assert {r["model"] for r in results.to_table().to_pylist()} == {"kept"}
    assert len(tuner.get_best_models(2)) == 2


@pytest.mark.slow
def test_a_trial_paused_by_hyperband_keeps_its_checkpoint_until_it_ends(ray_local, digits,
                                                                       tmp_path):
    (x, y), (xv, yv) = digits
    tuner = rth.Tuner(lr_builder, objective="val_accuracy", searcher="grid",
                      scheduler={"type": "hyperband", "reduction_factor": 2}, max_trials=4,
                      keep_models=1, storage_path=str(tmp_path), name="hb", seed=0,
                      verbose=0)
    results = tuner.search(x[:300], y[:300], validation_data=(xv, yv), epochs=4,
                           batch_size=64)
    assert not [t for t in results.trials if t.status == "failed"]
    resumed = [t for t in results.trials if any(
        r["iterations_since_restore"] == 1 and r["epoch"] > 1 for r in t.history)]
    assert resumed, "no trial was paused and resumed"
    for trial in resumed:  # it went on from its checkpoint: no epoch trained twice or lost
        assert [r["epoch"] for r in trial.history] == list(range(1, trial.epochs + 1))
    pruned = [t for t in results.trials if t.model_pruned]
    assert pruned, "keep_models=1 pruned no trial"
    assert results.best_trial().checkpoint is not None


@pytest.mark.slow
def test_a_resumed_search_ranks_its_new_trials_with_the_earlier_ones(pruned_search, digits):
    """Runs last in this module: it adds 2 trials to the module's experiment."""
    _, before, path = pruned_search
    tuner, results = _search(digits, path.parent, 8)  # more trials on resume (item 3)
    assert len(results.trials) == 8
    best = [t.trial_id for t in results.ranked_trials()[:2]]
    by_id = {json.loads((d / "result.json").read_text().splitlines()[0])["trial_id"]: d.name
             for d in _trial_dirs(path)}
    assert _checkpointed(path) == {by_id[t] for t in best}
    lines = (path / "pruned_models.jsonl").read_text().splitlines()
    pruned = [json.loads(line)["trial_id"] for line in lines]
    assert len(pruned) == len(set(pruned)) and {json.loads(n)["keep_models"] for n in lines} == {2}
    assert set(pruned) == set(by_id) - set(best)
    assert {t.trial_id for t in before.trials if t.model_pruned} <= set(pruned)
    assert len(tuner.get_best_models(2)) == 2


def test_the_pruned_list_reads_back_and_a_bad_line_is_one_clear_error(tmp_path):
    from raytune_hpt.results import PrunedModels, read_pruned

    assert read_pruned(str(tmp_path)) == PrunedModels()  # nothing pruned: no file
    written = PrunedModels(3, {"a1": "run_trial_a1_0", "b2": "run_trial_b2_1"})
    (tmp_path / "pruned_models.jsonl").write_text(written.to_jsonl())
    assert read_pruned(str(tmp_path)) == written
    (tmp_path / "pruned_models.jsonl").write_text(written.to_jsonl() + '["not", "a trial"]\n')
    with pytest.raises(ValueError, match=r"line 3, must be a JSON object with 'trial_id'"):
        read_pruned(str(tmp_path))
