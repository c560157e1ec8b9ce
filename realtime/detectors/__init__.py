"""Detector backends behind one interface; see `base.Detector` and `load_detector`.

Importing this package does not import TensorFlow; opening a model does.
"""

from realtime.detectors.base import Detector
from realtime.detectors.loader import BACKENDS, load_detector

__all__ = ["BACKENDS", "Detector", "load_detector"]
