"""lookout's runtime: detectors, video sources, the threaded pipeline, sinks, alerts.

Never imports `training` or tf-models-official.
"""
