"""Optuna's Gaussian-process sampler (``GPSampler``) through Ray's ``OptunaSearch``.

Optional: ``GPSampler`` imports PyTorch, which raytune_hpt never installs (a TensorFlow user
should not need a second deep-learning framework to tune); the default ``bayesopt`` searcher
is the PyTorch-free equivalent.
"""

from __future__ import annotations

from typing import Any

from raytune_hpt.hyperparameters import HyperParameters
from raytune_hpt.searchers._ray_wrappers import _require

__all__ = ["optuna_gp_searcher"]


def _require_torch_and_optuna() -> None:
    _require("optuna", "optuna_gp", "pip install 'raytune-hpt[optuna]'.")
    _require("torch", "optuna_gp", "pip install torch (the CPU build is enough). The "
             "'bayesopt' searcher needs neither.")


def optuna_gp_searcher(space: HyperParameters, metric: str, mode: str, seed: int | None = None,
                       n_startup_trials: int = 5,
                       points_to_evaluate: list[dict[str, Any]] | None = None) -> Any:
    """Optuna 5's ``GPSampler`` (log EI, mixed spaces), via ``ray.tune.search.optuna``.

    Raises:
        ImportError: when optuna or PyTorch is not installed, naming what to install.
    """
    _require_torch_and_optuna()
    import optuna
    from ray.tune.search.optuna import OptunaSearch

    sampler = optuna.samplers.GPSampler(seed=seed, n_startup_trials=n_startup_trials)
    return OptunaSearch(space=space.to_ray_space(), metric=metric, mode=mode, sampler=sampler,
                        points_to_evaluate=points_to_evaluate or None)
