"""Keras's and TensorFlow's process-wide settings, put back before each trial of a worker.

Ray reuses a worker for trial after trial (``reuse_actors=True``), and ``clear_session()``
frees models and names but keeps the settings a trial may change: the float type
(``keras.config.set_floatx``), the dtype policy (mixed precision), epsilon, the image data
format, registered custom objects, and TensorFlow's eager switch for ``tf.function``. A
trial that changed one and then failed would leave it to the next trial on that worker.
:func:`reset_keras_state` records them before the worker's first trial (what the user's
code set at import included) and puts them back before every later one.

:func:`build_before_fit` creates a model's optimizer and metric variables before ``fit``
traces its first step: created inside the traced step (Keras 3 on TensorFlow defers them
there), each variable leaves the ``tf.cond`` functions of its initializer in TensorFlow's
process-wide function library, which ``clear_session()`` does not empty; a worker grew by
about 4 MB a trial that way (issue 33, docs/reliability.md "Flat memory"). And each
graph-mode custom gradient of a traced step stays in TensorFlow's gradient registry with
that step's graph: :func:`reset_keras_state` drops those of earlier trials.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["build_before_fit", "reset_keras_state"]

_defaults: dict[str, Any] | None = None
_gradients_before: frozenset[str] = frozenset()  # TensorFlow's, before the first trial


def _current(keras: Any) -> dict[str, Any]:
    state = {"floatx": keras.config.floatx(), "epsilon": keras.config.epsilon(),
             "image_data_format": keras.config.image_data_format(),
             "dtype_policy": keras.config.dtype_policy().name,
             "custom_objects": dict(keras.saving.get_custom_objects())}
    tf = sys.modules.get("tensorflow")
    if tf is not None:
        state["functions_run_eagerly"] = tf.config.functions_run_eagerly()
    return state


def reset_keras_state() -> None:
    """Before a trial, after ``clear_session()``: the first call records Keras's settings,
    each later call puts back the ones a trial changed (a few calls when nothing changed)
    and drops the custom gradients earlier trials' traced steps left registered."""
    global _defaults, _gradients_before
    import keras

    from raytune_hpt import _ray_compat

    if _defaults is None:
        _defaults = _current(keras)
        if "tensorflow" in sys.modules:
            _gradients_before = _ray_compat.custom_gradient_names()
        return
    if "tensorflow" in sys.modules:
        _ray_compat.forget_custom_gradients(keep=_gradients_before)
    now = _current(keras)
    if now == _defaults:
        return
    keras.config.set_floatx(_defaults["floatx"])
    keras.config.set_epsilon(_defaults["epsilon"])
    keras.config.set_image_data_format(_defaults["image_data_format"])
    keras.config.set_dtype_policy(_defaults["dtype_policy"])
    if now["custom_objects"] != _defaults["custom_objects"]:
        registered = keras.saving.get_custom_objects()
        registered.clear()
        registered.update(_defaults["custom_objects"])
    if "functions_run_eagerly" in _defaults:
        sys.modules["tensorflow"].config.run_functions_eagerly(
            _defaults["functions_run_eagerly"])


def _any_batch_size(batch: tuple) -> Any:
    """The sample's shapes with no batch size: a ``Sequential`` built from a batch of one
    would keep ``(1, ...)`` as its input shape, and ``model.build((None, ...))`` after the
    search, as Keras Tuner's guide does, would then refuse it."""
    import keras

    def symbolic(array: Any) -> Any:
        if array is None:
            return None
        return keras.KerasTensor((None, *array.shape[1:]), dtype=array.dtype)

    return keras.tree.map_structure(symbolic, batch)


def build_before_fit(hypermodel: Any, models: list, fold_args: list[tuple]) -> None:
    """Create each model's variables (layers, optimizer, metrics, loss) from its fold's
    first sample, eagerly, as ``fit`` does under a distribution strategy. Skipped for a
    ``HyperModel.fit`` of the user's (it may train on other data), for data whose first
    sample cannot be read without consuming it, and for a model that is not compiled; a
    build that fails is left to ``fit``, which raises its own, clearer error."""
    from raytune_hpt import _ray_compat
    from raytune_hpt.hypermodel import has_custom_fit
    from raytune_hpt.worker._feeding import first_batch

    if has_custom_fit(hypermodel):
        return
    for model, args in zip(models, fold_args, strict=True):
        batch = first_batch(args)
        if batch is None or getattr(model, "optimizer", None) is None:
            continue
        try:
            _ray_compat.keras_symbolic_build(model, _any_batch_size(batch))
        except Exception:  # fit builds the model its own way, and says what is wrong
            continue
