"""The multi-source engine: per-source order and policies, cross-stream batches, fairness,
one source failing while the others go on, the open window, shared sinks, the job runner.

Cheap in-test detector and sources (tests/fixtures/engine.py); the real bundle runs in
test_annotate.py, test_multi.py and the watch tests.
"""

from __future__ import annotations

import os
import signal
import threading

import pytest

from core.errors import UserError
from realtime.config import PipelineConfig
from realtime.engine.job import Job, JobSource, run_job
from realtime.engine.lanes import Lane, RoundRobin, take_fair
from realtime.engine.streams import Engine, Stream
from realtime.sinks.base import Sink
from tests.fixtures.engine import BrightnessDetector, ListSink, SyntheticSource


class SourceLog(BrightnessDetector):
    """Records which source each image of each call came from (by its brightness)."""

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__(delay)
        self.calls: list[list[int]] = []

    def detect(self, images):
        self.calls.append([int(img[0, 0, 0]) for img in images])
        return super().detect(images)


def engine_run(sources, detector, mode="file", sinks=None, **cfg):
    sinks = sinks or [ListSink() for _ in sources]
    streams = [Stream(source=src, sinks=lambda _s, k=k: [k]) for src, k in zip(sources, sinks,
                                                                                  strict=True)]
    stats = Engine(streams, detector, PipelineConfig(**cfg), mode=mode).run()
    return stats, sinks


def test_each_source_gets_its_own_frames_in_order_and_batches_mix_sources():
    together = threading.Barrier(3)
    sources = [SyntheticSource(n, name=f"cam{k}", value=10 * (k + 1), barrier=together)
               for k, n in enumerate((30, 20, 25))]
    detector = SourceLog(delay=0.003)
    stats, sinks = engine_run(sources, detector, batch=3, max_wait_ms=50)
    for src, sink in zip(sources, sinks, strict=True):
        assert [r.frame.index for r in sink.results] == list(range(src.n))
        assert {r.frame.source for r in sink.results} == {src.name}
        assert sink.closed == 1 and src.closed
    assert [s.frames_written for s in stats.sources] == [30, 20, 25]
    assert stats.frames_written == stats.frames_detected == 75 and stats.stopped_by == "end"
    assert max(len(set(c)) for c in detector.calls) == 3  # one call served three cameras


def test_fair_round_robin_in_file_mode():
    # a detector slower than decoding keeps both lanes full: each could fill every batch
    # alone, yet the batcher takes one frame of each in turn
    detector = SourceLog(delay=0.005)
    together = threading.Barrier(2)
    engine_run([SyntheticSource(40, name="a", value=1, barrier=together),
                SyntheticSource(40, name="b", value=2, barrier=together)],
               detector, batch=4, max_wait_ms=1000, queue_size=8)
    # 20 calls of 4; once both lanes are full (after a start where one reader may get
    # ahead), each call holds 2 + 2
    middle = detector.calls[4:14]
    assert sum(c.count(1) == c.count(2) == 2 for c in middle) >= 8, detector.calls


def run_fast_and_slow(delay: float, slow_fps: float = 20):
    """A camera delivering as fast as it can next to a slow one (20 frames), one detector."""
    fast = SyntheticSource(100_000, live=True, name="fast", value=1)
    slow = SyntheticSource(20, live=True, name="slow", value=2, fps=slow_fps)
    detector = SourceLog(delay=delay)
    slow_sink = ListSink()

    class StopWhenSlowEnds(Sink):
        def write(self, result):
            pass

        def close(self):
            engine.stop_event.set()  # the slow camera is done: end the run

    streams = [Stream(source=fast, sinks=lambda _s: [ListSink()]),
               Stream(source=slow, sinks=lambda _s: [slow_sink, StopWhenSlowEnds()])]
    engine = Engine(streams, detector, PipelineConfig(batch=1), mode="live")
    stats = engine.run()
    indices = [r.frame.index for r in slow_sink.results]
    assert indices == sorted(indices)
    order = [v for call in detector.calls for v in call]
    return stats, order.count(1), order.count(2)


def test_a_fast_source_cannot_starve_a_slow_one():
    # the detector (50 calls/s) has room for the 10 fps camera: it gets (nearly) every frame
    stats, _fast_calls, _slow_calls = run_fast_and_slow(delay=0.02, slow_fps=10)
    fast_stats, slow_stats = stats.sources
    assert slow_stats.frames_written >= 15  # of 20 (slack for a loaded machine)
    assert fast_stats.frames_dropped > 0  # the fast one pays for the slow detector


def test_an_overloaded_detector_is_shared_equally():
    # 14 calls/s for 20 + many frames/s: round robin gives each camera about half
    _stats, fast_calls, slow_calls = run_fast_and_slow(delay=0.07)
    assert slow_calls >= 0.75 * fast_calls and slow_calls >= 4


def test_live_policy_drops_per_source_and_latency_stays_bounded():
    sources = [SyntheticSource(300, live=True, name=f"cam{k}", value=k + 1) for k in range(3)]
    stats, sinks = engine_run(sources, BrightnessDetector(delay=0.005), mode="live", batch=2)
    for s, sink in zip(stats.sources, sinks, strict=True):
        assert s.frames_written + s.frames_dropped == s.frames_read == 300
        indices = [r.frame.index for r in sink.results]
        assert indices == sorted(indices)  # never back in time
    assert stats.max_queue <= 2


def test_one_source_failing_mid_run_ends_only_itself():
    good = [SyntheticSource(40, name="good1", value=1), SyntheticSource(40, name="good2", value=2)]
    bad = SyntheticSource(40, name="bad", value=3, fail_at=10)
    stats, sinks = engine_run([good[0], bad, good[1]], BrightnessDetector(), batch=2)
    assert [len(sinks[0].results), len(sinks[2].results)] == [40, 40]
    assert len(sinks[1].results) == 10 and sinks[1].closed == 1
    assert stats.sources[1].state == "failed" and "camera unplugged" in stats.sources[1].error
    assert stats.stopped_by == "end" and stats.errors == ["OSError: camera unplugged"]


def test_a_source_that_cannot_open_while_others_run():
    def refuse(stop):
        raise UserError("rtsp://127.0.0.1:9/none: cannot connect to the stream within 1 s")

    ok = SyntheticSource(30, name="ok")
    sink_ok, sink_bad = ListSink(), ListSink()
    streams = [Stream(open=refuse, sinks=lambda _s: [sink_bad], name="door"),
               Stream(source=ok, sinks=lambda _s: [sink_ok])]
    stats = Engine(streams, BrightnessDetector(), PipelineConfig(batch=2)).run()
    assert len(sink_ok.results) == 30 and not sink_bad.results
    assert stats.sources[0].state == "failed" and "cannot connect" in stats.sources[0].error


def test_a_single_source_failure_still_stops_the_run():
    with pytest.raises(UserError, match="gone"):
        def fail(stop):
            raise UserError("gone")
        Engine([Stream(open=fail)], BrightnessDetector(), PipelineConfig()).run()


def test_max_open_opens_in_order_and_finalizes_each_source_as_it_ends():
    opened, log = [], []
    lock = threading.Lock()

    class Tracked(SyntheticSource):
        def close(self):
            super().close()
            with lock:
                opened.remove(self.name)
                log.append(("close", self.name))

    def opener(k):
        def open_(stop):
            with lock:
                opened.append(f"clip{k}")
                log.append(("open", f"clip{k}"))
                assert len(opened) <= 2
            return Tracked(15, name=f"clip{k}", value=k + 1)
        return open_

    sinks = [ListSink() for _ in range(5)]
    streams = [Stream(open=opener(k), sinks=lambda _s, k=k: [sinks[k]]) for k in range(5)]
    Engine(streams, BrightnessDetector(), PipelineConfig(batch=4), max_open=2).run()
    assert [name for what, name in log if what == "open"] == [f"clip{k}" for k in range(5)]
    assert all(len(s.results) == 15 and s.closed == 1 for s in sinks)
    first_close = min(log.index(("close", "clip0")), log.index(("close", "clip1")))
    assert first_close < log.index(("open", "clip2"))


def test_a_sink_shared_by_sources_is_closed_once_after_the_last():
    shared = ListSink()
    sources = [SyntheticSource(n, name=f"s{n}") for n in (5, 30)]
    streams = [Stream(source=src, fixed_sinks=[shared]) for src in sources]
    Engine(streams, BrightnessDetector(), PipelineConfig(batch=2)).run()
    assert shared.closed == 1 and len(shared.results) == 35


def test_a_sink_error_stops_every_source_and_closes_all_outputs():
    sources = [SyntheticSource(10_000, name=f"s{k}") for k in range(3)]
    sinks = [ListSink(), ListSink(fail_at=5), ListSink()]
    from realtime.engine.streams import PipelineError

    with pytest.raises(PipelineError, match="sinks stage failed: OSError: disk full"):
        engine_run(sources, BrightnessDetector(), sinks=sinks, batch=2)
    # every output that was built got finalized (a source stopped before it opened has none)
    assert sinks[1].closed == 1 and all(s.closed == 1 for s in sinks if s.results)
    assert all(src.closed for src in sources)


def test_job_with_callback_outputs_like_on_prediction():
    seen: dict[str, list[int]] = {"a": [], "b": []}
    job = Job(BrightnessDetector(), [
        JobSource(SyntheticSource(12, name="a"), on_result=lambda r: seen["a"].append(r.frame.index)),
        JobSource(SyntheticSource(7, name="b"), on_result=lambda r: seen["b"].append(r.frame.index)),
    ], pipeline_cfg=PipelineConfig(batch=4))
    stats = run_job(job)
    assert seen == {"a": list(range(12)), "b": list(range(7))}
    assert stats.mode == "file" and [s.name for s in stats.sources] == ["a", "b"]


def test_job_fails_fast_on_a_bad_file_before_loading_the_model(tmp_path):
    job = Job(tmp_path / "no-model", [JobSource(str(tmp_path / "missing.mp4"))])
    with pytest.raises(UserError, match="missing.mp4: no such video file"):
        run_job(job)


def test_round_robin_takes_one_per_lane_per_pass():
    cond = threading.Condition()
    lanes = [Lane(10, False, cond) for _ in range(3)]
    stop = threading.Event()
    for k, n in enumerate((5, 1, 3)):
        for i in range(n):
            lanes[k].put((k, i), stop)
    rr = RoundRobin(3)
    with cond:
        first = take_fair(lanes, rr, 4)
        second = take_fair(lanes, rr, 4)
    assert [lane for lane, _ in first] == [0, 1, 2, 0]
    assert [lane for lane, _ in second] == [2, 0, 2, 0]  # starts after the lane served last


def test_drop_oldest_lane_never_drops_the_end():
    lane = Lane(2, True)
    stop = threading.Event()
    for i in range(5):
        lane.put(i, stop)
    lane.end(5)
    assert list(lane.items) == [3, 4] and lane.dropped == 3 and lane.ended and not lane.finished


def test_stop_from_outside_ends_a_never_ending_live_job_quickly():
    engine = Engine([Stream(source=SyntheticSource(10**9, live=True, name="cam", fps=100))],
                    BrightnessDetector(), PipelineConfig(batch=1), mode="live")
    threading.Timer(0.3, engine.stop_event.set).start()
    stats = engine.run()
    assert stats.frames_written > 0 and stats.stopped_by == "end"
    # every stage ended by itself (none left behind after the join timeout) and each
    # source's outputs were finalized by its own sink thread
    assert not [t.name for t in engine.threads if t.is_alive()]
    assert all(slot.finished.is_set() and slot.closed for slot in engine.slots)


class ThreadCheckingSink(Sink):
    """Notes which threads write and close it, and whether a close ever came mid-write."""

    def __init__(self) -> None:
        self.writers: set[str] = set()
        self.closer = ""
        self.writing = False
        self.closed_mid_write = False
        self.written = threading.Semaphore(0)

    def write(self, result) -> None:
        self.writing = True
        self.writers.add(threading.current_thread().name)
        sum(range(20_000))  # a frame's worth of work, during which a close must not come
        self.writing = False
        self.written.release()

    def close(self) -> None:
        self.closed_mid_write |= self.writing
        self.closer = threading.current_thread().name


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_asks_to_stop_and_the_writer_closes_its_own_output(sig):
    """Ctrl+C / SIGTERM (as `lookout` maps it) during a run: no exception lands in the
    engine; the sink thread finishes its frame and closes its own output."""
    before = signal.signal(signal.SIGTERM, signal.default_int_handler)  # as lookout.cli
    try:
        sink = ThreadCheckingSink()
        engine = Engine([Stream(source=SyntheticSource(10**9, live=True, fps=200),
                                fixed_sinks=[sink])], BrightnessDetector(),
                        PipelineConfig(batch=1), mode="live")

        def interrupt() -> None:
            for _ in range(5):
                sink.written.acquire(timeout=60)
            os.kill(os.getpid(), sig)

        threading.Thread(target=interrupt, daemon=True).start()
        stats = engine.run()  # returns: no KeyboardInterrupt escapes
    finally:
        signal.signal(signal.SIGTERM, before)
    assert stats.stopped_by == "interrupt" and stats.frames_written >= 5
    assert sink.writers == {"lookout-sinks-0"} and sink.closer == "lookout-sinks-0"
    assert not sink.closed_mid_write
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back
