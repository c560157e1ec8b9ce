"""Sinks: where results go (annotated video, JSONL, window, alerts)."""
