"""An experiment already on disk under the search's name (Keras Tuner's reload rule).

As Keras Tuner's constructor: a project that exists is reloaded (and says so) unless
``overwrite=True``, so the ``get_best_*`` methods answer before any ``search()``; a search
whose ``max_trials`` trials all ended trains nothing; otherwise ``search()`` resumes it, and
a larger ``max_trials`` continues it with new trials (``_ray_compat.continue_restored``); a
smaller one says that nothing runs.
"""

from __future__ import annotations

import logging

from raytune_hpt import storage
from raytune_hpt._record import METADATA_FILE
from raytune_hpt.errors import ConfigurationError
from raytune_hpt.hyperparameters import HyperParameters
from raytune_hpt.results import ExperimentResults
from raytune_hpt.results import load as load_results
from raytune_hpt.settings import Settings
from raytune_hpt.tracking import say

__all__ = ["check_same_space", "existing_results", "reload_results", "search_is_done"]

logger = logging.getLogger(__name__)

# A failed trial is not done: resuming retries it (the CLI's `resume`, Ray's resume_errored).
_ENDED = ("finished", "stopped", "diverged")


def reload_results(settings: Settings) -> ExperimentResults:
    """The experiment at ``settings.experiment_path``, read back (Keras Tuner's ``reload``).

    Raises:
        FileNotFoundError: no experiment there.
    """
    return load_results(settings.experiment_path)


def existing_results(settings: Settings) -> ExperimentResults | None:
    """The experiment already at ``settings.experiment_path`` (None: none, or overwrite)."""
    path = settings.experiment_path
    if settings.overwrite:
        return None
    try:
        if not storage.exists(storage.join(path, METADATA_FILE)):
            return None
    except Exception as error:  # an unreachable store: search() says so, with its error
        logger.warning("Could not look for an experiment at %s: %s", path, error)
        return None
    say(f"Reloading Tuner from {path}")  # at every verbosity, as Keras Tuner does
    try:
        return reload_results(settings)
    except Exception as error:  # a folder a search was interrupted in: search() resumes it
        logger.warning("Could not read the experiment at %s yet (%s); search() resumes it.",
                       path, error)
        return None


def _say(settings: Settings, text: str) -> None:
    say(text, settings.verbose, otherwise=logger.warning)


def check_same_space(settings: Settings, results: ExperimentResults | None,
                     space: HyperParameters, *, built_only: bool = False) -> None:
    """Refuse to resume (or answer from) an experiment on disk searched over other
    hyperparameters than ``space``, the model's: its trials would be this search's answer.
    ``built_only``: ``space`` is what building the model declares (a custom ``fit``
    declares more during the search): the experiment's other names are not differences.

    Raises:
        ConfigurationError: each difference, and the way out (another name, overwrite=True).
    """
    from raytune_hpt.driver._search import fixed_beyond
    from raytune_hpt.driver._warm_start import compare_spaces

    if results is None or settings.overwrite or results.space is None:
        return
    if not settings.tune_new_entries:  # as the search records it: the rest kept Fixed
        space = fixed_beyond(space, settings.hyperparameters)
    earlier = results.space
    if built_only:
        earlier = HyperParameters.from_config(
            {"space": [hp.get_config() for hp in earlier.space if hp.name in space]})
    differences = compare_spaces(space, earlier)
    if differences:
        raise ConfigurationError(
            f"The experiment already at {settings.experiment_path} searched other "
            f"hyperparameters than this model declares: {'; '.join(differences)}. Its "
            f"{len(results.trials)} trials would be this search's answer. Give this search "
            "a name of its own (name=..., or Keras Tuner's project_name=...), or pass "
            "overwrite=True to delete that experiment and search afresh there.")


def search_is_done(settings: Settings, results: ExperimentResults | None) -> bool:
    """True when the reloaded experiment already ended ``max_trials`` trials, or has more
    trials than ``max_trials`` (said in one line): ``search()`` trains nothing (Keras
    Tuner's oracle stops at once too)."""
    if results is None or settings.overwrite:
        return False
    ended = sum(1 for t in results.trials if t.status in _ENDED)
    if settings.max_trials < len(results.trials):
        _say(settings, f"max_trials={settings.max_trials} is fewer than the "
             f"{len(results.trials)} trials {settings.experiment_path} already has: nothing "
             "runs and its results stay as they are. A larger max_trials continues the "
             "search; overwrite=True searches afresh.")
        return True
    if ended < settings.max_trials:
        return False
    say(f"Search already done: {ended} trials ended in {settings.experiment_path} "
        f"(max_trials={settings.max_trials}); nothing to run. overwrite=True searches afresh.",
        settings.verbose)
    return True
