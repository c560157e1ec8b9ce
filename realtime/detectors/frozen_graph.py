"""Frozen-graph backend: the TF1 OD API's ``frozen_inference_graph.pb``.

The GraphDef is imported into a pruned `tf.compat.v1.wrap_function`, so it runs as a
TF2 function: one call per batch (image by image when the graph fixes batch 1).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.errors import UserError
from realtime.config import DetectorConfig
from realtime.detectors.common import OUTPUT_NAMES, RawOutputs, TFDetector

INPUT = "image_tensor"
OUTPUTS = OUTPUT_NAMES


class FrozenGraphDetector(TFDetector):
    """A TF1 frozen detection graph with the OD API tensor names."""

    def __init__(self, path: Path, names: dict[int, str], labels_source: str,
                 cfg: DetectorConfig, kind: str = "frozen_graph") -> None:
        import tensorflow as tf
        from google.protobuf.message import DecodeError

        super().__init__(path, names, labels_source, cfg, kind)
        graph_def = tf.compat.v1.GraphDef()
        try:
            graph_def.ParseFromString(path.read_bytes())
        except (DecodeError, RuntimeError) as exc:
            raise UserError(f"{path}: not a frozen TensorFlow graph ({exc})") from None
        nodes = {node.name: node for node in graph_def.node}
        missing = [n for n in (INPUT, *OUTPUTS) if n not in nodes]
        if missing:
            raise UserError(f"{path}: graph lacks tensor(s) {', '.join(m + ':0' for m in missing)}"
                            f"; expected the TF1 OD API names ({INPUT}:0 → detection_*:0)")
        dims = [d.size for d in nodes[INPUT].attr["shape"].shape.dim]
        self._fixed_batch = bool(dims) and dims[0] == 1

        def import_graph():
            tf.compat.v1.import_graph_def(graph_def, name="")

        try:
            with self._placement():
                wrapped = tf.compat.v1.wrap_function(import_graph, [])
                graph = wrapped.graph
                self._fn = wrapped.prune(graph.get_tensor_by_name(f"{INPUT}:0"),
                                         [graph.get_tensor_by_name(f"{n}:0") for n in OUTPUTS])
        except (ValueError, tf.errors.OpError) as exc:
            raise UserError(f"{path}: cannot import graph ({str(exc).splitlines()[0]})") from None

    def _call(self, batch: np.ndarray) -> RawOutputs:
        import tensorflow as tf

        with self._placement():
            boxes, scores, classes, num = self._fn(tf.constant(batch))
        return RawOutputs(boxes.numpy(), scores.numpy(), classes.numpy(), num.numpy())
