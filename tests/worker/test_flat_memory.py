"""A reused trial worker keeps no earlier trial's traced training step (issue 33, item 5).

Keras 3's training step, traced in graph mode, registers its custom gradients in
TensorFlow's process-wide gradient registry under new names; each holds its step's graph.
``reset_keras_state`` (called before every trial, after ``clear_session``) drops those of
earlier trials. The memory this keeps flat is measured by scripts/bench_long_memory.py.
"""

from __future__ import annotations

import keras
import numpy as np

from raytune_hpt import _ray_compat
from raytune_hpt.hypermodel import HyperModel
from raytune_hpt.worker import _keras_state


class _Plain(HyperModel):
    def build(self, hp):
        raise AssertionError("not called")


def _trial(x, y) -> None:
    """What a trial does to TensorFlow's state: a fresh session, a model, one epoch."""
    keras.backend.clear_session()
    _keras_state.reset_keras_state()
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    _keras_state.build_before_fit(_Plain(), [model], [(x, y)])
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)


def test_each_trial_starts_without_the_custom_gradients_of_earlier_trials(monkeypatch):
    monkeypatch.setattr(_keras_state, "_defaults", None)  # as in a new worker
    monkeypatch.setattr(_keras_state, "_gradients_before", frozenset())
    rng = np.random.default_rng(0)
    x, y = rng.random((32, 8), dtype=np.float32), rng.integers(0, 3, 32)
    before = _ray_compat.custom_gradient_names()
    _trial(x, y)
    first = _ray_compat.custom_gradient_names() - before
    assert first, "fit registered no custom gradient: the leak this guards against is gone"
    for _ in range(3):
        _trial(x, y)
        now = _ray_compat.custom_gradient_names()
        assert before <= now  # what was there before the first trial stays
        assert not first & now  # the first trial's are gone
        assert len(now - before) == len(first)  # only the last trial's are registered
