"""Submitting an experiment to a Ray cluster through Ray's Jobs API, and watching it.

:func:`submit` checks the experiment file here, packs the folder holding the user's model code
(Ray's ``working_dir``; extra packages as ``pip``) and asks the cluster's Jobs API
(``ray.job_submission.JobSubmissionClient``) to run ``raytune-hpt run FILE`` on the head node;
the run then spreads its trials over the cluster. :func:`list_jobs`, :func:`job_status`,
:func:`job_logs`, :func:`follow_logs`, :func:`wait` and :func:`stop_job` do the rest.

The address is the dashboard's, ``http://HEAD:8265`` (``RAY_ADDRESS`` when not given); keep
that port private and reach it through an SSH tunnel or ``kubectl port-forward``. A cluster with
token authentication gets the token the way Ray reads it: ``RAY_AUTH_TOKEN``, else the file
``RAY_AUTH_TOKEN_PATH`` names, else ``~/.ray/auth_token`` (none with ``RAY_AUTH_MODE=disabled``).

Nothing is submitted when the cluster cannot be reached; the errors say why in one line::

    ClusterError (RaytuneHptError)
    ├── ClusterAddressError (ConfigurationError)   no address, or not a Ray Jobs API there
    ├── ClusterAuthError (ConfigurationError)      no token, or the cluster refused it
    ├── JobNotFoundError (ConfigurationError)      no job with that id
    └── ClusterUnreachableError                    nothing answers at the address

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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from raytune_hpt import storage as storage_paths
from raytune_hpt.errors import (
    ClusterAddressError,
    ClusterAuthError,
    ClusterError,
    ClusterUnreachableError,
    ConfigurationError,
    JobNotFoundError,
)

__all__ = [
    "ClusterAddressError",
    "ClusterAuthError",
    "ClusterError",
    "ClusterUnreachableError",
    "JobNotFoundError",
    "SubmittedJob",
    "connect",
    "find_token",
    "follow_logs",
    "job_logs",
    "job_status",
    "list_jobs",
    "resolve_address",
    "stop_job",
    "submit",
    "wait",
]

DEFAULT_TOKEN_PATH = Path("~") / ".ray" / "auth_token"
TERMINAL_STATUSES = ("SUCCEEDED", "FAILED", "STOPPED")
_TIMEOUT_S = 10.0
_TUNNEL_HINT = (
    "is the cluster up, and for a remote one is the SSH tunnel or kubectl port-forward "
    "to its dashboard port open?"
)


@dataclass(frozen=True)
class SubmittedJob:
    """What :func:`submit` sent: the job's id, where it runs and where its results go."""

    job_id: str
    address: str
    entrypoint: str
    results_path: str
    runtime_env: dict[str, Any]


# -- address and token ----------------------------------------------------------------------
def resolve_address(address: str | None = None) -> str:
    """The Jobs API's URL: ``address``, else ``RAY_ADDRESS``; ``http://`` is assumed.

    Raises:
        ClusterAddressError: no address, or one that is not the dashboard's HTTP address.
    """
    given = address or os.environ.get("RAY_ADDRESS", "")
    source = "--address" if address else "RAY_ADDRESS"
    given = given.strip().rstrip("/")
    if not given:
        raise ClusterAddressError(
            "no cluster address: give --address http://HEAD:8265 (the dashboard port, through "
            "an SSH tunnel or port-forward) or set RAY_ADDRESS"
        )
    scheme, sep, rest = given.partition("://")
    if not sep:
        scheme, rest = "http", given
    if given == "auto" or scheme not in ("http", "https") or not rest:
        kind = "a Ray Client address" if scheme == "ray" else "not an HTTP address"
        raise ClusterAddressError(
            f"{source} {given!r} is {kind}; jobs go to the dashboard's HTTP address, e.g. "
            f"http://127.0.0.1:8265 (`raytune-hpt run --address auto` runs on the head node itself)"
        )
    return f"{scheme}://{rest}"


def find_token() -> tuple[str | None, str]:
    """The token Ray would send, and where it came from.

    Ray's order: ``RAY_AUTH_TOKEN``, then the file ``RAY_AUTH_TOKEN_PATH`` names (which must
    be readable: Ray treats a bad path as fatal, not as "no token"), then ``~/.ray/auth_token``.
    ``RAY_AUTH_MODE=disabled`` sends none.

    Raises:
        ClusterAuthError: ``RAY_AUTH_TOKEN_PATH`` names a missing or empty file.
    """
    if os.environ.get("RAY_AUTH_MODE", "").lower() == "disabled":
        return None, "RAY_AUTH_MODE=disabled"
    token = os.environ.get("RAY_AUTH_TOKEN", "").strip()
    if token:
        return token, "RAY_AUTH_TOKEN"
    path = os.environ.get("RAY_AUTH_TOKEN_PATH")
    if path:
        try:
            token = Path(path).expanduser().read_text(encoding="utf-8").strip()
        except OSError as error:
            raise ClusterAuthError(
                f"RAY_AUTH_TOKEN_PATH={path} cannot be read ({error.strerror})"
            ) from None
        if not token:
            raise ClusterAuthError(f"RAY_AUTH_TOKEN_PATH={path} is empty")
        return token, f"RAY_AUTH_TOKEN_PATH={path}"
    default = DEFAULT_TOKEN_PATH.expanduser()
    with contextlib.suppress(OSError):
        token = default.read_text(encoding="utf-8").strip()
        if token:
            return token, str(DEFAULT_TOKEN_PATH)
    return None, "no token (RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH, ~/.ray/auth_token)"


def _probe(url: str, headers: dict[str, str], source: str) -> None:
    """One GET of ``/api/version``, turned into one of the errors when it is not Ray's answer."""
    import requests

    try:
        response = requests.get(f"{url}/api/version", headers=headers, timeout=_TIMEOUT_S)
    except requests.exceptions.SSLError as error:
        raise ClusterAddressError(
            f"{url}: TLS failed ({_reason(error)}); is it http:// rather than https://?"
        ) from None
    except (requests.exceptions.ConnectTimeout, requests.exceptions.ReadTimeout):
        raise ClusterUnreachableError(
            f"{url} did not answer within {_TIMEOUT_S:.0f} s; {_TUNNEL_HINT}"
        ) from None
    except requests.exceptions.ConnectionError as error:
        reason = _reason(error)
        if _refused_or_unresolved(reason):
            raise ClusterUnreachableError(
                f"cannot reach {url} ({reason}); {_TUNNEL_HINT}"
            ) from None
        raise ClusterAddressError(
            f"{url} answered but not as a Ray dashboard ({_kind(error)}); the Jobs API is on the "
            "dashboard "
            "port (8265 by default), not the GCS (6379) or Ray Client (10001) port"
        ) from None
    if response.status_code == 401:
        raise ClusterAuthError(
            f"{url} requires a token and {source} was found; set RAY_AUTH_TOKEN or "
            "RAY_AUTH_TOKEN_PATH "
            "to the cluster's token (`ray get-auth-token` on the head node prints it)"
        )
    if response.status_code == 403:
        raise ClusterAuthError(
            f"{url} refused the token from {source}; use the cluster's token "
            "(`ray get-auth-token` on "
            "the head node prints it)"
        )
    try:
        version = response.json()["ray_version"]
    except (ValueError, KeyError, TypeError):
        raise ClusterAddressError(
            f"{url} answered HTTP {response.status_code} but is not a Ray dashboard; "
            "the Jobs API is on "
            "the dashboard port (8265 by default)"
        ) from None
    if not isinstance(version, str):
        raise ClusterAddressError(f"{url} is not a Ray dashboard (no ray_version in /api/version)")


def _reason(error: BaseException) -> str:
    """The innermost cause of a requests/urllib3 error, on one line."""
    while error.__context__ is not None or error.__cause__ is not None:
        error = error.__cause__ or error.__context__
    text = " ".join(str(error).split())
    if "Errno" in text:
        text = text[text.index("[Errno") :] if "[Errno" in text else text
    return text[:200] or type(error).__name__


def _kind(error: BaseException) -> str:
    """The innermost error's class: what answered may have sent binary (a gRPC port)."""
    while error.__context__ is not None or error.__cause__ is not None:
        error = error.__cause__ or error.__context__
    return type(error).__name__


def _refused_or_unresolved(reason: str) -> bool:
    lowered = reason.lower()
    return any(
        word in lowered
        for word in (
            "refused",
            "name or service not known",
            "nodename nor servname",
            "no route to host",
            "network is unreachable",
            "failed to resolve",
            "temporary failure in name resolution",
            "timed out",
            "host is down",
        )
    )


@contextlib.contextmanager
def _address_env_ignored() -> Iterator[None]:
    """Ray's client prefers RAY_ADDRESS over its argument; here the argument must win."""
    saved = {
        k: os.environ.pop(k) for k in ("RAY_ADDRESS", "RAY_API_SERVER_ADDRESS") if k in os.environ
    }
    try:
        yield
    finally:
        os.environ.update(saved)


def connect(address: str | None = None) -> Any:
    """A ``JobSubmissionClient`` for the cluster, after checking that it answers as Ray.

    Raises:
        ClusterAddressError, ClusterAuthError, ClusterUnreachableError: see the module's tree.
    """
    url = resolve_address(address)
    token, source = find_token()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    _probe(url, headers, source)
    try:
        from ray.job_submission import JobSubmissionClient
    except ImportError as error:  # the Jobs SDK needs ray[default] (requests, aiohttp)
        raise ImportError(
            f"Submitting jobs needs Ray's Jobs SDK: pip install 'ray[default]' ({error})"
        ) from None
    with _address_env_ignored():
        return _mapped(lambda: JobSubmissionClient(url, headers=headers), url, source)


def _mapped(call: Any, url: str, source: str, job_id: str | None = None) -> Any:
    """Run one Jobs API call, turning Ray's exceptions into this module's."""
    import requests
    from ray.exceptions import AuthenticationError

    try:
        return call()
    except AuthenticationError:
        raise ClusterAuthError(f"{url} refused the token from {source}") from None
    except (requests.exceptions.ConnectionError, ConnectionError) as error:
        raise ClusterUnreachableError(
            f"lost the connection to {url} ({_reason(error)}); {_TUNNEL_HINT}"
        ) from None
    except RuntimeError as error:
        if job_id is not None and ("does not exist" in str(error) or "404" in str(error)):
            raise JobNotFoundError(
                f"no job {job_id!r} on {url}; `raytune-hpt jobs list` shows them"
            ) from None
        raise


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
    storage = _check_storage(experiment.storage_path)
    results_path = f"{resolved_storage(experiment).rstrip('/')}/{experiment.name}"

    command = ["raytune-hpt", "run", relative, "--name", experiment.name, "--storage-path", storage]
    if max_trials is not None:
        command += ["--max-trials", str(max_trials)]
    for override in overrides:
        command += ["--set", override]
    entrypoint = shlex.join(command)
    runtime_env: dict[str, Any] = {
        "working_dir": ray_dir,
        "env_vars": {"TF_CPP_MIN_LOG_LEVEL": "2", **(env_vars or {})},
    }
    if not ray_dir.startswith("local://"):
        runtime_env["excludes"] = ["__pycache__/", ".git/", "*.keras"]
        local_results = Path(results_path)
        if "://" not in results_path and _is_inside(local_results, folder):  # not earlier runs
            runtime_env["excludes"].append("/" + local_results.relative_to(folder).as_posix() + "/")
    if pip:
        runtime_env["pip"] = list(pip)

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
