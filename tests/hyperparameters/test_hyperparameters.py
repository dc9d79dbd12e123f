"""Keras Tuner semantics of ``raytune_hpt.HyperParameters`` and the space's three mappings
(unit interval, grid, Ray domains), checked against keras_tuner's own implementation."""

from __future__ import annotations

import math
import random

import keras_tuner as kt
import numpy as np
import pytest

from raytune_hpt.hyperparameters import (
    Boolean,
    Choice,
    Fixed,
    Float,
    HyperParameters,
    Int,
    hyperparameter_from_config,
)


def _kt_hp(kind: str, **kwargs):
    return getattr(kt.engine.hyperparameters, kind)("x", **kwargs)


# -- single hyperparameters: value grids as Keras Tuner defines them ------------------------

GRIDS = [
    # (type, kwargs, expected values); the examples of Keras Tuner's docstrings first
    ("Int", dict(min_value=6, max_value=12), [6, 7, 8, 9, 10, 11, 12]),
    ("Int", dict(min_value=6, max_value=13, step=3), [6, 9, 12]),
    ("Int", dict(min_value=2, max_value=32, step=2, sampling="log"), [2, 4, 8, 16, 32]),
    ("Int", dict(min_value=32, max_value=512, step=32), list(range(32, 513, 32))),
    (
        "Int",
        dict(min_value=1, max_value=100, step=3, sampling="reverse_log"),
        [20, 74, 92, 98, 100],
    ),
    (
        "Float",
        dict(min_value=0.001, max_value=10, step=10, sampling="log"),
        [0.001, 0.01, 0.1, 1.0, 10.0],
    ),
    ("Float", dict(min_value=0, max_value=1, step=0.25), [0.0, 0.25, 0.5, 0.75, 1.0]),
    ("Float", dict(min_value=-1, max_value=1, step=0.5), [-1.0, -0.5, 0.0, 0.5, 1.0]),
    (
        "Float",
        dict(min_value=1, max_value=100, step=3, sampling="reverse_log"),
        [20.0, 74.0, 92.0, 98.0, 100.0],
    ),
]


@pytest.mark.parametrize(("kind", "kwargs", "expected"), GRIDS)
def test_stepped_values_match_keras_tuner(kind, kwargs, expected):
    ours = {"Int": Int, "Float": Float}[kind]("x", **kwargs)
    theirs = _kt_hp(kind, **kwargs)
    assert ours.values_list() == pytest.approx(expected)
    # Keras Tuner lists reverse_log grids from max_value down; compare as sets.
    assert sorted(ours.values_list()) == pytest.approx(sorted(float(v) for v in theirs.values))
    if kind == "Int":
        assert all(type(v) is int for v in ours.values_list())


def test_float_step_includes_max_value_where_float_division_would_drop_it():
    # Keras Tuner computes (1 - 0) // 0.2 == 4 and loses 1.0; the intended grid has it.
    assert Float("x", 0, 1, step=0.2).values_list() == pytest.approx([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert Float("x", 0.1, 0.5, step=0.1).values_list() == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5])


def test_unstepped_domains_are_continuous_or_every_integer():
    assert Float("x", 0, 1).values_list() is None
    assert Float("x", 1e-4, 1e-2, sampling="log").values_list() is None
    assert Int("x", 1, 1000, sampling="log").values_list() is None  # any integer, log-spaced
    assert Int("x", -2, 2).values_list() == [-2, -1, 0, 1, 2]  # linear Int: step defaults to 1


@pytest.mark.parametrize("sampling", ["linear", "log", "reverse_log"])
@pytest.mark.parametrize("prob", [0.0, 0.1, 0.37, 0.5, 0.9, 1.0])
def test_float_unit_mapping_matches_keras_tuner(sampling, prob):
    ours = Float("x", 1e-3, 10.0, sampling=sampling)
    theirs = _kt_hp("Float", min_value=1e-3, max_value=10.0, sampling=sampling)
    assert ours.from_unit(prob) == pytest.approx(theirs.prob_to_value(prob), rel=1e-9)
    value = theirs.prob_to_value(prob)
    assert ours.to_unit(value) == pytest.approx(theirs.value_to_prob(value), abs=1e-9)


@pytest.mark.parametrize("sampling", ["log", "reverse_log"])
def test_log_endpoints_are_exact(sampling):
    hp = Float("lr", 1e-4, 1e-2, sampling=sampling)
    assert hp.from_unit(0.0) == pytest.approx(1e-4, rel=1e-12)
    assert hp.from_unit(1.0) == pytest.approx(1e-2, rel=1e-12)
    assert hp.to_unit(1e-4) == pytest.approx(0.0, abs=1e-12)
    assert hp.to_unit(1e-2) == pytest.approx(1.0, abs=1e-12)
    mid = hp.from_unit(0.5)
    if sampling == "log":
        assert mid == pytest.approx(1e-3)  # the geometric mean
    else:
        assert mid == pytest.approx(1e-2 + 1e-4 - 1e-3)  # mirrored: dense near max_value


def test_log_sampling_spreads_over_decades():
    hp = Float("lr", 1e-5, 1e-1, sampling="log")
    rng = random.Random(0)
    samples = [hp.random_sample(rng) for _ in range(4000)]
    per_decade = np.histogram(np.log10(samples), bins=[-5, -4, -3, -2, -1])[0]
    assert per_decade.min() > 800  # about 1000 each; linear sampling would put ~90% in the top one


def test_defaults_as_keras_tuner():
    hp = HyperParameters()
    assert hp.Int("i", 3, 9) == 3
    assert hp.Int("i_d", 3, 9, default=5) == 5
    assert hp.Float("f", 0.5, 2.0) == 0.5
    assert hp.Choice("c", ["b", "a"]) == "b"
    assert hp.Choice("c_d", [1, 2, 3], default=2) == 2
    assert hp.Boolean("b") is False
    assert hp.Boolean("b_d", default=True) is True
    assert hp.Fixed("fx", "adam") == "adam"
    k = kt.HyperParameters()
    expected = {
        "i": k.Int("i", 3, 9),
        "i_d": k.Int("i_d", 3, 9, default=5),
        "f": k.Float("f", 0.5, 2.0),
        "c": k.Choice("c", ["b", "a"]),
        "c_d": k.Choice("c_d", [1, 2, 3], default=2),
        "b": k.Boolean("b"),
        "b_d": k.Boolean("b_d", default=True),
        "fx": k.Fixed("fx", "adam"),
    }
    assert hp.values == expected


def test_choice_ordered_is_inferred_for_numbers_only():
    assert Choice("c", [1, 2, 4]).ordered is True
    assert Choice("c", [0.1, 0.2]).ordered is True
    assert Choice("c", ["a", "b"]).ordered is False
    assert Choice("c", [1, 2, 4], ordered=False).ordered is False
    assert Choice("c", [True, False]).ordered is False


def test_choice_snap_ordered_goes_to_nearest_and_unordered_rejects_unknown():
    ordered = Choice("c", [16, 32, 64])
    assert ordered.snap(30) == 32
    assert ordered.snap(np.int64(64)) == 64 and type(ordered.snap(np.int64(64))) is int
    unordered = Choice("c", ["relu", "tanh"])
    assert unordered.snap("tanh") == "tanh"
    with pytest.raises(ValueError, match=r"'gelu' is not one of \['relu', 'tanh'\]"):
        unordered.snap("gelu")


def test_boolean_and_choice_keep_bools_apart_from_ints():
    flag = Boolean("b")
    assert flag.values_list() == [False, True]
    assert flag.snap(True) is True
    # 1 == True in Python; a Choice of ints must not match a bool.
    with pytest.raises(ValueError, match="default must be one of"):
        Choice("c", [0, 1], default=True)


def test_fixed_is_constant():
    hp = Fixed("opt", "adam")
    assert hp.values_list() == ["adam"]
    assert hp.from_unit(0.0) == hp.from_unit(1.0) == hp.snap("sgd") == "adam"


# -- the unit interval and snapping -----------------------------------------------------------

SPACE = [
    Int("int_lin", 0, 10),
    Int("int_step", 32, 512, step=32),
    Int("int_step_off", 3, 20, step=4),
    Int("int_log", 1, 1000, sampling="log"),
    Int("int_log_step", 2, 64, step=2, sampling="log"),
    Float("f_lin", -1.0, 1.0),
    Float("f_log", 1e-5, 1e-1, sampling="log"),
    Float("f_rlog", 0.5, 0.999, sampling="reverse_log"),
    Float("f_step", 0.1, 0.5, step=0.1),
    Float("f_log_step", 1e-4, 1.0, step=10, sampling="log"),
    Choice("ch_str", ["relu", "tanh", "gelu"]),
    Choice("ch_num", [8, 16, 32]),
    Boolean("bool"),
    Fixed("fixed", 3),
]


def _numeric(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _valid(hp, value) -> bool:
    values = hp.values_list()
    if values is not None:
        return any(
            (type(value) is type(v))
            and (value == v or (isinstance(v, float) and math.isclose(value, v)))
            for v in values
        )
    in_range = hp.min_value <= value <= hp.max_value
    return in_range and (type(value) is int if isinstance(hp, Int) else type(value) is float)


@pytest.mark.parametrize("hp", SPACE, ids=lambda hp: hp.name)
def test_from_unit_gives_valid_values_and_round_trips(hp):
    for unit in np.linspace(0.0, 1.0, 41):
        value = hp.from_unit(float(unit))
        assert _valid(hp, value), (unit, value)
        assert hp.snap(value) == value
        again = hp.from_unit(hp.to_unit(value))
        assert again == (pytest.approx(value, rel=1e-9) if _numeric(value) else value)
        assert 0.0 <= hp.to_unit(value) <= 1.0
    values = hp.values_list()
    if values is not None:  # every discrete value maps to a unit point that returns it
        assert [hp.from_unit(hp.to_unit(v)) for v in values] == values
        units = [hp.to_unit(v) for v in values]
        assert units == sorted(units) and len(set(units)) == len(units)


@pytest.mark.parametrize(
    ("hp", "raw", "snapped"),
    [
        (Int("u", 32, 512, step=32), 100, 96),
        (Int("u", 32, 512, step=32), 1000, 512),
        (Int("u", 32, 512, step=32), -5, 32),
        (Int("u", 3, 20, step=4), 12.9, 11),
        (Int("u", 3, 20, step=4), 13.4, 15),
        (Int("u", 0, 10), 4.6, 5),
        (Int("u", 2, 64, step=2, sampling="log"), 20, 16),
        (Float("f", 0.1, 0.5, step=0.1), 0.30000000000000004, 0.3),
        (Float("f", 0.1, 0.5, step=0.1), 0.26, 0.3),
        (Float("f", 0.0, 1.0), 1.7, 1.0),
        (Float("f", 1e-4, 1.0, step=10, sampling="log"), 0.02, 0.01),
    ],
)
def test_snap_onto_grid_and_into_range(hp, raw, snapped):
    assert hp.snap(raw) == pytest.approx(snapped)
    assert type(hp.snap(raw)) is type(snapped)


def test_trial_values_are_snapped_when_read():
    hp = HyperParameters({"units": 100, "lr": 5.0, "act": "tanh"})
    assert hp.Int("units", 32, 512, step=32) == 96
    assert hp.Float("lr", 1e-4, 1e-2, sampling="log") == pytest.approx(1e-2)
    assert hp.Choice("act", ["relu", "tanh"]) == "tanh"
    assert hp.values == {"units": 96, "lr": pytest.approx(1e-2), "act": "tanh"}


# -- conditional scopes -------------------------------------------------------------------------


def declare_nested(hp):
    """A two-level conditional space in the style of Keras Tuner's tests."""
    hp.Choice("model", ["mlp", "cnn"])
    with hp.conditional_scope("model", "mlp"):
        hp.Int("layers", 1, 2)
        with hp.conditional_scope("layers", [2]):
            hp.Boolean("dropout")
            with hp.conditional_scope("dropout", [True]):
                hp.Float("rate", 0.1, 0.5, step=0.2)
    with hp.conditional_scope("model", ["cnn"]):
        hp.Choice("filters", [16, 32, 64])
    hp.Fixed("optimizer", "adam")
    return hp


@pytest.mark.parametrize(
    "assigned",
    [
        {},
        {"model": "mlp", "layers": 2},
        {"model": "mlp", "layers": 2, "dropout": True, "rate": 0.5},
        {"model": "cnn", "layers": 2, "dropout": True, "filters": 64},
        {"model": "mlp", "layers": 1, "dropout": True, "filters": 32},
    ],
)
def test_active_values_match_keras_tuner(assigned):
    ours = declare_nested(HyperParameters(assigned))
    theirs = kt.HyperParameters()
    # A Keras Tuner trial's values are pre-filled like this; its oracle keeps the active ones.
    theirs.values.update(assigned)
    declare_nested(theirs)
    theirs_active = {k: v for k, v in theirs.values.items() if theirs.is_active(k)}
    assert ours.values == theirs_active
    for name in ("layers", "dropout", "rate", "filters"):
        assert ours.is_active(name) == theirs.is_active(name)


def test_inactive_values_are_absent_and_read_as_none():
    hp = HyperParameters({"model": "cnn"})
    hp.Choice("model", ["mlp", "cnn"])
    with hp.conditional_scope("model", ["mlp"]):
        inside = hp.Int("layers", 1, 2)
    assert inside is None
    assert hp.values == {"model": "cnn"}
    assert "layers" in hp.active_values({"model": "mlp"})
    assert "layers" not in hp.active_values({"model": "cnn", "layers": 2})


def test_parent_name_keyword_is_a_conditional_scope():
    hp = HyperParameters({"model": "cnn"})
    hp.Choice("model", ["mlp", "cnn"])
    assert hp.Int("filters", 8, 16, parent_name="model", parent_values=["cnn"]) == 8
    assert hp.Int("units", 8, 16, parent_name="model", parent_values=["mlp"]) is None
    assert hp.values == {"model": "cnn", "filters": 8}


def test_redeclaring_under_another_scope_widens_where_it_is_active():
    def declare(hp):
        hp.Choice("model", ["a", "b", "c"])
        with hp.conditional_scope("model", "a"):
            hp.Int("units", 1, 4)
        with hp.conditional_scope("model", "b"):
            hp.Int("units", 1, 4)
        return hp

    assert "units" in declare(HyperParameters({"model": "a"})).values
    assert "units" in declare(HyperParameters({"model": "b"})).values
    assert "units" not in declare(HyperParameters({"model": "c"})).values


def test_same_name_same_type_keeps_the_first_domain():
    hp = HyperParameters()
    assert hp.Int("units", 1, 4) == 1
    assert hp.Int("units", 10, 40) == 1  # Keras Tuner too returns the registered value
    assert [(h.min_value, h.max_value) for h in hp.space] == [(1, 4)]


def test_get_and_getitem():
    hp = declare_nested(HyperParameters({"model": "cnn"}))
    assert hp.get("model") == hp["model"] == "cnn"
    assert hp["filters"] == 16
    with pytest.raises(ValueError, match="'layers' is currently inactive"):
        hp.get("layers")
    with pytest.raises(ValueError, match="'dropout' is currently inactive"):
        hp["dropout"]
    with pytest.raises(KeyError, match="'nope' does not exist; known: .*'filters'"):
        hp["nope"]
    # keras_tuner raises the same exception types
    theirs = kt.HyperParameters()
    theirs.values["model"] = "cnn"
    declare_nested(theirs)
    with pytest.raises(ValueError):
        theirs.get("layers")
    with pytest.raises(KeyError):
        theirs.get("nope")


# -- the space as a whole: config, grid, Ray ---------------------------------------------------


def test_config_round_trip_keeps_domains_conditions_and_grid():
    hp = declare_nested(HyperParameters())
    hp.Int("int_log", 1, 1000, sampling="log", default=10)
    hp.Float("f_rlog", 0.5, 0.99, sampling="reverse_log")
    hp.Int("int_log_step", 2, 64, step=2, sampling="log")
    config = hp.get_config()
    restored = HyperParameters.from_config(config)
    assert restored.get_config() == config
    assert [repr(h) for h in restored.space] == [repr(h) for h in hp.space]
    assert [h.condition_sets for h in restored.space] == [h.condition_sets for h in hp.space]
    assert restored.values == hp.values
    for assigned in ({"model": "mlp", "layers": 2, "dropout": True}, {"model": "cnn"}):
        assert restored.active_values(assigned) == hp.active_values(assigned)
    for single in hp.space:
        again = hyperparameter_from_config(single.get_config())
        assert type(again) is type(single) and again.same_domain(single)


def test_config_is_json_serializable():
    import json

    hp = declare_nested(HyperParameters())
    assert HyperParameters.from_config(json.loads(json.dumps(hp.get_config()))).get_config() == (
        hp.get_config()
    )


def test_grid_prunes_inactive_branches_exactly():
    grid = declare_nested(HyperParameters()).grid()
    # mlp: layers=1 (1) + layers=2 x (dropout False (1) + dropout True x 3 rates) = 5;
    # cnn: 3 filters; optimizer is fixed.
    assert len(grid) == 5 + 3
    assert {"model": "mlp", "layers": 1, "optimizer": "adam"} in grid
    assert {
        "model": "mlp",
        "layers": 2,
        "dropout": True,
        "rate": pytest.approx(0.3),
        "optimizer": "adam",
    } in grid
    assert {"model": "cnn", "filters": 64, "optimizer": "adam"} in grid
    assert all("filters" not in p for p in grid if p["model"] == "mlp")
    assert all("layers" not in p and "rate" not in p for p in grid if p["model"] == "cnn")
    assert all(("rate" in p) == bool(p.get("dropout")) for p in grid)
    assert len({tuple(sorted(p.items())) for p in grid}) == len(grid)  # no duplicates


def test_grid_without_conditions_is_the_product():
    hp = HyperParameters()
    hp.Int("a", 1, 3)
    hp.Choice("b", ["x", "y"])
    hp.Boolean("c")
    hp.Float("d", 0.0, 1.0, step=0.5)
    hp.Fixed("e", 7)
    assert len(hp.grid()) == 3 * 2 * 2 * 3


def test_grid_over_unstepped_float_is_a_clear_error():
    hp = HyperParameters()
    hp.Int("units", 1, 3)
    hp.Float("lr", 1e-4, 1e-2, sampling="log")
    with pytest.raises(
        ValueError, match=r"finite list of values, but 'lr' is Float\(.*give it a `step`"
    ):
        hp.grid()


def test_ray_space_domains_sample_only_valid_values():
    hp = HyperParameters()
    for single in SPACE:
        hp._declare(hyperparameter_from_config(single.get_config()), None, None)
    space = hp.to_ray_space()
    assert list(space) == [h.name for h in SPACE]
    np.random.seed(0)
    for single in SPACE:
        domain = space[single.name]
        if isinstance(single, Fixed):
            assert domain == single.value
            continue
        samples = [domain.sample() for _ in range(300)]
        snapped = [single.snap(s) for s in samples]
        for raw, value in zip(samples, snapped, strict=True):
            assert _valid(single, value), (single, raw, value)
            # the Ray domain already lies on the grid: snapping moves a value by rounding only
            if isinstance(raw, (int, float)) and not isinstance(raw, bool):
                assert value == pytest.approx(raw, rel=1e-9, abs=1e-12), (single, raw, value)
            else:
                assert value == raw
        values = single.values_list()
        if values is not None and len(values) <= 16:  # small grids: every value is reachable
            assert {repr(v) for v in snapped} == {repr(v) for v in values}, single


# -- bad input: each error says what must hold and what was received ------------------------------


def _declare(*steps):
    def run():
        hp = HyperParameters()
        for step in steps:
            step(hp)

    return run


def _scope(parent, values):
    def enter(hp):
        with hp.conditional_scope(parent, values):
            pass

    return enter


BAD_INPUT = {
    "min > max (Int)": (
        lambda: Int("units", 5, 1),
        ValueError,
        r"`min_value <= max_value` must hold, but got min_value=5, max_value=1 "
        r"for hyperparameter 'units'",
    ),
    "min > max (Float)": (
        lambda: Float("lr", 0.1, 0.01),
        ValueError,
        r"`min_value <= max_value`.*min_value=0.1, max_value=0.01",
    ),
    "log with min 0": (
        lambda: Float("lr", 0, 1, sampling="log"),
        ValueError,
        r"`min_value > 0` must hold for sampling='log', but got min_value=0",
    ),
    "reverse_log with min < 0": (
        lambda: Int("n", -1, 5, sampling="reverse_log"),
        ValueError,
        r"`min_value > 0`.*sampling='reverse_log'.*min_value=-1",
    ),
    "step 0": (
        lambda: Int("units", 1, 5, step=0),
        ValueError,
        r"`step > 0` must hold, but got step=0",
    ),
    "negative step": (
        lambda: Float("rate", 0.0, 1.0, step=-0.1),
        ValueError,
        r"`step > 0` must hold, but got step=-0.1",
    ),
    "log step factor <= 1": (
        lambda: Float("lr", 1e-4, 1.0, step=1, sampling="log"),
        ValueError,
        r"step is a multiplying factor and `step > 1` must hold, but got step=1",
    ),
    "unknown sampling": (
        lambda: Float("lr", 1e-4, 1.0, sampling="exp"),
        ValueError,
        r"sampling must be one of \['linear', 'log', 'reverse_log'\], but got 'exp'",
    ),
    "NaN bound": (
        lambda: Float("lr", float("nan"), 1.0),
        ValueError,
        r"min_value must be a finite number, but got nan",
    ),
    "infinite bound": (
        lambda: Float("lr", 0.0, float("inf")),
        ValueError,
        r"max_value must be a finite number, but got inf",
    ),
    "non-integer Int bound": (
        lambda: Int("units", 1.5, 4),
        TypeError,
        r"min_value must be an integer, but got 1.5",
    ),
    "string Int bound": (
        lambda: Int("units", "1", 4),
        TypeError,
        r"min_value must be an integer, but got '1'",
    ),
    "non-integer Int step": (
        lambda: Int("units", 1, 4, step=0.5),
        TypeError,
        r"step must be an integer, but got 0.5",
    ),
    "non-integer Int default": (
        lambda: Int("units", 1, 4, default=2.5),
        TypeError,
        r"default must be an integer, but got 2.5",
    ),
    "string Float bound": (
        lambda: Float("lr", "0", 1),
        TypeError,
        r"min_value must be a number, but got '0'",
    ),
    "empty Choice": (
        lambda: Choice("act", []),
        ValueError,
        r"`values` must be a non-empty list, but got \[\]",
    ),
    "Choice of a string": (
        lambda: Choice("act", "relu"),
        ValueError,
        r"`values` must be a non-empty list, but got 'relu'",
    ),
    "mixed-type Choice": (
        lambda: Choice("act", ["relu", 1]),
        TypeError,
        r"all values must be of one type.*but got \['relu', 1\]",
    ),
    "int and float Choice": (
        lambda: Choice("n", [1, 2.5]),
        TypeError,
        r"all values must be of one type.*but got \[1, 2.5\]",
    ),
    "bool and int Choice": (
        lambda: Choice("n", [True, 0]),
        TypeError,
        r"all values must be of one type.*but got \[True, 0\]",
    ),
    "None in Choice": (
        lambda: Choice("n", [None, 1]),
        TypeError,
        r"all values must be of one type.*but got \[None, 1\]",
    ),
    "ordered strings": (
        lambda: Choice("act", ["a", "b"], ordered=True),
        ValueError,
        r"`ordered=True` needs numeric values, got \['a', 'b'\]",
    ),
    "Fixed None": (
        lambda: Fixed("f", None),
        TypeError,
        r"value must be an int, float, str or bool, but got None",
    ),
    "empty name": (
        lambda: Int("", 1, 2),
        ValueError,
        r"name must be a non-empty string, but got ''",
    ),
    "default above max (Int)": (
        lambda: Int("units", 1, 3, default=5),
        ValueError,
        r"`min_value <= default <= max_value` must hold, but got default=5 "
        r"with \[1, 3\]",
    ),
    "default below min (Float)": (
        lambda: Float("lr", 1.0, 3.0, default=0.5),
        ValueError,
        r"`min_value <= default <= max_value`.*default=0.5",
    ),
    "default not a choice": (
        lambda: Choice("act", ["relu", "tanh"], default="gelu"),
        ValueError,
        r"default must be one of \['relu', 'tanh'\], but got 'gelu'",
    ),
    "Boolean default not a bool": (
        lambda: Boolean("flag", default=1),
        TypeError,
        r"default must be True or False, but got 1",
    ),
    "name reused as Float": (
        _declare(lambda hp: hp.Int("a", 1, 3), lambda hp: hp.Float("a", 1, 3)),
        ValueError,
        r"'a' is declared as Int and again as Float",
    ),
    "name reused as Boolean": (
        _declare(lambda hp: hp.Choice("a", [True, False]), lambda hp: hp.Boolean("a")),
        ValueError,
        r"'a' is declared as Choice and again as Boolean",
    ),
    "scope on undeclared parent": (
        _declare(lambda hp: hp.Int("a", 1, 3), _scope("model", ["mlp"])),
        ValueError,
        r"needs `model` to be declared before it, but the declared "
        r"hyperparameters are \['a'\]",
    ),
    "scope on impossible Choice value": (
        _declare(lambda hp: hp.Choice("model", ["mlp", "cnn"]), _scope("model", ["rnn"])),
        ValueError,
        r"'rnn' is not one of its values \['mlp', 'cnn'\]",
    ),
    "scope on off-grid Int value": (
        _declare(lambda hp: hp.Int("layers", 1, 9, step=4), _scope("layers", [2])),
        ValueError,
        r"2 is not one of its values \[1, 5, 9\]",
    ),
    "scope outside a Float's range": (
        _declare(lambda hp: hp.Float("rate", 0.0, 1.0), _scope("rate", [5.0])),
        ValueError,
        r"must lie in \[0.0, 1.0\], but got 5.0",
    ),
    "parent_values not a parent value": (
        _declare(
            lambda hp: hp.Choice("model", ["mlp"]),
            lambda hp: hp.Int("u", 1, 2, parent_name="model", parent_values=["cnn"]),
        ),
        ValueError,
        r"'cnn' is not one of its values \['mlp'\]",
    ),
    "grid over an unstepped Float": (
        lambda: _grid_of(lambda hp: hp.Float("lr", 0.0, 1.0)),
        ValueError,
        r"Grid search needs a finite list of values, "
        r"but 'lr' is Float",
    ),
}


def _grid_of(declare):
    hp = HyperParameters()
    declare(hp)
    return hp.grid()


@pytest.mark.parametrize("case", list(BAD_INPUT), ids=list(BAD_INPUT))
def test_bad_input_says_what_must_hold_and_what_was_received(case):
    make, error, pattern = BAD_INPUT[case]
    with pytest.raises(error, match=pattern):
        make()


@pytest.mark.parametrize(
    "make",
    [
        lambda k: k.Int("units", 5, 1),
        lambda k: k.Float("lr", 0, 1, sampling="log"),
        lambda k: k.Float("lr", 1e-4, 1.0, step=1, sampling="log"),
        lambda k: k.Choice("act", ["relu", "tanh"], default="gelu"),
        lambda k: k.conditional_scope("undeclared", ["x"]).__enter__(),
    ],
)
def test_keras_tuner_rejects_the_same_input_with_value_error(make):
    # Our errors are at least as strict as Keras Tuner's and of the same type.
    with pytest.raises(ValueError):
        make(kt.HyperParameters())
