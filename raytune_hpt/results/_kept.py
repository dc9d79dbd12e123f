"""Which trials' models are on disk under ``keep_models`` (docs/reliability.md, "Bounded disk").

The driver deletes the checkpoints of a trial that ends outside the best ``keep_models``
and lists it in :data:`~raytune_hpt._record.PRUNED_FILE`; its metrics, logs and row in the
results stay. Reading that file is plain JSON Lines (never a pickle); asking for such a trial's
model is one :class:`~raytune_hpt.errors.ModelNotKeptError` saying why and how to keep more.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from raytune_hpt import storage
from raytune_hpt._record import PRUNED_FILE
from raytune_hpt.errors import ModelNotKeptError

__all__ = ["PrunedModels", "read_pruned"]


@dataclass(frozen=True)
class PrunedModels:
    """The trials whose checkpoints were deleted, and the ``keep_models`` that did it."""

    keep_models: int | None = None
    trials: dict[str, str] = field(default_factory=dict)  # trial id -> trial folder

    def to_jsonl(self) -> str:
        return "".join(json.dumps({"trial_id": trial_id, "folder": folder,
                                   "keep_models": self.keep_models}) + "\n"
                       for trial_id, folder in self.trials.items())

    def not_kept(self, trial_ids: Sequence[str], asked: str) -> ModelNotKeptError:
        """The error for asking (``asked``, e.g. ``"get_best_models(3)"``) for models of
        ``trial_ids``, some of them pruned."""
        gone = [t for t in trial_ids if t in self.trials]
        shown = ", ".join(gone[:5]) + (f" and {len(gone) - 5} more" if len(gone) > 5 else "")
        k = self.keep_models
        return ModelNotKeptError(
            f"{asked}: the model of trial(s) {shown} is not on disk: keep_models={k} kept only "
            f"the best {k} trials' models and deleted the others' checkpoints when they "
            "ended (their metrics and logs are kept). To keep more, run the search with "
            "keep_models=None (every trial's model) or a larger number (docs/reliability.md, "
            "'Bounded disk').")


def read_pruned(path: str) -> PrunedModels:
    """The experiment's :data:`PRUNED_FILE` (none: nothing was pruned).

    Raises:
        ValueError: a line is not the JSON object the driver writes.
    """
    where = storage.join(path, PRUNED_FILE)
    try:
        text = storage.read_text(where)
    except (FileNotFoundError, OSError):
        return PrunedModels()
    trials, keep = {}, None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except ValueError as error:
            raise ValueError(f"{where}, line {number}, is not valid JSON ({error}).") from None
        if not isinstance(data, dict) or not isinstance(data.get("trial_id"), str) \
                or not isinstance(data.get("folder"), str):
            raise ValueError(f"{where}, line {number}, must be a JSON object with 'trial_id' "
                             f"and 'folder' (strings); it is {line[:200]!r}.")
        trials[data["trial_id"]] = data["folder"]
        k = data.get("keep_models")
        keep = k if isinstance(k, int) and not isinstance(k, bool) else keep
    return PrunedModels(keep, trials)
