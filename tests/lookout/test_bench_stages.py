"""`lookout bench pipeline --stages` on a short real clip and the colour-blob bundle: every
stage is measured, track and draw get the synthetic boxes, the drawn frames are what the
encoder wrote (a real MP4 read back)."""

from __future__ import annotations

import sys

import imageio.v3 as iio
import numpy as np

from lookout.commands.bench import BENCH_DIR


def test_stage_costs_measure_each_stage_and_encode_the_drawn_frames(color_bundle, tmp_path):
    if str(BENCH_DIR) not in sys.path:
        sys.path.insert(0, str(BENCH_DIR))
    from bench_media import make_720p_clip
    from pipeline_stages import STAGES, stage_costs

    from realtime.config import DetectorConfig
    from realtime.detectors import load_detector

    clip = make_720p_clip(tmp_path / "clip.mp4", 8)
    detector = load_detector(color_bundle, DetectorConfig(score=0.3))
    s = stage_costs(detector, clip, tmp_path, resize=128, batch=4, preset="ultrafast",
                    frames=6, boxes=3)
    assert s["frames"] == 6 and s["boxes_per_frame"] == 3
    assert all(s[stage] > 0 for stage in STAGES), {k: s[k] for k in STAGES}
    frames = list(iio.imiter(tmp_path / "stages.mp4"))
    assert len(frames) == 6
    # the boxes are in what the encoder got: the drawn frames, not the decoded ones
    drawn = np.asarray(s["drawn"][0], np.int16)
    assert np.abs(np.asarray(frames[0], np.int16) - drawn).mean() < 6
    undrawn = next(iter(iio.imiter(clip)))
    assert np.abs(np.asarray(undrawn, np.int16) - drawn).max() > 100
