"""Peers of the package's searchers for bench_search.py: HEBO and SMAC3, each behind an extra.

Every peer is driven through the same ask/tell loop (:func:`drive`) as the package's own
searchers, so that "4 trials at once" means the same for all: the searcher is asked for a
new configuration whenever fewer than ``concurrent`` trials are pending, and the oldest
pending trial completes first (trials of equal length). A searcher may refuse to suggest while
trials are pending (Ray's ``HEBOSearch`` does, between batches): the loop then completes the
oldest pending trial and asks again, as Ray Tune does.

The bench's spaces (:mod:`raytune_hpt.hyperparameters`) are translated to each peer's own:

===================  ===============================  ===================================
ours                 SMAC3 (ConfigSpace)              HEBO (DesignSpace)
===================  ===============================  ===================================
Float                Float (``log=True`` for log)     ``num``, ``pow`` for log
Int                  Integer (``log=True`` for log)   ``int``, ``pow_int`` for log
stepped Float/Int    Ordinal over its values          ``int`` index into its values
Choice, ordered      Ordinal                          ``int`` index into its values
Choice, unordered    Categorical                      ``cat``
Fixed                Constant                         left out, added back
conditional          InCondition (And/Or of them)     every name always, inactive dropped
===================  ===============================  ===================================

reverse_log floats have no counterpart in either; they are searched linearly. HEBO has no
conditions: like Ray's wrapper it proposes every name and the bench drops the inactive ones
(``HyperParameters.active_values``).
"""

from __future__ import annotations

import tempfile
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from raytune_hpt.hyperparameters import Choice, Fixed, Float, HyperParameters, Int

PEERS = ["hebo", "smac_rf", "smac_gp"]
# what a suggestion's time is read from: wall time, or (bench_search.py --cpu-time) the
# process's CPU time, which a busy machine does not inflate
CLOCK = {"clock": time.perf_counter}
INSTALL = {
    "hebo": "pip install -r scripts/requirements-bench-hebo.txt (a venv of its own: numpy<1.25)",
    "smac_rf": "pip install smac",
    "smac_gp": "pip install smac",
}


def drive(ask: Callable[[int], tuple[Any, dict] | None], tell: Callable[[Any, float], None],
          objective: Callable[[dict], float], budget: int,
          concurrent: int = 1) -> tuple[list[float], list[float]]:
    """Values in the order the trials completed, and the seconds each suggestion took."""
    values: list[float] = []
    times: list[float] = []
    pending: deque = deque()
    asked = 0
    while len(values) < budget:
        while len(pending) < concurrent and asked < budget:
            clock = CLOCK["clock"]
            start = clock()
            got = ask(asked)
            if got is None:  # refused while trials are pending, or exhausted (grid)
                break
            times.append(clock() - start)
            pending.append(got)
            asked += 1
        if not pending:
            break
        handle, config = pending.popleft()
        value = objective(config)
        tell(handle, value)
        values.append(value)
    return values, times


def _indexed(h: Any) -> list | None:
    """The values of an ordered discrete hyperparameter, or None."""
    if isinstance(h, Choice):
        return list(h.values) if h.ordered else None
    if isinstance(h, (Int, Float)) and h.step is not None:
        return h.values_list()
    return None


# -- SMAC3 ----------------------------------------------------------------------------------
def config_space(space: HyperParameters, seed: int) -> Any:
    import ConfigSpace as CS

    cs = CS.ConfigurationSpace(seed=seed)
    made = {}
    for h in space.space:
        values = _indexed(h)
        if isinstance(h, Fixed):
            made[h.name] = CS.Constant(h.name, h.value)
        elif values is not None and len(values) > 1:
            made[h.name] = CS.OrdinalHyperparameter(h.name, values)
        elif isinstance(h, Choice):
            made[h.name] = CS.CategoricalHyperparameter(h.name, list(h.values))
        else:
            cls = CS.Integer if isinstance(h, Int) else CS.Float
            made[h.name] = cls(h.name, (h.min_value, h.max_value), log=h.sampling == "log")
    cs.add(list(made.values()))
    conditions = []
    for h in space.space:
        sets = [s for s in h.condition_sets if s]
        if not sets or len(sets) < len(h.condition_sets):
            continue
        ands = []
        for conjunction in sets:
            parts = [CS.InCondition(made[h.name], made[c.parent_name], list(c.values))
                     for c in conjunction]
            ands.append(parts[0] if len(parts) == 1 else CS.AndConjunction(*parts))
        conditions.append(ands[0] if len(ands) == 1 else CS.OrConjunction(*ands))
    if conditions:
        cs.add(conditions)
    return cs


def smac_run(name: str, space: HyperParameters, objective: Callable[[dict], float], mode: str,
             seed: int, budget: int, concurrent: int) -> tuple[list[float], list[float]]:
    """SMAC3 through its ask/tell interface: ``smac_rf`` is the
    HyperparameterOptimizationFacade (random forest), ``smac_gp`` the BlackBoxFacade (GP)."""
    from smac import BlackBoxFacade, HyperparameterOptimizationFacade, Scenario
    from smac.runhistory.dataclasses import TrialValue

    facade = HyperparameterOptimizationFacade if name == "smac_rf" else BlackBoxFacade
    sign = 1.0 if mode == "min" else -1.0
    with tempfile.TemporaryDirectory() as folder:
        scenario = Scenario(config_space(space, seed), deterministic=True, n_trials=budget,
                            seed=seed, output_directory=folder)
        smac = facade(scenario, target_function=lambda config, seed=0: 0.0,
                      intensifier=facade.get_intensifier(scenario, max_config_calls=1),
                      overwrite=True, logging_level=40)

        def ask(_: int) -> tuple[Any, dict]:
            info = smac.ask()
            return info, dict(info.config)

        def tell(info: Any, value: float) -> None:
            smac.tell(info, TrialValue(cost=sign * value))

        return drive(ask, tell, lambda c: objective(space.active_values(c)), budget, concurrent)


# -- HEBO, through Ray's HEBOSearch ----------------------------------------------------------
def hebo_space(space: HyperParameters) -> tuple[Any, Callable[[dict], dict]]:
    """HEBO's DesignSpace, and the function from its suggestion back to our values."""
    from hebo.design_space.design_space import DesignSpace

    params, back = [], {}
    for h in space.space:
        values = _indexed(h)
        if isinstance(h, Fixed):
            back[h.name] = lambda _, v=h.value: v
            continue
        if values is not None:
            params.append({"name": h.name, "type": "int", "lb": 0, "ub": len(values) - 1})
            back[h.name] = lambda c, n=h.name, v=values: v[int(c[n])]
        elif isinstance(h, Choice):
            keys = [str(v) for v in h.values]  # HEBO's categories are strings
            params.append({"name": h.name, "type": "cat", "categories": keys})
            by_key = dict(zip(keys, h.values, strict=True))
            back[h.name] = lambda c, n=h.name, v=by_key: v[c[n]]
        else:
            kind = ("pow" if h.sampling == "log" else "num") if isinstance(h, Float) else (
                "pow_int" if h.sampling == "log" else "int")
            params.append({"name": h.name, "type": kind, "lb": h.min_value, "ub": h.max_value})
            cast = float if isinstance(h, Float) else int
            back[h.name] = lambda c, n=h.name, f=cast: f(c[n])
    return DesignSpace().parse(params), lambda c: {n: f(c) for n, f in back.items()}


def hebo_run(space: HyperParameters, objective: Callable[[dict], float], mode: str, seed: int,
             budget: int, concurrent: int) -> tuple[list[float], list[float]]:
    from ray.tune.search.hebo import HEBOSearch

    design, back = hebo_space(space)
    searcher = HEBOSearch(space=design, metric="loss", mode=mode, random_state_seed=seed,
                          max_concurrent=concurrent)

    def ask(i: int) -> tuple[str, dict] | None:
        config = searcher.suggest(f"t{i}")
        return None if config is None else (f"t{i}", back(config))

    def tell(trial_id: str, value: float) -> None:
        searcher.on_trial_complete(trial_id, {"loss": value})

    return drive(ask, tell, lambda c: objective(space.active_values(c)), budget, concurrent)


def run(name: str, space: HyperParameters, objective: Callable[[dict], float], mode: str,
        seed: int, budget: int, concurrent: int) -> tuple[list[float], list[float]]:
    if name == "hebo":
        return hebo_run(space, objective, mode, seed, budget, concurrent)
    return smac_run(name, space, objective, mode, seed, budget, concurrent)
