"""A trial's worker imports Keras without scikit-learn and matplotlib, which Keras loads only
for features a trial does not use (issue 25: about 1.5 s of each worker's start on 2 cores),
and the trial's own code can still import them.
"""

from __future__ import annotations

import os

import raytune_hpt as rth
from raytune_hpt.worker._tf_setup import KERAS_EXTRAS_NOT_IMPORTED


def test_keras_comes_without_its_extras_and_the_model_code_may_import_them(ray_local, digits,
                                                                         tmp_path):
    seen = tmp_path / "seen.txt"
    driver = os.getpid()

    def build(hp):
        import sys

        import keras

        if os.getpid() != driver:
            loaded = [name for name in KERAS_EXTRAS_NOT_IMPORTED if name in sys.modules]
            import sklearn.preprocessing  # the model's own use of scikit-learn still works

            scaled = sklearn.preprocessing.StandardScaler().fit_transform([[0.0], [2.0]])
            with open(seen, "a") as file:
                file.write(f"{os.getpid()} {','.join(loaded) or '-'} {scaled[1][0]:.1f}\n")
        model = keras.Sequential([keras.Input((64,)),
                                  keras.layers.Dense(hp.Int("units", 8, 16, step=8)),
                                  keras.layers.Dense(10, activation="softmax")])
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    (x, y), (xv, yv) = digits
    tuner = rth.Tuner(build, objective="val_accuracy", max_trials=2, seed=0,
                      max_concurrent_trials=1, storage_path=str(tmp_path / "results"),
                      name="lean", verbose=0)
    results = tuner.search(x[:100], y[:100], validation_data=(xv[:50], yv[:50]), epochs=1)

    assert [t.status for t in results.trials] == ["finished", "finished"]
    rows = [line.split() for line in seen.read_text().splitlines()]
    # the first trial on its worker: Keras was imported without them; then sklearn loads
    assert rows[0][1] == "-" and rows[0][2] == "1.0"
    # a later trial on the same (reused) worker finds scikit-learn the first one imported
    assert all(row[0] == rows[0][0] for row in rows) and "sklearn" in rows[-1][1]
