"""LiteRT backend: ``.tflite`` detectors on the CPU with XNNPACK.

Two layouts:
- ours (``lookout export``): signature ``serving_default`` with one image input
  (uint8, or float32 pixel values 0..255) and outputs named as the bundle's
  (``num_detections`` optional); one call per batch, or per image when the model fixes
  batch 1. A model that fixes the size (a bundle's ``model.tflite`` and
  ``model_int8.tflite``) gets each image letterboxed as its training saw them (scaled
  to fit, padded right and bottom) and returns boxes on that square, which are mapped
  back here.
- the TF OD API's SSD post-process models: one fixed-size input (float normalized to
  [-1, 1], or uint8 when quantized), four outputs boxes ``[1, N, 4]``, classes ``[1, N]``
  (0-based), scores ``[1, N]``, count ``[1]``; images are resized and run one by one.

Quantized models: a uint8 image input takes the pixels as they are, an int8 one pixels
minus 128 (the converters' convention); int8/uint8 outputs are dequantized.

On a CPU, several single-threaded interpreters running side by side get far more frames
through than one interpreter spread over every core (XNNPACK's threads wait for each
other at every layer; measured on 2 cores: 59 vs 35 fps). So the detector holds a pool
of ``workers`` interpreters and `detect` may be called from that many threads at once.
"""

from __future__ import annotations

import dataclasses
import os
import queue
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from core.errors import UserError
from realtime.config import DetectorConfig
from realtime.detectors.common import OUTPUT_NAMES, BatchDetector, RawOutputs

OURS = OUTPUT_NAMES


class TFLiteDetector(BatchDetector):
    """A ``.tflite`` detector run by `ai_edge_litert` with XNNPACK: ``cfg.workers``
    interpreters (default one per core) of ``cfg.threads`` threads each (default: an
    equal share of the cores)."""

    runtime = "LiteRT/XNNPACK"

    def __init__(self, path: Path, names: dict[int, str], labels_source: str,
                 cfg: DetectorConfig, kind: str = "tflite") -> None:
        super().__init__(path, names, labels_source, cfg, kind)
        if cfg.device.lower() not in ("auto", "cpu"):
            raise UserError(f"detector.device {cfg.device}: {path.name} is a .tflite model, "
                            f"which runs on the CPU (LiteRT + XNNPACK); use cpu or auto")
        cores = os.cpu_count() or 1
        self.workers = cfg.workers or cores
        threads = cfg.threads or max(1, cores // self.workers)
        first = _Interpreter(path, threads)
        if first.nms_classes and (safe := nms_safe_threads(threads, first.nms_classes)) != threads:
            threads, first = safe, _Interpreter(path, safe)  # see `nms_safe_threads`
        self.threads = threads
        self.layout = first.layout
        self._dtype, self._fixed_batch, self._fixed_size = first.dtype, first.fixed_batch, first.size
        self._all = [first] + [_Interpreter(path, threads) for _ in range(self.workers - 1)]
        self._pool: queue.Queue[_Interpreter] = queue.Queue()
        for interpreter in self._all:
            self._pool.put(interpreter)
        self._scores_first: bool | None = None  # od_api: the [1, N] pair in swapped order
        # Runs one batch's images on the pool side by side (threads start on first use).
        self._executor = ThreadPoolExecutor(self.workers, "lookout-tflite")
        self._map = self._executor.map  # a fixed-batch model's images spread over the pool

    def warmup(self, height: int = 240, width: int = 320, batch: int = 1) -> None:
        """Warm every interpreter of the pool (each allocates for the shape on first use)."""
        grey = np.full((batch, height, width, 3), 114, np.uint8)
        for interpreter in self._all:
            self._invoke_on(interpreter, grey[:1] if self._fixed_batch else grey)

    def _run(self, batch: np.ndarray, shape: tuple[int, int]) -> RawOutputs:
        raw = super()._run(batch, shape)
        if self.layout == "lookout" and self._fixed_size is not None:
            # Letterboxed (see `_fit`): the boxes are on the padded square.
            raw = dataclasses.replace(raw, boxes=unletterbox(raw.boxes, shape, self._fixed_size))
        return raw

    def _fit(self, images: np.ndarray | list[np.ndarray]) -> np.ndarray:
        """OD API models are stretched to their fixed size (SSD trains that way); ours
        (a bundle's .tflite files) are letterboxed, as RetinaNet's preprocessing does,
        straight into the batch (a frame the pipeline already shrank to the fitted size
        is copied in, not resized again)."""
        if (self.layout != "lookout" or self._fixed_size is None
                or np.shape(images[0])[:2] == self._fixed_size):
            return super()._fit(images)
        out = np.zeros((len(images), *self._fixed_size, 3), np.uint8)
        for image, dst in zip(images, out, strict=True):
            letterbox(np.asarray(image, dtype=np.uint8), self._fixed_size, out=dst)
        return out

    def _call(self, batch: np.ndarray) -> RawOutputs:
        interpreter = self._pool.get()  # waits while every interpreter is busy
        try:
            outputs = self._invoke_on(interpreter, batch)
        finally:
            self._pool.put(interpreter)
        if self.layout == "lookout":
            boxes, scores, classes, *num = outputs
            return RawOutputs(boxes, scores, classes, num[0] if num else None)
        boxes, classes, scores, num = outputs
        if self._scores_first is None:  # decided once, on the first clear evidence
            self._scores_first = _scores_first(classes, scores)
        if self._scores_first:
            classes, scores = scores, classes
        return RawOutputs(boxes, scores, classes + 1.0, num)  # 0-based → label map ids

    def _prepare(self, batch: np.ndarray) -> np.ndarray:
        """Fit a fixed input size (warm-up calls come here directly) and convert: float
        OD API inputs are normalized to [-1, 1], ours take 0..255; int8 inputs take
        pixels - 128."""
        batch = self._fit(batch)
        if self._dtype == np.float32:
            batch = batch.astype(np.float32)
            return (batch - 127.5) / 127.5 if self.layout == "od_api" else batch
        if self._dtype == np.int8:  # x - 128 in two's complement is x with its top bit flipped
            return np.bitwise_xor(batch, np.uint8(0x80)).view(np.int8)
        return batch

    def _invoke_on(self, interpreter: _Interpreter, batch: np.ndarray) -> list[np.ndarray]:
        return interpreter.invoke(self._prepare(batch))

    def close(self) -> None:
        self._executor.shutdown()
        self._all.clear()


class _Interpreter:
    """One LiteRT interpreter of the model, with where its input and outputs are."""

    def __init__(self, path: Path, threads: int) -> None:
        from ai_edge_litert.interpreter import Interpreter

        try:
            self._it = Interpreter(model_path=str(path), num_threads=threads)
        except (ValueError, RuntimeError) as exc:
            raise UserError(f"{path}: not a valid .tflite model ({_first_line(exc)})") from None
        signature = self._it.get_signature_list().get("serving_default", {})
        if set(OURS[:3]) <= set(signature.get("outputs", [])) and len(signature["inputs"]) == 1:
            runner = self._it.get_signature_runner("serving_default")
            self._input = runner.get_input_details()[signature["inputs"][0]]["index"]
            outs = runner.get_output_details()
            self._outputs = [outs[name]["index"] for name in OURS if name in outs]
            self.layout = "lookout"
        else:
            self._input, self._outputs = _od_api_layout(path, self._it, signature)
            self.layout = "od_api"
        detail = next(d for d in self._it.get_input_details() if d["index"] == self._input)
        self.dtype = detail["dtype"]
        if self.dtype not in (np.float32, np.uint8, np.int8):
            raise UserError(f"{path}: input type {np.dtype(self.dtype).name} is not supported "
                            f"(float32, uint8 or int8 image expected)")
        self.nms_classes = _nms_classes(self._it)
        self._dequantize = {d["index"]: d["quantization"] for d in self._it.get_output_details()
                            if d["dtype"] in (np.int8, np.uint8) and d["quantization"][0]}
        dims = [int(v) for v in detail.get("shape_signature", detail["shape"])]
        self.fixed_batch = dims[0] == 1
        self.size = (dims[1], dims[2]) if dims[1] > 0 and dims[2] > 0 else None
        self._shape: tuple[int, ...] | None = None

    def invoke(self, tensor: np.ndarray) -> list[np.ndarray]:
        if tensor.shape != self._shape:  # resize only when needed: allocation is slow
            self._it.resize_tensor_input(self._input, list(tensor.shape), strict=True)
            self._it.allocate_tensors()
            self._shape = tensor.shape
        self._it.set_tensor(self._input, np.ascontiguousarray(tensor))
        self._it.invoke()  # releases the GIL: the pool's interpreters run in parallel
        return [self._output(i) for i in self._outputs]

    def _output(self, index: int) -> np.ndarray:
        value = self._it.get_tensor(index)
        if index in self._dequantize:
            scale, zero_point = self._dequantize[index]
            return (value.astype(np.float32) - zero_point) * scale
        return value.copy()


def nms_safe_threads(threads: int, classes: int) -> int:
    """The most interpreter threads, up to ``threads``, with which LiteRT's
    ``TFLite_Detection_PostProcess`` op (regular NMS) keeps every class of ``classes``.

    LiteRT's bug, measured (ai-edge-litert 1.x, with and without XNNPACK): the op's
    inputs are identical on 1 and 2 threads, its outputs are not: with 3 classes on 2
    threads every detection of class 3 vanishes, on 1, 3, 4, 5, 6 and 8 threads none
    does. That fits the op splitting the classes into ``classes // threads`` per thread
    and dropping the remainder, so a thread count is trusted only when it is 1, divides
    the classes or is at least as many (tests/training/test_int8.py runs the bundle's
    files at 1, 2 and 4 threads through this backend and requires the same detections).
    """
    for t in range(max(1, threads), 1, -1):
        if classes % t == 0 or t >= classes:
            return t
    return 1


def _nms_classes(it) -> int | None:
    """The classes the graph's TFLite_Detection_PostProcess op handles (its scores input
    has one more column: background), or None without that op."""
    for op in it._get_ops_details():
        if op["op_name"] == "TFLite_Detection_PostProcess":
            scores = next(t for t in it.get_tensor_details() if t["index"] == op["inputs"][1])
            return max(1, int(scores["shape"][-1]) - 1)
    return None


def letterbox(image: np.ndarray, size: tuple[int, int], out: np.ndarray | None = None) -> np.ndarray:
    """Scale to fit ``size`` keeping the aspect ratio; pad right and bottom with 0, as
    the training's preprocessing (and training.quantize's calibration set) does. Into
    ``out`` (zeros, ``[*size, 3]``) when given; an image already of the fitted size is
    copied in as it is."""
    import cv2

    nh, nw = _fitted(image.shape[:2], size)
    if out is None:
        out = np.zeros((*size, 3), np.uint8)
    if image.shape[:2] == (nh, nw):
        out[:nh, :nw] = image
    elif nw == size[1] and out.flags.c_contiguous:  # landscape: full rows, resized in place
        cv2.resize(image, (nw, nh), dst=out[:nh], interpolation=cv2.INTER_AREA)
    else:
        out[:nh, :nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
    return out


def _fitted(shape: tuple[int, int], size: tuple[int, int]) -> tuple[int, int]:
    """The height and width of an image of ``shape`` letterboxed into ``size``."""
    scale = min(size[0] / shape[0], size[1] / shape[1])
    return max(1, round(shape[0] * scale)), max(1, round(shape[1] * scale))


def unletterbox(boxes: np.ndarray, shape: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """Boxes normalized to the padded square → normalized to the original image."""
    nh, nw = _fitted(shape, size)
    factor = np.array([size[0] / nh, size[1] / nw] * 2, np.float32)
    with np.errstate(over="ignore", invalid="ignore"):  # rows past num_detections: garbage
        return np.clip(boxes * factor, 0.0, 1.0)


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


def _scores_first(a: np.ndarray, b: np.ndarray) -> bool | None:
    """Whether the two ``[B, N]`` outputs, expected as (classes, scores), come swapped, as
    in some TF2 exports: scores are non-increasing within [0, 1] and not all whole
    numbers, classes are whole numbers. None while the evidence is unclear (e.g. no
    detections); the expected order is used meanwhile."""

    def like_scores(x: np.ndarray) -> bool:
        return bool(np.all((x >= 0) & (x <= 1)) and np.all(np.diff(x, axis=1) <= 1e-6)
                    and not np.all(x == np.round(x)))

    if like_scores(a) != like_scores(b):
        return like_scores(a)
    return None


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
