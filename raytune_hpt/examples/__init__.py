"""Bundled example experiments: YAML files and the model modules they name.

They ship inside the package, so ``raytune-hpt run --example digits`` works after a plain
``pip install``. :data:`EXAMPLES` maps each name to its file and a one-line description;
:func:`example_path` finds the file.

Example:
    >>> sorted(EXAMPLES)[:2]
    ['breast-cancer', 'digits']
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["EXAMPLES", "Example", "example_path"]


@dataclass(frozen=True)
class Example:
    """A bundled experiment: its YAML file (next to this module) and what it shows."""

    file: str
    description: str


EXAMPLES: dict[str, Example] = {
    "breast-cancer": Example(
        "breast_cancer.yaml",
        "binary classifier, sigmoid output; accuracy and AUC; 5-fold cross-validation; grid search",
    ),
    "digits": Example(
        "digits.yaml", "MLP on 8x8 digits; units and learning rate; random search (about a minute)"
    ),
    "lr-decay": Example(
        "lr_decay.yaml",
        "ExponentialDecay: initial rate, decay rate and staircase; random search with ASHA",
    ),
    "lr-decay-pbt": Example(
        "lr_decay_pbt.yaml",
        "the same schedule under population-based training: exploit checkpoints, explore rates",
    ),
    "mnist-cnn": Example(
        "mnist_cnn.yaml",
        "CNN on MNIST; conv blocks, filters, dropout, activation, optimizer, batch size; HyperBand",
    ),
    "mnist-mlp": Example(
        "mnist_mlp.yaml",
        "two-layer MLP on MNIST; units and log-scale learning rate; Bayesian optimization",
    ),
}


def example_path(name: str) -> Path:
    """The YAML file of the example ``name``.

    Raises:
        ValueError: for an unknown name, listing the known ones.
    """
    if name not in EXAMPLES:
        raise ValueError(f"must be one of {', '.join(sorted(EXAMPLES))}; got {name!r}")
    return Path(__file__).with_name(EXAMPLES[name].file)
