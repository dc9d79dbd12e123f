"""Everything that runs in the user's process while a search runs: the mirror of ``worker/``.

``_search`` (one ``search()`` as named steps over one ``Settings``), ``_existing`` (an
experiment already on disk: Keras Tuner's reload rule), ``_run`` (what a search
works with beyond its settings: the model, the space, the epochs, the resources placed),
``_ray_session`` (starting or joining Ray, the scoped environment, shipping user code),
``_kept_ray`` (a local Ray ``raytune-hpt up`` keeps between scripts),
``_search_data`` (the data given to ``search()``, checked and shaped for the object store),
``_warm_start`` (points to evaluate first, an earlier experiment's trials), ``_tune_run``
(assembling and running one ``ray.tune.Tuner``), ``_supervision`` (the guard that stops a
pointless search), ``_keep_models`` (only the best trials' checkpoints stay on disk) and
``_space_growth`` (hyperparameters a ``run_trial`` declares late).
``raytune_hpt.tuner`` calls :func:`search` or :func:`search_custom`; Ray is imported only
when a search runs.
"""

from __future__ import annotations

from raytune_hpt._lazy import lazy_attributes
from raytune_hpt.driver._existing import (
    check_same_space,
    existing_results,
    reload_results,
    search_is_done,
)
from raytune_hpt.driver._kept_ray import KeptRay
from raytune_hpt.driver._kept_ray import start as keep_ray_up
from raytune_hpt.driver._kept_ray import stop as stop_kept_ray
from raytune_hpt.driver._ray_session import scoped_environ, start_ray
from raytune_hpt.driver._run import SearchRun
from raytune_hpt.driver._search import fixed_beyond, search, search_custom
from raytune_hpt.driver._warm_start import WarmStart, check_points, compare_spaces
from raytune_hpt.driver._warm_start import prepare as prepare_warm_start

__all__ = [
    "KeptRay",
    "SearchGuard",
    "SearchRun",
    "SpaceGrowth",
    "WarmStart",
    "check_points",
    "check_same_space",
    "compare_spaces",
    "existing_results",
    "fixed_beyond",
    "keep_ray_up",
    "prepare_warm_start",
    "reload_results",
    "scoped_environ",
    "search",
    "search_custom",
    "search_is_done",
    "start_ray",
    "stop_kept_ray",
]

# Ray Tune callbacks: they import Ray, loaded on first use.
__getattr__ = lazy_attributes(__name__, {"SearchGuard": "_supervision",
                                         "SpaceGrowth": "_space_growth"})
