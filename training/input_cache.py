"""Training examples decoded once: an in-memory cache between Model Garden's decoder and
its parser, when the training set fits in memory.

Model Garden's own ``DataConfig.cache`` caches *after* the parser, which would freeze
each image's random flip, scale jitter and crop for the whole run. Here the pipeline is
TFRecords → Model Garden's decoder (JPEG decode) → shrink to what augmentation can use →
**cache** → repeat → shuffle → Model Garden's parser (augmentation, anchor labels, fresh
each epoch) → batch. The decoder and parser are the very ones the task builds
(`RetinaNetTask.build_inputs` is called and its reader factory intercepted), so nothing
of their configuration is copied here.

Shrinking keeps what the parser can use: it scales each image to fit a square of
``input_size * aug_scale_max`` and crops, so a cached image no larger than that square
(aspect kept, area-averaged) loses nothing it would have kept.

Whether it fits: `plan_cache` sums each record's capped ``height x width x 3`` bytes
(read from the records' ``image/height`` / ``image/width``, nothing decoded; a sample
of a big set) and caches only under ``fraction`` of the memory available now. A run with
several input pipelines (multi-worker) keeps Model Garden's reader.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

FRACTION = 0.25  # of MemAvailable the cache may take (training itself needs the rest)
OVERHEAD = 1024  # bytes per cached example besides its pixels (boxes, ids, tensors)


@dataclass(frozen=True)
class CachePlan:
    """Attributes:
        cache: decoded examples are cached.
        images: examples in the training records.
        bytes: the cache's estimated size.
        side: cached images fit this square (px).
        why: one line for the run's plan.
    """

    cache: bool
    images: int
    bytes: int
    side: int
    why: str


def available_bytes() -> int:
    """``MemAvailable`` from /proc/meminfo (0 where unknown: then nothing is cached)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def cache_side(input_size: int, scale_max: float) -> int:
    """The square the parser's largest scale jitter fits an image into (px)."""
    return math.ceil(input_size * max(1.0, scale_max))


def image_sizes(records: list[str | Path], limit: int = 0) -> list[tuple[int, int]]:
    """``(height, width)`` of the examples (the first ``limit``; 0 = all), from the TF OD
    API size features."""
    import tensorflow as tf

    spec = {"image/height": tf.io.FixedLenFeature([], tf.int64),
            "image/width": tf.io.FixedLenFeature([], tf.int64)}
    ds = tf.data.TFRecordDataset([str(r) for r in records])
    sizes = []
    for raw in ds.take(limit) if limit else ds:
        f = tf.io.parse_single_example(raw, spec)
        sizes.append((int(f["image/height"]), int(f["image/width"])))
    return sizes


def plan_cache(records: list[str | Path], input_size: int, scale_max: float,
               mode: str = "auto", count: int | None = None, available: int | None = None,
               fraction: float = FRACTION, sample: int = 512) -> CachePlan:
    """Cache or not: ``mode`` off, or auto (when the estimate fits ``fraction`` of the
    available memory). The estimate reads the sizes of the first ``sample`` examples and
    scales to ``count`` (all examples are read when ``count`` is None)."""
    side = cache_side(input_size, scale_max)
    if mode == "off":
        return CachePlan(False, count or 0, 0, side, "input cache: off ([train] input_cache)")
    sizes = image_sizes(records, sample if count else 0)
    count = count if count else len(sizes)
    per_image = 0.0
    for h, w in sizes:
        s = min(1.0, side / max(h, w))
        per_image += round(h * s) * round(w * s) * 3 + OVERHEAD
    total = round(per_image / max(1, len(sizes)) * count)
    available = available_bytes() if available is None else available
    budget = int(available * fraction)
    mb = f"{count} decoded images ≤ {side} px, ~{total / 2**20:.0f} MB"
    if total <= budget:
        return CachePlan(True, count, total, side,
                         f"input cache: {mb} in memory (under {fraction:.0%} of "
                         f"{available / 2**30:.1f} GB available)")
    return CachePlan(False, count, total, side,
                     f"input cache: off, {mb} would not fit {fraction:.0%} of "
                     f"{available / 2**30:.1f} GB available (images decoded every epoch)")


def use_cache(task, side: int) -> None:
    """Make ``task.build_inputs`` build cached training inputs (validation and other
    non-training data go through Model Garden's reader unchanged)."""
    original = task.build_inputs

    def build_inputs(params, input_context=None):
        if not params.is_training or (input_context and input_context.num_input_pipelines > 1):
            return original(params, input_context)  # several input workers: as Model Garden
        return cached_inputs(original, params, side, input_context)

    task.build_inputs = build_inputs


class _Captured(Exception):
    pass


def cached_inputs(build_inputs, params, side: int, input_context=None):
    """``build_inputs(params)``'s training dataset, with decoded, shrunk examples cached."""
    import tensorflow as tf
    from official.vision.dataloaders import input_reader_factory

    fns: dict = {}

    def capture(_params, **kwargs):
        fns.update(kwargs)
        raise _Captured

    real = input_reader_factory.input_reader_generator
    input_reader_factory.input_reader_generator = capture
    try:
        build_inputs(params, input_context)
    except _Captured:
        pass
    finally:
        input_reader_factory.input_reader_generator = real
    if "decoder_fn" not in fns:  # not the task layout this knows: Model Garden's reader as is
        return build_inputs(params, input_context)

    files = sorted({f for pattern in params.input_path.split(",")
                    for f in tf.io.gfile.glob(pattern.strip())})
    ds = tf.data.TFRecordDataset(files, num_parallel_reads=tf.data.AUTOTUNE)
    ds = ds.map(fns["decoder_fn"], num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.map(lambda example: _shrink(example, side), num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.cache().repeat()
    ds = ds.shuffle(params.shuffle_buffer_size, seed=params.seed)
    ds = ds.map(fns["parser_fn"], num_parallel_calls=tf.data.AUTOTUNE)
    batch = (input_context.get_per_replica_batch_size(params.global_batch_size)
             if input_context else params.global_batch_size)
    ds = ds.batch(batch, drop_remainder=params.drop_remainder)
    return ds.prefetch(tf.data.AUTOTUNE)


def _shrink(example: dict, side: int) -> dict:
    """The decoded image, area-averaged to fit ``side`` x ``side`` when larger (boxes are
    normalized: unchanged)."""
    import tensorflow as tf

    image = example["image"]
    shape = tf.shape(image)[:2]
    scale = tf.minimum(1.0, side / tf.cast(tf.reduce_max(shape), tf.float32))
    size = tf.cast(tf.round(tf.cast(shape, tf.float32) * scale), tf.int32)
    image = tf.cond(scale < 1.0,
                    lambda: tf.cast(tf.round(tf.image.resize(image, size, method="area")),
                                    tf.uint8),
                    lambda: image)
    out = dict(example)
    out["image"] = image
    out["height"], out["width"] = tf.cast(size[0], out["height"].dtype), \
        tf.cast(size[1], out["width"].dtype)
    return out

