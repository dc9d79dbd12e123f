"""The metric a search optimizes and in which direction; several at once (:class:`Pareto`)."""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import Any

__all__ = ["COST_METRICS", "Objective", "Pareto", "infer_direction"]

_MAX_WORDS = ("acc", "accuracy", "auc", "precision", "recall", "f1", "iou", "r2", "score",
              "io_u", "true_positives", "true_negatives")
# Keras losses logged as metrics (Keras Tuner minimizes every name of keras.losses).
_MIN_WORDS = ("loss", "error", "mse", "mae", "mape", "rmse", "msle", "crossentropy", "hinge",
              "kl_divergence", "kld", "poisson", "logcosh", "log_cosh", "false_positives",
              "false_negatives")
# What every trial can measure without user code (worker/_costs.py): smaller is cheaper.
COST_METRICS = ("params", "model_bytes", "inference_ms")


def _deprecated(old: str, new: str) -> None:
    warnings.warn(f"{old} is deprecated and goes in 0.3: use {new} (one spelling of the "
                  "objective: name and direction).", DeprecationWarning, stacklevel=3)


def infer_direction(name: str) -> str | None:
    """``"max"`` or ``"min"`` for the usual Keras metric names, ``None`` when unsure."""
    if name in COST_METRICS:
        return "min"
    words = set(re.split(r"[^a-z0-9]+", name.lower()))
    words |= {w.rstrip("0123456789") for w in words}
    # Keras numbers a second metric of the same kind: val_mean_io_u_1.
    base = re.sub(r"_[0-9]+$", "", name.lower())
    if words & set(_MIN_WORDS) or any(base.endswith(w) for w in _MIN_WORDS):
        return "min"
    if words & set(_MAX_WORDS) or any(base.endswith(w) for w in _MAX_WORDS):
        return "max"
    return None


@dataclass(frozen=True)
class Objective:
    """A metric name as Keras logs it (``"val_accuracy"``) and ``"min"`` or ``"max"``.

    Example:
        >>> Objective("val_loss").direction
        'min'
        >>> Objective("val_top3", "max").direction
        'max'
    """

    name: str
    direction: str | None = None
    #: For Keras Tuner's list objective: the objectives summed, each signed so that lower is
    #: better (its ``MultiObjective``); the sum is reported as ``name``, minimized.
    terms: tuple[Objective, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(
                f"An objective name must be a non-empty string, but got {self.name!r}."
            )
        direction = self.direction if self.direction is not None else infer_direction(self.name)
        if direction is None:
            raise ValueError(
                f"Cannot infer whether to minimize or maximize '{self.name}'; give the direction: "
                f"Objective({self.name!r}, 'min') or Objective({self.name!r}, 'max')."
            )
        if direction not in ("min", "max"):
            raise ValueError(
                f"direction must be 'min' or 'max', but got {direction!r} for '{self.name}'."
            )
        object.__setattr__(self, "direction", direction)

    @property
    def mode(self) -> str:
        """Deprecated (removed in 0.3): ``direction``, or ``ray_metric()["mode"]``."""
        _deprecated("Objective.mode", "Objective.direction")
        return self.direction  # type: ignore[return-value]

    @property
    def is_pareto(self) -> bool:
        """Whether this is a :class:`Pareto` objective (several metrics, no ranking)."""
        return False

    def metric_names(self) -> list[str]:
        """Every metric a trial must report: the name and, for a sum, its terms."""
        return [self.name, *(t.name for t in self.terms)]

    def ray_metric(self, *, several: bool = False) -> dict[str, Any]:
        """Ray's ``metric`` and ``mode`` for this objective: the one place Ray's spelling is
        made (the rest of the package says ``name`` and ``direction``, as Keras Tuner does).

        ``several``: the consumer takes several metrics (a multi-objective searcher gets a
        Pareto objective's lists); otherwise a Pareto objective gives none (Ray's
        ``TuneConfig`` ranks trials by one metric, and a front ranks none).

        Example:
            >>> Objective("val_accuracy").ray_metric()
            {'metric': 'val_accuracy', 'mode': 'max'}
        """
        return {"metric": self.name, "mode": self.direction}

    @classmethod
    def sum_of(cls, objectives: list) -> Objective:
        """Keras Tuner's list objective: one minimized sum, maximized terms negated."""
        if not objectives:
            raise ValueError("An objective list must name at least one objective, but got [].")
        terms = tuple(cls.coerce(o) for o in objectives)
        if len(terms) == 1:
            return terms[0]
        return cls("multi_objective", "min", terms)

    def add_to(self, metrics: dict[str, float]) -> dict[str, float]:
        """``metrics`` with the summed objective added, when every term is there."""
        if self.terms and all(t.name in metrics for t in self.terms):
            metrics[self.name] = float(sum(
                metrics[t.name] if t.direction == "min" else -metrics[t.name]
                for t in self.terms))
        return metrics

    def to_dict(self) -> dict:
        """A plain-data form, read back by :meth:`coerce`."""
        plain: dict = {"name": self.name, "direction": self.direction}
        if self.terms:
            plain["terms"] = [t.to_dict() for t in self.terms]
        return plain

    def better(self, a: float, b: float) -> bool:
        """Whether value ``a`` is strictly better than ``b``."""
        return a > b if self.direction == "max" else a < b

    @classmethod
    def coerce(cls, value: Objective | str | tuple | dict) -> Objective:
        """Accept ``"val_loss"``, ``("val_loss", "min")``, ``{"name":..., "direction":...}``,
        or a Keras Tuner ``Objective`` (anything with ``name`` and ``direction``)."""
        if isinstance(value, Objective):
            return value
        if isinstance(value, str):
            return cls(value)
        if isinstance(value, tuple) and len(value) == 2:
            return cls(*value)
        if isinstance(value, dict) and ("pareto" in value or value.get("kind") == "pareto"):
            return Pareto(value.get("pareto") or value.get("terms") or [])
        if isinstance(value, dict):
            terms = tuple(cls.coerce(t) for t in value.get("terms") or ())
            return cls(value.get("name"), value.get("direction"), terms)
        if isinstance(value, list):
            return cls.sum_of(value)
        if hasattr(value, "name") and hasattr(value, "direction"):
            return cls(value.name, value.direction)
        raise TypeError(
            "objective must be a metric name, an Objective or (name, direction), "
            f"but got {value!r}."
        )


class Pareto(Objective):
    """Several objectives at once: the search looks for their Pareto front.

    A trial is on the front when no other trial is at least as good on every objective and
    strictly better on one. Unlike a plain list (Keras Tuner's signed sum, kept as it is),
    nothing is summed: ``best`` returns the whole front. ``name`` and ``direction`` are the
    first objective's, which is what one-metric machinery (the checkpoint kept as a trial's
    best epoch, the console, TensorBoard) uses.

    Args:
        objectives: two or more metric names, :class:`Objective` or ``(name, direction)``,
            with different names. ``params``, ``model_bytes`` and ``inference_ms`` are
            measured by every trial without user code (docs/pareto.md).

    Raises:
        ValueError: fewer than two objectives, a repeated name, or an unknown direction.

    Example:
        >>> p = Pareto(["val_accuracy", ("params", "min")])
        >>> p.ray_metric(several=True)
        {'metric': ['val_accuracy', 'params'], 'mode': ['max', 'min']}
    """

    def __init__(self, objectives: list | tuple) -> None:
        if not isinstance(objectives, (list, tuple)) or isinstance(objectives, str):
            raise TypeError("Pareto takes a list of objectives (names, Objective or "
                            f"(name, direction)), but got {objectives!r}.")
        terms = tuple(Objective.coerce(o) for o in objectives)
        if len(terms) < 2:
            raise ValueError("A Pareto objective needs at least two objectives, but got "
                             f"{[t.name for t in terms]}.")
        if any(t.is_pareto or t.terms for t in terms):
            raise ValueError("A Pareto objective's terms must be single metrics, but got "
                             f"{[t.to_dict() for t in terms]}.")
        names = [t.name for t in terms]
        if len(set(names)) != len(names):
            raise ValueError(f"A Pareto objective's names must differ, but got {names}.")
        object.__setattr__(self, "name", terms[0].name)
        object.__setattr__(self, "direction", terms[0].direction)
        object.__setattr__(self, "terms", terms)

    def __repr__(self) -> str:
        return "Pareto([" + ", ".join(f"({t.name!r}, {t.direction!r})" for t in self.terms) + "])"

    @property
    def is_pareto(self) -> bool:
        return True

    def metric_names(self) -> list[str]:
        return [t.name for t in self.terms]

    @property
    def names(self) -> list[str]:
        """Deprecated (removed in 0.3): ``metric_names()``."""
        _deprecated("Pareto.names", "Pareto.metric_names()")
        return self.metric_names()

    @property
    def modes(self) -> list[str]:
        """Deprecated (removed in 0.3): ``[t.direction for t in terms]``, or
        ``ray_metric(several=True)["mode"]``."""
        _deprecated("Pareto.modes", "each term's direction")
        return [t.direction for t in self.terms]  # type: ignore[misc]

    def ray_metric(self, *, several: bool = False) -> dict[str, Any]:
        if not several:
            return {"metric": None, "mode": None}
        return {"metric": self.metric_names(), "mode": [t.direction for t in self.terms]}

    def add_to(self, metrics: dict[str, float]) -> dict[str, float]:
        """Nothing is summed: each term is reported as it is."""
        return metrics

    def to_dict(self) -> dict:
        return {"pareto": [t.to_dict() for t in self.terms]}
