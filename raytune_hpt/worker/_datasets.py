"""A ``tf.data.Dataset`` given to ``search``, rebuilt on each worker from its graph.

The driver serializes the dataset's graph once (what the tf.data service does to ship a
pipeline to its workers); each trial rebuilds a fresh dataset from it, so ``shuffle`` and
random ``map`` steps draw anew every epoch, as they do in the user's own process, and
files named in the pipeline (``TFRecordDataset``, ``image_dataset_from_directory``) are
read where the trial runs. The bytes go into Ray's object store with the rest of the data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["ShippedDataset"]


@dataclass(frozen=True)
class ShippedDataset:
    """A dataset's serialized graph and element spec; :meth:`rebuild` makes it again.

    Attributes:
        graph: the ``GraphDef`` bytes of the pipeline (file paths made absolute).
        element_spec: the dataset's ``element_spec`` (picklable ``TypeSpec``s).
        files: the files and folders the pipeline names (checked readable before trials).
        what: which argument it was (``x``, ``validation_data``), for messages.
    """

    graph: bytes
    element_spec: Any
    files: tuple[str, ...] = field(default=())
    what: str = "x"

    def rebuild(self) -> Any:
        """A new ``tf.data.Dataset`` from the graph (public TensorFlow API only)."""
        import tensorflow as tf

        variant = tf.raw_ops.DatasetFromGraph(graph_def=self.graph)
        return tf.data.experimental.from_variant(variant, self.element_spec)

    def __repr__(self) -> str:
        return (f"ShippedDataset({self.what}: {len(self.graph)} bytes of graph, "
                f"{len(self.files)} file(s))")


def rebuild_datasets(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with each shipped dataset rebuilt (a fresh pipeline for this trial)."""
    if not any(isinstance(v, ShippedDataset) for v in data.values()):
        return data
    return {k: v.rebuild() if isinstance(v, ShippedDataset) else v for k, v in data.items()}
