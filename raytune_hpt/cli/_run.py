"""``raytune-hpt run`` and ``resume``: a search in this process, from an experiment file.

``run`` validates the file (exit 2 on any problem, nothing started), saves it beside the
results, runs the search and prints the best trial; ``resume`` runs an interrupted or
shorter search again from the copy it saved (``--max-trials`` for more trials).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from raytune_hpt._format import best_trial_lines
from raytune_hpt.cli._common import PROG, add_command, add_experiment_options
from raytune_hpt.errors import ConfigurationError
from raytune_hpt.results import budget_note

__all__ = ["_add_resume", "_add_run", "cmd_resume", "cmd_run"]

logger = logging.getLogger(__name__)


# -- run ----------------------------------------------------------------------------------
def _add_run(subparsers: Any) -> argparse.ArgumentParser:
    parser = add_command(
        subparsers, "run", "run the experiment a YAML file (or a bundled example) describes",
        "Validate an experiment file, run its search on Ray and summarize it. "
        "Re-running an existing experiment name resumes it (use --overwrite to start afresh).")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("file", nargs="?", help="the experiment file (YAML)")
    source.add_argument("--example", metavar="NAME", help="run a bundled example (see `examples`)")
    add_experiment_options(
        parser, storage_help="where results go: a folder or s3://bucket/prefix",
        set_help="override a field, dotted paths allowed, values read as YAML "
        "(e.g. --set fit.epochs=1 --set searcher.type=grid)")
    parser.add_argument(
        "--address", help="a Ray cluster to connect to, e.g. auto or ray://host:10001"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="delete an existing experiment of that name first"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="validate and show the experiment; run nothing"
    )
    parser.add_argument(
        "--warm-start", metavar="PATH", help="an earlier experiment (folder or URI) whose "
        "trials seed the searcher without running again (sets the file's warm_start)")
    _add_max_time(parser)
    parser.add_argument(
        "-v",
        "--verbose",
        type=int,
        default=1,
        choices=(0, 1, 2),
        help="Ray Tune's progress display: 0 silent, 1 status (default), 2 every result",
    )
    return parser


def _objective_text(objective: Any) -> str:
    if not objective.is_pareto:
        return objective.name
    return "the Pareto front of " + ", ".join(f"{t.name} ({t.direction})" for t in objective.terms)


def _experiment_from_args(args: argparse.Namespace) -> Any:
    from raytune_hpt.experiment import ExperimentError, load_experiment

    if args.max_trials is not None and args.max_trials < 1:
        raise ExperimentError("--max-trials", f"must be >= 1; got {args.max_trials}")
    if args.example:
        from raytune_hpt.examples import example_path

        try:
            path = example_path(args.example)
        except ValueError as error:
            raise ExperimentError("--example", str(error)) from None
    else:
        path = Path(args.file)
    return load_experiment(
        path,
        args.overrides,
        name=args.name,
        storage_path=args.storage_path,
        max_trials=args.max_trials,
        warm_start=getattr(args, "warm_start", None),
        max_time=getattr(args, "max_time", None),
    )


def _add_max_time(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-time", metavar="DURATION", help="this run's wall-clock budget: seconds or "
        "90m, 2h, 1h30m; no trial starts after it, running ones end at their next epoch")


def cmd_run(args: argparse.Namespace) -> int:
    """Validate, resolve (import the model, load the data), then search and summarize."""
    from raytune_hpt.experiment import redacted_yaml, storage_path

    experiment = _experiment_from_args(args)
    if args.dry_run:
        target = storage_path(experiment)  # a storage URI that a run would refuse fails here
        print(redacted_yaml(experiment).rstrip())
        print(f"# valid; results would go to {target}/{experiment.name}")
        return 0
    return _search(experiment, overwrite=args.overwrite, address=args.address,
                   verbose=args.verbose)


def _search(
    experiment: Any,
    *,
    overwrite: bool,
    address: str | None,
    verbose: int,
) -> int:
    """Resolve the experiment, build its Tuner, search, summarize; returns the exit code."""
    from raytune_hpt.errors import SearchAbortedError

    tuner, search_kwargs = _prepared_tuner(experiment, overwrite, address, verbose)
    path = tuner.experiment_path
    started = time.monotonic()
    try:
        results = tuner.search(**search_kwargs)
    except KeyboardInterrupt:
        print(f"\nInterrupted. Continue it with: {PROG} resume {path}", file=sys.stderr)
        return 130
    except (ValueError, TypeError) as error:
        if isinstance(error, ConfigurationError):
            raise
        # Raised before any trial starts (data the Tuner rejects); trial errors are recorded.
        raise ConfigurationError(f"data: {error}") from error
    except SearchAbortedError as error:
        print(f"{PROG}: the search was stopped: {error}", file=sys.stderr)
        print(
            f"Fix the model or data, then start again with --overwrite, or continue: "
            f"{PROG} resume {path}",
            file=sys.stderr,
        )
        return 1
    print(_summary(results, path, time.monotonic() - started))
    # A search already done ran no Ray Tune (result_grid None), whose SIGINT handler tells
    if results.result_grid is not None and _interrupted():
        print(f"\nInterrupted; the state is saved. Continue it with: {PROG} resume {path}")
        return 130
    return 0 if _any_finished(results) else 1


def _prepared_tuner(
    experiment: Any, overwrite: bool, address: str | None, verbose: int
) -> tuple[Any, dict[str, Any]]:
    """The experiment's Tuner (saving the file, announcing the start) and ``search``'s
    arguments; a model that fails to import or data that fail to load exit 2."""
    from raytune_hpt import storage
    from raytune_hpt._noise import import_tensorflow_quietly
    from raytune_hpt.experiment import EXPERIMENT_FILE, build_tuner, experiment_yaml, resolve

    import_tensorflow_quietly()  # the model imports it; its start-up notices are noise
    resolved = resolve(experiment)  # loads the data, imports the model: errors exit 2
    try:
        tuner = build_tuner(experiment, resolved.hypermodel, overwrite=overwrite,
                            verbose=verbose, address=address)
    except (ValueError, TypeError) as error:  # the Tuner's own argument checks
        raise ConfigurationError(str(error)) from error
    path = tuner.experiment_path
    existing = storage.exists(path) and not overwrite
    # Written by the Tuner into the experiment folder only once every check has passed.
    tuner.attachments[EXPERIMENT_FILE] = experiment_yaml(experiment)
    # Announced once every check has passed, before Ray starts.
    tuner.on_search_begin = lambda: print(
        f"{'Resuming' if existing else 'Starting'} experiment {experiment.name!r}: "
        f"{experiment.max_trials} trials, searcher {experiment.searcher.type}, "
        f"scheduler {experiment.scheduler.type}, objective {_objective_text(tuner.objective)}; "
        f"results in {path}",
        flush=True,
    )
    return tuner, resolved.search_kwargs


def _interrupted() -> bool:
    """Whether Ctrl+C ended the search early.

    Ray Tune catches the first SIGINT in the main thread, saves the experiment and returns
    normally; its handler then uninstalls itself (after a normal end it stays installed).
    """
    if os.environ.get("TUNE_DISABLE_SIGINT_HANDLER", "0") not in ("", "0"):
        return False
    if threading.current_thread() is not threading.main_thread():
        return False
    return getattr(signal.getsignal(signal.SIGINT), "__name__", "") != "signal_interrupt_tune_run"


def _any_finished(results: Any) -> bool:
    return bool(results.ranked_trials())


def _summary(results: Any, path: str, seconds: float) -> str:
    """What happened, the best trial, where the results are and what to do next."""
    counts = results.counts()
    described = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    objective = results.objective
    lines = ["", f"Search done in {seconds:.0f} s: {len(results.trials)} trials ({described}); "
             f"at most {results.trials_at_once()} ran at once."]
    lines += [note for note in [budget_note(results.metadata)] if note]
    ranked = results.ranked_trials()
    if ranked and objective.is_pareto:  # the front, not one winner
        from raytune_hpt.results import front_lines

        lines += front_lines(results)
    elif ranked:
        best = ranked[0]
        at = best.best_metrics.get("epoch")
        epoch = f" at epoch {int(at)}" if isinstance(at, (int, float)) else ""
        shown = {k: v for k, v in best.best_metrics.items() if k != "epoch" and "/" not in k}
        lines += best_trial_lines(best, objective, shown, f" ({objective.direction}){epoch}")
    else:
        lines.append(f"No trial reported a finite {objective.name!r}.")
    failed = [t for t in results.trials if t.status == "failed"]
    if failed:
        lines.append(f"{len(failed)} trial(s) failed; the first error: {failed[0].error}")
    lines += ["", f"Results: {path}", "Next:"]
    if ranked:
        lines.append(f"  {PROG} best {path} --export-model best.keras   # save the best model")
    lines.append(
        f"  {PROG} results {path} -o trials.parquet   # every trial as a table (or .csv, .json)"
    )
    lines.append(f"  {PROG} tensorboard {path}   # learning curves")
    lines.append(f"  {PROG} report {path} -o report.html   # plots of the whole search")
    if failed or not ranked:
        lines.append(f"  fix the error above, then: {PROG} resume {path}   # retries failed trials")
    return "\n".join(lines)


# -- resume -------------------------------------------------------------------------------
def _add_resume(subparsers: Any) -> argparse.ArgumentParser:
    parser = add_command(
        subparsers, "resume", "continue an interrupted experiment",
        "Rebuild the run from the experiment file saved in DIR and continue it: "
        "unfinished and failed trials are resumed, and new trials run up to the saved budget.",
        experiment_dir=True)
    parser.add_argument("--address", help="a Ray cluster to connect to")
    parser.add_argument("-v", "--verbose", type=int, default=1, choices=(0, 1, 2))
    parser.add_argument("--max-trials", type=int, metavar="N", help="continue the search up "
                        "to N trials in all (at least the trials it already has)")
    _add_max_time(parser)
    return parser


def cmd_resume(args: argparse.Namespace) -> int:
    from raytune_hpt import storage
    from raytune_hpt._record import METADATA_FILE
    from raytune_hpt.experiment import ExperimentError, load_saved_experiment
    from raytune_hpt.settings import parse_duration

    path = storage.normalize(args.dir)
    if not storage.exists(storage.join(path, METADATA_FILE)):
        raise ExperimentError(
            "DIR", f"{path} was not written by raytune_hpt (it has no {METADATA_FILE}); "
            "resuming restores pickled state and imports the model the folder names, which "
            "runs code from it, so only folders this package wrote are resumed")
    more = None if args.max_trials is None else _more_trials(path, args.max_trials)
    experiment = load_saved_experiment(path)
    base, _, name = path.rstrip("/").rpartition("/")
    changes = {"storage_path": base or "/", "name": name}
    if more is not None:
        changes["max_trials"] = more
    if args.max_time is not None:
        parse_duration("max_time", args.max_time)  # a bad value: one line, exit 2
        changes["max_time"] = args.max_time
    experiment = experiment.model_copy(update=changes)
    return _search(experiment, overwrite=False, address=args.address, verbose=args.verbose)


def _more_trials(path: str, wanted: int) -> int:
    """``resume --max-trials N``: N, checked against the trials the experiment has."""
    from raytune_hpt.experiment import ExperimentError
    from raytune_hpt.results import load

    have = len(load(path).trials)
    if wanted < max(have, 1):
        raise ExperimentError("--max-trials", f"must be at least the {have} trials the "
                              f"experiment already has (it counts them all); got {wanted}")
    return wanted
