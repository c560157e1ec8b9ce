"""The engine's sink stage: one thread per source writes its results, in frame order
(file) or newest-first with stale ones dropped (live), and is the one thread that
finalizes that source's outputs, after the frame it was writing, however the run ends
(end of input, a stop asked by `Engine.stop` or a signal, an error in another stage).
A sink several sources share is closed by the last of their threads to finish.
"""

from __future__ import annotations

import time
from typing import Any

from realtime.engine.lanes import POLL_S
from realtime.frames import FrameResult


class SinkStage:
    """The sink threads' loop; mixed into `realtime.engine.streams.Engine`."""

    def sink_loop(self, slot: Any) -> None:
        """Write one source's results in frame order until every numbered frame is
        accounted for (written, or dropped in live mode) or a stop is asked; then
        finalize its outputs, here: the thread that writes them is the one that closes
        them, after the frame it was writing."""
        try:
            self._write_results(slot)
        finally:
            self._finish(slot)

    def _write_results(self, slot: Any) -> None:
        stop, lane, stats = self.stop_event, slot.out_lane, slot.stats
        while not slot.ready.wait(POLL_S):
            if slot.in_lane.ended and not slot.ready.is_set():  # it never opened
                return
            if stop.is_set():
                return
        pending: dict[int, FrameResult] = {}
        next_seq = 0
        while not stop.is_set():
            with lane.cond:
                if not lane.items:
                    accounted = (next_seq if not slot.live
                                 else stats.frames_written + slot.stale + lane.dropped)
                    if lane.ended and accounted >= (lane.total or 0):
                        break
                    lane.cond.wait(POLL_S)
                    continue
                seq, result = lane.pop()
            if slot.live:
                if seq < next_seq:  # a newer frame is already out
                    slot.stale += 1
                    continue
                next_seq = seq + 1
                self._write(slot, result)
                continue
            pending[seq] = result
            while next_seq in pending:
                self._write(slot, pending.pop(next_seq))
                next_seq += 1

    def _write(self, slot: Any, result: FrameResult) -> None:
        for sink in slot.sinks:
            lock = self._sink_locks.get(id(sink))
            if lock is None:
                sink.write(result)
            else:
                with lock:
                    sink.write(result)
        if not result.detected:
            slot.stats.frames_gated += 1
        slot.stats.frames_written += 1
        slot.stats.latencies.append(result.latency)

    def _finish(self, slot: Any) -> None:
        """Finalize one source's outputs (a shared sink after its last source); called by
        its sink thread, or by `stop` when that thread never started."""
        with slot.lock:
            if slot.closed:
                return
            slot.closed = True
        slot.stats.elapsed = time.monotonic() - slot.stats.started
        try:
            self._close_sinks(slot)
        finally:
            with self._turn:
                self._closed_count += 1
                self._turn.notify_all()
            slot.finished.set()

    def _close_sinks(self, slot: Any) -> None:
        for sink in slot.sinks:
            with self._counters:
                refs = self._sink_refs[id(sink)] = self._sink_refs.get(id(sink), 1) - 1
            if refs > 0:
                continue
            try:
                sink.close()
            except Exception as exc:  # noqa: BLE001 - finalize the others, report the first
                self._fail(f"sinks of {slot.stats.name}", exc)

