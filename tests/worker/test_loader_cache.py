"""A search's data loader runs once per worker, however many trials unpickle it (issue 24)."""

from __future__ import annotations

from ray import cloudpickle

from raytune_hpt.driver._search_data import check_fit_data
from raytune_hpt.worker._trial import materialize


def _counting_loader(log):
    def load():  # a closure: pickled by value, so every copy is a new function object
        with open(log, "a") as file:
            file.write("loaded\n")
        return {"x": [[1.0], [2.0]], "y": [0, 1]}

    return load


def test_the_loader_runs_once_for_every_unpickled_copy_of_the_search_data(tmp_path):
    log = tmp_path / "calls.txt"
    data = check_fit_data(_counting_loader(str(log)), None, validation_data=None, cv=None,
                          fit_kwargs={})
    shipped = cloudpickle.dumps(data)
    # what each trial of a reused worker gets: its own copy, all alive at once
    copies = [cloudpickle.loads(shipped) for _ in range(3)]
    assert len({id(copy["loader"]) for copy in copies}) == 3
    loaded = [materialize(copy) for copy in copies]
    assert log.read_text().splitlines() == ["loaded"]
    assert loaded[0] is loaded[1] is loaded[2]
    assert loaded[0]["y"] == [0, 1]


def test_another_search_s_loader_runs_again(tmp_path):
    log = tmp_path / "calls.txt"
    for _ in range(2):  # two searches in one worker process: two loaders, two loads
        data = check_fit_data(_counting_loader(str(log)), None, validation_data=None, cv=None,
                              fit_kwargs={})
        materialize(cloudpickle.loads(cloudpickle.dumps(data)))
    assert log.read_text().splitlines() == ["loaded", "loaded"]
