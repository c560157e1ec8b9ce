"""The engine's batching stage: fair across sources, one group per input size.

Each pass takes at most one frame per source that has one waiting, starting after the
source served last (round robin), so a fast camera never starves a slow one. Frames the
source's gate rejects go straight to that source's sink thread. The others wait in a
group per detector input size (one device call runs one size) until the group holds
``batch`` frames, its first frame has waited ``max_wait_ms`` (DeepStream's batch-size and
batched-push-timeout), nothing else is waiting in live mode, or every source ended.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from realtime.batching import Captured, shrink
from realtime.engine.lanes import POLL_S, RoundRobin, take_fair

END = object()  # tells the detector workers there will be no more batches


@dataclass
class Item:
    slot: Any  # the source's slot in the engine
    seq: int
    captured: Captured
    scale: float = 1.0
    input: np.ndarray | None = None  # what the detector gets (shrunk when cfg.resize)


class BatchStage:
    """The batcher thread's loop; mixed into `realtime.engine.streams.Engine`."""

    def batch_loop(self) -> None:
        """Build batches fairly across the sources until every source has ended.

        One device call runs one input size, so frames wait in one group per size (two
        cameras of different resolutions still fill their own batches). A group goes out
        when it holds ``batch`` frames, when its first frame has waited ``max_wait_ms``,
        at once in live mode when no more frames are waiting, and at the end."""
        stop, want = self.stop_event, self.cfg.batch
        rr = RoundRobin(len(self.slots))
        groups: dict[tuple, list[Item]] = {}
        deadlines: dict[tuple, float] = {}
        holding = False  # a detector slot is reserved for the next batch
        while not stop.is_set():
            if not holding:
                if not self.free.acquire(timeout=POLL_S):
                    continue
                holding = True
            fullest = max((len(g) for g in groups.values()), default=0)
            with self.in_cond:
                lanes = [s.in_lane for s in self.slots]
                taken = take_fair(lanes, rr, max(1, want - fullest))
                items = []
                for i, (captured, detect) in taken:
                    slot = self.slots[i]
                    items.append((Item(slot, slot.next_seq, captured), detect))
                    slot.next_seq += 1
                empty = not any(lanes)
                done = all(lane.finished for lane in lanes)
                if not taken and not done and not self._due(groups, deadlines, empty):
                    wait = min(deadlines.values(), default=time.monotonic() + POLL_S)
                    self.in_cond.wait(min(POLL_S, max(0.0, wait - time.monotonic())))
            for item, detect in items:
                if not detect:
                    self._deliver(item, None, detected=False)
                    continue
                item.input, item.scale = shrink(item.captured.frame.rgb, self.cfg.resize)
                shape = item.input.shape
                groups.setdefault(shape, []).append(item)
                deadlines.setdefault(shape, time.monotonic() + self.cfg.max_wait_ms / 1000)
            for shape in self._due(groups, deadlines, empty, done, want):
                if not holding and not (holding := self._reserve()):
                    return
                self._send(groups.pop(shape))
                deadlines.pop(shape)
                holding = False
            self._end_finished_outputs()
            if done and not groups:
                break
        if holding:
            self.free.release()
        self.batches_q.put(END)

    def _reserve(self) -> bool:
        """Wait for a free detector slot; False when stopped."""
        while not self.stop_event.is_set():
            if self.free.acquire(timeout=POLL_S):
                return True
        return False

    def _due(self, groups: dict, deadlines: dict, empty: bool, done: bool = False,
             want: int = 0) -> list[tuple]:
        """The groups to send now (full ones first, then the oldest): full, waited long
        enough, (live) nothing else waiting, or the end."""
        now = time.monotonic()
        due = [shape for shape, group in groups.items()
               if done or (want and len(group) >= want) or now >= deadlines[shape]
               or (empty and any(item.slot.live for item in group))]
        return sorted(due, key=lambda shape: (len(groups[shape]) < want, deadlines[shape]))

    def _send(self, group: list[Item]) -> None:
        self.batches_q.put((group, [item.input for item in group]))

    def _end_finished_outputs(self) -> None:
        for slot in self.slots:
            if not slot.out_ended and slot.in_lane.finished:
                slot.out_ended = True
                slot.out_lane.end(slot.next_seq)
