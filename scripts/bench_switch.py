"""A Keras Tuner user switches one import: whole scripts, keras_tuner against raytune_hpt.

Each row is a small Keras Tuner script (digits MLP, the sizes of the keras-io guides) run as a
whole process (``python script.py``: TensorFlow's import included), once with
``import keras_tuner as kt`` and once with ``import raytune_hpt as kt``, alternating, for
``--rounds`` rounds; the table gives the medians and their ratio. Rows ``fixed-*``,
``16-trials`` and ``trivial`` time ``search()`` alone inside the script (issue 25's targets
1, 2 and 4). Every run starts in a fresh folder (``twice`` runs the same script twice in one
folder: the second run reloads). The load average before each round is recorded.

    python scripts/bench_switch.py --rounds 3 --out /tmp/bench_switch.json

``--variant NAME=PATH`` (repeatable) adds raytune_hpt run from another checkout (``PATH`` put
first on ``PYTHONPATH``, e.g. a ``git worktree`` of an older commit; empty for the installed
package), so that a change is measured before and after in the same run, next to keras_tuner.
``NAME=PATH+up`` runs that checkout's scripts while a local Ray kept by its ``raytune-hpt up``
is up (started before the first round, stopped by ``raytune-hpt down`` at the end); the other
variants never see it. ``NAME=PATH+KEY=VALUE`` sets one environment variable for that variant
(``nowarm=+RAYTUNE_HPT_WARM_WORKERS=0``).
Results are written to ``--out`` after every run.

Needs keras-tuner (``pip install '.[bench]'`` or ``pip install keras-tuner``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _benchdoc  # noqa: E402

PRELUDE = '''
import time
_started = time.perf_counter()
import numpy as np
import keras
import {module} as kt
from sklearn.datasets import load_digits

data = load_digits()
x = (data.data / 16.0).astype("float32")
y = data.target.astype("int64")
x_train, y_train, x_val, y_val = x[:1200], y[:1200], x[1200:], y[1200:]


def build_model(hp):
    model = keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(hp.Int("units", 16, 128, step=16), activation="relu"),
        keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(hp.Float("lr", 1e-4, 1e-2, sampling="log")),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def timed_search(tuner, *args, **kwargs):
    started = time.perf_counter()
    tuner.search(*args, **kwargs)
    return time.perf_counter() - started
'''

ROWS: dict[str, str] = {
    "retrain": '''
tuner = kt.RandomSearch(build_model, objective="val_accuracy", max_trials=2, seed=1)
tuner.search(x_train, y_train, validation_data=(x_val, y_val), epochs=2)
best_hps = tuner.get_best_hyperparameters(1)[0]
model = tuner.hypermodel.build(best_hps)
model.fit(np.concatenate([x_train, x_val]), np.concatenate([y_train, y_val]), epochs=2, verbose=0)
''',
    "tensorboard": '''
tuner = kt.RandomSearch(build_model, objective="val_accuracy", max_trials=2, seed=1)
tuner.search(x_train, y_train, validation_data=(x_val, y_val), epochs=2,
             callbacks=[keras.callbacks.TensorBoard("./tb_logs")])
''',
    "best-models": '''
tuner = kt.RandomSearch(build_model, objective="val_accuracy", max_trials=3, seed=1)
tuner.search(x_train, y_train, validation_data=(x_val, y_val), epochs=2)
tuner.oracle.get_best_trials(2)
models = tuner.get_best_models(2)
''',
    "batch-size": '''
class MyHyperModel(kt.HyperModel):
    def build(self, hp):
        return build_model(hp)

    def fit(self, hp, model, *args, **kwargs):
        return model.fit(*args, batch_size=hp.Choice("batch_size", [16, 32]), **kwargs)

tuner = kt.RandomSearch(MyHyperModel(), objective="val_accuracy", max_trials=3, seed=1)
tuner.search(x_train, y_train, validation_data=(x_val, y_val), epochs=2)
''',
    "grid": '''
def grid_model(hp):
    model = keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(hp.Choice("units", [16, 32]), activation="relu"),
        keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(hp.Choice("lr", [1e-3, 1e-2])),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model

tuner = kt.GridSearch(grid_model, objective="val_accuracy", max_trials=4)
tuner.search(x_train, y_train, validation_data=(x_val, y_val), epochs=1)
''',
    "early-stopping": '''
tuner = kt.RandomSearch(build_model, objective="val_accuracy", max_trials=3, seed=1)
tuner.search(x_train, y_train, validation_split=0.2, epochs=2,
             callbacks=[keras.callbacks.EarlyStopping(monitor="val_loss", patience=1)])
''',
    "twice": '''
tuner = kt.RandomSearch(build_model, objective="val_accuracy", max_trials=3, seed=1)
tuner.search(x_train, y_train, validation_data=(x_val, y_val), epochs=2)
print("BEST", tuner.get_best_hyperparameters(1)[0].values)
''',
    "fixed-first": '''
tuner = kt.RandomSearch(build_model, objective="val_accuracy", max_trials=1, seed=1,
                        project_name="first")
print("SEARCH", timed_search(tuner, x_train, y_train, validation_data=(x_val, y_val), epochs=2))
''',
    "fixed-second": '''
first = kt.RandomSearch(build_model, objective="val_accuracy", max_trials=1, seed=1,
                        project_name="first")
first.search(x_train, y_train, validation_data=(x_val, y_val), epochs=2)
tuner = kt.RandomSearch(build_model, objective="val_accuracy", max_trials=1, seed=2,
                        project_name="second")
print("SEARCH", timed_search(tuner, x_train, y_train, validation_data=(x_val, y_val), epochs=2))
''',
    "16-trials": '''
tuner = kt.RandomSearch(build_model, objective="val_accuracy", max_trials=16, seed=1)
print("SEARCH", timed_search(tuner, x_train, y_train, validation_data=(x_val, y_val), epochs=2))
''',
    "trivial": '''
class MyTuner(kt.RandomSearch):
    def run_trial(self, trial, *args, **kwargs):
        x = trial.hyperparameters.Float("x", -1.0, 1.0)
        return x * x + 1

tuner = MyTuner(max_trials=10, seed=1, objective=kt.Objective("score", "min"))
print("SEARCH", timed_search(tuner))
''',
}


def run_once(module: str, row: str, folder: str, timeout: float,
             env: dict[str, str]) -> dict[str, float]:
    # "row_" first: a script named tensorboard.py would shadow the tensorboard package
    script = os.path.join(folder, f"row_{row.replace('-', '_')}.py")
    with open(script, "w") as file:
        file.write(PRELUDE.format(module=module) + textwrap.dedent(ROWS[row]))
    runs = 2 if row == "twice" else 1
    out: dict[str, float] = {}
    for run in range(runs):
        started = time.perf_counter()
        done = subprocess.run([sys.executable, script], cwd=folder, capture_output=True,
                              text=True, timeout=timeout, env=env)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"{module} {row} failed:\n{done.stderr[-3000:]}")
        out[f"wall{run + 1}" if runs > 1 else "wall"] = wall
        for line in done.stdout.splitlines():
            if line.startswith("SEARCH "):
                out["search"] = float(line.split()[1])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rows", nargs="*", default=list(ROWS))
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--out", default=None)
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=PATH",
                        help="also run raytune_hpt from PATH (first on PYTHONPATH)")
    parser.add_argument("--table", metavar="JSON", help="print the table of a saved --out "
                        "file instead of running (with --plot: draw it too)")
    parser.add_argument("--plot", metavar="PNG", help="with --table: a bar chart of the ratios")
    args = parser.parse_args()
    if args.table:
        with open(args.table) as file:
            saved = json.load(file)
        _table(saved["runs"], saved["loads"], args.plot)
        return
    parsed = [_benchdoc.parse_variant(v) for v in args.variant or ["raytune_hpt="]]
    variants = {name: (path, env) for name, path, env, _ in parsed}
    candidates = ["keras_tuner", *variants]
    states = tempfile.mkdtemp(prefix="bench-switch-state-")
    kept = [name for name, _, _, up in parsed if up]
    for name in kept:
        up = subprocess.run([sys.executable, "-m", "raytune_hpt", "up"], capture_output=True,
                            text=True, env=_env(variants[name], os.path.join(states, name)))
        print(f"{name}: {up.stdout.strip() or up.stderr.strip()}", flush=True)
    try:
        _rounds(args, candidates, variants, states)
    finally:
        for name in kept:
            subprocess.run([sys.executable, "-m", "raytune_hpt", "down"],
                           env=_env(variants[name], os.path.join(states, name)))


def _env(variant: tuple[str | None, dict[str, str]] | None, state_dir: str) -> dict[str, str]:
    pythonpath, extra = variant or (None, {})
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "RAYTUNE_HPT_STATE_DIR": state_dir,
           **extra}
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [pythonpath, env.get("PYTHONPATH")]))
    return env


def _rounds(args: argparse.Namespace, candidates: list[str],
            variants: dict[str, tuple[str | None, dict[str, str]]],
            states: str) -> None:
    runs: dict[str, dict[str, list[dict[str, float]]]] = {}
    loads = []
    for round_index in range(args.rounds):
        loads.append(os.getloadavg()[0])
        for row in args.rows:
            order = candidates[:: 1 if round_index % 2 == 0 else -1]
            for module in order:
                with tempfile.TemporaryDirectory(prefix=f"switch-{row}-") as folder:
                    result = run_once("keras_tuner" if module == "keras_tuner" else "raytune_hpt",
                                      row, folder, args.timeout,
                                      _env(variants.get(module), os.path.join(states, module)))
                runs.setdefault(row, {}).setdefault(module, []).append(result)
                print(f"round {round_index + 1} {row:15s} {module:12s} {result}", flush=True)
                if args.out:
                    with open(args.out, "w") as file:
                        json.dump({"runs": runs, "loads": loads, "rounds": args.rounds}, file,
                                  indent=2)
    _table(runs, loads)
    if args.out:
        with open(args.out, "w") as file:
            json.dump({"runs": runs, "loads": loads, "rounds": args.rounds}, file, indent=2)


def _table(runs: dict[str, dict[str, list[dict[str, float]]]], loads: list[float],
           plot: str | None = None) -> None:
    print(f"\nload average (1 min) before each round: {loads}")
    names = [c for c in next(iter(runs.values())) if c != "keras_tuner"]
    ratios: dict[str, list[tuple[str, float]]] = {name: [] for name in names}
    print("\n| script | measure | keras_tuner (s) | "
          + " | ".join(f"{n} (s) | ratio" for n in names) + " |")
    print("|---|---|---:|" + "---:|---:|" * len(names))
    for row, modules in runs.items():
        for key in modules["keras_tuner"][0]:
            kt_s = statistics.median(r[key] for r in modules["keras_tuner"])
            cells = []
            for name in names:
                rth_s = statistics.median(r[key] for r in modules.get(name, []) or [{key: 0}])
                cells.append(f"{rth_s:.1f} | {rth_s / kt_s:.2f}x")
                if key != "search" or row in ("fixed-first", "fixed-second", "16-trials"):
                    ratios[name].append((f"{row} ({key})", rth_s / kt_s))
            print(f"| {row} | {key} | {kt_s:.1f} | " + " | ".join(cells) + " |")
    if plot:
        _plot(ratios, plot)


def _plot(ratios: dict[str, list[tuple[str, float]]], path: str) -> None:
    """Horizontal bars: each script's time as a multiple of keras_tuner's, per variant."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [label for label, _ in next(iter(ratios.values()))]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(labels) + 1.5))
    height = 0.8 / len(ratios)
    for k, (name, values) in enumerate(ratios.items()):
        ax.barh([i + k * height for i in range(len(labels))], [v for _, v in values],
                height=height, label=name)
    ax.axvline(1.0, color="black", linewidth=1)
    ax.axvline(1.2, color="grey", linewidth=1, linestyle="--")
    ax.set_yticks([i + height * (len(ratios) - 1) / 2 for i in range(len(labels))], labels)
    ax.invert_yaxis()
    ax.set_xlabel("time / keras_tuner's time (1.0: as fast; dashed: the 1.2x target)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
