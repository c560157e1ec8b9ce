"""lookout's runtime: detectors, video sources, the threaded pipeline, sinks, alerts.

Owns the ``[detector]``, ``[pipeline]``, ``[annotate]`` and ``[live]`` tables
(`realtime.config`) and ``[watch]`` (`realtime.watch.config`). Sits on `core` only:
never imports `training`, tf-models-official or `lookout`, and never draws (progress
goes out through callbacks); `tests/test_layers.py` checks it.
"""
