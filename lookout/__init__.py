"""lookout: train a detector on your own images, then run it on live video."""

__version__ = "0.1.0"
