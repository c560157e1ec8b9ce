"""The engine's threads: one reader per source → one fair batcher → detector workers →
one sink thread per source.

```
source 1 ─reader─┐                                            ┌─► sink thread 1 (reorder) ─► sinks 1
source 2 ─reader─┼─► batcher (round robin, B frames ─► detector ├─► sink thread 2 (reorder) ─► sinks 2
source N ─reader─┘    or max_wait) ──────────────────  workers  └─► sink thread N (reorder) ─► sinks N
```

Each source has its own input lane and output lane (`Lane`) with its own flow policy:
lossless for files (backpressure, every frame written, in order), drop-oldest for live
sources (bounded latency). The batcher numbers each source's frames as it takes them;
each sink thread puts its source's results back in that order (file) or drops a result
older than one already written (live). A frame the source's gate rejects skips the
detector and goes straight to its sink thread, still in order.

In live mode the batcher builds a batch only when a detector worker is free, so frames
wait in their (drop-oldest) lanes, not in a batch: what the detector gets is the freshest.

Stopping: each output is closed by the thread that writes it. `stop` only asks (sets
the stop event); a sink thread finishes the frame it is writing, then finalizes its
source's outputs, and a reader closes the source it reads. Ctrl+C and SIGTERM during a
run are such requests too (`realtime.engine.signals`), never an exception thrown into
the middle of the stopping path.

Failures: an error in the batcher, a detector worker or a sink stops every stage. A
source that fails to open or dies stops only itself when the engine isolates sources
(several sources), and its stats say why; with one source it stops the run as before.
``max_open`` bounds how many sources are open at once (the rest wait their turn, in order).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core.errors import UserError
from realtime.batching import Captured, Gate, scale_detections
from realtime.detections import Detections
from realtime.detectors.base import Detector
from realtime.engine.batcher import END, BatchStage, Item
from realtime.engine.lanes import POLL_S, Lane
from realtime.engine.signals import StopRequest, asking_to_stop
from realtime.engine.sinks import SinkStage
from realtime.engine.stats import JobStats, SourceStats
from realtime.frames import FrameResult
from realtime.sinks.base import Sink, StopPipeline
from realtime.sources import Source

log = logging.getLogger("lookout.engine")
JOIN_TIMEOUT_S = 10.0  # for all stages at shutdown; a stage stuck longer is left (daemon)


class PipelineError(RuntimeError):
    """A stage failed; the message names the stage, ``__cause__`` is the original error."""


@dataclass
class Stream:
    """One source of a job: how to open it, where its results go.

    Attributes:
        open: ``open(stop)`` returns the opened `Source` (raises `UserError` on a bad spec).
        sinks: builds the source's outputs once it is open.
        fixed_sinks: outputs known up front; one object may serve several streams (it is
            closed after the last of them ends).
        gate: ``gate(frame) -> bool`` called in frame order; False skips the detector.
        live: drop-oldest policy (True) or lossless (False); None = the source decides.
        source: an already opened source (then ``open`` is not called).
    """

    open: Callable[[threading.Event], Source] | None = None
    sinks: Callable[[Source], Sequence[Sink]] = lambda source: []
    fixed_sinks: Sequence[Sink] = ()
    gate: Gate | None = None
    live: bool | None = None
    source: Source | None = None
    name: str = ""


class _Slot:
    """A stream at run time: its source, sinks, lanes and counters."""

    def __init__(self, index: int, stream: Stream, engine: Engine) -> None:
        self.index, self.stream = index, stream
        self.source: Source | None = stream.source
        self.sinks: list[Sink] = list(stream.fixed_sinks)
        name = stream.name or (stream.source.name if stream.source else f"source {index}")
        self.stats = SourceStats(name=name)
        if self.source is not None:
            self._opened(self.source)
        self.live = bool(stream.live if stream.live is not None else
                         (self.source.live if self.source is not None else False))
        self.stats.live = self.live
        cfg = engine.cfg
        batch = cfg.batch
        self.in_lane = Lane(batch if self.live else cfg.queue_size, self.live, engine.in_cond)
        self.out_lane = Lane(max(2, batch) if self.live else cfg.queue_size, self.live)
        self.next_seq = 0  # numbered by the batcher as it takes frames
        self.out_ended = False
        self.stale = 0
        self.ready = threading.Event()  # sinks built
        self.took_turn = False  # opened (or tried): the next source may open
        self.lock = threading.Lock()  # sinks attached vs. closed
        self.closed = False  # outputs finalized: sinks built later are closed by their builder
        self.finished = threading.Event()  # set once `closed` and the turn is passed on
        self.reader: threading.Thread | None = None  # the thread that reads and closes source
        self.writer: threading.Thread | None = None  # the thread that writes and closes sinks

    def _opened(self, source: Source) -> None:
        self.source = source
        self.stats.name = self.stream.name or source.name
        self.stats.expected_frames = source.expected_frames


class Engine(BatchStage, SinkStage):
    """N streams, one detector. `run` = start, wait, stop (in ``finally``).

    Args:
        streams: the sources and their outputs.
        detector: the loaded model (not closed here).
        cfg: batch, max_wait_ms, queue_size, resize (a `PipelineConfig`).
        mode: ``file`` | ``live``: the default policy of streams that do not set one,
            and how a file source is read in live mode (paced at its own fps).
        isolate: a source's own failure ends only that source (default: several streams).
        max_open: at most this many sources open at once (0 = all).
        stop_event: set it (from any thread, a signal handler) to stop the run cleanly.
    """

    def __init__(self, streams: Sequence[Stream], detector: Detector, cfg, mode: str = "file",
                 isolate: bool | None = None, max_open: int = 0,
                 stop_event: threading.Event | None = None) -> None:
        if mode not in ("file", "live"):
            raise ValueError(f"mode must be file or live, got {mode!r}")
        if not streams:
            raise ValueError("a job needs at least one source")
        self.detector, self.cfg, self.mode = detector, cfg, mode
        self.stop_event = stop_event or threading.Event()
        self.in_cond = threading.Condition()
        for s in streams:
            if s.live is None:
                s.live = mode == "live"
        self.slots = [_Slot(i, s, self) for i, s in enumerate(streams)]
        self.isolate = len(self.slots) > 1 if isolate is None else isolate
        self.max_open = max_open if max_open > 0 else len(self.slots)
        self.stats = JobStats(sources=[s.stats for s in self.slots], mode=mode,
                              detector=detector.describe())
        self.workers = max(1, detector.workers)
        capacity = self.workers + (0 if mode == "live" else max(1, cfg.queue_size // cfg.batch))
        self.free = threading.Semaphore(capacity)  # batches in flight, at most
        self.batches_q: queue.Queue = queue.Queue()
        self.threads: list[threading.Thread] = []
        self._closed_count = 0
        self._turn = threading.Condition()  # the max_open window
        self._counters = threading.Lock()
        self._sink_refs: dict[int, int] = {}
        for slot in self.slots:
            self._count_refs(slot.sinks)
        # a sink several sources write to gets their writes one at a time
        self._sink_locks = {key: threading.Lock() for key, n in self._sink_refs.items() if n > 1}
        self.error: tuple[str, BaseException] | None = None
        self.request = StopRequest()  # Ctrl+C / SIGTERM while running (see `run`)

    # ------------------------------------------------------------------ lifecycle

    def run(self, progress: Callable[[JobStats], None] | None = None, every_s: float = 0.25,
            tick: Callable[[], None] | None = None) -> JobStats:
        """Run to the end; ``progress(stats)`` every ``every_s`` and ``tick()`` over and
        over, both on the caller's thread (``tick`` returns within a few ms, e.g. after
        pumping a window; raising `StopPipeline` ends the run like a sink's). Raises the
        first stage error (a `UserError` as is)."""
        with asking_to_stop() as self.request:
            try:
                self.start()
                self.wait(progress, every_s, tick)
            except KeyboardInterrupt:  # a handler of the caller's own, or not the main thread
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
        """The stages from the last to the first."""
        for slot in self.slots:
            slot.writer = self._start("sinks", self.sink_loop, slot)
        for _ in range(self.workers):
            self._start("detector", self.detect_loop)
        self._start("batcher", self.batch_loop)
        for slot in self.slots:
            slot.reader = self._start("reader", self.read_loop, slot)

    def _start(self, stage: str, loop, *args) -> threading.Thread:
        label = f"{stage}-{args[0].index}" if args else stage
        thread = threading.Thread(target=self._guard, args=(stage, loop, *args),
                                  name=f"lookout-{label}", daemon=True)
        thread.start()
        self.threads.append(thread)
        return thread

    def wait(self, progress=None, every_s: float = 0.25, tick=None) -> None:
        next_report = time.monotonic()
        for thread in self.threads:
            while thread.is_alive():
                self._heed_request()
                if tick is not None:
                    tick()
                else:
                    thread.join(POLL_S)
                if progress and time.monotonic() >= next_report:
                    self._update_counters()
                    progress(self.stats)
                    next_report = time.monotonic() + every_s

    def _heed_request(self) -> None:
        if self.request.asked and not self.stop_event.is_set():
            self.stats.stopped_by = self.stats.stopped_by or "interrupt"
            self.stop_event.set()

    def stop(self) -> None:
        """Ask every stage to stop and wait for them: each sink thread finalizes its
        source's outputs, each reader closes its source. Only what no thread of this
        engine ever took over (a start that failed half way) is closed here."""
        self._heed_request()
        self.stop_event.set()
        with self.in_cond:
            self.in_cond.notify_all()
        for slot in self.slots:
            if slot.writer is None:  # no sink thread: nobody else writes these outputs
                self._finish(slot)
            if slot.reader is None and slot.source is not None:
                slot.source.close()
        # One deadline for all stages: a stuck one must not hold the exit for N x 10 s.
        deadline = time.monotonic() + JOIN_TIMEOUT_S
        for thread in reversed(self.threads):
            thread.join(max(0.0, deadline - time.monotonic()))
        # `finished`, not `is_alive`: a join cut short by a signal can lie (gh-90882)
        unfinished = [slot.stats.name for slot in self.slots
                      if not slot.finished.wait(max(0.0, deadline - time.monotonic()))]
        stuck = [t.name for t in self.threads if t.is_alive()]
        if stuck:
            log.warning("stopping: %s did not stop within %.0f s; left behind",
                        ", ".join(stuck), JOIN_TIMEOUT_S)
        if unfinished:  # closing them here would race the thread still writing them
            log.warning("stopping: the outputs of %s were left unfinished",
                        ", ".join(unfinished))
        self._update_counters()
        self.stats.elapsed = time.monotonic() - self.stats.started
        if self.request.asked and self.stats.stopped_by in ("", None, "end", "sink"):
            self.stats.stopped_by = "interrupt"  # a signal, even while stopping, says 130
        if not self.stats.stopped_by:
            self.stats.stopped_by = "error" if self.error else "end"

    def _guard(self, name: str, loop, *args) -> None:
        try:
            loop(*args)
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
        for slot in self.slots:
            s, src = slot.stats, slot.source
            s.frames_dropped = slot.in_lane.dropped + slot.out_lane.dropped + slot.stale
            if src is not None:
                s.decode_failures = src.decode_failures
                s.failure_report = src.failure_report()
                s.reconnects = src.reconnects
        self.stats.max_queue = max(max(s.in_lane.high_water, s.out_lane.high_water)
                                   for s in self.slots)

    # ------------------------------------------------------------------ readers

    def read_loop(self, slot: _Slot) -> None:
        stop, lane, stats = self.stop_event, slot.in_lane, slot.stats
        try:
            if not self._wait_turn(slot):
                return
            if slot.source is None:
                stats.state = "opening"
                if slot.live:  # a camera may retry for long: never hold the others back
                    self._took_turn(slot)
                try:
                    slot._opened(slot.stream.open(stop))
                finally:
                    self._took_turn(slot)
            else:
                self._took_turn(slot)
            built = list(slot.stream.sinks(slot.source))
            with slot.lock:
                attached = not slot.closed
                if attached:
                    self._count_refs(built)
                    slot.sinks += built
            if not attached:  # stopped meanwhile: the sink thread has gone, close them here
                for sink in built:
                    sink.close()
                return
            slot.ready.set()
            stats.state, stats.started = "running", time.monotonic()
            self._read_frames(slot)
            stats.state = "ended"
        except (StopPipeline, KeyboardInterrupt):
            raise
        except Exception as exc:
            if not self.isolate:
                raise
            if stop.is_set():  # stopped while opening or reading: not a failure
                stats.state = "ended"
                return
            stats.state, stats.error = "failed", _one_line(exc)
            log.warning("%s: %s (the other sources go on)", stats.name, stats.error)
        finally:
            lane.end(stats.frames_read)
            if slot.source is not None:  # the reader is the one thread that uses it
                self._update_counters()
                slot.source.close()

    def _count_refs(self, sinks: list[Sink]) -> None:
        with self._counters:
            for sink in sinks:
                self._sink_refs[id(sink)] = self._sink_refs.get(id(sink), 0) + 1

    def _wait_turn(self, slot: _Slot) -> bool:
        """Wait until fewer than ``max_open`` sources are open and the one before this
        has been opened (sources open in order)."""
        before = self.slots[slot.index - 1] if slot.index else None
        with self._turn:
            while (slot.index >= self._closed_count + self.max_open
                   or (before is not None and not before.took_turn)):
                if self.stop_event.is_set():
                    return False
                self._turn.wait(POLL_S)
        return not self.stop_event.is_set()

    def _took_turn(self, slot: _Slot) -> None:
        with self._turn:
            slot.took_turn = True
            self._turn.notify_all()

    def _read_frames(self, slot: _Slot) -> None:
        stop, source, gate = self.stop_event, slot.source, slot.stream.gate
        # A file played in live mode stands in for a camera: deliver it at its own pace.
        pace = 1 / source.fps if slot.live and not source.live and source.fps else 0
        start = time.monotonic()
        for n, frame in enumerate(source.frames(stop)):
            if pace and stop.wait(max(0.0, start + n * pace - time.monotonic())):
                return
            slot.stats.frames_read += 1
            detect = True if gate is None else bool(gate(frame))
            if not slot.in_lane.put((Captured(frame, time.monotonic()), detect), stop):
                return

    # ------------------------------------------------------------------ detector

    def detect_loop(self) -> None:
        stop = self.stop_event
        while not stop.is_set():
            try:
                batch = self.batches_q.get(timeout=POLL_S)
            except queue.Empty:
                continue
            if batch is END:
                self.batches_q.put(END)  # for the other workers
                return
            items, inputs = batch
            try:
                found = self.detector.detect(inputs)
            finally:
                self.free.release()
            with self._counters:
                self.stats.batches += 1
                for item in items:
                    item.slot.stats.frames_detected += 1
            for item, dets in zip(items, found, strict=True):
                self._deliver(item, scale_detections(dets, item.scale), detected=True)

    def _deliver(self, item: Item, dets: Detections | None, detected: bool) -> None:
        frame = item.captured.frame
        dets = Detections.empty() if dets is None else dets
        result = FrameResult(frame, dets, detected=detected,
                             latency=time.monotonic() - item.captured.t_capture)
        item.slot.out_lane.put((item.seq, result), self.stop_event)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if isinstance(exc, UserError) else f"{type(exc).__name__}: {text}"
