"""The cluster subcommands of ``raytune-hpt``: ``submit`` runs an experiment on a Ray cluster
as a job, ``jobs`` lists, inspects, follows or stops the cluster's jobs (the work is
:mod:`raytune_hpt.jobs`'s). :mod:`raytune_hpt.cli` registers them with the other subcommands.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from raytune_hpt.cli._common import PROG, _one_line, _Parser, add_command, add_experiment_options

__all__ = ["cmd_jobs", "cmd_submit"]


# -- submit, jobs (raytune_hpt.jobs) --------------------------------------------------------
# An unreachable cluster is exit 1 (the same command may work once it is up or the tunnel is
# open); a wrong address, a missing or refused token, an unknown job are exit 2 (fix the input).
def _add_address(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--address", help="the cluster's dashboard, http://HEAD:8265 (default: RAY_ADDRESS)"
    )
    parser.add_argument(
        "--insecure", action="store_true",
        help="send the cluster token over plain http:// to another machine (a warning is "
             "printed; prefer an SSH tunnel or port-forward to 127.0.0.1, or https://)")


def _add_submit(subparsers: Any) -> argparse.ArgumentParser:
    parser = add_command(
        subparsers, "submit", "run an experiment file or a Python script on a Ray cluster",
        "Check FILE here, send its folder (the model code) and this package to the cluster "
        "and run it there as a job through Ray's Jobs API: `raytune-hpt run FILE` for an "
        "experiment file (.yaml), `python FILE ARGS` for a script (.py); follow its output "
        "unless --no-wait.")
    parser.add_argument("file", help="the experiment file (.yaml) or Python script (.py), "
                        "inside the working directory")
    parser.usage = (f"{PROG} submit [-h] FILE [--address URL] [--storage-path PATH] "
                    "[options] [-- SCRIPT_ARGS ...]")
    _split_at_double_dash(parser)
    _add_address(parser)
    parser.add_argument(
        "--working-dir",
        metavar="DIR",
        help="the folder the cluster gets (default: "
        "FILE's folder), or local:///abs/path for one already on every node",
    )
    parser.add_argument(
        "--pip",
        action="append",
        default=[],
        metavar="REQ",
        help="an extra package for the job (repeatable), e.g. --pip 'optuna>=4'",
    )
    add_experiment_options(
        parser, storage_help="where results go: s3://bucket/prefix, gs://..., or a shared "
        "absolute path", set_help="override a field, as with `run`")
    parser.add_argument("--no-wait", action="store_true", help="print the job id and return")
    return parser


def _split_at_double_dash(parser: argparse.ArgumentParser) -> None:
    """Everything after the first ``--`` is the script's (``args``), whatever it looks like.

    argparse alone cannot do it: a ``nargs="*"`` positional after FILE is filled (empty) as
    soon as FILE is, so ``FILE --storage-path P -- ARGS`` would be refused.
    """
    parse = parser.parse_known_args

    def parse_known_args(args: Any = None, namespace: Any = None) -> Any:
        args = list(sys.argv[1:] if args is None else args)
        script_args: list[str] = []
        if "--" in args:
            at = args.index("--")
            args, script_args = args[:at], args[at + 1 :]
        namespace, extras = parse(args, namespace)
        namespace.args = script_args
        return namespace, extras

    parser.parse_known_args = parse_known_args  # type: ignore[method-assign]


def _cluster_call(call: Callable[[], int], insecure: bool = False) -> int:
    from raytune_hpt.cli._jobs_client import plain_http_allowed
    from raytune_hpt.errors import ClusterUnreachableError

    try:
        with plain_http_allowed(insecure):
            return call()
    except ClusterUnreachableError as error:
        print(f"{PROG}: error: {_one_line(error)}", file=sys.stderr)
        return 1


def _follow(job_id: str, address: str) -> int:
    from raytune_hpt.cli import _jobs as jobs

    try:
        status = jobs.follow_logs(job_id, address)
    except KeyboardInterrupt:
        print(
            f"\nStopped following; the job keeps running. Follow it again with: {PROG} jobs logs "
            f"{job_id} --follow   or stop it: {PROG} jobs stop {job_id}",
            file=sys.stderr,
        )
        return 130
    print(f"Job {job_id} {status}.", file=sys.stderr)
    return 0 if status == "SUCCEEDED" else 1


def cmd_submit(args: argparse.Namespace) -> int:
    from raytune_hpt.cli import _jobs as jobs
    from raytune_hpt.experiment import ExperimentError

    if args.max_trials is not None and args.max_trials < 1:
        raise ExperimentError("--max-trials", f"must be >= 1; got {args.max_trials}")

    def submit() -> int:
        job = jobs.submit(
            args.file,
            address=args.address,
            working_dir=args.working_dir,
            pip=args.pip,
            overrides=args.overrides,
            name=args.name,
            storage_path=args.storage_path,
            max_trials=args.max_trials,
            args=args.args,
        )
        script = job.kind == "script"
        folder = f"{job.results_path}/PROJECT" if script else job.results_path
        print(job.job_id)
        print(
            f"Submitted to {job.address}: {job.entrypoint}\nPackage: {job.package}\n"
            f"Results: {folder}{'  (PROJECT: the name the script gives)' if script else ''}\n"
            f"Then: {PROG} best {folder}",
            file=sys.stderr,
            flush=True,
        )
        return 0 if args.no_wait else _follow(job.job_id, job.address)

    return _cluster_call(submit, args.insecure)


def _add_jobs(subparsers: Any) -> argparse.ArgumentParser:
    parser = add_command(
        subparsers, "jobs", "list, inspect, follow or stop the cluster's jobs",
        "Ray jobs on the cluster at --address (or RAY_ADDRESS).")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    actions.required = True
    _add_address(actions.add_parser("list", help="every job: id, status, experiment, results"))
    for action, text in (
        ("status", "a job's status and message"),
        ("logs", "a job's output"),
        ("stop", "stop a running job"),
    ):
        sub = actions.add_parser(action, help=text)
        sub.add_argument("job_id", metavar="JOB_ID")
        _add_address(sub)
        if action == "logs":
            sub.add_argument(
                "-f", "--follow", action="store_true", help="follow until the job ends"
            )
    return parser


def cmd_jobs(args: argparse.Namespace) -> int:
    from raytune_hpt.cli import _jobs as jobs

    def run() -> int:
        if args.action == "list":
            for job in jobs.list_jobs(args.address):
                meta = job.metadata or {}
                print(
                    "\t".join(
                        [
                            job.submission_id or job.job_id or "-",
                            str(job.status),
                            meta.get("raytune_hpt_experiment", "-"),
                            meta.get("raytune_hpt_results", "-"),
                        ]
                    )
                )
            return 0
        if args.action == "status":
            info = jobs.job_status(args.job_id, args.address)
            print(f"{info.status}\t{(info.message or '').strip()}")
            return 0
        if args.action == "logs":
            if args.follow:
                return _follow(args.job_id, args.address)
            print(jobs.job_logs(args.job_id, args.address), end="")
            return 0
        stopped = jobs.stop_job(args.job_id, args.address)
        print(f"Job {args.job_id}: {'stop requested' if stopped else 'had already ended'}")
        return 0

    return _cluster_call(run)
