"""Tracking and counting: stable object ids per source (ByteTrack), line crossings and
zone occupancy read from the tracks, and the per-source step that applies them to each
frame's detections before the sinks."""
