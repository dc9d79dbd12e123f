"""Large numpy data is fed batch by batch from the shared copy (raytune_hpt/feeding.py)."""

from __future__ import annotations

import numpy as np
import pytest

from raytune_hpt.worker import SharedArrayFeed, feed_in_batches, fold_rows


def _read_only(*arrays):
    for array in arrays:
        array.setflags(write=False)
    return arrays


def test_feed_gives_every_sample_once_per_epoch_in_a_new_order():
    x, y = _read_only(np.arange(103, dtype="float32").reshape(103, 1), np.arange(103))
    feed = SharedArrayFeed(x, y, batch_size=10, shuffle=True, seed=0)
    assert len(feed) == 11
    orders = []
    for _ in range(2):
        batches = [feed[i] for i in range(len(feed))]
        assert [len(b[0]) for b in batches] == [10] * 10 + [3]
        seen = np.concatenate([b[1] for b in batches])
        for bx, by in batches:  # inputs and targets stay paired
            np.testing.assert_array_equal(bx[:, 0].astype(int), by)
        assert sorted(seen.tolist()) == list(range(103))
        orders.append(seen)
        feed.on_epoch_end()
    assert not np.array_equal(orders[0], orders[1])
    assert not np.array_equal(orders[0], np.arange(103))


def test_feed_without_shuffle_keeps_order_and_carries_sample_weights():
    x, y, w = np.zeros((5, 2)), np.arange(5), np.linspace(0, 1, 5)
    feed = SharedArrayFeed(x, y, w, batch_size=2, shuffle=False)
    batches = [feed[i] for i in range(len(feed))]
    assert [len(b) for b in batches] == [3, 3, 3]
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), y)
    np.testing.assert_array_equal(np.concatenate([b[2] for b in batches]), w)


def test_feed_takes_dicts_of_inputs():
    x = {"a": np.arange(6).reshape(6, 1), "b": np.arange(6) * 10}
    feed = SharedArrayFeed(x, np.arange(6), batch_size=4, shuffle=False)
    bx, by = feed[1]
    np.testing.assert_array_equal(bx["a"][:, 0], [4, 5])
    np.testing.assert_array_equal(bx["b"], [40, 50])
    np.testing.assert_array_equal(by, [4, 5])


def test_a_fold_is_fed_by_its_rows_only():
    x, y = np.arange(20, dtype="float32").reshape(20, 1), np.arange(20)
    train, held_out = np.array([0, 2, 3, 5, 8, 9, 11, 13, 17, 19]), np.array([1, 4, 7])
    args, extra, _ = feed_in_batches((x, y), {"rows": train, "validation_rows": held_out},
                                     {"batch_size": 4}, min_bytes=0, seed=0)
    (feed,), validation = args, extra["validation_data"]
    assert "rows" not in extra and "validation_rows" not in extra
    seen = np.concatenate([feed[i][1] for i in range(len(feed))])
    assert sorted(seen.tolist()) == train.tolist()
    assert np.concatenate([validation[i][1] for i in range(len(validation))]).tolist() == [1, 4, 7]


def test_a_fold_too_small_to_feed_is_copied_out():
    x, y = np.arange(10, dtype="float32").reshape(10, 1), np.arange(10)
    args, extra, kwargs = feed_in_batches(
        (x, y), {"rows": np.array([0, 1, 2, 3, 4, 5]), "validation_rows": np.array([6, 7])},
        {"batch_size": 4}, min_bytes=None, seed=0)
    assert args[1].tolist() == [0, 1, 2, 3, 4, 5] and kwargs == {"batch_size": 4}
    assert extra["validation_data"][1].tolist() == [6, 7] and "rows" not in extra
    assert fold_rows((x, y), {})[0][0] is x  # not a fold: untouched


@pytest.mark.parametrize("case", ["small", "never", "validation_split", "not_numpy"])
def test_feed_in_batches_leaves_what_it_cannot_or_need_not_feed(case):
    x, y = np.zeros((100, 4), "float32"), np.zeros(100)
    kwargs = {"batch_size": 8}
    min_bytes = 0
    if case == "small":
        min_bytes = x.nbytes + y.nbytes + 1
    elif case == "never":
        min_bytes = None
    elif case == "validation_split":
        kwargs["validation_split"] = 0.2
    elif case == "not_numpy":
        x = x.tolist()
    args, extra, out = feed_in_batches((x, y), {}, kwargs, min_bytes=min_bytes, seed=0)
    assert args[0] is x and out is kwargs


def test_feed_in_batches_moves_batch_size_and_weights_into_the_feeds():
    x, y, w = np.zeros((100, 4), "float32"), np.zeros(100), np.ones(100)
    xv, yv = np.zeros((30, 4), "float32"), np.zeros(30)
    args, extra, kwargs = feed_in_batches(
        (x, y), {"validation_data": (xv, yv)},
        {"batch_size": 8, "sample_weight": w, "validation_batch_size": 5, "class_weight": None},
        min_bytes=0, seed=0)
    (feed,) = args
    assert isinstance(feed, SharedArrayFeed) and len(feed) == 13 and len(feed[0]) == 3
    assert isinstance(extra["validation_data"], SharedArrayFeed)
    assert len(extra["validation_data"]) == 6
    assert "batch_size" not in kwargs and "sample_weight" not in kwargs
    assert kwargs["shuffle"] is False and "class_weight" in kwargs


def test_tuner_rejects_a_bad_threshold():
    import raytune_hpt as rth

    with pytest.raises(ValueError, match="shared_arrays_mb must be a number >= 0 or None"):
        rth.Tuner(lambda hp: None, shared_arrays_mb=-1)


@pytest.mark.slow
def test_search_feeds_in_batches_and_the_best_model_reproduces_its_score(
        ray_local, digits, build_mlp, tmp_path):
    """shared_arrays_mb=0 feeds even digits in batches: the trials learn, report the feed, and
    the restored best model scores what its trial reported."""
    import raytune_hpt as rth

    (x, y), (xv, yv) = digits
    tuner = rth.Tuner(build_mlp, objective="val_accuracy", max_trials=2, seed=1,
                      storage_path=str(tmp_path), name="feed", verbose=0, shared_arrays_mb=0)
    results = tuner.search(x, y, validation_data=(xv, yv), epochs=3, batch_size=64)
    assert len(results.trials) == 2
    for trial in results.trials:
        assert trial.status == "finished", trial.error
        assert trial.history[0]["data_feed"] == "batches"
    best = results.best_trial().score(results.objective)
    assert best > 0.8  # it learned: 10 classes, chance is 0.1
    model = tuner.get_best_models(1)[0]
    _, accuracy = model.evaluate(xv, yv, verbose=0)
    assert accuracy == pytest.approx(best, abs=1e-6)
