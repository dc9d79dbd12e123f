"""Submitting an experiment file or a Python script to a Ray cluster through Ray's Jobs API.

:func:`submit` checks the file here, packs the folder holding the user's code (Ray's
``working_dir``; extra packages as ``pip``; this package as ``py_modules`` unless the cluster
runs the same build, ``_package.py``) and asks the cluster's Jobs API
(``ray.job_submission.JobSubmissionClient``) to run ``raytune-hpt run FILE`` (an experiment
file) or ``python FILE ARGS`` (a script) on the head node; the run then spreads its trials
over the cluster. Watching the job (:func:`list_jobs`, :func:`job_status`, :func:`job_logs`,
:func:`follow_logs`, :func:`wait`, :func:`stop_job`) is ``_jobs_watch.py``'s, re-exported here.

The connection (address, token, the errors' tree) is ``_jobs_client.py``'s.

Example:
    >>> job = submit("experiment.yaml", address="http://127.0.0.1:8265",
    ...              storage_path="s3://bucket/hpt")             # doctest: +SKIP
    >>> wait(job.job_id, address=job.address)                   # doctest: +SKIP
    'SUCCEEDED'
"""

from __future__ import annotations

import os
import re
import shlex
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from raytune_hpt import storage as storage_paths
from raytune_hpt._job_env import STORAGE_ENV
from raytune_hpt.cli._jobs_client import _mapped, connect
from raytune_hpt.cli._jobs_watch import (
    follow_logs,
    job_logs,
    job_status,
    list_jobs,
    stop_job,
    wait,
)
from raytune_hpt.cli._package import plan_shipping
from raytune_hpt.errors import ConfigurationError

__all__ = [
    "SubmittedJob",
    "follow_logs",
    "job_logs",
    "job_status",
    "list_jobs",
    "stop_job",
    "submit",
    "wait",
]


@dataclass(frozen=True)
class SubmittedJob:
    """What :func:`submit` sent: the job's id, where it runs and where its results go."""

    job_id: str
    address: str
    entrypoint: str
    results_path: str
    runtime_env: dict[str, Any]
    package: str = ""  # whether this package was shipped with the job, in one line
    kind: str = "experiment"  # or "script": then results_path is the storage, not one folder


# -- submitting -----------------------------------------------------------------------------
def _is_inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
    except ValueError:
        return False
    return True


def _plan(experiment_file: str | os.PathLike, working_dir: str | None) -> tuple[Any, Path, str]:
    """``(working_dir for Ray, its local folder, FILE relative to it)``, checked."""
    file = Path(experiment_file).expanduser().resolve()
    if working_dir is None:
        folder, ray_dir = file.parent, str(file.parent)
    elif working_dir.startswith("local://"):
        # A folder already present on every node (a shared disk, or this machine's own
        # multi-node cluster): Ray copies it on each node instead of uploading it.
        folder, ray_dir = Path(working_dir[len("local://") :]), working_dir
        if not folder.is_absolute():
            raise ConfigurationError(
                f"--working-dir: local:// needs an absolute path, e.g. local:///srv/code; "
                f"got {working_dir!r}"
            )
    elif storage_paths.is_uri(working_dir):
        raise ConfigurationError(
            "--working-dir: give a local folder (uploaded) or local:///path (already on every "
            "node); "
            f"got {working_dir!r}"
        )
    else:
        folder = Path(working_dir).expanduser().resolve()
        ray_dir = str(folder)
    if not folder.is_dir():
        raise ConfigurationError(f"--working-dir: {folder} is not a folder")
    if not _is_inside(file, folder):
        raise ConfigurationError(
            f"FILE: {file} must be inside the working directory {folder}, "
            "which is what the cluster gets"
        )
    return ray_dir, folder, file.relative_to(folder).as_posix()


def _check_code_inside(experiment: Any, folder: Path) -> None:
    """A model or loader given as ``path/to/file.py:function`` must travel with the job."""
    base = Path(experiment.base_dir or ".")
    refs = [("model", experiment.model), ("data.loader", getattr(experiment.data, "loader", None))]
    for field, ref in refs:
        target = (ref or "").rpartition(":")[0]
        if target.endswith(".py") or "/" in target:
            path = (base / target).resolve()
            if not _is_inside(path, folder):
                raise ConfigurationError(
                    f"{field}: {path} is outside the working directory {folder}, "
                    "so the cluster would "
                    "not get it; pass --working-dir with a folder holding both"
                )


def _check_storage(storage: str | None, field: str = "storage_path") -> str:
    if storage and (storage_paths.is_uri(storage) or Path(storage).is_absolute()):
        return storage
    raise ConfigurationError(
        f"{field}: a submitted job needs storage you and the cluster both reach: "
        f"s3://bucket/prefix, gs://..., or an absolute path on a disk every node shares; got "
        f"{storage or 'none (results would stay in the job’s temporary folder on a node)'!r}; "
        "pass --storage-path"
    )


@dataclass(frozen=True)
class _Job:
    """A job checked here, before any contact with the cluster."""

    kind: str  # "experiment" or "script"
    label: str  # the experiment's name, or the script's file name
    entrypoint: str
    ray_dir: str
    folder: Path
    storage: str
    results_path: str


_SCRIPT_SUFFIXES = (".py",)
_EXPERIMENT_SUFFIXES = (".yaml", ".yml")


def _kind(file: str | os.PathLike) -> str:
    """``"script"`` or ``"experiment"``, by the file's suffix; the file must exist."""
    path = Path(file).expanduser()
    suffix = path.suffix.lower()
    if suffix not in _SCRIPT_SUFFIXES + _EXPERIMENT_SUFFIXES:
        raise ConfigurationError(
            f"FILE: submit runs a Python script (.py) or an experiment file (.yaml, .yml); "
            f"got {os.fspath(file)!r}")
    if not path.is_file():
        raise ConfigurationError(f"FILE: {path.resolve()} does not exist (or is not a file)")
    return "script" if suffix in _SCRIPT_SUFFIXES else "experiment"


def submit(
    file: str | os.PathLike,
    *,
    address: str | None = None,
    working_dir: str | None = None,
    pip: Sequence[str] = (),
    overrides: Sequence[str] = (),
    name: str | None = None,
    storage_path: str | None = None,
    max_trials: int | None = None,
    env_vars: dict[str, str] | None = None,
    args: Sequence[str] = (),
) -> SubmittedJob:
    """Check the file here, then submit it as a Ray job: ``raytune-hpt run FILE`` for an
    experiment file, ``python FILE ARGS`` for a script; this package goes with the job unless
    the cluster runs the identical build (``_package.py``).

    Args:
        file: the experiment's YAML file or a Python script, inside ``working_dir``.
        address: the dashboard's address, ``http://HEAD:8265``; default ``RAY_ADDRESS``.
        working_dir: the folder the cluster gets (uploaded; default: the file's folder), or
            ``local:///abs/path`` for a folder already on every node (not uploaded).
        pip: extra packages for the job, as pip requirement strings.
        overrides: ``key=value`` overrides, as ``raytune-hpt run --set`` (experiment files).
        name, max_trials: as ``raytune-hpt run`` (experiment files).
        storage_path: where results go, reached by this machine and the cluster (``s3://``,
            ``gs://``, a shared absolute path); it wins over a script's own.
        env_vars: environment variables for the job (credentials are better given to the
            cluster's nodes).
        args: the script's command-line arguments.

    Returns:
        The job's id, the address, the entrypoint and where the results will be.

    Raises:
        ConfigurationError: a bad file, working directory or storage path.
        ClusterError: the cluster could not be used (see the module's tree).
    """
    if _kind(file) == "script":
        job = _checked_script(file, working_dir, storage_path, overrides, name, max_trials, args)
    elif args:
        raise ConfigurationError(f"arguments after -- ({shlex.join(args)}) are for a Python "
                                 "script; an experiment file takes --set KEY=VALUE")
    else:
        job = _checked_experiment(file, working_dir, overrides, name, storage_path, max_trials)
    client = connect(address)
    url = client.get_address()
    shipping = plan_shipping(url)
    runtime_env = _runtime_env(job, pip, {**shipping.env_vars, STORAGE_ENV: job.storage,
                                          **(env_vars or {})}, shipping.py_modules)
    job_id = f"raytune-hpt-{_id_part(job.label)}-{uuid.uuid4().hex[:8]}"
    metadata = {"raytune_hpt_experiment": job.label, "raytune_hpt_results": job.results_path}
    _mapped(
        lambda: client.submit_job(entrypoint=job.entrypoint, submission_id=job_id,
                                  runtime_env=runtime_env, metadata=metadata),
        url,
        "the token",
    )
    return SubmittedJob(job_id, url, job.entrypoint, job.results_path, runtime_env,
                        shipping.description, job.kind)


def _id_part(label: str) -> str:
    """``label`` as Ray accepts it in a submission id."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", label).strip("-") or "job"


def _checked_script(
    file: str | os.PathLike,
    working_dir: str | None,
    storage_path: str | None,
    overrides: Sequence[str],
    name: str | None,
    max_trials: int | None,
    args: Sequence[str],
) -> _Job:
    """A Python script's job: ``python FILE ARGS`` in its folder, results in the storage."""
    given = [flag for flag, value in (("--set", overrides), ("--name", name),
                                      ("--max-trials", max_trials)) if value]
    if given:
        raise ConfigurationError(
            f"{', '.join(given)} change an experiment file; a Python script sets its own "
            "(give it arguments after --, e.g. raytune-hpt submit train.py -- --epochs 3)")
    ray_dir, folder, relative = _plan(file, working_dir)
    storage = _check_storage(storage_path, "--storage-path")
    _check_no_secret_args(storage, args)
    entrypoint = shlex.join(["python", relative, *args])
    return _Job("script", Path(relative).name, entrypoint, ray_dir, folder, storage,
                storage_paths.normalize(storage))


def _checked_experiment(
    experiment_file: str | os.PathLike,
    working_dir: str | None,
    overrides: Sequence[str],
    name: str | None,
    storage_path: str | None,
    max_trials: int | None,
) -> _Job:
    """An experiment file's job (``raytune-hpt run FILE``), checked before any contact."""
    from raytune_hpt.experiment import load_experiment
    from raytune_hpt.experiment import storage_path as resolved_storage

    ray_dir, folder, relative = _plan(experiment_file, working_dir)
    experiment = load_experiment(
        experiment_file,
        list(overrides),
        name=name,
        storage_path=storage_path,
        max_trials=max_trials,
    )
    _check_code_inside(experiment, folder)
    _check_no_secrets(experiment, experiment_file, overrides)
    storage = _check_storage(experiment.storage_path)
    results_path = f"{resolved_storage(experiment).rstrip('/')}/{experiment.name}"
    entrypoint = _entrypoint(relative, experiment.name, storage, max_trials, overrides)
    return _Job("experiment", experiment.name, entrypoint, ray_dir, folder, storage,
                results_path)


_SECRETS_INSTEAD = (
    "; give secrets to the cluster's nodes instead: environment variables set on the nodes "
    "(the cluster config, a Kubernetes secret; read them with os.environ in your code), "
    "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or an IAM role for storage, "
    "MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD for MLflow")


def _check_no_secrets(experiment: Any, experiment_file: Any, overrides: Sequence[str]) -> None:
    """Secrets in the file would be uploaded with the working directory, and secrets in
    ``--set`` or ``--storage-path`` shown in the job's entrypoint (``jobs list``, the
    dashboard): both are refused, naming each setting (the rule: :mod:`raytune_hpt._secrets`)."""
    from raytune_hpt.experiment import secret_fields

    found = secret_fields(experiment)
    if found:
        given = {o.split("=", 1)[0].strip() for o in overrides}
        where = ("the command line (--set, --storage-path)"
                 if any(f in given or f == "storage_path" for f in found)
                 else str(experiment_file))
        raise ConfigurationError(
            f"{', '.join(found)} holds a secret (a password, token or key, or a URI with "
            f"credentials) in {where}, which submit would upload to the cluster (or show in "
            f"the job's command line){_SECRETS_INSTEAD}; and remove them from the file")


def _check_no_secret_args(storage: str, args: Sequence[str]) -> None:
    """A script's arguments and storage are shown in the job's entrypoint: no secret there
    (an option named like one, ``--api-token``, or a URI with credentials)."""
    from raytune_hpt._secrets import is_secret_key, redact_uri, uri_has_credentials

    found = ["--storage-path"] if uri_has_credentials(storage) else []
    for arg in args:
        if arg.startswith("-") and is_secret_key(arg.lstrip("-").split("=", 1)[0]):
            found.append(arg.split("=", 1)[0])
        elif uri_has_credentials(arg):
            found.append(f"the argument {redact_uri(arg)!r}")
    if found:
        raise ConfigurationError(
            f"{', '.join(found)} holds a secret (a password, token or key, or a URI with "
            "credentials), which submit would show in the job's command line (jobs list, the "
            f"dashboard){_SECRETS_INSTEAD}")


def _entrypoint(
    relative: str, name: str, storage: str, max_trials: int | None, overrides: Sequence[str]
) -> str:
    """The ``raytune-hpt run`` command line the job runs on the head node (as ``python -m
    raytune_hpt``: a shipped package brings no ``raytune-hpt`` command)."""
    command = ["python", "-m", "raytune_hpt", "run", relative, "--name", name,
               "--storage-path", storage]
    if max_trials is not None:
        command += ["--max-trials", str(max_trials)]
    for override in overrides:
        command += ["--set", override]
    return shlex.join(command)


def _runtime_env(job: _Job, pip: Sequence[str], env_vars: dict[str, str],
                 py_modules: list[str]) -> dict[str, Any]:
    """Ray's runtime environment: the working directory (without earlier results), this
    package where it is shipped, pip, env."""
    runtime_env: dict[str, Any] = {
        "working_dir": job.ray_dir,
        "env_vars": {"TF_CPP_MIN_LOG_LEVEL": "2", **env_vars},
        # what neither the working directory nor the shipped package needs to carry
        "excludes": ["__pycache__/", ".git/", "*.keras"],
    }
    local_results = Path(job.results_path)
    if not storage_paths.is_uri(job.results_path) and _is_inside(local_results, job.folder):
        runtime_env["excludes"].append("/" + local_results.relative_to(job.folder).as_posix()
                                       + "/")
    if py_modules:
        runtime_env["py_modules"] = list(py_modules)
    if pip:
        runtime_env["pip"] = list(pip)
    return runtime_env
