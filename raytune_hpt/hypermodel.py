"""Model builders: ``build(hp)`` functions, ``HyperModel`` classes, and space discovery.

Keras Tuner users hand over either a function ``build_model(hp)`` or a ``HyperModel`` with
``build(hp)`` and, optionally, ``fit(hp, model, *args, **kwargs)``. :func:`as_hypermodel`
turns any of these (ours or a ``keras_tuner.HyperModel``, by duck typing) into one thing.

:func:`discover_space` finds the search space by building the model before any trial runs.
One build with defaults misses hyperparameters behind ``if`` branches and conditional
scopes, so it builds again with every value of each Choice/Boolean and with numeric
hyperparameters at their maximum (layers created in ``range(hp.Int(...))``), in the context
that revealed them, until nothing new appears or the build budget is spent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from raytune_hpt.errors import ConfigurationError, is_fatal_error
from raytune_hpt.hyperparameters import Choice, HyperParameter, HyperParameters

__all__ = [
    "HyperModel",
    "as_hypermodel",
    "check_input_shape",
    "check_model",
    "checkpoint_builder",
    "discover_space",
]

logger = logging.getLogger(__name__)


class HyperModel:
    """Keras Tuner's ``HyperModel``: override ``build(hp)`` and optionally ``fit``.

    Example:
        >>> class MyHyperModel(HyperModel):
        ...     def build(self, hp):
        ...         ...  # return a compiled keras.Model
        ...     def fit(self, hp, model, *args, **kwargs):
        ...         return model.fit(*args, batch_size=hp.Choice("batch_size", [16, 32]), **kwargs)
    """
    def __init__(self, name: str | None = None, tunable: bool = True) -> None:
        self.name = name
        self.tunable = tunable

    def build(self, hp: HyperParameters) -> Any:
        raise NotImplementedError("A HyperModel must implement build(hp).")

    def fit(self, hp: HyperParameters, model: Any, *args: Any, **kwargs: Any) -> Any:
        """Train ``model``; may return a History, a dict of metrics or one float."""
        return model.fit(*args, **kwargs)

    def declare_hyperparameters(self, hp: HyperParameters) -> None:  # Keras Tuner's hook
        pass


class _FunctionHyperModel(HyperModel):
    def __init__(self, build: Callable[[Any], Any]) -> None:
        super().__init__(name=getattr(build, "__name__", None))
        self._build = build

    def build(self, hp: HyperParameters) -> Any:
        return self._build(hp)


def as_hypermodel(hypermodel: Any) -> Any:
    """A ``build(hp)`` callable, our ``HyperModel`` or a Keras Tuner one, as a hypermodel.

    Raises:
        TypeError: for anything without a ``build(hp)``.
    """
    if isinstance(hypermodel, type):
        raise TypeError(
            f"hypermodel must be an instance, not the class {hypermodel.__name__}; "
            f"pass {hypermodel.__name__}()."
        )
    if callable(getattr(hypermodel, "build", None)):
        return hypermodel
    if callable(hypermodel):
        return _FunctionHyperModel(hypermodel)
    raise TypeError(
        "hypermodel must be a build_model(hp) function or a HyperModel with build(hp), "
        f"but got {hypermodel!r}."
    )


def has_custom_fit(hypermodel: Any) -> bool:
    """Whether ``fit`` is overridden (ours and Keras Tuner's base ``fit`` only call model.fit)."""
    fit = getattr(type(hypermodel), "fit", None)
    if fit is None or fit is HyperModel.fit or isinstance(hypermodel, _FunctionHyperModel):
        return False
    return not (getattr(fit, "__module__", "") or "").startswith("keras_tuner.")


def check_model(model: Any, *, needs_compile: bool = True) -> None:
    """Raise if ``build(hp)`` did not return a (compiled) Keras model."""
    import keras

    if not isinstance(model, keras.Model):
        raise ConfigurationError(
            f"build(hp) must return a compiled keras.Model, but it returned "
            f"{type(model).__name__}: {model!r:.80}."
        )
    if needs_compile and not getattr(model, "compiled", False):
        raise ConfigurationError(
            "build(hp) must return a compiled keras.Model, but the model was not compiled; "
            "call model.compile(optimizer=..., loss=..., metrics=[...]) before returning it."
        )


def check_input_shape(model: Any, x: Any) -> None:
    """Raise if a single-input model's declared input shape cannot take ``x``'s samples."""
    shape = getattr(x, "shape", None)
    inputs = getattr(model, "inputs", None)
    if shape is None or not inputs or len(inputs) != 1 or inputs[0].shape is None:
        return
    expected = tuple(inputs[0].shape)[1:]
    given = tuple(shape)[1:]
    if len(expected) != len(given) or any(
        e is not None and e != g for e, g in zip(expected, given, strict=True)
    ):
        raise ConfigurationError(
            f"The model built with default values takes inputs of shape "
            f"{(None, *expected)}, but x has shape {tuple(shape)}: each sample must have shape "
            f"{expected}, got {given}."
        )


class _NoTraining:
    """Stands in for ``model.fit`` while discovering: records nothing, trains nothing."""
    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def __call__(self, *args: Any, **kwargs: Any) -> _NoTraining:
        return self


def _probe_values(hp: HyperParameter) -> list[Any]:
    values = hp.values_list()
    if isinstance(hp, Choice) and values is not None:
        return [v for v in values if v != hp.default]
    if hasattr(hp, "max_value"):
        top = hp.from_unit(1.0)
        return [] if top == hp.default else [top]
    return []


def discover_space(
    hypermodel: Any,
    hyperparameters: HyperParameters | None = None,
    *,
    fit_args: tuple = (),
    fit_kwargs: dict[str, Any] | None = None,
    max_builds: int = 32,
    sample_x: Any = None,
) -> HyperParameters:
    """Build the model until every reachable hyperparameter is declared.

    Args:
        hypermodel: what :func:`as_hypermodel` returns.
        hyperparameters: hyperparameters declared up front (kept, and their domains win).
        fit_args, fit_kwargs: passed to a custom ``HyperModel.fit`` (with training switched
            off) so that hyperparameters it declares, such as ``batch_size``, are found too.
        max_builds: the most builds to spend on finding conditional branches.
        sample_x: the training inputs; the default model's input shape is checked against
            them, so a mismatch fails here instead of in every trial.

    Returns:
        The space, parents declared before the hyperparameters they condition.

    Raises:
        ConfigurationError: if building with default values fails or returns no compiled model.
    """
    space = (hyperparameters.declared_up_front() if hyperparameters is not None
             else HyperParameters())
    pending: list[dict[str, Any]] = [{}]
    tried: set[tuple] = set()
    while pending and len(tried) < max_builds:
        assignment = pending.pop(0)
        if HyperParameters.config_key(assignment) in tried:
            continue
        tried.add(HyperParameters.config_key(assignment))
        hp = space.copy(assignment)
        known = {h.name for h in space.space}
        if not _probe_build(hypermodel, hp, assignment, sample_x, fit_args, fit_kwargs):
            continue
        new = [h for h in hp.space if h.name not in known]
        space.merge(hp)
        for h in new if assignment else space.space:
            pending.extend({**assignment, h.name: value} for value in _probe_values(h))
    if pending:
        logger.info("Space discovery stopped after %d builds; hyperparameters in branches not "
                    "reached are added with their defaults when a trial declares them.",
                    len(tried))
    return space


def _probe_build(hypermodel: Any, hp: HyperParameters, assignment: dict[str, Any],
                 sample_x: Any, fit_args: tuple, fit_kwargs: dict[str, Any] | None) -> bool:
    """Build once with ``assignment`` (and run a custom fit without training); whether it
    worked. A failure of the default build is the user's error; others are left to trials."""
    import keras

    custom_fit = has_custom_fit(hypermodel)
    try:
        model = hypermodel.build(hp)
        check_model(model, needs_compile=not custom_fit)
        if not assignment and not custom_fit:  # a custom fit may reshape x itself
            check_input_shape(model, sample_x)
        if custom_fit:
            object.__setattr__(model, "fit", _NoTraining())
            try:
                hypermodel.fit(hp, model, *fit_args, **(fit_kwargs or {}))
            except Exception as error:  # fit may need real History contents; best effort
                logger.debug("fit() during discovery raised %r; ignored", error)
        return True
    except Exception as error:
        if isinstance(error, ConfigurationError) or is_fatal_error(error):
            raise
        if not assignment:
            raise ConfigurationError(
                f"build(hp) failed with the default hyperparameter values {hp.values}: "
                f"{type(error).__name__}: {error}"
            ) from error
        logger.info("build(hp) failed for %s during discovery (%r); that branch is "
                    "left to the trials", assignment, error)
        return False
    finally:
        # No garbage collection per build: with TensorFlow loaded a full collection
        # takes ~0.3 s, and these few small throw-away models do not need it.
        keras.backend.clear_session(free_memory=False)


def checkpoint_builder(hypermodel: HyperModel, hp: HyperParameters) -> Callable[[], Any]:
    """Builds ``hypermodel`` with ``hp`` for a checkpoint to be loaded into."""

    def build() -> Any:
        model = hypermodel.build(hp)
        if not hasattr(model, "optimizer"):
            # Uncompiled (a HyperModel.fit with its own training loop): Keras 3 has no
            # `optimizer` before compile, and loading a checkpoint reads it.
            model.optimizer = None
        return model

    return build
