#!/usr/bin/env bash
# A kept Ray's slots and warm workers: `raytune-hpt up --num-cpus CPUS`, then RUNS searches
# (each a fresh process) of N trials of WORK seconds, 1 CPU each; `ps` of Ray's workers every
# 2 s into $OUT/kept_ps.txt; then `raytune-hpt down`. docs/benchmarks.md, "Kept Ray at 8 slots".
# Usage: CPUS=8 N=40 WORK=1 RUNS=1 [WARM=n] [WAIT_AFTER_UP=s] PY=python bash scripts/diag_kept_ray.sh
set -u
PY=${PY:-python}
OUT=${OUT:-/tmp}
mkdir -p "$OUT"
export RAYTUNE_HPT_STATE_DIR=$(mktemp -d)
cd "$RAYTUNE_HPT_STATE_DIR"  # not the repository: `python -m`/`-c` would import its raytune_hpt
started=$(date +%s.%N)
$PY -m raytune_hpt up --num-cpus "${CPUS:-8}" ${WARM:+--warm-workers $WARM}
echo "up took $(echo "$(date +%s.%N) - $started" | bc) s"
sleep "${WAIT_AFTER_UP:-0}"
( for i in $(seq 1 300); do echo "--- $(date +%T)"
    ps -eo pid,etimes,pcpu,rss,args --sort=pid | grep -E "ray::|default_worker" | grep -v grep \
      | cut -c1-150; sleep 2; done ) > "$OUT/kept_ps.txt" 2>&1 &
SAMPLER=$!
for run in $(seq 1 "${RUNS:-1}"); do
N=${N:-40} WORK=${WORK:-1} $PY - <<'PY' 2>&1 | grep -E "^(wall|Trials:|Using)"
import os, tempfile, time

import keras
import numpy as np

import raytune_hpt as rth


class Sleepy(rth.HyperModel):
    def build(self, hp):
        hp.Float("x", 0, 1)
        model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
        model.compile("adam", "mse")
        return model

    def fit(self, hp, model, *args, **kwargs):
        time.sleep(float(os.environ["WORK"]))
        return {"x": hp.get("x")}


tuner = rth.Tuner(Sleepy(), objective=("x", "min"), max_trials=int(os.environ["N"]),
                  resources={"cpu": 1}, storage_path=tempfile.mkdtemp(), overwrite=True,
                  verbose=1, tracking={"tensorboard": False})
started = time.perf_counter()
tuner.search(np.zeros((8, 1)), np.zeros((8, 1)), epochs=1)
print("wall", round(time.perf_counter() - started, 1), "s of search()")
PY
sleep 3
done
kill $SAMPLER
$PY -m raytune_hpt down
echo "trial actors at once per sample:" \
  $(awk '/^---/{print n; n=0} /ImplicitFunc/{n++}' "$OUT/kept_ps.txt" | tr '\n' ' ')
