"""The keras-io Keras Tuner guides with ``keras_tuner`` itself and with ``raytune_hpt``.

Each guide is the code of tests/keras_tuner/test_<guide>.py (the guide with bundled data
and cut budgets). For ``keras_tuner`` the same file is loaded with its import swapped back
(``import raytune_hpt as keras_tuner`` -> ``import keras_tuner``), so both libraries run
the very same guide code, data, budgets and seeds. Runs alternate (which library goes
first flips from one seed to the next) and each section's best objective and wall time
are printed, then a Markdown table of the means over seeds.

Usage:
    python scripts/bench_keras_tuner_guides.py --first-seed 0 --seeds 2
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import os
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GUIDES_DIR = os.path.join(ROOT, "tests", "keras_tuner")
LIBRARIES = ("keras_tuner", "raytune_hpt")

# guide file -> [(section function, what it returns as the best objective, its name)]
GUIDES = {
    "getting_started": [
        ("test_getting_started", "tune_the_model_architecture", "objective", "val_accuracy"),
        ("test_getting_started", "tune_model_training", "objective", "val_accuracy"),
        ("test_getting_started_workflows", "objective_as_a_metric", "built_in",
         "val_mean_absolute_error"),
        ("test_getting_started_workflows", "objective_returned_by_fit", "float",
         "returned MAE"),
        ("test_getting_started_workflows", "tune_any_function", "f", "x*x+1"),
        ("test_getting_started_workflows", "keep_keras_code_separate", "objective",
         "returned MAE"),
    ],
    "tailor_the_search_space": [
        ("test_tailor_the_search_space", "search_a_few_and_fix_the_rest", "objective",
         "val_accuracy"),
        ("test_tailor_the_search_space", "fix_a_few_and_tune_the_rest", "objective",
         "val_accuracy"),
        ("test_tailor_the_search_space", "override_compilation_arguments", "objective",
         "val_loss (MSE)"),
    ],
    "failed_trials": [
        ("test_failed_trials", "tolerate_failed_trials", "best", "val_loss"),
        ("test_failed_trials", "mark_a_trial_as_failed", "best", "val_loss"),
        ("test_failed_trials", "terminate_the_search", "terminated", "FatalError raised"),
    ],
    "custom_tuner": [
        ("test_custom_tuner", "custom_training_loop", "loss", "my_metric (val loss)"),
        ("test_custom_tuner", "custom_run_trial", "loss", "loss (run_trial)"),
    ],
}

_SWAP = {"import raytune_hpt as keras_tuner\n": "import keras_tuner\n",
         "import raytune_hpt as kt\n": "import keras_tuner as kt\n"}


def load_guide(file: str, library: str):
    """tests/keras_tuner/<file>.py, its ``raytune_hpt`` imports swapped for ``library``."""
    if library == "raytune_hpt":
        return importlib.import_module(f"tests.keras_tuner.{file}")
    name = f"_kt_guides.{file}"
    if name in sys.modules:
        return sys.modules[name]
    with open(os.path.join(GUIDES_DIR, f"{file}.py")) as handle:
        source = handle.read()
    for ours, theirs in _SWAP.items():
        source = source.replace(ours, theirs)
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(name, loader=None))
    module.__file__ = os.path.join(GUIDES_DIR, f"{file}.py")
    sys.modules[name] = module
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    return module


def run_section(library: str, file: str, function: str, key: str, seed: int, mnist,
                log: io.TextIOBase) -> tuple[float | str | None, float]:
    """One section of a guide: (its best objective, or how it failed; wall seconds)."""
    import inspect

    guide = getattr(load_guide(file, library), function)
    directory = tempfile.mkdtemp(prefix=f"ktbench_{library}_")
    kwargs = {"mnist": mnist} if "mnist" in inspect.signature(guide).parameters else {}
    started = time.perf_counter()
    try:
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            printed = guide(directory, seed=seed, **kwargs)
    except Exception as error:  # a guide that fails on one library is a result too
        print(f"{library} {function}: {type(error).__name__}: {error}", file=log, flush=True)
        return f"fails: {type(error).__name__}", time.perf_counter() - started
    elapsed = time.perf_counter() - started
    value = printed[key]
    return (float(value) if value is not None else None), elapsed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--guides", nargs="*", default=list(GUIDES), choices=list(GUIDES))
    parser.add_argument("--log", default=os.path.join(tempfile.gettempdir(), "ktbench.log"))
    args = parser.parse_args(argv)
    sys.path.insert(0, ROOT)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import ray

    from tests.keras_tuner.conftest import load_mnist

    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False, log_to_driver=False)
    mnist = load_mnist(0)
    rows: dict[tuple, dict[str, list]] = {}
    with open(args.log, "w") as log:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            order = LIBRARIES if seed % 2 == 0 else LIBRARIES[::-1]
            for guide in args.guides:
                for file, function, key, objective in GUIDES[guide]:
                    for library in order:
                        value, seconds = run_section(library, file, function, key, seed,
                                                     mnist, log)
                        row = rows.setdefault((guide, function, objective), {})
                        row.setdefault(library, []).append((value, seconds))
                        print(f"seed {seed} {guide}.{function} {library}: {objective}="
                              f"{value} in {seconds:.1f} s", flush=True)
    print(table(rows))


def table(rows: dict[tuple, dict[str, list]]) -> str:
    lines = ["| guide | section | objective | keras_tuner best | raytune_hpt best "
             "| keras_tuner s | raytune_hpt s |", "|---|---|---|---|---|---|---|"]
    totals = {library: {} for library in LIBRARIES}
    for (guide, function, objective), by_library in rows.items():
        cells = []
        for library in LIBRARIES:
            runs = by_library.get(library, [])
            values = [v for v, _ in runs if isinstance(v, float)]
            failures = sorted({v for v, _ in runs if isinstance(v, str)})
            shown = [f"{statistics.mean(values):.4g}"] if values else []
            cells.append(" ".join(shown + failures) or "-")
        for library in LIBRARIES:
            seconds = statistics.mean([s for _, s in by_library.get(library, [])] or [0.0])
            totals[library][guide] = totals[library].get(guide, 0.0) + seconds
            cells.append(f"{seconds:.1f}")
        lines.append(f"| {guide} | {function} | {objective} | " + " | ".join(cells) + " |")
    for guide in totals[LIBRARIES[0]]:
        lines.append(f"| **{guide}** | all sections | | | | "
                     + " | ".join(f"**{totals[lib][guide]:.1f}**" for lib in LIBRARIES) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
