"""Is there a GPU TensorFlow could use? Answered without importing TensorFlow.

``import tensorflow`` alone takes ~5 s on a small CPU, so asking TensorFlow would cost a
``.tflite`` bundle its one-second start. The rule, checked in this order:

1. ``CUDA_VISIBLE_DEVICES`` set to ``""`` or ``-1`` hides every GPU: no.
2. TensorFlow is not installed (the runtime-only install): no, nothing could use one.
3. An NVIDIA device node (``/dev/nvidia0``, ``/dev/nvidia1``, ...) exists: yes.

This can say yes where TensorFlow then finds no usable GPU (e.g. its CUDA libraries
are missing); set ``device = "cpu"`` (or ``--device cpu``) to decide it yourself.
"""

from __future__ import annotations

import glob
import importlib.util
import os


def gpu_visible() -> bool:
    """Whether a bundle on ``device = "auto"`` should expect a GPU (see the module doc)."""
    hidden = os.environ.get("CUDA_VISIBLE_DEVICES")
    if hidden is not None and hidden.strip() in ("", "-1"):
        return False
    if importlib.util.find_spec("tensorflow") is None:
        return False
    return any(name[len("/dev/nvidia"):].isdigit() for name in glob.glob("/dev/nvidia*"))
