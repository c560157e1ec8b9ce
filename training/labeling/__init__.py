"""The labeling loop: frames grabbed from video, and model-assisted labelImg XML."""
