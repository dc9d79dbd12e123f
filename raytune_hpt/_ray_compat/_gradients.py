"""TensorFlow's process-wide gradient registry, rid of what earlier trials left in it.

``tf.custom_gradient`` in graph mode (inside ``fit``'s traced training step) registers each
gradient function it makes under a new name, ``CustomGradient-<uid>``, in TensorFlow's global
gradient registry and never removes it; the function's closure holds tensors of the traced
step's graph, so the registry keeps every traced training step alive. On a reused trial
worker that was each earlier trial's step: about 6 MB a trial for the small MLP of
``scripts/bench_long_memory.py``, 1.3 MB an iteration in a one-process loop of
``clear_session``, build, compile and ``fit`` (0.02 MB with the names dropped).
TensorFlow 2.21 has no public way to unregister a gradient. Checked against TensorFlow 2.21.
"""

from __future__ import annotations

__all__ = ["TF_PRIVATE_NAMES", "custom_gradient_names", "forget_custom_gradients"]

#: The private names used here, added to ``PRIVATE_NAMES``.
TF_PRIVATE_NAMES: tuple[tuple[str, str], ...] = (
    ("tensorflow.python.framework.ops", "_gradient_registry"),
)
_PREFIX = "CustomGradient-"


def _registered() -> dict:
    from tensorflow.python.framework import ops

    return ops._gradient_registry._registry


def custom_gradient_names() -> frozenset[str]:
    """The graph-mode custom gradients registered in this process so far."""
    return frozenset(name for name in _registered() if name.startswith(_PREFIX))


def forget_custom_gradients(keep: frozenset[str]) -> int:
    """Unregister the graph-mode custom gradients not in ``keep`` (those registered before
    the worker's first trial); how many. Call it between trials, after ``clear_session()``:
    the graphs they served are gone, and a new trial traces its step, and registers its
    gradients, anew."""
    registered = _registered()
    gone = [name for name in registered if name.startswith(_PREFIX) and name not in keep]
    for name in gone:
        del registered[name]
    return len(gone)
