"""``tf.data`` inputs as Keras Tuner takes them: ``search(train_ds, validation_data=val_ds)``.

A dataset travels to the workers as its graph and is rebuilt in each trial, so its shuffle
and random ``map`` draw anew each epoch there; the files it reads (TFRecord,
``image_dataset_from_directory``) must be readable where trials run, checked before any
trial starts; a pipeline that calls Python gets one clear error with the way out.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import raytune_hpt as rth
from raytune_hpt.errors import ConfigurationError


class OrderWatchingModel(rth.HyperModel):
    """A digits MLP whose fit first reads the dataset twice on the worker and logs, with
    every epoch, whether the two passes came in different orders."""

    def __init__(self, input_shape=(64,)):
        super().__init__()
        self.input_shape = input_shape

    def build(self, hp):
        import keras

        model = keras.Sequential([
            keras.Input(self.input_shape), keras.layers.Flatten(),
            keras.layers.Dense(hp.Int("units", 16, 64, step=16), activation="relu"),
            keras.layers.Dense(10, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        return model

    def fit(self, hp, model, x, callbacks=None, **kwargs):
        import keras

        firsts = [np.concatenate([np.asarray(b[1]) for b in x.take(3)]) for _ in range(2)]
        differ = float(not np.array_equal(firsts[0], firsts[1]))

        class Log(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                logs["orders_differ"] = differ

        return model.fit(x, callbacks=[Log(), *(callbacks or [])], **kwargs)


def _digits_ds(digits, shuffle=True):
    import tensorflow as tf

    (x, y), (xv, yv) = digits
    train = tf.data.Dataset.from_tensor_slices((x[:1000], y[:1000]))
    if shuffle:
        train = train.shuffle(1000)
    train = train.map(lambda a, b: (a + tf.random.uniform(tf.shape(a), 0, 0.01), b))
    train = train.batch(32).prefetch(2)
    val = tf.data.Dataset.from_tensor_slices((xv[:200], yv[:200])).batch(64).cache()
    return train, val


def _tuner(tmp_path, name, hypermodel=None, **options):
    return rth.Tuner(hypermodel or OrderWatchingModel(), objective="val_accuracy",
                     max_trials=2, storage_path=str(tmp_path), name=name, seed=0, verbose=0,
                     **options)


@pytest.mark.slow
def test_a_shuffled_randomly_mapped_dataset_draws_anew_each_epoch(ray_local, digits, tmp_path):
    train, val = _digits_ds(digits)
    results = _tuner(tmp_path, "slices").search(train, validation_data=val, epochs=3)
    assert len(results.trials) == 2
    for trial in results.trials:
        assert trial.status == "finished" and trial.epochs == 3
        assert trial.metrics["orders_differ"] == 1.0  # two passes, two shuffles
        assert trial.best_metrics["val_accuracy"] > 0.3  # it learned from the rebuilt data


def _write_tfrecord(path, x, y):
    import tensorflow as tf

    with tf.io.TFRecordWriter(str(path)) as writer:
        for features, label in zip(x, y, strict=True):
            example = tf.train.Example(features=tf.train.Features(feature={
                "x": tf.train.Feature(float_list=tf.train.FloatList(value=features)),
                "y": tf.train.Feature(int64_list=tf.train.Int64List(value=[label]))}))
            writer.write(example.SerializeToString())


def _tfrecord_ds(path):
    import tensorflow as tf

    spec = {"x": tf.io.FixedLenFeature([64], tf.float32),
            "y": tf.io.FixedLenFeature([1], tf.int64)}

    def parse(record):
        example = tf.io.parse_single_example(record, spec)
        return example["x"], example["y"][0]

    return tf.data.TFRecordDataset([str(path)]).map(parse).shuffle(200).batch(32)


@pytest.mark.slow
def test_a_tfrecord_dataset_is_read_on_the_worker(ray_local, digits, tmp_path):
    (x, y), (xv, yv) = digits
    _write_tfrecord(tmp_path / "train.tfrecord", x[:1000], y[:1000])
    _write_tfrecord(tmp_path / "val.tfrecord", xv[:200], yv[:200])
    results = _tuner(tmp_path, "tfrecord").search(
        _tfrecord_ds(tmp_path / "train.tfrecord"),
        validation_data=_tfrecord_ds(tmp_path / "val.tfrecord"), epochs=3)
    assert [t.status for t in results.trials] == ["finished", "finished"]
    assert all(t.metrics["orders_differ"] == 1.0 for t in results.trials)
    assert results.best_trial().best_metrics["val_accuracy"] > 0.3


@pytest.mark.slow
def test_image_dataset_from_directory_with_a_relative_folder(ray_local, digits, tmp_path,
                                                             monkeypatch):
    """PNGs written here, read on the worker from a folder named relative to the driver's
    working directory (trials run in their own folders: the paths are made absolute)."""
    import keras

    (x, y), _ = digits
    monkeypatch.chdir(tmp_path)
    for index, (image, label) in enumerate(zip(x[:300], y[:300], strict=True)):
        folder = tmp_path / "images" / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        pixels = (image.reshape(8, 8, 1) * 255).astype("uint8")
        keras.utils.save_img(str(folder / f"{index}.png"), pixels, scale=False)
    train, val = keras.utils.image_dataset_from_directory(
        "images", image_size=(8, 8), color_mode="grayscale", batch_size=32,
        validation_split=0.25, subset="both", seed=0)
    rescale = keras.layers.Rescaling(1 / 255)
    train = train.map(lambda a, b: (rescale(a), b))
    val = val.map(lambda a, b: (rescale(a), b))
    results = _tuner(tmp_path / "results", "images",
                     OrderWatchingModel(input_shape=(8, 8, 1))).search(
        train, validation_data=val, epochs=2)
    assert [t.status for t in results.trials] == ["finished", "finished"]
    assert all(t.metrics["orders_differ"] == 1.0 for t in results.trials)  # reshuffled


def test_a_dataset_that_calls_python_is_refused_before_any_trial(digits, tmp_path):
    import tensorflow as tf

    train, val = _digits_ds(digits)
    doubled = train.map(lambda a, b: (tf.py_function(lambda v: v * 2, [a], tf.float32), b))
    with pytest.raises(ConfigurationError, match=r"calls Python \(EagerPyFunc.*"
                       r"zero-argument function"):
        _tuner(tmp_path, "py").search(doubled, validation_data=val, epochs=1)
    assert not (tmp_path / "py").exists()  # nothing started


def test_a_generator_dataset_and_a_python_generator_are_refused(digits, tmp_path):
    import tensorflow as tf

    (x, y), _ = digits
    from_gen = tf.data.Dataset.from_generator(
        lambda: iter(zip(x[:10], y[:10], strict=True)),
        output_signature=(tf.TensorSpec((64,), tf.float32), tf.TensorSpec((), tf.int64)))
    with pytest.raises(ConfigurationError, match="calls Python"):
        _tuner(tmp_path, "gen").search(from_gen.batch(4), epochs=1)
    with pytest.raises(TypeError, match="A Python generator cannot be copied"):
        _tuner(tmp_path, "gen").search((b for b in [(x[:4], y[:4])]), epochs=1)


def test_y_with_a_dataset_and_validation_split_are_refused(digits, tmp_path):
    train, _ = _digits_ds(digits)
    (x, y), _ = digits
    with pytest.raises(ValueError, match="y must not be given"):
        _tuner(tmp_path, "y").search(train, y[:10], epochs=1)
    with pytest.raises(ValueError, match="validation_split needs x and y as arrays"):
        _tuner(tmp_path, "split").search(train, validation_split=0.2, epochs=1)


def test_a_file_no_node_can_read_is_named_before_any_trial(ray_local, digits, tmp_path):
    (x, y), _ = digits
    path = tmp_path / "gone.tfrecord"
    _write_tfrecord(path, x[:50], y[:50])
    dataset = _tfrecord_ds(path)
    os.chmod(path, 0)  # root reads anything: remove it instead
    path.unlink()
    with pytest.raises(ConfigurationError, match=r"reads 1 file\(s\) that cannot be read on "
                       r"this machine: .*gone\.tfrecord.*same paths"):
        _tuner(tmp_path, "gone").search(dataset, epochs=1)
    assert not any((tmp_path / "gone").glob("*/result.json"))  # no trial ran


def _py_dataset(x, y, batch_size=32):
    import keras

    class Batches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.x, self.y = x, y

        def __len__(self):
            return int(np.ceil(len(self.x) / batch_size))

        def __getitem__(self, index):
            rows = slice(index * batch_size, (index + 1) * batch_size)
            return self.x[rows], self.y[rows]

    return Batches()


@pytest.mark.slow
def test_a_py_dataset_is_copied_to_the_workers(ray_local, digits, build_mlp, tmp_path):
    (x, y), (xv, yv) = digits
    tuner = rth.Tuner(build_mlp, objective="val_accuracy", max_trials=2,
                      storage_path=str(tmp_path), name="pyds", seed=0, verbose=0)
    results = tuner.search(_py_dataset(x[:600], y[:600]),
                           validation_data=_py_dataset(xv[:200], yv[:200]), epochs=2)
    assert [t.status for t in results.trials] == ["finished", "finished"]
    assert results.best_trial().best_metrics["val_accuracy"] > 0.3
