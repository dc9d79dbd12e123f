"""Everything that runs in the user's process while a search runs: the mirror of ``worker/``.

``_ray_session`` (starting or joining Ray, the scoped environment, shipping user code),
``_search_data`` (the data given to ``search()``, checked and shaped for the object store),
``_warm_start`` (points to evaluate first, an earlier experiment's trials),
``_pareto_search`` (which searchers and schedulers a Pareto objective may use),
``_tune_run`` (assembling and running one ``ray.tune.Tuner``), ``_supervision`` (the guard
that stops a pointless search) and ``_space_growth`` (hyperparameters a ``run_trial``
declares late). Ray is imported only when a search runs.
"""

from __future__ import annotations

from raytune_hpt._lazy import lazy_attributes
from raytune_hpt.driver._pareto_search import check_pareto_search, tune_metric
from raytune_hpt.driver._ray_session import (
    QUIET_TENSORFLOW,
    scoped_environ,
    ship_model_code,
    start_ray,
)
from raytune_hpt.driver._search_data import (
    SHARED_ARRAYS_MB,
    check_fit_data,
    ship_datasets,
    split_fit_arguments,
)
from raytune_hpt.driver._tune_run import metadata, run_experiment, write_metadata
from raytune_hpt.driver._warm_start import (
    WarmStart,
    check_points,
    compare_spaces,
)
from raytune_hpt.driver._warm_start import check_arguments as check_warm_start
from raytune_hpt.driver._warm_start import prepare as prepare_warm_start

__all__ = [
    "QUIET_TENSORFLOW",
    "SHARED_ARRAYS_MB",
    "SearchGuard",
    "SpaceGrowth",
    "WarmStart",
    "check_fit_data",
    "check_pareto_search",
    "check_points",
    "check_warm_start",
    "compare_spaces",
    "metadata",
    "prepare_warm_start",
    "run_experiment",
    "scoped_environ",
    "ship_datasets",
    "ship_model_code",
    "split_fit_arguments",
    "start_ray",
    "tune_metric",
    "write_metadata",
]

# Ray Tune callbacks: they import Ray, loaded on first use.
__getattr__ = lazy_attributes(__name__, {"SearchGuard": "_supervision",
                                         "SpaceGrowth": "_space_growth"})
