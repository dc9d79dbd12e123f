"""Nothing waits forever for nodes: trials that can never start (every CPU of the Ray held
by a placement group, as another job would hold them) end the search after
``pending_timeout`` seconds with one error naming what the trials waited for."""

from __future__ import annotations

import time

import pytest

import raytune_hpt as rth
from raytune_hpt.errors import NodesNeverCameError

pytestmark = pytest.mark.slow


def test_trials_that_can_never_start_end_the_search_after_the_bound(ray_local, digits, tmp_path,
                                                                     build_mlp):
    from ray.util.placement_group import placement_group, remove_placement_group

    (x, y), (xv, yv) = digits
    held = placement_group([{"CPU": 1}, {"CPU": 1}])  # both CPUs of the session's Ray
    try:
        assert held.wait(timeout_seconds=60), "the session's Ray has not 2 free CPUs"
        tuner = rth.Tuner(build_mlp, objective="val_accuracy", max_trials=2, seed=0,
                          storage_path=str(tmp_path), name="never", pending_timeout=5,
                          verbose=0, tracking={"tensorboard": False})
        started = time.monotonic()
        with pytest.raises(NodesNeverCameError) as error:
            tuner.search(x[:200], y[:200], validation_data=(xv[:50], yv[:50]), epochs=1)
        waited = time.monotonic() - started
    finally:
        remove_placement_group(held)
    message = str(error.value)
    assert "pending_timeout=5" in message and "'cpu': 1" in message, message
    assert "ray status" in message, message
    assert waited < 120, waited  # ended by the bound, not by pytest's timeout


@pytest.mark.parametrize("value", [0, -1, float("inf"), float("nan"), "10m", True])
def test_a_bad_pending_timeout_is_refused_before_anything_starts(value, tmp_path):
    with pytest.raises((ValueError, TypeError), match="pending_timeout"):
        rth.Tuner(lambda hp: None, objective="val_loss", pending_timeout=value,
                  storage_path=str(tmp_path))
