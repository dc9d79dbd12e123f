"""A ``tf.data`` pipeline reading TFRecord files, searched on the two-node cluster from
scripts/cluster_up.sh: each node rebuilds the dataset and reads the files at the same paths
(one machine: the same disk), shuffling anew each epoch."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.cluster

SCRIPT = textwrap.dedent('''
    import json, sys
    import numpy as np
    import tensorflow as tf
    import keras
    import raytune_hpt as rth
    from sklearn.datasets import load_digits

    folder, address = sys.argv[1], sys.argv[2]
    digits = load_digits()
    x, y = (digits.data / 16).astype("float32"), digits.target.astype("int64")

    def write(path, xs, ys):
        with tf.io.TFRecordWriter(path) as writer:
            for f, l in zip(xs, ys):
                writer.write(tf.train.Example(features=tf.train.Features(feature={
                    "x": tf.train.Feature(float_list=tf.train.FloatList(value=f)),
                    "y": tf.train.Feature(int64_list=tf.train.Int64List(value=[l]))}))
                    .SerializeToString())

    def dataset(path):
        spec = {"x": tf.io.FixedLenFeature([64], tf.float32),
                "y": tf.io.FixedLenFeature([1], tf.int64)}
        def parse(record):
            example = tf.io.parse_single_example(record, spec)
            return example["x"], example["y"][0]
        return tf.data.TFRecordDataset([path]).map(parse).shuffle(500).batch(32)

    class Watching(rth.HyperModel):
        def build(self, hp):
            model = keras.Sequential([keras.Input((64,)),
                keras.layers.Dense(hp.Int("units", 16, 64, step=16), activation="relu"),
                keras.layers.Dense(10, activation="softmax")])
            model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
            return model

        def fit(self, hp, model, x, callbacks=None, **kwargs):
            passes = [np.concatenate([np.asarray(b[1]) for b in x.take(3)]) for _ in range(2)]
            differ = float(not np.array_equal(*passes))
            class Log(keras.callbacks.Callback):
                def on_epoch_end(self, epoch, logs=None):
                    logs["orders_differ"] = differ
            return model.fit(x, callbacks=[Log(), *(callbacks or [])], **kwargs)

    write(folder + "/train.tfrecord", x[:600], y[:600])
    write(folder + "/val.tfrecord", x[1200:1400], y[1200:1400])
    tuner = rth.Tuner(Watching(), objective="val_accuracy", max_trials=2,
                      resources={"cpu": 1}, address=address, storage_path=folder + "/results",
                      name="tfdata", seed=0, verbose=0)
    results = tuner.search(dataset(folder + "/train.tfrecord"),
                           validation_data=dataset(folder + "/val.tfrecord"), epochs=2)
    nodes = [{r.get("node_id") for r in t.history if isinstance(r.get("node_id"), str)}
             for t in results.trials]
    print("RESULT " + json.dumps([[t.status, sorted(n), t.metrics.get("orders_differ")]
                                  for t, n in zip(results.trials, nodes)]))
''')


def test_a_tfrecord_pipeline_runs_on_both_nodes(cluster, tmp_path):
    script = tmp_path / "search.py"
    script.write_text(SCRIPT)
    env = cluster.env(RAY_AUTH_MODE="token")
    env.pop("RAY_ADDRESS")  # the script names the GCS address itself
    done = subprocess.run([sys.executable, str(script), str(tmp_path), cluster.gcs_address],
                          env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-4000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    trials = json.loads(line[len("RESULT "):])
    assert [status for status, _, _ in trials] == ["finished", "finished"], trials
    # 1 CPU per node, 2 trials at once: one on each node
    assert all(len(nodes) == 1 for _, nodes, _ in trials), trials
    assert len({nodes[0] for _, nodes, _ in trials}) == 2, trials
    assert all(differ == 1.0 for _, _, differ in trials), trials
