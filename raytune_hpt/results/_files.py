"""A trial as read from storage: plain data only, never a pickle.

A results folder may come from someone else (a shared ``s3://`` prefix, a folder mailed
for a review), so reading one must never run code from it (docs/security.md). Ray's own
readers (``ExperimentAnalysis``, ``ResultGrid``, ``Tuner.restore``) unpickle the blobs that
``experiment_state-*.json`` embeds and each trial's ``error.pkl``; this module reads only:

- ``experiment_state-*.json`` with :func:`json.loads`: each trial's ``trial_id``, ``status``,
  ``config``, ``relative_logdir`` and its run metadata's ``error_filename`` are plain JSON
  fields. The hex strings of Ray's ``CLOUDPICKLE_FALLBACK`` entries stay strings.
- each trial folder's ``result.json`` / ``progress.csv`` (metric history), ``params.json``
  (its configuration, when the state file is not written yet), ``error.txt`` and the names of
  its ``checkpoint_*`` folders.

:func:`from_result_grid` adapts the ``ResultGrid`` a search just returned in this process
(trusted: this process wrote it) to the same shape.
"""

from __future__ import annotations

import io
import json
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from raytune_hpt import _ray_compat, storage

__all__ = ["TrialSource", "from_result_grid", "metric_rows", "progress_rows", "read_trials"]

STATE_PREFIX, STATE_SUFFIX = "experiment_state-", ".json"
_PICKLED = "CLOUDPICKLE_FALLBACK"


@dataclass
class TrialSource:
    """What a reader needs of one trial, whoever read it."""

    trial_id: str
    status: str  # Ray's word: TERMINATED, ERROR, RUNNING, PENDING, PAUSED
    config: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)
    last_result: dict[str, Any] = field(default_factory=dict)
    checkpoints: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # kept, scored
    latest_checkpoint: str | None = None
    error: str | None = None


# -- plain files -----------------------------------------------------------------------------
def _plain(value: Any) -> Any:
    """``value`` with Ray's embedded pickles replaced by a marker (never decoded)."""
    if isinstance(value, dict):
        if value.get("_type") == _PICKLED:
            return "<not plain data>"
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as error:
        raise ValueError(f"{where} is not valid JSON ({error}); the results cannot be read "
                         "from it.") from None


def _result_rows(trial_path: str) -> list[dict[str, Any]]:
    try:
        text = storage.read_text(storage.join(trial_path, "result.json"))
    except (FileNotFoundError, OSError):
        return []
    rows = []
    for line in text.splitlines():
        try:
            row = json.loads(line)
        except ValueError:  # a line cut short by a crash
            continue
        if isinstance(row, dict):
            rows.append(_plain(row))
    return rows


def progress_rows(trial_path: str) -> list[dict[str, Any]]:
    import pyarrow.csv

    try:
        text = storage.read_text(storage.join(trial_path, "progress.csv"))
    except (FileNotFoundError, OSError):
        return []
    # Ray writes whole lines; a last line without its newline was cut short by a crash.
    text = text[: text.rfind("\n") + 1]
    if "\n" not in text.strip():  # no complete row under the header
        return []
    table = pyarrow.csv.read_csv(io.BytesIO(text.encode("utf-8")))
    return table.to_pylist()


def metric_rows(trial_path: str, rows: list[dict[str, Any]] | None = None) -> list[dict]:
    """A trial's reports: ``progress.csv`` when it has more rows than ``result.json`` (after a
    HyperBand pause and resume, ``result.json`` loses the rows from before the pause)."""
    rows = _result_rows(trial_path) if rows is None else rows
    from_csv = progress_rows(trial_path)
    return from_csv if len(from_csv) > len(rows) else rows


def _newest_state(path: str) -> str | None:
    names = [name for name, _ in storage.list_dir(path)
             if name.startswith(STATE_PREFIX) and name.endswith(STATE_SUFFIX)]
    return storage.join(path, max(names)) if names else None


def _state_entries(path: str) -> list[tuple[dict[str, Any], dict[str, Any]]] | None:
    """``(trial state, run metadata)`` of each trial in the newest state file, or None."""
    state_path = _newest_state(path)
    if state_path is None:
        return None
    state = _json(storage.read_text(state_path), state_path)
    entries = state.get("trial_data") if isinstance(state, dict) else None
    if not isinstance(entries, list):
        raise ValueError(f"{state_path} has no list 'trial_data'; the results cannot be read "
                         "from it.")
    pairs = []
    for entry in entries:
        if not (isinstance(entry, list) and len(entry) == 2
                and all(isinstance(part, str) for part in entry)):
            raise ValueError(f"{state_path}: each 'trial_data' entry must be two JSON "
                             f"strings, but got {str(entry)[:80]!r}.")
        trial, run = (_json(part, state_path) for part in entry)
        if not isinstance(trial, dict) or not isinstance(trial.get("trial_id"), str):
            raise ValueError(f"{state_path}: a trial without a 'trial_id'.")
        pairs.append((trial, run if isinstance(run, dict) else {}))
    return pairs


def _safe_child(name: Any) -> str | None:
    """A trial folder's name from the state file, if it names a child folder."""
    if not isinstance(name, str) or not name or name in (".", "..") or "/" in name \
            or "\\" in name:
        return None
    return name


def _checkpoints(trial_path: str, rows: list[dict[str, Any]]) -> tuple[list, str | None]:
    kept = sorted(name for name, is_dir in storage.list_dir(trial_path)
                  if is_dir and name.startswith("checkpoint_"))
    scored = [(storage.join(trial_path, r["checkpoint_dir_name"]), r) for r in rows
              if r.get("checkpoint_dir_name") in kept]
    return scored, storage.join(trial_path, kept[-1]) if kept else None


def _error_text(trial_path: str, name: Any) -> str | None:
    if _safe_child(name) is None:
        return None
    try:
        text = storage.read_text(storage.join(trial_path, name)).strip()
    except (FileNotFoundError, OSError, UnicodeDecodeError):
        return None
    return text.splitlines()[-1][:500] if text else None


def _source(path: str, trial: dict[str, Any], run: dict[str, Any]) -> TrialSource:
    folder = _safe_child(trial.get("relative_logdir"))
    trial_path = storage.join(path, folder) if folder else None
    rows = metric_rows(trial_path) if trial_path else []
    last = _plain(run.get("last_result")) if isinstance(run.get("last_result"), dict) else {}
    checkpoints, latest = _checkpoints(trial_path, rows) if trial_path else ([], None)
    config = _plain(trial.get("config"))
    status = trial.get("status")
    return TrialSource(
        trial_id=trial["trial_id"], status=status if isinstance(status, str) else "PENDING",
        config=config if isinstance(config, dict) else {}, rows=rows, last_result=last,
        checkpoints=checkpoints, latest_checkpoint=latest,
        error=_error_text(trial_path, run.get("error_filename")) if trial_path else None)


def _from_folders(path: str, known: Collection[Any] = ()) -> list[TrialSource]:
    """Trials Ray's state file does not list yet (it is written every few seconds): folders
    with ``params.json``; running, or finished when their last report says ``done``."""
    sources = []
    for name, is_dir in sorted(storage.list_dir(path)):
        trial_path = storage.join(path, name)
        if not is_dir or name in known or name == "tensorboard" \
                or not storage.exists(storage.join(trial_path, "params.json")):
            continue
        config = _plain(_json(storage.read_text(storage.join(trial_path, "params.json")),
                              storage.join(trial_path, "params.json")))
        rows = metric_rows(trial_path)
        last = rows[-1] if rows else {}
        checkpoints, latest = _checkpoints(trial_path, rows)
        trial_id = last.get("trial_id") if isinstance(last.get("trial_id"), str) else name
        sources.append(TrialSource(
            trial_id=trial_id, status="TERMINATED" if last.get("done") else "RUNNING",
            config=config if isinstance(config, dict) else {}, rows=rows, last_result=last,
            checkpoints=checkpoints, latest_checkpoint=latest))
    return sources


def read_trials(path: str) -> list[TrialSource]:
    """Every trial of the experiment at ``path`` (a folder or a URI), from plain data only.

    Raises:
        ValueError: the newest ``experiment_state-*.json`` is not the JSON Ray writes.
    """
    entries = _state_entries(path)
    if entries is None:
        return _from_folders(path)
    known = {trial.get("relative_logdir") for trial, _ in entries}
    listed = [_source(path, trial, run) for trial, run in entries]
    ids = {source.trial_id for source in listed}
    return listed + [s for s in _from_folders(path, known) if s.trial_id not in ids]


# -- a ResultGrid this process just got from Ray (trusted) -----------------------------------
def from_result_grid(grid: Any) -> list[TrialSource]:
    sources = []
    for trial, result in _ray_compat.result_grid_pairs(grid):
        frame = result.metrics_dataframe
        rows = frame.to_dict("records") if frame is not None else []
        rows = metric_rows(result.path, rows) if result.path else rows
        checkpoints = [(c.path, m) for c, m in result.best_checkpoints or []]
        sources.append(TrialSource(
            trial_id=trial.trial_id, status=trial.status, config=dict(trial.config),
            rows=rows, last_result=dict(result.metrics or {}), checkpoints=checkpoints,
            latest_checkpoint=result.checkpoint.path if result.checkpoint else None,
            error=str(result.error).strip().splitlines()[-1][:500] if result.error else None))
    return sources
