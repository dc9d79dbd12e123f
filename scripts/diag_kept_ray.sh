#!/usr/bin/env bash
# A kept Ray at 8 slots: `raytune-hpt up --num-cpus 8`, a search of N trials of WORK seconds
# (1 CPU each), `ps` of Ray's workers every 2 s into $OUT/kept_ps.txt, then `raytune-hpt down`.
# docs/benchmarks.md, "Kept Ray at 8 slots". Usage: N=40 WORK=1 bash scripts/diag_kept_ray.sh
set -u
PY=${PY:-python}
OUT=${OUT:-/tmp}
export RAYTUNE_HPT_STATE_DIR=$(mktemp -d)
$PY -m raytune_hpt up --num-cpus 8
( for i in $(seq 1 200); do echo "--- $(date +%T)"
    ps -eo pid,etimes,pcpu,rss,args --sort=pid | grep -E "ray::|default_worker" | grep -v grep \
      | cut -c1-150; sleep 2; done ) > "$OUT/kept_ps.txt" 2>&1 &
SAMPLER=$!
N=${N:-40} WORK=${WORK:-1} $PY - <<'PY'
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
print("wall", round(time.perf_counter() - started, 1))
PY
kill $SAMPLER
$PY -m raytune_hpt down
echo "trial actors at once per sample: awk '/^---/{print n; n=0} /ImplicitFunc/{n++}' $OUT/kept_ps.txt"
