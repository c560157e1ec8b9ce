"""The threaded engine on one source (`run_job`): order, batching, gate, live drop
policy, errors, stop requests.

These use a small deterministic in-test `Detector` (cheap, and it records its batches);
the end-to-end runs with the real bundle are in test_annotate.py.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

from core.errors import UserError
from realtime.batching import shrink
from realtime.config import PipelineConfig
from realtime.engine.job import Job, JobSource, run_job
from realtime.engine.lanes import Lane
from realtime.engine.streams import PipelineError
from tests.fixtures.engine import (
    BrightnessDetector,
    ListSink,
    ParallelBrightnessDetector,
    SyntheticSource,
)


def run(source, detector, sinks, **kw):
    mode = kw.pop("mode", "file")
    gate = kw.pop("gate", None)
    return run_job(Job(detector, [JobSource(source, outputs=sinks, gate=gate)], policy=mode,
                       pipeline_cfg=PipelineConfig(**kw)))


def test_file_mode_is_lossless_ordered_and_equals_a_sequential_run():
    detector, sink = BrightnessDetector(), ListSink()
    stats = run(SyntheticSource(50), detector, [sink], batch=4, max_wait_ms=50, queue_size=3)
    assert [r.frame.index for r in sink.results] == list(range(50))
    sequential = [BrightnessDetector().detect([f.rgb])[0] for f in
                  SyntheticSource(50).frames(threading.Event())]
    for got, want in zip(sink.results, sequential, strict=True):
        np.testing.assert_array_equal(got.detections.xyxy, want.xyxy)
        np.testing.assert_array_equal(got.detections.scores, want.scores)
    assert stats.frames_read == stats.frames_written == stats.frames_detected == 50
    assert stats.frames_dropped == 0 and stats.stopped_by == "end"
    assert max(detector.batches) == 4 and sum(detector.batches) == 50
    assert sink.closed == 1


def test_parallel_detector_calls_come_back_in_frame_order():
    detector, sink = ParallelBrightnessDetector(workers=3), ListSink()
    stats = run(SyntheticSource(60), detector, [sink], batch=2, max_wait_ms=50, queue_size=4)
    assert detector.most_at_once > 1  # the calls really overlapped
    assert [r.frame.index for r in sink.results] == list(range(60))
    for result in sink.results:  # each frame got its own answer, not a neighbour's
        assert result.detections.scores[0] == pytest.approx(result.frame.index / 255)
    assert stats.frames_written == stats.frames_detected == 60 and stats.frames_dropped == 0
    assert stats.stopped_by == "end" and sink.closed == 1


def test_live_mode_with_parallel_calls_never_goes_back_in_time():
    detector, sink = ParallelBrightnessDetector(workers=3), ListSink()
    stats = run(SyntheticSource(300, live=True, fps=2000), detector, [sink], mode="live", batch=1,
                queue_size=4)
    indices = [r.frame.index for r in sink.results]
    assert indices == sorted(set(indices))  # strictly increasing: a late result is dropped
    assert stats.frames_written + stats.frames_dropped == stats.frames_read == 300
    assert detector.most_at_once > 1


def test_batches_hold_frames_of_one_size_only():
    """Frames wait in one group per size (one device call runs one size): a size change
    does not cut the other size's batch short, and the sinks still get frame order."""
    detector, sink = SizeLog(), ListSink()
    sizes = ((32, 48), (32, 48), (20, 20))  # two frames of one size, then one of another
    run(SyntheticSource(12, sizes=sizes), detector, [sink], batch=8, max_wait_ms=1000)
    assert all(len(set(call)) == 1 for call in detector.shapes)
    assert detector.batches == [8, 4]  # full group first, the other at the end
    assert [r.frame.index for r in sink.results] == list(range(12))


class SizeLog(BrightnessDetector):
    def __init__(self):
        super().__init__()
        self.shapes = []

    def detect(self, images):
        self.shapes.append([img.shape for img in images])
        return super().detect(images)


def test_gate_skips_the_detector_and_keeps_order():
    detector, sink = BrightnessDetector(), ListSink()
    stats = run(SyntheticSource(30), detector, [sink], batch=4,
                gate=lambda frame: frame.index % 3 == 0)
    assert [r.frame.index for r in sink.results] == list(range(30))
    assert [r.detected for r in sink.results] == [i % 3 == 0 for i in range(30)]
    assert all(len(r.detections) == 0 for r in sink.results if not r.detected)
    assert all(len(r.detections) == 1 for r in sink.results if r.detected)
    assert sum(detector.batches) == 10 == stats.frames_detected
    assert stats.frames_gated == 20


def test_resize_shrinks_before_the_detector_and_maps_boxes_back():
    detector, sink = BrightnessDetector(), ListSink()
    run(SyntheticSource(4, sizes=((100, 200),)), detector, [sink], batch=2, resize=50)
    # The detector saw 25x50 images; its half-size box maps back to the 100x200 frame.
    np.testing.assert_allclose(sink.results[0].detections.xyxy[0], [0, 0, 100, 50])
    small, scale = shrink(np.zeros((100, 200, 3), np.uint8), 50)
    assert small.shape == (25, 50, 3) and scale == 4


def test_live_mode_drops_oldest_and_queues_never_grow():
    detector, sink = BrightnessDetector(delay=0.02), ListSink()
    stats = run(SyntheticSource(400, live=True), detector, [sink], mode="live", batch=2,
                queue_size=4)
    assert stats.frames_dropped > 0
    assert stats.frames_written + stats.frames_dropped == stats.frames_read == 400
    assert stats.max_queue <= 4  # no queue ever held more than its bound
    indices = [r.frame.index for r in sink.results]
    assert indices == sorted(indices)  # what survives is still in order
    assert indices[-1] == 399  # the newest frame is never the one dropped


def test_drop_oldest_lane_keeps_the_newest_items():
    lane, stop = Lane(3, drop_oldest=True), threading.Event()
    for i in range(10):
        assert lane.put(i, stop)
    assert lane.dropped == 7 and len(lane) == 3
    with lane.cond:
        assert [lane.pop() for _ in range(3)] == [7, 8, 9]


def test_lossless_lane_put_gives_up_when_stopped():
    lane, stop = Lane(1, drop_oldest=False), threading.Event()
    assert lane.put("a", stop)
    threading.Timer(0.2, stop.set).start()
    assert lane.put("b", stop) is False  # blocked by backpressure until the stop


@pytest.mark.parametrize("where", ["detector", "sink", "source"])
def test_an_error_in_any_stage_stops_all_and_is_reported(where):
    detector = BrightnessDetector(fail_on_call=3 if where == "detector" else None)
    sink = ListSink(fail_at=7 if where == "sink" else None)
    source = SyntheticSource(10_000, fail_at=20 if where == "source" else None)
    with pytest.raises(PipelineError) as info:
        run(source, detector, [sink], batch=2, queue_size=2)
    stage = {"detector": "detector", "sink": "sinks", "source": "reader"}[where]
    assert str(info.value).startswith(f"{stage} stage failed")
    assert sink.closed == 1 and source.closed  # outputs finalized, source released
    assert len(sink.results) < 100  # it stopped instead of running through 10000 frames
    assert not [t for t in threading.enumerate() if t.name.startswith("lookout-")]


def test_user_errors_pass_through_unchanged():
    class Lost(SyntheticSource):
        def frames(self, stop):
            yield from super().frames(stop)
            raise UserError("rtsp://cam: stream lost and not back after 5 s")

    with pytest.raises(UserError, match="stream lost"):
        run(Lost(3), BrightnessDetector(), [ListSink()])


def test_a_sink_can_end_the_run_normally():
    sink, other = ListSink(stop_at=5), ListSink()
    stats = run(SyntheticSource(1000), BrightnessDetector(), [sink, other], batch=1)
    assert stats.stopped_by == "sink"
    assert len(sink.results) == 5 and other.closed == 1


def test_a_partial_batch_goes_out_after_max_wait():
    class Pausing(SyntheticSource):
        def frames(self, stop):
            for frame in super().frames(stop):
                if frame.index == 2 and stop.wait(0.6):  # the camera stalls a while
                    return
                yield frame

    detector = BrightnessDetector()
    run(Pausing(3), detector, [ListSink()], batch=3, max_wait_ms=100)
    assert detector.batches == [2, 1]  # did not wait for a third frame past max_wait


def test_a_file_in_live_mode_is_played_at_its_own_frame_rate():
    source = SyntheticSource(10)  # a file (not live) ...
    source.fps = 50.0
    stats = run(source, BrightnessDetector(), [ListSink()], mode="live", batch=1)
    assert stats.frames_read == 10
    assert stats.elapsed >= 9 / 50  # ... delivered like a 50 fps camera, not all at once
