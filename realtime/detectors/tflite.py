"""LiteRT backend: ``.tflite`` detectors on the CPU with XNNPACK.

Two layouts:
- ours (``lookout export --tflite``): signature ``serving_default``, input ``images``
  uint8 of any batch and size, outputs named as the bundle's; one call per batch.
- the TF OD API's SSD post-process models: one fixed-size input (float normalized to
  [-1, 1], or uint8 when quantized), four outputs boxes ``[1, N, 4]``, classes ``[1, N]``
  (0-based), scores ``[1, N]``, count ``[1]``; images are resized and run one by one.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from lookout.config import DetectorConfig
from lookout.errors import UserError
from realtime.detectors.common import BatchDetector, RawOutputs

OURS = ("detection_boxes", "detection_scores", "detection_classes", "num_detections")


class TFLiteDetector(BatchDetector):
    """A ``.tflite`` detector run by `ai_edge_litert` (XNNPACK, ``cfg.threads`` threads)."""

    def __init__(self, path: Path, names: dict[int, str], labels_source: str,
                 cfg: DetectorConfig, kind: str = "tflite") -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.kind, self.names, self.source, self.labels_source = kind, names, str(path), labels_source
        self.setup_filters(cfg)
        if cfg.device.lower() not in ("auto", "cpu"):
            raise UserError(f"--device {cfg.device}: {path.name} is a .tflite model, which runs "
                            f"on the CPU (LiteRT + XNNPACK); use --device cpu or auto")
        try:
            self._it = Interpreter(model_path=str(path), num_threads=cfg.threads or os.cpu_count())
        except (ValueError, RuntimeError) as exc:
            raise UserError(f"{path}: not a valid .tflite model ({_first_line(exc)})") from None
        signature = self._it.get_signature_list().get("serving_default", {})
        if "images" in signature.get("inputs", []) and set(OURS) <= set(signature["outputs"]):
            runner = self._it.get_signature_runner("serving_default")
            self._input = runner.get_input_details()["images"]["index"]
            outs = runner.get_output_details()
            self._outputs = [outs[name]["index"] for name in OURS]
            self.layout = "lookout"
        else:
            self._input, self._outputs = _od_api_layout(path, self._it, signature)
            self.layout = "od_api"
        detail = next(d for d in self._it.get_input_details() if d["index"] == self._input)
        self._dtype = detail["dtype"]
        self._size = tuple(int(v) for v in detail["shape"][1:3])  # fixed size (od_api layout)
        self._shape: tuple[int, ...] | None = None
        if self.layout == "od_api" and self._dtype not in (np.float32, np.uint8):
            raise UserError(f"{path}: input type {np.dtype(self._dtype).name} is not supported "
                            f"(float32 or uint8 image expected)")

    def _run(self, batch: np.ndarray) -> RawOutputs:
        if self.layout == "lookout":
            boxes, scores, classes, num = self._invoke(batch)
            return RawOutputs(boxes, scores, classes, num)
        parts = [self._invoke(self._prepare(image)) for image in batch]
        boxes, classes, scores, num = (np.concatenate(p) for p in zip(*parts))
        classes, scores = _classes_and_scores(classes, scores)
        return RawOutputs(boxes, scores, classes + 1.0, num)  # 0-based → label map ids

    def _prepare(self, image: np.ndarray) -> np.ndarray:
        import cv2

        h, w = self._size
        if image.shape[:2] != (h, w):
            image = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
        if self._dtype == np.float32:
            return ((image.astype(np.float32) - 127.5) / 127.5)[None]
        return image[None]

    def _invoke(self, tensor: np.ndarray) -> list[np.ndarray]:
        if tensor.shape != self._shape:  # resize only when needed: allocation is slow
            if self.layout == "lookout":
                self._it.resize_tensor_input(self._input, list(tensor.shape), strict=False)
            self._it.allocate_tensors()
            self._shape = tensor.shape
        self._it.set_tensor(self._input, np.ascontiguousarray(tensor))
        self._it.invoke()
        return [self._it.get_tensor(i).copy() for i in self._outputs]


def _od_api_layout(path: Path, it, signature: dict) -> tuple[int, list[int]]:
    """Input index and output indices in the order boxes, classes, scores, count."""
    inputs = it.get_input_details()
    if len(inputs) != 1 or len(inputs[0]["shape"]) != 4 or inputs[0]["shape"][3] != 3:
        have = ", ".join(f"{d['name']}{list(d['shape'])}" for d in inputs)
        raise UserError(f"{path}: expected one image input [1, height, width, 3] (has: {have})")
    details = it.get_output_details()
    if signature and len(signature.get("outputs", [])) == 4:  # output_0..3 in export order
        outs = it.get_signature_runner("serving_default").get_output_details()
        order = [outs[name]["index"] for name in sorted(signature["outputs"])]
    else:  # TF1 export: TFLite_Detection_PostProcess, :1, :2, :3
        def suffix(d: dict) -> int:
            match = re.search(r":(\d+)$", d["name"])
            return int(match[1]) if match else 0

        order = [d["index"] for d in sorted(details, key=lambda d: (suffix(d), d["index"]))]
    shapes = {d["index"]: tuple(d["shape"]) for d in details}
    box = [i for i in order if len(shapes[i]) == 3 and shapes[i][-1] == 4]
    count = [i for i in order if len(shapes[i]) == 1]
    pair = [i for i in order if len(shapes[i]) == 2]
    if len(order) != 4 or len(box) != 1 or len(count) != 1 or len(pair) != 2:
        have = ", ".join(f"{d['name']}{list(d['shape'])}" for d in details)
        raise UserError(f"{path}: not a detector layout lookout knows: expected boxes [1,N,4], "
                        f"classes [1,N], scores [1,N], count [1] (has: {have})")
    return inputs[0]["index"], [box[0], pair[0], pair[1], count[0]]


def _classes_and_scores(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(classes, scores)`` from the two ``[B, N]`` outputs, normally in that order; some
    TF2 exports swap them, and only scores are non-increasing within ``[0, 1]``."""

    def like_scores(x: np.ndarray) -> bool:
        return bool(np.all((x >= 0) & (x <= 1)) and np.all(np.diff(x, axis=1) <= 1e-6))

    if like_scores(a) and not like_scores(b):
        return b, a
    return a, b


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
