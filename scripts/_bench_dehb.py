"""DEHB (differential evolution + HyperBand) for bench_multifidelity.py, in-process.

DEHB 0.1.2 pins numpy<2, so it runs in the venv of scripts/requirements-bench-hebo.txt. It is
driven through its ask/tell interface: each ask names a configuration and a fidelity (epochs,
on HyperBand's grid from 1 to ``--max-epochs`` with eta 3); DEHB does not resume a trial from
its checkpoint, so every evaluation trains from epoch 1 to its fidelity and all those epochs
count, as they would for a user.
"""

from __future__ import annotations

import tempfile
import time
from typing import Any


def run_dehb(function: Any, seed: int, args: Any, trace: Any) -> Any:
    import ConfigSpace as CS
    from dehb import DEHB

    cs = CS.ConfigurationSpace(seed=seed)
    cs.add([CS.Float(f"x{d}", (0.0, 1.0)) for d in range(function.dim)])
    with tempfile.TemporaryDirectory() as folder:
        dehb = DEHB(cs=cs, dimensions=function.dim, min_fidelity=1,
                    max_fidelity=args.max_epochs, eta=3, n_workers=1, seed=seed,
                    output_path=folder, log_level="ERROR")
        evaluations = 0
        while trace.reached is None and evaluations < args.trials:
            job = dehb.ask()
            config = job["config"]  # a Configuration in DEHB 0.1.2, a vector before
            config = dict(config if isinstance(config, CS.Configuration)
                          else dehb.vector_to_configspace(config))
            fidelity = int(round(job["fidelity"]))
            loss = float("inf")
            for epoch in range(1, fidelity + 1):  # from scratch: DEHB does not resume
                time.sleep(args.epoch_seconds)
                loss = function(config, fidels={"z0": epoch})["loss"]
                trace.add(epoch, loss)
            dehb.tell(job, {"fitness": loss, "cost": fidelity})
            evaluations += 1
    return trace
