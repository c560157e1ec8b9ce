"""Detector backends behind one interface; see `base.Detector` and `load_detector`."""
