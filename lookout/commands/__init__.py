"""One module per CLI verb; see `lookout.cli`."""
