"""The threaded video pipeline: reader → batcher → detector → sinks.

One thread per stage (the detector stage: ``detector.workers`` threads, so a CPU model
can run several calls side by side), joined by bounded `StageQueue`s. Two flow policies:

- ``mode="file"``: lossless and ordered; a full queue makes the stage before it wait
  (backpressure), so every decoded frame reaches every sink, in order.
- ``mode="live"``: queues drop their oldest item instead of waiting, the batcher sends
  what it has at once, and the detector always gets the freshest frames: latency stays
  bounded and no queue grows however fast the camera is.

Batches are numbered in frame order; the sink stage puts the detector threads' results
back in that order (file mode), or drops a result older than one already shown (live
mode: never go back in time). An exception in any stage sets the shared stop event;
every loop polls it, the threads are joined in reverse order, the sinks are closed
(finalizing outputs) and the error is re-raised in the caller. Ctrl+C does the same
and returns the stats with ``stopped_by="interrupt"``.

Python API: `run_pipeline(source, detector, sinks, cfg, mode=..., gate=..., progress=...)`.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from core.errors import UserError
from realtime.batching import Batch, Batcher, Captured, Gate, scale_detections
from realtime.config import PipelineConfig
from realtime.detections import Detections
from realtime.detectors.base import Detector
from realtime.frames import FrameResult
from realtime.queues import END, POLL_S, StageQueue
from realtime.sinks.base import Sink, StopPipeline
from realtime.sources import Source

MODES = ("file", "live")
JOIN_TIMEOUT_S = 10.0  # per thread at shutdown; a stage stuck longer is left (daemon)


class PipelineError(RuntimeError):
    """A stage failed; the message names the stage, ``__cause__`` is the original error."""


@dataclass
class PipelineStats:
    """What a run did. Counters are written by one stage each, read by anyone."""

    source: str = ""
    detector: str = ""  # `Detector.describe()`: which model file and engine ran
    mode: str = "file"
    frames_read: int = 0
    frames_detected: int = 0  # went through the detector
    frames_gated: int = 0  # the gate let them skip the detector
    frames_written: int = 0  # reached the sinks
    frames_dropped: int = 0  # live mode: thrown away to keep latency bounded
    decode_failures: int = 0
    failure_report: str = ""
    reconnects: int = 0
    batches: int = 0
    expected_frames: int | None = None
    started: float = field(default_factory=time.monotonic)
    elapsed: float = 0.0
    stopped_by: str = ""  # "end" | "interrupt" | "sink" (a sink asked, e.g. 'q') | "error"
    latencies: deque = field(default_factory=lambda: deque(maxlen=2000))
    max_queue: int = 0  # the fullest any queue got (live mode: stays at its bound)

    @property
    def fps(self) -> float:
        """Frames written per second of wall time so far."""
        seconds = self.elapsed or (time.monotonic() - self.started)
        return self.frames_written / seconds if seconds > 0 else 0.0

    def latency(self, q: float = 0.5) -> float:
        """A quantile of capture→result latency in seconds over the recent results."""
        values = sorted(self.latencies)
        if not values:
            return 0.0
        return values[min(len(values) - 1, int(q * len(values)))]

    def summary(self) -> str:
        parts = [f"{self.frames_written} frames in {self.elapsed:.1f} s ({self.fps:.1f} fps)",
                 f"latency median {self.latency() * 1000:.0f} ms"]
        if self.frames_gated:
            parts.append(f"{self.frames_gated} gated")
        if self.frames_dropped:
            parts.append(f"{self.frames_dropped} dropped")
        if self.reconnects:
            parts.append(f"{self.reconnects} reconnects")
        if self.decode_failures:
            parts.append(f"{self.decode_failures} undecodable")
        return ", ".join(parts)


def run_pipeline(source: Source, detector: Detector, sinks: Sequence[Sink],
                 cfg: PipelineConfig | None = None, mode: str = "file", gate: Gate | None = None,
                 progress: Callable[[PipelineStats], None] | None = None,
                 progress_every_s: float = 0.25,
                 tick: Callable[[], None] | None = None) -> PipelineStats:
    """Run ``source`` through ``detector`` into ``sinks`` until the source ends, a sink
    raises `StopPipeline`, Ctrl+C, or an error.

    Args:
        gate: optional ``gate(frame) -> bool`` called in frame order before batching;
            frames it rejects skip the detector and reach the sinks as
            ``FrameResult(..., detected=False)`` in their place.
        progress: called on the calling thread every ``progress_every_s`` with the stats.
        tick: called on the calling thread over and over while the stages run, for work
            that must stay on that thread (the live window); it returns within a few ms,
            and raising `StopPipeline` ends the run like a sink's.

    Returns:
        The stats. Sinks and the source are closed (outputs finalized) in every case.

    Raises:
        UserError: from a stage, unchanged (e.g. a stream that never came back).
        PipelineError: any other failure, naming the stage.
    """
    pipeline = Pipeline(source, detector, sinks, cfg or PipelineConfig(), mode, gate)
    return pipeline.run(progress, progress_every_s, tick)


class Pipeline:
    """The stages and their queues; `run` = start, wait, stop (in ``finally``)."""

    def __init__(self, source: Source, detector: Detector, sinks: Sequence[Sink],
                 cfg: PipelineConfig, mode: str, gate: Gate | None) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.source, self.detector, self.sinks = source, detector, list(sinks)
        self.cfg, self.mode, self.live = cfg, mode, mode == "live"
        self.batcher = Batcher(cfg.batch, cfg.max_wait_ms / 1000, gate, cfg.resize)
        self.stats = PipelineStats(source=source.name, detector=detector.describe(), mode=mode,
                                   expected_frames=source.expected_frames)
        self.workers = max(1, detector.workers)
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []
        self._counters = threading.Lock()  # the detector threads share the stats counters
        self._next_seq = 0
        self.stale = 0  # live mode: results dropped because a newer one was already shown
        self.error: tuple[str, BaseException] | None = None

    # ------------------------------------------------------------------ lifecycle

    def run(self, progress=None, every_s: float = 0.25, tick=None) -> PipelineStats:
        try:
            self.start()
            self.wait(progress, every_s, tick)
        except KeyboardInterrupt:
            self.stats.stopped_by = "interrupt"
        except StopPipeline:
            self.stats.stopped_by = "sink"
        finally:
            self.stop()
        if progress:
            progress(self.stats)
        if self.error:
            stage, exc = self.error
            if isinstance(exc, UserError):
                raise exc
            raise PipelineError(f"{stage} stage failed: {type(exc).__name__}: {exc}") from exc
        return self.stats

    def start(self) -> None:
        """Queues, then the stages from the last to the first."""
        self.make_queues()
        self.start_stage("sinks", self.sink_loop)
        for _ in range(self.workers):
            self.start_stage("detector", self.detect_loop)
        self.start_stage("batcher", self.batch_loop)
        self.start_stage("reader", self.read_loop)

    def make_queues(self) -> None:
        size, batch = self.cfg.queue_size, self.cfg.batch
        if self.live:  # just enough to fill one batch; one batch waiting; a few results
            self.frames_q = StageQueue(batch, drop_oldest=True)
            self.batches_q = StageQueue(1, drop_oldest=True, weight=len)
        else:
            self.frames_q = StageQueue(size, drop_oldest=False)
            self.batches_q = StageQueue(max(1, size // batch), drop_oldest=False, weight=len)
        self.results_q = StageQueue(max(1, size // batch), drop_oldest=self.live,
                                    weight=lambda done: len(done[1]))
        self.queues = [self.frames_q, self.batches_q, self.results_q]

    def start_stage(self, name: str, loop: Callable[[], None]) -> None:
        thread = threading.Thread(target=self._guard, args=(name, loop), name=f"lookout-{name}",
                                  daemon=True)
        self.threads.append(thread)
        thread.start()

    def wait(self, progress, every_s: float, tick=None) -> None:
        """Until every stage has finished; reports progress (and ticks) on this, the
        caller's, thread."""
        next_report = time.monotonic()
        for thread in self.threads:
            while thread.is_alive():
                if tick is not None:
                    tick()
                else:
                    thread.join(POLL_S)
                if progress and time.monotonic() >= next_report:
                    self._update_counters()
                    progress(self.stats)
                    next_report = time.monotonic() + every_s

    def stop(self) -> None:
        """Stop every stage (first to last: reader, batcher, detector, sinks), then
        finalize the sinks and release the source."""
        self.stop_event.set()
        for thread in reversed(self.threads):
            thread.join(JOIN_TIMEOUT_S)
        for sink in self.sinks:
            try:
                sink.close()
            except Exception as exc:  # noqa: BLE001 - finalize the others, report the first
                self._fail("sinks", exc)
        self.source.close()
        self._update_counters()
        self.stats.elapsed = time.monotonic() - self.stats.started
        if not self.stats.stopped_by:
            self.stats.stopped_by = "error" if self.error else "end"

    def _guard(self, name: str, loop: Callable[[], None]) -> None:
        try:
            loop()
        except StopPipeline:
            self.stats.stopped_by = self.stats.stopped_by or "sink"
            self.stop_event.set()
        except BaseException as exc:  # noqa: BLE001 - any stage error stops all stages
            self._fail(name, exc)

    def _fail(self, name: str, exc: BaseException) -> None:
        if self.error is None:
            self.error = (name, exc)
        self.stop_event.set()

    def _update_counters(self) -> None:
        s = self.stats
        s.frames_dropped = (sum(q.dropped for q in self.queues) + self.stale
                            if self.threads else 0)
        s.max_queue = max((q.high_water for q in self.queues), default=0)
        s.decode_failures = self.source.decode_failures
        s.failure_report = self.source.failure_report()
        s.reconnects = self.source.reconnects

    # ------------------------------------------------------------------ stages

    def read_loop(self) -> None:
        stop = self.stop_event
        # A file played in live mode stands in for a camera: deliver it at its own pace.
        pace = 1 / self.source.fps if self.live and not self.source.live and self.source.fps else 0
        start = time.monotonic()
        for n, frame in enumerate(self.source.frames(stop)):
            if pace and stop.wait(max(0.0, start + n * pace - time.monotonic())):
                return
            self.stats.frames_read += 1
            if not self.frames_q.put(Captured(frame, time.monotonic()), stop):
                return
        self.frames_q.put_end(stop)

    def batch_loop(self) -> None:
        stop, batcher = self.stop_event, self.batcher
        while not stop.is_set():
            now = time.monotonic()
            timeout = POLL_S if batcher.deadline is None else batcher.deadline - now
            try:
                item = self.frames_q.get(min(POLL_S, timeout))
            except queue.Empty:
                self._send_batches(batcher.due(time.monotonic()))
                continue
            if item is END:
                self._send_batches(batcher.flush())
                self.batches_q.put_end(stop)
                return
            ready = batcher.add(item, time.monotonic())
            if self.live and self.frames_q.qsize() == 0:
                ready += batcher.flush()  # live: never hold frames back waiting for more
            self._send_batches(ready + batcher.due(time.monotonic()))

    def _send_batches(self, batches: list[Batch]) -> None:
        for batch in batches:
            batch.seq, self._next_seq = self._next_seq, self._next_seq + 1
            self.stats.frames_gated += len(batch) - len(batch.inputs)
            self.batches_q.put(batch, self.stop_event)

    def detect_loop(self) -> None:
        stop = self.stop_event
        while not stop.is_set():
            try:
                batch = self.batches_q.get()
            except queue.Empty:
                continue
            if batch is END:
                self.batches_q.put_end(stop)  # for the other detector threads
                self.results_q.put_end(stop)
                return
            found = iter(self.detector.detect(batch.inputs) if batch.inputs else [])
            with self._counters:
                self.stats.batches += bool(batch.inputs)
                self.stats.frames_detected += len(batch.inputs)
            results = []
            for item, detect in zip(batch.items, batch.detect, strict=True):
                dets = scale_detections(next(found), batch.scale) if detect else Detections.empty()
                results.append(FrameResult(item.frame, dets, detected=detect,
                                           latency=time.monotonic() - item.t_capture))
            if not self.results_q.put((batch.seq, results), stop):
                return

    def sink_loop(self) -> None:
        stop = self.stop_event
        pending: dict[int, list[FrameResult]] = {}  # file mode: done early, waiting their turn
        next_seq, ended = 0, 0
        while not stop.is_set():
            try:
                item = self.results_q.get()
            except queue.Empty:
                continue
            if item is END:
                ended += 1
                if ended == self.workers:
                    return
                continue
            seq, results = item
            if self.live:
                if seq < next_seq:  # a newer frame is already out
                    self.stale += len(results)
                    continue
                pending[seq] = results
                next_seq = seq
            else:
                pending[seq] = results
            while next_seq in pending:
                self._write(pending.pop(next_seq))
                next_seq += 1

    def _write(self, results: list[FrameResult]) -> None:
        for result in results:
            for sink in self.sinks:
                sink.write(result)
            self.stats.frames_written += 1
            self.stats.latencies.append(result.latency)
