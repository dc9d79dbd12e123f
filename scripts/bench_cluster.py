"""A search sent to an autoscaling cluster: this package against plain Ray Tune, side by side.

The cluster is Ray's own local autoscaling cluster (fake multi-node provider, the shape
``cluster/aws.yaml`` starts): a head with 0 CPUs and a worker type of 2 CPUs that the
autoscaler adds on demand (min 0, max 2), started once for the whole run
(``tests/_helpers/autoscaling.py``). Each round submits the same four trials (the digits
MLP, 2 epochs, one CPU each) as a Ray job, twice, alternating which goes first:

* ``raytune_hpt``: a Keras Tuner script with one import changed, ``raytune-hpt submit
  train.py --storage-path ...`` (the package's own command, following the job);
* ``ray_tune``: the same model and data as a plain Ray Tune script
  (``tune.with_resources(fn, {"cpu": 1})``, ``reuse_actors=True``), sent with Ray's
  ``JobSubmissionClient`` and waited for.

The time is from the submit to the job's end (the last trial's end, plus the job's exit).
Before every run the cluster is back at 0 worker nodes (idle nodes go after 20 s), so each
run pays the scale-up from zero. Medians and the ratio; ``--write`` puts the section into
docs/benchmarks.md.

    python scripts/bench_cluster.py --rounds 3 --write
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from _benchdoc import load as load_average  # noqa: E402
from _benchdoc import write_section  # noqa: E402

from raytune_hpt._job_env import NODE_LABEL, build_hash  # noqa: E402
from tests._helpers.autoscaling import autoscaling_cluster  # noqa: E402

MODEL = """
import keras
from sklearn.datasets import load_digits

data = load_digits()
x, y = (data.data[:1200] / 16.0).astype("float32"), data.target[:1200]


def build_model(hp):
    model = keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(hp.Choice("units", [16, 32, 64, 128]), activation="relu"),
        keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
"""

PACKAGE = MODEL + """
import raytune_hpt as kt

tuner = kt.GridSearch(build_model, objective="val_accuracy", max_trials=4, directory="out",
                      project_name="bench", overwrite=True)
tuner.search(x, y, validation_split=0.25, epochs=2, batch_size=64)
"""

PLAIN = MODEL + """
import sys
from ray import tune


class HP:
    def __init__(self, values):
        self.values = values

    def Choice(self, name, *args, **kwargs):
        return self.values[name]


def trainable(config):
    model = build_model(HP(config))
    for epoch in range(2):
        history = model.fit(x, y, validation_split=0.25, epochs=1, batch_size=64, verbose=0)
        tune.report({"val_accuracy": history.history["val_accuracy"][-1], "epoch": epoch + 1})


tuner = tune.Tuner(
    tune.with_resources(trainable, {"cpu": 1}),
    param_space={"units": tune.grid_search([16, 32, 64, 128])},
    tune_config=tune.TuneConfig(reuse_actors=True),
    run_config=tune.RunConfig(storage_path=sys.argv[1], name="plain", verbose=0),
)
tuner.fit()
"""


def _wait_for_zero_workers(address: str, env: dict, timeout: float = 300) -> None:
    probe = textwrap.dedent("""
        import ray, sys
        ray.init(address=sys.argv[1], log_to_driver=False, configure_logging=False)
        print(sum(1 for n in ray.nodes() if n["Alive"] and n["Resources"].get("CPU", 0) > 0))
    """)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = subprocess.run([sys.executable, "-c", probe, address], env=env,
                             capture_output=True, text=True, timeout=120)
        if out.stdout.strip().endswith("0"):
            return
        time.sleep(5)
    raise RuntimeError("the worker nodes did not go within the bound")


def _run_package(cluster, folder: Path) -> float:
    started = time.monotonic()
    done = subprocess.run(
        [str(Path(sys.executable).parent / "raytune-hpt"), "submit", str(folder / "train.py"),
         "--storage-path", str(folder / "results"), "--working-dir", f"local://{folder}"],
        env=cluster.env(RAY_ADDRESS=cluster.dashboard), capture_output=True, text=True,
        timeout=900)
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(done.stdout[-3000:] + done.stderr[-3000:])
    return elapsed


def _run_plain(cluster, folder: Path) -> float:
    code = textwrap.dedent(f"""
        import sys, time
        from ray.job_submission import JobSubmissionClient, JobStatus
        client = JobSubmissionClient({cluster.dashboard!r})
        for _ in range(45):  # a head still starting has no job agent yet
            try:
                job = client.submit_job(entrypoint="python plain.py {folder / 'results'}",
                                        runtime_env={{"working_dir": "local://{folder}"}})
                break
            except RuntimeError as error:
                if "No available agent" not in str(error):
                    raise
                time.sleep(2)
        while client.get_job_status(job) not in (JobStatus.SUCCEEDED, JobStatus.FAILED,
                                                   JobStatus.STOPPED):
            time.sleep(0.5)
        status = client.get_job_status(job)
        print(status)
        sys.exit(0 if status == JobStatus.SUCCEEDED else 1)
    """)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code], env=cluster.env(), capture_output=True,
                          text=True, timeout=900)
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(done.stdout[-3000:] + done.stderr[-3000:])
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default="/tmp/bench_cluster.json")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()

    types = {"cpu2": {"resources": {"CPU": 2}, "min_workers": 0, "max_workers": 2,
                      "labels": {NODE_LABEL: build_hash()}}}
    runs: dict[str, list[dict]] = {"raytune_hpt": [], "ray_tune": []}
    with autoscaling_cluster(types, labels={NODE_LABEL: build_hash()},
                             idle_timeout_minutes=0.33) as cluster:
        for round_ in range(args.rounds):
            order = ["raytune_hpt", "ray_tune"] if round_ % 2 == 0 else ["ray_tune", "raytune_hpt"]
            for kind in order:
                _wait_for_zero_workers(cluster.gcs_address, cluster.env())
                folder = Path(tempfile.mkdtemp(prefix=f"bench-{kind}-"))
                (folder / "train.py").write_text(PACKAGE)
                (folder / "plain.py").write_text(PLAIN)
                before = load_average()
                seconds = (_run_package if kind == "raytune_hpt" else _run_plain)(cluster, folder)
                runs[kind].append({"seconds": seconds, "load": [before, load_average()]})
                print(f"round {round_ + 1} {kind}: {seconds:.1f} s (load {before:.1f})",
                      flush=True)
                Path(args.out).write_text(json.dumps(runs, indent=2))
    medians = {k: statistics.median(r["seconds"] for r in v) for k, v in runs.items()}
    ratio = medians["raytune_hpt"] / medians["ray_tune"]
    print(f"medians: raytune_hpt {medians['raytune_hpt']:.1f} s, ray_tune "
          f"{medians['ray_tune']:.1f} s, ratio {ratio:.2f}")
    if args.write:
        rows = "\n".join(
            f"| {i + 1} | {runs['raytune_hpt'][i]['seconds']:.1f} | "
            f"{runs['ray_tune'][i]['seconds']:.1f} | "
            f"{runs['raytune_hpt'][i]['load'][0]:.1f}->{runs['ray_tune'][i]['load'][1]:.1f} |"
            for i in range(args.rounds))
        write_section("Cluster (autoscaling from zero)", textwrap.dedent(f"""\
            `python scripts/bench_cluster.py --rounds {args.rounds} --write`: Ray's local
            autoscaling cluster (fake multi-node provider), a 0-CPU head and a 2-CPU worker type
            added on demand (0 to 2 nodes); four trials of the digits MLP (2 epochs, one CPU
            each) sent as a Ray job, from submit to the job's end, every run starting from 0
            worker nodes. `raytune_hpt`: a Keras Tuner script (one import changed) sent with
            `raytune-hpt submit train.py`; `ray_tune`: the same trials as a plain Ray Tune script
            (`tune.with_resources(fn, {{"cpu": 1}})`, `reuse_actors=True`) sent with Ray's
            `JobSubmissionClient`. Alternating order.

            | round | raytune_hpt (s) | plain Ray Tune (s) | load |
            |---|---|---|---|
            {rows}

            Medians: raytune_hpt {medians['raytune_hpt']:.1f} s, plain Ray Tune
            {medians['ray_tune']:.1f} s: **{ratio:.2f}x** (issue 31's bound: 1.3x).
            """))


if __name__ == "__main__":
    main()
