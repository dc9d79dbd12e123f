"""Ray's own warm workers for a search: how many, and what each imports first.

A local Ray the package starts, and the one ``raytune-hpt up`` keeps, prestart Python
workers that import :data:`WARM_MODULES` (Ray Tune, TensorFlow, Keras) before they take
work, so that a trial actor finds them already imported. Never more than the trials that
can run at once (Ray's own default is one per CPU); ``RAYTUNE_HPT_WARM_WORKERS=0`` turns
them off (docs/performance.md, "Warm workers").
"""

from __future__ import annotations

import os

from raytune_hpt.errors import ConfigurationError

__all__ = ["TUNE_ONLY_MODULES", "WARM_MODULES", "WARM_WORKERS_VARIABLE", "warm_modules",
           "warm_worker_count"]

#: What each warm worker imports before it takes work (Ray's ``preload_python_modules``).
WARM_MODULES = ("raytune_hpt.worker._preload",)
#: The same for trials that may never import TensorFlow (:func:`warm_modules`).
TUNE_ONLY_MODULES = ("ray.tune",)

#: A limit on warm workers (0: none), for a local Ray the package starts and ``up``'s.
WARM_WORKERS_VARIABLE = "RAYTUNE_HPT_WARM_WORKERS"


def warm_modules(hypermodel: bool) -> tuple[str, ...]:
    """What a new local Ray's workers import first: :data:`WARM_MODULES` when the trials
    build a hypermodel's Keras models, else (a ``run_trial`` override with no hypermodel,
    which may never touch Keras) only Ray Tune.

    Ray's preload runs in every worker the raylet starts, not only the prestarted ones, and
    such a trial defers TensorFlow (``worker._tf_setup``): preloading it anyway cost a
    search of 10 trials of ``x * x + 1`` 4.7-5.2 s on 2 cores.
    """
    return WARM_MODULES if hypermodel else TUNE_ONLY_MODULES


def warm_worker_count(trials_at_once: int) -> int:
    """Warm workers for at most ``trials_at_once`` trials at once: never more, and no more
    than ``RAYTUNE_HPT_WARM_WORKERS`` when the user set it.

    Raises:
        ConfigurationError: the variable is not a whole number.
    """
    limit = os.environ.get(WARM_WORKERS_VARIABLE, "").strip()
    if limit:
        try:
            trials_at_once = min(trials_at_once, int(limit))
        except ValueError:
            raise ConfigurationError(f"{WARM_WORKERS_VARIABLE} must be a whole number of "
                                     f"workers (0: none); got {limit!r}") from None
    return max(trials_at_once, 0)
