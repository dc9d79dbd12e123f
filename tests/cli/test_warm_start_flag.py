"""``raytune-hpt run ... --warm-start PATH``, as a real subprocess that starts its own Ray."""

from __future__ import annotations

import re

import pytest

from raytune_hpt.searchers import point_key
from tests._helpers.reliability import cli, env

SHORT = ["--example", "digits", "--set", "max_trials=2", "--set", "fit.epochs=1"]


@pytest.mark.slow
def test_run_with_warm_start_seeds_the_search_and_reruns_nothing(tmp_path):
    import raytune_hpt as rth

    results = str(tmp_path / "results")
    first = cli("run", *SHORT, "--storage-path", results, "--name", "first", cwd=tmp_path,
                environment=env())
    assert first.returncode == 0, first.stderr[-3000:]
    # this run is also the digits example through the command (tests/test_examples.py skips it)
    assert re.search(r"Search done in \d+ s: 2 trials \(2 finished\)", first.stdout), (
        first.stdout[-2000:])
    assert "Best trial" in first.stdout
    second = cli("run", *SHORT, "--storage-path", results, "--name", "second",
                 "--warm-start", "results/first", cwd=tmp_path,  # relative to the cwd
                 environment=env())
    assert second.returncode == 0, second.stderr[-3000:]

    earlier = rth.load_results(str(tmp_path / "results" / "first"))
    later = rth.load_results(str(tmp_path / "results" / "second"))
    assert len(later.trials) == 2
    # the digits example's random search with the same seed would repeat both trials
    assert not ({point_key(t.hyperparameters) for t in earlier.trials}
                & {point_key(t.hyperparameters) for t in later.trials})
    saved = (tmp_path / "results" / "second" / "raytune_hpt_experiment.yaml").read_text()
    assert "warm_start: results/first" in saved


@pytest.mark.slow
def test_a_warm_start_that_is_no_experiment_exits_2_with_one_line(tmp_path):
    result = cli("run", *SHORT, "--storage-path", str(tmp_path / "results"),
                 "--warm-start", str(tmp_path / "nowhere"), cwd=tmp_path, environment=env())
    assert result.returncode == 2, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("raytune-hpt: error: warm_start: ")
    assert "raytune_hpt.json is missing" in lines[0]
    assert not (tmp_path / "results").exists()
