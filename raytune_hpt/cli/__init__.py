"""The ``raytune-hpt`` command (runs only in the user's shell or a job's entrypoint).

``_main.py`` (the parser, its exit codes, examples), ``_run.py`` (run, resume),
``_results.py`` (best, results, tensorboard), ``_cluster.py`` (the submit and jobs
commands), ``_jobs.py`` (submitting an experiment file or a script as a job),
``_jobs_watch.py`` (watching it: status, logs, stop, wait), ``_package.py`` (this package
shipped with the job), ``_jobs_client.py`` (the connection behind them: address, token,
probe, Ray's errors mapped) and ``_common.py`` (the parser class, one-line errors).
"""

from __future__ import annotations

from raytune_hpt.cli._jobs import (
    SubmittedJob,
    follow_logs,
    job_logs,
    job_status,
    list_jobs,
    stop_job,
    submit,
    wait,
)
from raytune_hpt.cli._jobs_client import connect, find_token, resolve_address
from raytune_hpt.cli._main import SUBCOMMANDS, build_parser, main

__all__ = [
    "SUBCOMMANDS",
    "SubmittedJob",
    "build_parser",
    "connect",
    "find_token",
    "follow_logs",
    "job_logs",
    "job_status",
    "list_jobs",
    "main",
    "resolve_address",
    "stop_job",
    "submit",
    "wait",
]
