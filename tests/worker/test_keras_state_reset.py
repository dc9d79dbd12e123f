"""A trial that changes Keras's process-wide settings and then fails leaves none of them to
the next trial on the same reused worker (issue 32's acceptance): the float type, the
mixed-precision policy, a registered custom object.

Each trial appends what it saw, as JSON, to a file the test reads.
"""

from __future__ import annotations

import json
import os

import raytune_hpt as rth


def _dirtying(tmp: str):
    from raytune_hpt import HyperModel

    driver = os.getpid()  # space discovery builds and fits once in the driver

    class Dirtying(HyperModel):
        def build(self, hp):
            import keras

            hp.Choice("mode", ["dirty", "clean"])
            model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(10)])
            model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
            return model

        def fit(self, hp, model, *args, **kwargs):
            import keras

            if os.getpid() == driver:
                return model.fit(*args, **kwargs)
            seen = {"mode": hp.get("mode"), "pid": os.getpid(),
                    "floatx": keras.config.floatx(),
                    "policy": keras.config.dtype_policy().name,
                    "custom": "Planted>Scale" in keras.saving.get_custom_objects()}
            with open(os.path.join(tmp, "seen.jsonl"), "a") as file:
                file.write(json.dumps(seen) + "\n")
            if hp.get("mode") == "dirty":
                keras.config.set_floatx("float64")
                keras.mixed_precision.set_global_policy("mixed_float16")

                @keras.saving.register_keras_serializable(package="Planted")
                class Scale(keras.layers.Layer):
                    pass

                raise rth.errors.FailedTrialError("changed Keras's settings, then failed")
            return model.fit(*args, **kwargs)

    return Dirtying()


def test_a_failed_trials_keras_settings_do_not_reach_the_next_trial(ray_local, digits,
                                                                     tmp_path):
    (x, y), (xv, yv) = digits
    tuner = rth.Tuner(_dirtying(str(tmp_path)), objective="val_accuracy", searcher="grid",
                      max_trials=2, max_concurrent_trials=1,
                      storage_path=str(tmp_path / "results"), name="keras-state", verbose=0)
    results = tuner.search(x[:100], y[:100], validation_data=(xv[:50], yv[:50]), epochs=1,
                           batch_size=50)

    seen = [json.loads(line) for line in (tmp_path / "seen.jsonl").read_text().splitlines()]
    assert [s["mode"] for s in seen] == ["dirty", "clean"], seen
    assert seen[0]["pid"] == seen[1]["pid"], "the two trials ran in different workers"
    defaults = {"floatx": "float32", "policy": "float32", "custom": False}
    assert {k: seen[0][k] for k in defaults} == defaults  # the worker's defaults
    assert {k: seen[1][k] for k in defaults} == defaults, seen[1]
    by_mode = {t.hyperparameters["mode"]: t for t in results.trials}
    assert by_mode["dirty"].status == "failed" and by_mode["clean"].status == "finished"
