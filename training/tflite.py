"""``model.tflite`` and ``model_int8.tflite``: the run's detector for LiteRT.

Both files share one graph: one fixed-size uint8 RGB image ``[1, S, S, 3]`` (S = the
model's input size; the runtime letterboxes into it: scaled to fit, padded right and
bottom, as Model Garden's preprocessing does), normalization, the network, and TFLite's
built-in ``TFLite_Detection_PostProcess`` op for box decoding and per-class NMS. They
return the four OD API outputs of the SavedModel; boxes are normalized to the padded
square (the runtime maps them back to the image).

Why not Model Garden's own NMS, as the SavedModel has: converted to TFLite it becomes two
``WHILE`` loops, TopK, gathers and dozens of small element-wise ops, which cost more than
the convolutions at these input sizes and get slower with more threads; and an in-graph
resize for any input size costs more again (measured in `lookout bench peer`). The
export's self-check (`training.verify`) holds the file to the checkpoint model's
detections.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from training.model import load_params


def detection_graph(run_dir: str | Path, checkpoint: str):
    """The fixed-size graph above as ``(concrete function, module that owns it, size)``."""
    import tensorflow as tf
    from official.vision.ops import preprocess_ops
    from official.vision.serving.detection import DetectionModule

    from realtime.bundle import EXPORT_SCORE_THRESHOLD

    generator = load_params(run_dir).task.model.detection_generator
    # Per class (regular NMS) like Model Garden's v2 NMS, with its IoU and detection cap.
    overrides = {"task": {"model": {"detection_generator": {
        "pre_nms_score_threshold": EXPORT_SCORE_THRESHOLD, "nms_version": "tflite",
        "tflite_post_processing": {
            "max_detections": int(generator.max_num_detections), "use_regular_nms": True,
            "detections_per_class": int(generator.max_num_detections),  # dropped: see
            # `with_detections_per_class`
            # Outputs are max_detections x this rows: 1 keeps them at the SavedModel's N
            # (regular NMS fills max_detections rows; the rest were uninitialized memory).
            "max_classes_per_detection": 1,
            "nms_iou_threshold": float(generator.nms_iou_threshold),
            "normalize_anchor_coordinates": True,
            "nms_score_threshold": EXPORT_SCORE_THRESHOLD}}}}}
    params = load_params(run_dir, overrides)
    size = list(params.task.model.input_size[:2])
    module = DetectionModule(params, batch_size=1, input_image_size=size, input_type="tflite")
    status = tf.train.Checkpoint(model=module.model).read(checkpoint)
    status.expect_partial().assert_existing_objects_matched()
    mean = tf.constant(preprocess_ops.MEAN_RGB, tf.float32)
    std = tf.constant(preprocess_ops.STDDEV_RGB, tf.float32)

    @tf.function(input_signature=[tf.TensorSpec([1, *size, 3], tf.uint8, name="images")])
    def serve(images):
        # Model Garden's serve() would rescale the NMS op's boxes with float ops after it,
        # which the quantizer turns into int8 (boxes in steps of 1/255): call the model
        # itself and return the op's float outputs as they are.
        det = module.model.call(images=(tf.cast(images, tf.float32) - mean) / std,
                                image_shape=tf.constant([size], tf.float32),
                                anchor_boxes=module._build_anchor_boxes(), training=False)
        # 0-based classes → label ids; int32 arithmetic is never quantized.
        classes = tf.cast(tf.cast(det["detection_classes"], tf.int32) + 1, tf.float32)
        return {"detection_boxes": det["detection_boxes"],
                "detection_scores": det["detection_scores"],
                "detection_classes": classes,
                "num_detections": tf.cast(det["num_detections"], tf.float32)}

    with _skip_background_column():  # the NMS op's attributes are set when tracing
        concrete = serve.get_concrete_function()
    return concrete, module, size[0]


def write_tflite(run_dir: str | Path, checkpoint: str, path: Path) -> None:
    """The float file: float32 weights and activations, builtin ops only."""
    import tensorflow as tf

    concrete, module, _ = detection_graph(run_dir, checkpoint)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], module)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    converter.allow_custom_ops = True  # TFLite_Detection_PostProcess, built into LiteRT
    path.write_bytes(with_detections_per_class(converter.convert()))


def with_detections_per_class(flatbuffer: bytes) -> bytes:
    """The converted file with its NMS op keeping as many boxes a class as it returns an
    image (its ``max_detections``, the run's model's).

    The converter drops ``detections_per_class`` from Model Garden's op signature, and
    LiteRT's op then keeps 100 boxes a class (its ``kNumDetectionsPerClass``): a model
    made to return 250 boxes an image (`training.fit.max_detections_for`) returned 100
    from its .tflite files, and a one-class model lost AP50 0.573 → 0.422 on the mosaics.
    """
    import numpy as np
    from flatbuffers import flexbuffers
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(flatbuffer))
    for subgraph in model.subgraphs:
        for op in subgraph.operators:
            if model.operatorCodes[op.opcodeIndex].customCode != b"TFLite_Detection_PostProcess":
                continue
            options = flexbuffers.Loads(bytes(op.customOptions))
            options["detections_per_class"] = options["max_detections"]
            op.customOptions = np.frombuffer(flexbuffers.Dumps(options), np.uint8)
    return flatbuffer_utils.convert_object_to_bytearray(model)


@contextmanager
def _skip_background_column() -> Iterator[None]:
    """Model Garden hands the NMS op every score column, background (0) included, so
    the op would report background boxes as class 0. Declaring one class fewer makes the
    op skip column 0 (its ``label_offset``, as in the OD API's SSD models) and number the
    real classes from 0; `detection_graph` adds the 1 back."""
    from official.vision.modeling.layers import detection_generator as dg

    original = dg._generate_detections_tflite_implements_signature
    dg._generate_detections_tflite_implements_signature = (
        lambda config: original({**config, "num_classes": config["num_classes"] - 1}))
    try:
        yield
    finally:
        dg._generate_detections_tflite_implements_signature = original
