"""Watching the cluster's jobs through Ray's Jobs API: list, status, logs, follow, wait, stop.

:mod:`raytune_hpt.cli._jobs` submits them and re-exports these; the connection (address,
token, the errors' tree) is ``_jobs_client.py``'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from typing import Any, TextIO

from raytune_hpt.cli._jobs_client import _mapped, connect

__all__ = [
    "TERMINAL_STATUSES",
    "follow_logs",
    "job_logs",
    "job_status",
    "list_jobs",
    "stop_job",
    "wait",
]

TERMINAL_STATUSES = ("SUCCEEDED", "FAILED", "STOPPED")


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
