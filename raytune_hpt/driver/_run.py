"""What one ``search()`` call works with in the driver beyond its :class:`Settings`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from raytune_hpt.capacity import Capacity
from raytune_hpt.driver._budget import SearchClock
from raytune_hpt.hyperparameters import HyperParameters
from raytune_hpt.resources import Resources
from raytune_hpt.settings import Settings

__all__ = ["SearchRun"]


@dataclass
class SearchRun:
    """One search in the driver: its settings, the model, the space found by building it,
    the epochs per trial and the resources once ``"auto"`` is resolved against the cluster.

    ``custom_trial``: the user's ``run_trial`` runs each trial (the space can grow while it
    runs). ``attachments``: files written into the experiment folder once every check passed.
    ``clock``: this run's start and time budget (``max_time``), and the earlier runs' total.
    """

    settings: Settings
    hypermodel: Any  # a HyperModel; None when a run_trial override builds its own models
    space: HyperParameters
    epochs: int
    resources: Resources | str
    custom_trial: bool = False
    attachments: Mapping[str, str] = field(default_factory=dict)
    #: the cluster the search plans for (alive nodes and launchable types), once connected
    capacity: Capacity | None = None
    clock: SearchClock = field(init=False)

    def __post_init__(self) -> None:
        self.clock = SearchClock(self.settings.experiment_path, self.settings.max_time,
                                 fresh=self.settings.overwrite)

    @property
    def experiment_path(self) -> str:
        return self.settings.experiment_path

    def planning_totals(self) -> dict[str, float]:
        """The cluster's resources once grown to what its autoscaler may add (the live
        totals when it cannot grow): what the trials kept pending are sized by."""
        if self.capacity is None:
            raise RuntimeError("the capacity is read when Ray is connected.")
        return self.capacity.totals()

    def placed(self) -> Resources:
        """The resources of each trial, once resolved (``search`` resolves ``"auto"`` first)."""
        if not isinstance(self.resources, Resources):
            raise RuntimeError("resources='auto' is resolved when Ray is connected.")
        return self.resources
