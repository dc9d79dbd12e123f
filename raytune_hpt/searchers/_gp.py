"""A Gaussian process and log expected improvement in numpy/scipy (no PyTorch).

Modelled on Optuna 5's ``GPSampler`` (``optuna/_gp/gp.py``, ``prior.py``, ``acqf.py``), with
the gradients written out by hand instead of taken by PyTorch's autograd:

* Matern 5/2 kernel with one length scale per hyperparameter; a categorical dimension holds
  the index of its value and contributes the Hamming distance (0 or 1) instead of a squared
  difference;
* an inactive conditional hyperparameter is NaN: two inactive values are at distance 0, an
  active and an inactive one at distance 1 (the largest distance of two unit coordinates);
* kernel parameters (inverse squared length scales, signal variance, noise variance) fitted
  by L-BFGS-B on the log marginal likelihood plus Optuna's priors, from the previous fit and
  from the defaults (the better of the two is kept);
* log expected improvement, computed stably far in the tail (Ament et al. 2023, eq. 9),
  with its gradient with respect to the continuous coordinates of the candidates.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy.linalg import cho_solve, cholesky, solve_triangular
from scipy.optimize import minimize
from scipy.special import erfc, erfcx, log_ndtr

__all__ = ["GaussianProcess", "log_expected_improvement", "squared_distances"]

MIN_NOISE = 1e-6
_SQRT_HALF = math.sqrt(0.5)
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
_SQRT_HALF_PI = math.sqrt(0.5 * math.pi)


def squared_distances(a: np.ndarray, b: np.ndarray, categorical: np.ndarray) -> np.ndarray:
    """Per-dimension squared distances of every row of ``a`` to every row of ``b``.

    Returns an array of shape ``(len(a), len(b), dims)``; NaN marks an inactive value.
    """
    sq = np.square(a[:, None, :] - b[None, :, :])
    if categorical.any():
        sq[..., categorical] = np.where(np.isnan(sq[..., categorical]), np.nan,
                                        (sq[..., categorical] > 0).astype(float))
    nan_a, nan_b = np.isnan(a)[:, None, :], np.isnan(b)[None, :, :]
    return np.where(nan_a | nan_b, (nan_a ^ nan_b).astype(float), sq)


def _matern(r2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Matern 5/2 of the squared distance and its derivative with respect to it."""
    s = np.sqrt(5.0 * np.maximum(r2, 0.0))
    e = np.exp(-s)
    return e * (1.0 + s + s * s / 3.0), (-5.0 / 6.0) * (1.0 + s) * e


class GaussianProcess:
    """A zero-mean GP on standardized targets (maximized), fitted by :meth:`fit`.

    Args:
        x: training inputs ``(n, dims)``; units in [0, 1], category indices, NaN if inactive.
        y: training targets ``(n,)``, larger is better.
        categorical: which dimensions are categorical ``(dims,)``.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, categorical: np.ndarray) -> None:
        self.x, self.y, self.categorical = x, y, categorical
        self._sq = squared_distances(x, x, categorical)
        dims = x.shape[1]
        # raw parameters: log inverse squared length scales, log signal variance,
        # log(noise variance - MIN_NOISE)
        self.raw = np.concatenate([np.zeros(dims), [0.0], [math.log(1.0 - 0.99 * MIN_NOISE)]])
        self._cache()

    @property
    def dims(self) -> int:
        return self.x.shape[1]

    @property
    def length_scales(self) -> np.ndarray:
        return np.exp(-0.5 * self.raw[: self.dims])

    def _unpack(self, raw: np.ndarray) -> tuple[np.ndarray, float, float]:
        return np.exp(raw[: self.dims]), math.exp(raw[self.dims]), \
            math.exp(raw[self.dims + 1]) + MIN_NOISE

    def _loss(self, raw: np.ndarray) -> tuple[float, np.ndarray]:
        """Negative (log marginal likelihood + log prior) and its gradient."""
        w, scale, noise = self._unpack(raw)
        f, df = _matern(self._sq @ w)
        k = scale * f + noise * np.eye(len(self.y))
        try:
            chol = cholesky(k, lower=True)
        except np.linalg.LinAlgError:
            return 1e10, np.zeros_like(raw)
        alpha = cho_solve((chol, True), self.y)
        mll = -0.5 * self.y @ alpha - np.log(np.diag(chol)).sum()
        a = 0.5 * (np.outer(alpha, alpha) - cho_solve((chol, True), np.eye(len(self.y))))
        grad = np.empty_like(raw)
        grad[: self.dims] = w * np.einsum("ij,ijd->d", a * scale * df, self._sq)
        grad[self.dims] = (a * scale * f).sum()
        grad[self.dims + 1] = np.trace(a) * (noise - MIN_NOISE)
        # Optuna's priors (optuna/_gp/prior.py), here in the raw (log) coordinates
        prior = -(0.1 / w + 0.1 * w).sum() + (math.log(scale) - scale) \
            + (0.1 * math.log(noise) - 30.0 * noise)
        grad[: self.dims] += 0.1 / w - 0.1 * w
        grad[self.dims] += 1.0 - scale
        grad[self.dims + 1] += (0.1 / noise - 30.0) * (noise - MIN_NOISE)
        return -(mll + prior), -grad

    def fit(self, starts: list[np.ndarray] | None = None) -> GaussianProcess:
        """Fit the kernel parameters from each start (and the defaults); keep the best."""
        default = self.raw.copy()
        best_raw, best_loss = default, self._loss(default)[0]
        for start in [default, *(starts or [])]:
            if start is None or len(start) != len(default):
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = minimize(self._loss, start, jac=True, method="L-BFGS-B",
                                  bounds=[(-12.0, 12.0)] * len(default),
                                  options={"gtol": 1e-2, "maxiter": 200})
            if np.isfinite(result.fun) and result.fun < best_loss:
                best_raw, best_loss = result.x, float(result.fun)
        self.raw = best_raw
        self._cache()
        return self

    def condition_on(self, x: np.ndarray, y: np.ndarray) -> GaussianProcess:
        """The same kernel with more data (pending trials, believed); no refit."""
        other = GaussianProcess(np.vstack([self.x, x]), np.concatenate([self.y, y]),
                                self.categorical)
        other.raw = self.raw.copy()
        other._cache()
        return other

    def _cache(self) -> None:
        w, self._scale, noise = self._unpack(self.raw)
        self._w = w
        k = self._scale * _matern(self._sq @ w)[0] + noise * np.eye(len(self.y))
        self._chol = cholesky(k + 1e-10 * np.eye(len(self.y)), lower=True)
        self._alpha = cho_solve((self._chol, True), self.y)

    def posterior(self, x: np.ndarray, grad_dims: np.ndarray | None = None
                  ) -> tuple[np.ndarray, ...]:
        """Mean and variance at ``x`` (m, dims); with ``grad_dims``, their gradients there."""
        sq = squared_distances(x, self.x, self.categorical)
        f, df = _matern(sq @ self._w)
        k = self._scale * f
        mean = k @ self._alpha
        v = solve_triangular(self._chol, k.T, lower=True)
        var = np.maximum(self._scale - np.einsum("nm,nm->m", v, v), 1e-20)
        if grad_dims is None:
            return mean, var
        diff = x[:, None, grad_dims] - self.x[None, :, grad_dims]
        diff = np.nan_to_num(diff)  # an inactive training value is at a constant distance
        dk = (2.0 * self._scale) * df[..., None] * self._w[grad_dims] * diff
        dmean = np.einsum("mnc,n->mc", dk, self._alpha)
        kinv_k = cho_solve((self._chol, True), k.T).T
        dvar = -2.0 * np.einsum("mnc,mn->mc", dk, kinv_k)
        return mean, var, dmean, dvar


def _log_h(z: np.ndarray) -> np.ndarray:
    """log(z * Phi(z) + phi(z)), stable for very negative z."""
    out = np.empty_like(z)
    big = z >= -25.0
    zb = z[big]
    out[big] = np.log(0.5 * zb * erfc(-_SQRT_HALF * zb)
                      + np.exp(-0.5 * zb * zb) / math.sqrt(2 * math.pi))
    zs = z[~big]
    out[~big] = (-0.5 * zs * zs - _LOG_SQRT_2PI
                 + np.log1p(_SQRT_HALF_PI * zs * erfcx(-_SQRT_HALF * zs)))
    return out


def log_expected_improvement(mean: np.ndarray, var: np.ndarray, best: float,
                             dmean: np.ndarray | None = None, dvar: np.ndarray | None = None
                             ) -> tuple[np.ndarray, np.ndarray | None]:
    """log E[max(0, f(x) - best)] under the posterior, and its gradient if asked."""
    sigma = np.sqrt(var)
    z = (mean - best) / sigma
    log_h = _log_h(z)
    value = log_h + np.log(sigma)
    if dmean is None or dvar is None:
        return value, None
    ratio = np.exp(log_ndtr(z) - log_h)  # Phi(z) / h(z) = d log h / dz
    d_mean = ratio / sigma
    d_sigma = (1.0 - z * ratio) / sigma
    grad = d_mean[:, None] * dmean + (d_sigma / (2.0 * sigma))[:, None] * dvar
    return value, grad
