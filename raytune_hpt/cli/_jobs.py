"""Submitting an experiment to a Ray cluster through Ray's Jobs API, and watching it.

:func:`submit` checks the experiment file here, packs the folder holding the user's model code
(Ray's ``working_dir``; extra packages as ``pip``) and asks the cluster's Jobs API
(``ray.job_submission.JobSubmissionClient``) to run ``raytune-hpt run FILE`` on the head node;
the run then spreads its trials over the cluster. :func:`list_jobs`, :func:`job_status`,
:func:`job_logs`, :func:`follow_logs`, :func:`wait` and :func:`stop_job` do the rest.

The connection (address, token, the errors' tree) is ``_jobs_client.py``'s.

Example:
    >>> job = submit("experiment.yaml", address="http://127.0.0.1:8265",
    ...              storage_path="s3://bucket/hpt")             # doctest: +SKIP
    >>> wait(job.job_id, address=job.address)                   # doctest: +SKIP
    'SUCCEEDED'
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from raytune_hpt import storage as storage_paths
from raytune_hpt.cli._jobs_client import _mapped, connect
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

TERMINAL_STATUSES = ("SUCCEEDED", "FAILED", "STOPPED")


@dataclass(frozen=True)
class SubmittedJob:
    """What :func:`submit` sent: the job's id, where it runs and where its results go."""

    job_id: str
    address: str
    entrypoint: str
    results_path: str
    runtime_env: dict[str, Any]


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


def _check_storage(storage: str | None) -> str:
    if storage and (storage_paths.is_uri(storage) or Path(storage).is_absolute()):
        return storage
    raise ConfigurationError(
        f"storage_path: a submitted experiment needs storage you and the cluster both reach: "
        f"s3://bucket/prefix, gs://..., or an absolute path on a disk every node shares; got "
        f"{storage or 'none (./results, inside the job’s temporary folder)'!r}; pass --storage-path"
    )


def submit(
    experiment_file: str | os.PathLike,
    *,
    address: str | None = None,
    working_dir: str | None = None,
    pip: Sequence[str] = (),
    overrides: Sequence[str] = (),
    name: str | None = None,
    storage_path: str | None = None,
    max_trials: int | None = None,
    env_vars: dict[str, str] | None = None,
) -> SubmittedJob:
    """Check the experiment here, then submit ``raytune-hpt run FILE`` as a Ray job.

    Args:
        experiment_file: the experiment's YAML file, inside ``working_dir``.
        address: the dashboard's address, ``http://HEAD:8265``; default ``RAY_ADDRESS``.
        working_dir: the folder the cluster gets (uploaded; default: the file's folder), or
            ``local:///abs/path`` for a folder already on every node (not uploaded).
        pip: extra packages for the job, as pip requirement strings.
        overrides: ``key=value`` overrides, as ``raytune-hpt run --set``.
        name, storage_path, max_trials: as ``raytune-hpt run``; the storage must be one both
            this machine and the cluster reach (``s3://``, ``gs://``, a shared absolute path).
        env_vars: environment variables for the job (credentials are better given to the
            cluster's nodes than sent with every job).

    Returns:
        The job's id, the address, the entrypoint and where the results will be.

    Raises:
        ConfigurationError: a bad experiment file, working directory or storage path.
        ClusterError: the cluster could not be used (see the module's tree).
    """
    ray_dir, folder, relative = _plan(experiment_file, working_dir)
    experiment, storage, results_path = _checked_experiment(
        experiment_file, folder, overrides, name, storage_path, max_trials
    )
    entrypoint = _entrypoint(relative, experiment.name, storage, max_trials, overrides)
    runtime_env = _runtime_env(ray_dir, folder, results_path, pip, env_vars)
    client = connect(address)
    url = client.get_address()
    job_id = f"raytune-hpt-{experiment.name}-{uuid.uuid4().hex[:8]}"
    metadata = {"raytune_hpt_experiment": experiment.name, "raytune_hpt_results": results_path}
    _mapped(
        lambda: client.submit_job(
            entrypoint=entrypoint, submission_id=job_id, runtime_env=runtime_env, metadata=metadata
        ),
        url,
        "the token",
    )
    return SubmittedJob(
        job_id=job_id,
        address=url,
        entrypoint=entrypoint,
        results_path=results_path,
        runtime_env=runtime_env,
    )


def _checked_experiment(
    experiment_file: str | os.PathLike,
    folder: Path,
    overrides: Sequence[str],
    name: str | None,
    storage_path: str | None,
    max_trials: int | None,
) -> tuple[Any, str, str]:
    """``(experiment, its storage, where its results go)``, checked before any contact."""
    from raytune_hpt.experiment import load_experiment
    from raytune_hpt.experiment import storage_path as resolved_storage

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
    return experiment, storage, results_path


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
            "the job's command line); give secrets to the cluster's nodes instead: "
            "environment variables set on the nodes (the cluster config, a Kubernetes "
            "secret; read them with os.environ in your loader), AWS_ACCESS_KEY_ID / "
            "AWS_SECRET_ACCESS_KEY or an IAM role for storage, MLFLOW_TRACKING_USERNAME / "
            "MLFLOW_TRACKING_PASSWORD for MLflow; and remove them from the file")


def _entrypoint(
    relative: str, name: str, storage: str, max_trials: int | None, overrides: Sequence[str]
) -> str:
    """The ``raytune-hpt run`` command line the job runs on the head node."""
    command = ["raytune-hpt", "run", relative, "--name", name, "--storage-path", storage]
    if max_trials is not None:
        command += ["--max-trials", str(max_trials)]
    for override in overrides:
        command += ["--set", override]
    return shlex.join(command)


def _runtime_env(
    ray_dir: str,
    folder: Path,
    results_path: str,
    pip: Sequence[str],
    env_vars: dict[str, str] | None,
) -> dict[str, Any]:
    """Ray's runtime environment: the working directory (without earlier results), pip, env."""
    runtime_env: dict[str, Any] = {
        "working_dir": ray_dir,
        "env_vars": {"TF_CPP_MIN_LOG_LEVEL": "2", **(env_vars or {})},
    }
    if not ray_dir.startswith("local://"):
        runtime_env["excludes"] = ["__pycache__/", ".git/", "*.keras"]
        local_results = Path(results_path)
        if not storage_paths.is_uri(results_path) and _is_inside(local_results, folder):
            runtime_env["excludes"].append("/" + local_results.relative_to(folder).as_posix() + "/")
    if pip:
        runtime_env["pip"] = list(pip)
    return runtime_env


# -- watching -------------------------------------------------------------------------------
def list_jobs(address: str | None = None) -> list[Any]:
    """Every job the cluster knows (Ray's ``JobDetails``), oldest first."""
    client = connect(address)
    jobs = _mapped(client.list_jobs, client.get_address(), "the token")
    return sorted(jobs, key=lambda job: job.start_time or 0)


def _info(client: Any, job_id: str) -> Any:
    return _mapped(lambda: client.get_job_info(job_id), client.get_address(), "the token", job_id)


def job_status(job_id: str, address: str | None = None) -> Any:
    """The job's ``JobDetails``: ``status`` (PENDING, RUNNING, SUCCEEDED, FAILED, STOPPED),
    ``message``, ``entrypoint``, ``metadata``, ``start_time``, ``end_time``."""
    return _info(connect(address), job_id)


def job_logs(job_id: str, address: str | None = None) -> str:
    """Everything the job has printed so far."""
    client = connect(address)
    _info(client, job_id)
    return _mapped(lambda: client.get_job_logs(job_id), client.get_address(), "the token", job_id)


def stop_job(job_id: str, address: str | None = None) -> bool:
    """Ask the cluster to stop the job; ``False`` when it had already ended."""
    client = connect(address)
    _info(client, job_id)
    return bool(_mapped(lambda: client.stop_job(job_id), client.get_address(), "the token", job_id))


def wait(
    job_id: str, address: str | None = None, *, timeout: float | None = None, poll_s: float = 2.0
) -> str:
    """Wait until the job ends; returns SUCCEEDED, FAILED or STOPPED.

    Raises:
        TimeoutError: still running after ``timeout`` seconds (the job keeps running).
    """
    client = connect(address)
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        status = str(_info(client, job_id).status)
        if status in TERMINAL_STATUSES:
            return status
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"job {job_id} is still {status} after {timeout:.0f} s")
        time.sleep(poll_s)


def follow_logs(job_id: str, address: str | None = None, out: TextIO | None = None) -> str:
    """Print the job's output as it comes until it ends; returns its final status."""
    out = out or sys.stdout
    client = connect(address)
    _info(client, job_id)

    async def tail() -> None:
        async for chunk in client.tail_job_logs(job_id):
            out.write(chunk)
            out.flush()

    with contextlib.suppress(RuntimeError):  # the stream may close as the job ends
        _mapped(lambda: asyncio.run(tail()), client.get_address(), "the token", job_id)
    return wait(job_id, address, poll_s=1.0)
