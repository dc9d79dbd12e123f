"""The numpy Gaussian process, log expected improvement and the acquisition encoding."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import approx_fprime

from raytune_hpt.hyperparameters import HyperParameters
from raytune_hpt.searchers._acquisition import Encoder
from raytune_hpt.searchers._gp import GaussianProcess, log_expected_improvement


def data(seed: int = 0, n: int = 30):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 4))
    x[:, 3] = rng.integers(0, 3, n)  # categorical
    x[rng.random(n) < 0.3, 2] = np.nan  # inactive
    y = np.sin(6 * x[:, 0]) + 0.1 * x[:, 3]
    return x, (y - y.mean()) / y.std(), np.array([False, False, False, True])


def test_marginal_likelihood_gradient_matches_finite_differences():
    x, y, categorical = data()
    gp = GaussianProcess(x, y, categorical)
    raw = np.random.default_rng(1).normal(size=6) * 0.5
    numeric = approx_fprime(raw, lambda r: gp._loss(r)[0], 1e-6)
    np.testing.assert_allclose(gp._loss(raw)[1], numeric, rtol=1e-3, atol=1e-3)


def test_fitted_length_scales_find_the_relevant_dimension():
    x, y, categorical = data(n=40)
    gp = GaussianProcess(x, y, categorical).fit()
    scales = gp.length_scales
    assert scales[0] < scales[1] and scales[0] < scales[2]  # only x0 (and a little x3) matter


def test_acquisition_gradient_matches_finite_differences():
    x, y, categorical = data()
    gp = GaussianProcess(x, y, categorical).fit()
    point = np.array([[0.3, 0.6, 0.2, 1.0]])
    dims = np.array([0, 1, 2])

    def value(v):
        p = point.copy()
        p[0, dims] = v
        return log_expected_improvement(*gp.posterior(p), y.max())[0][0]

    mean, var, dmean, dvar = gp.posterior(point, dims)
    _, grad = log_expected_improvement(mean, var, y.max(), dmean, dvar)
    np.testing.assert_allclose(grad[0], approx_fprime(point[0, dims], value, 1e-7), rtol=1e-3)


def test_log_expected_improvement_is_finite_and_ordered_far_in_the_tail():
    mean = np.array([-60.0, -40.0, -20.0, -5.0, 0.0, 3.0])
    values, _ = log_expected_improvement(mean, np.ones(6), 0.0)
    assert np.all(np.isfinite(values))
    assert np.all(np.diff(values) > 0)
    # exact where the naive formula is accurate: EI(0) = phi(0)
    assert values[4] == pytest.approx(np.log(1 / np.sqrt(2 * np.pi)))


def test_encoder_marks_inactive_values_as_the_space_does():
    hp = HyperParameters()
    hp.Choice("optimizer", ["adam", "sgd", "rmsprop"])
    with hp.conditional_scope("optimizer", ["sgd", "rmsprop"]):
        hp.Float("momentum", 0.0, 1.0)
        hp.Boolean("nesterov")
    with hp.conditional_scope("nesterov", [True]):
        hp.Int("lookahead", 1, 4)
    hp.Int("units", 1, 1000)
    encoder = Encoder(hp)
    raw = np.random.default_rng(0).random((200, encoder.width))
    features = encoder.features(raw)
    for row, feature in zip(raw, features, strict=True):
        config = {h.name: h.from_unit(u) for h, u in zip(encoder.hps, row, strict=True)}
        probe = hp.copy(config)
        for j, h in enumerate(encoder.hps):
            assert np.isnan(feature[j]) != probe.is_active(h), (config, h.name)
    assert list(encoder.relaxed) == [1, 4]  # momentum (continuous) and units (1000 values)
    assert set(encoder.discrete) == {0, 2, 3}
