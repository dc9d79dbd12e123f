"""The exceptions raytune_hpt raises.

```
RaytuneHptError
├── ConfigurationError (also a ValueError)   fatal: raised before any trial starts
│   ├── ExperimentError                      a field of the experiment file (or its data,
│   │                                        or the user code it names) is wrong
│   ├── ObjectiveNotLoggedError              the model never logs the objective
│   ├── NodesNeverCameError                  trials waited pending_timeout for nodes
│   ├── ClusterAddressError (ClusterError)   no address, or no Ray Jobs API answers there
│   ├── ClusterAuthError (ClusterError)      the cluster wants a token, or refused ours
│   └── JobNotFoundError (ClusterError)      no job with that id
├── ClusterError                             the Jobs API could not be used
│   └── ClusterUnreachableError              nothing answers (cluster down, tunnel closed)
├── ModelNotKeptError (also a LookupError)   a trial's model was deleted under keep_models
├── TrialFailedError                         one trial failed; the search goes on
│   └── SearchAbortedError                   the first trials all failed the same way,
│                                            or max_consecutive_failed_trials in a row
└── FailedTrialError                         raised by user code: fail this trial, no retry
    └── FatalError                           raised by user code: stop the whole search
        ├── FatalValueError (also ValueError)
        ├── FatalTypeError (also TypeError)
        └── FatalRuntimeError (also RuntimeError)
```
``FailedTrialError`` and the ``Fatal*`` errors are Keras Tuner's (``keras_tuner.errors``), with
its meanings; ones raised from ``keras_tuner.errors`` are recognised too.
Bad arguments to a public function raise plain ``ValueError`` / ``TypeError`` that say what
must hold and what was received; ``ConfigurationError`` is a ``ValueError`` so callers may
catch either.
"""

from __future__ import annotations

__all__ = [
    "ClusterAddressError",
    "ClusterAuthError",
    "ClusterError",
    "ClusterUnreachableError",
    "ConfigurationError",
    "ExperimentError",
    "FailedTrialError",
    "FatalError",
    "FatalRuntimeError",
    "FatalTypeError",
    "FatalValueError",
    "JobNotFoundError",
    "ModelNotKeptError",
    "NodesNeverCameError",
    "ObjectiveNotLoggedError",
    "RaytuneHptError",
    "SearchAbortedError",
    "TrialFailedError",
]


class RaytuneHptError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigurationError(RaytuneHptError, ValueError):
    """The experiment cannot run as configured; nothing has started."""


class ExperimentError(ConfigurationError):
    """A field of the experiment file, its data or the user code it names is invalid;
    ``field`` is the dotted path of the culprit (``data.loader``, ``searcher.type``)."""

    def __init__(self, field: str, message: str) -> None:
        self.field, self.message = field, message
        super().__init__(f"{field}: {message}")

    def __reduce__(self) -> tuple:
        return (type(self), (self.field, self.message))


class NodesNeverCameError(ConfigurationError):
    """Every trial waited ``pending_timeout`` seconds for a node that can hold it and none
    came (Ray's autoscaler could not add one: a quota, an instance type, a node type that is
    too small); the message names what the trials asked for and the autoscaler's last error."""


class ObjectiveNotLoggedError(ConfigurationError):
    """The model's logs do not contain the objective; raised at the end of a trial's first epoch."""

    def __init__(self, objective: str, logged: list[str]) -> None:
        self.objective, self.logged = objective, sorted(logged)
        super().__init__(
            f"The objective '{objective}' is not among the metrics the model logs: "
            f"{self.logged}. Name one of these as the objective, or add the metric to "
            "model.compile(metrics=...) and pass validation data for a 'val_' metric."
        )

    def __reduce__(self) -> tuple:  # travels from a Ray worker back to the driver
        return (type(self), (self.objective, self.logged))


class ModelNotKeptError(RaytuneHptError, LookupError):
    """A trial's model was asked for, but its checkpoints were deleted when it ended: it was
    not among the best ``keep_models`` trials (docs/reliability.md, "Bounded disk")."""


class TrialFailedError(RaytuneHptError):
    """A trial raised; its error is recorded and the search continues."""


class SearchAbortedError(TrialFailedError):
    """The search stopped early because its first trials all failed with the same error."""


class ClusterError(RaytuneHptError):
    """The cluster's Jobs API could not be used; nothing was submitted or changed."""


class ClusterAddressError(ClusterError, ConfigurationError):
    """No address was given, or what answers there is not a Ray Jobs API."""


class ClusterAuthError(ClusterError, ConfigurationError):
    """The cluster wants a token and got none, or refused the one sent."""


class JobNotFoundError(ClusterError, ConfigurationError):
    """The cluster knows no job with that id."""


class ClusterUnreachableError(ClusterError):
    """Nothing answers at the address: the cluster is down, or the tunnel to it is closed."""


class FailedTrialError(RaytuneHptError):
    """Raise it in ``build``, ``fit`` or ``run_trial`` to fail the trial without retrying it
    (Keras Tuner's ``errors.FailedTrialError``)."""


class FatalError(FailedTrialError):
    """Raise it in a trial to stop the whole search; ``search()`` raises it again."""


class FatalValueError(FatalError, ValueError):
    """A ``FatalError`` that is also a ``ValueError``."""


class FatalTypeError(FatalError, TypeError):
    """A ``FatalError`` that is also a ``TypeError``."""


class FatalRuntimeError(FatalError, RuntimeError):
    """A ``FatalError`` that is also a ``RuntimeError``."""


def is_failed_trial_error(error: BaseException) -> bool:
    """Ours or Keras Tuner's ``FailedTrialError`` (without importing keras_tuner)."""
    return any(c.__name__ == "FailedTrialError" for c in type(error).__mro__)


#: How a trial that ran out of memory is recorded: its error starts with this.
OUT_OF_MEMORY = "out of memory"

# Keras/TensorFlow's allocation failure, Ray's memory monitor killing a worker, Python's own.
_MEMORY_ERRORS = ("ResourceExhaustedError", "OutOfMemoryError", "MemoryError")
# What Ray 2.60 says of an actor its memory monitor killed (an ActorDiedError)
_MEMORY_TEXT = ("running low on memory", "killed due to memory")


def is_out_of_memory(error: BaseException | None) -> bool:
    """Whether ``error`` (or the cause Ray wrapped it around) is a trial running out of
    memory: TensorFlow's ``ResourceExhaustedError``, Ray's ``OutOfMemoryError`` (its memory
    monitor killed the worker) or ``MemoryError``. Checked by class name: no import of
    TensorFlow or Ray."""
    seen = 0
    while error is not None and seen < 5:
        if any(c.__name__ in _MEMORY_ERRORS for c in type(error).__mro__):
            return True
        if any(text in str(error).lower() for text in _MEMORY_TEXT):
            return True
        error, seen = getattr(error, "cause", None) or error.__cause__, seen + 1
    return False


def is_fatal_error(error: BaseException) -> bool:
    """Ours or Keras Tuner's ``FatalError`` and its subclasses."""
    return any(c.__name__ == "FatalError" for c in type(error).__mro__)
