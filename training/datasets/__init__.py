"""Annotated-image datasets: readers, checks, splits and TFRecord writing."""
