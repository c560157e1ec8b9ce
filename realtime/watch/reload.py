"""Hot reload: a running `watch` switches to a promoted bundle without dropping a camera.

`HotModel` loads the run's model and, when it is a bundle, watches its ``model.json``
(`lookout retrain` promotes by renaming a new bundle into place, so the file's identity
changes) and listens for SIGHUP. On a change it loads the new model *beside* the running
one, on its own thread, then swaps it into `SwappableDetector`: each `detect` call takes
the model that is current when the call starts, so the switch falls between batches, no
frame goes without a result, and camera connections, sinks and open visits are untouched.
The old model is closed once its last call returns.

A bundle that fails to load, or whose labels differ (the rules were checked against the
running model's labels), is refused in one log line and the old model keeps running.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from core.errors import UserError
from realtime.bundle import BundleMeta
from realtime.config import DetectorConfig
from realtime.detections import Detections
from realtime.detectors.base import Detector

log = logging.getLogger("lookout.watch")
POLL_S = 2.0


class SwappableDetector(Detector):
    """A `Detector` whose model can be replaced while calls run on it."""

    def __init__(self, detector: Detector) -> None:
        self._current = detector
        self._busy: dict[int, int] = {}  # id(detector) -> calls running on it
        self._retired: list[Detector] = []  # swapped out, closed when idle
        self._lock = threading.Condition()
        self.calls = {id(detector): 0}  # calls started per detector (for tests and health)

    @property
    def current(self) -> Detector:
        return self._current

    @property
    def names(self) -> dict[int, str]:  # type: ignore[override]
        return self._current.names

    @property
    def kind(self) -> str:  # type: ignore[override]
        return self._current.kind

    @property
    def workers(self) -> int:  # type: ignore[override]
        return self._current.workers

    def describe(self) -> str:
        return self._current.describe()

    def warmup(self, height: int = 240, width: int = 320, batch: int = 1) -> None:
        self._current.warmup(height, width, batch)

    def detect(self, images: list[np.ndarray]) -> list[Detections]:
        with self._lock:
            detector = self._current
            key = id(detector)
            self._busy[key] = self._busy.get(key, 0) + 1
            self.calls[key] = self.calls.get(key, 0) + 1
        try:
            return detector.detect(images)
        finally:
            with self._lock:
                self._busy[key] -= 1
            self._close_idle()

    def swap(self, detector: Detector) -> Detector:
        """Make ``detector`` current for the calls that start from now; returns the old
        one, which is closed once its running calls return."""
        with self._lock:
            old, self._current = self._current, detector
            self.calls.setdefault(id(detector), 0)
            self._retired.append(old)
        self._close_idle()
        return old

    def _close_idle(self) -> None:
        with self._lock:
            idle = [d for d in self._retired if not self._busy.get(id(d))]
            self._retired = [d for d in self._retired if d not in idle]
        for detector in idle:
            try:
                detector.close()
            except Exception:  # a failing close must not stop the detector stage
                log.exception("closing the previous model")

    def close(self) -> None:
        with self._lock:
            everything, self._retired = [*self._retired, self._current], []
        for detector in everything:
            detector.close()


def bundle_version(bundle: Path) -> str:
    """What tells a person which model runs: the bundle's name, training step and time."""
    try:
        meta = BundleMeta.read(bundle)
    except UserError:
        return bundle.name
    step = f" step {meta.step}" if meta.step is not None else ""
    return f"{bundle.name}{step} ({meta.created_at or '?'})"


class HotModel:
    """The run's model, reloaded when its bundle changes (see the module docstring).

    Args:
        model: what `load_detector` opens; only a bundle folder is watched.
        cfg: the ``[detector]`` table, used for every load.
        poll_s: how often ``model.json`` is looked at.
        loader: ``loader(path, cfg) -> Detector`` (default `load_detector`).
    """

    def __init__(self, model: str | Path, cfg: DetectorConfig, *, poll_s: float = POLL_S,
                 loader: Callable[[str | Path, DetectorConfig], Detector] | None = None) -> None:
        self.path, self.cfg, self.poll_s = Path(model), cfg, poll_s
        self.loader = loader
        self.detector: SwappableDetector | None = None
        self.version = self.path.name
        self.reloads = 0  # models switched to
        self.refused = 0  # changed bundles that were not taken
        self.swapped = threading.Event()  # set after each switch (tests wait on it)
        self._seen: tuple | None = None
        self._wake = threading.Event()  # SIGHUP or stop
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._previous_hup = None

    @property
    def watched(self) -> bool:
        return BundleMeta.path(self.path).is_file()

    def start(self) -> SwappableDetector:
        """Load the model; start watching its bundle (and SIGHUP, from the main thread)."""
        self._seen = self._identity()
        self.detector = SwappableDetector(self._load())
        self.version = bundle_version(self.path) if self.watched else self.path.name
        if self.watched:
            if threading.current_thread() is threading.main_thread():
                self._previous_hup = signal.signal(signal.SIGHUP, lambda *_: self._wake.set())
            self._thread = threading.Thread(target=self._loop, name="watch-reload", daemon=True)
            self._thread.start()
        return self.detector

    def stop(self) -> None:
        """Stop watching and close the model(s)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30.0)
        if self._previous_hup is not None:
            signal.signal(signal.SIGHUP, self._previous_hup)
            self._previous_hup = None
        if self.detector is not None:
            self.detector.close()
            self.detector = None

    def check(self, force: bool = False) -> bool:
        """Switch to the bundle on disk if it changed (or ``force``); True if switched."""
        seen = self._identity()
        if seen is None or (seen == self._seen and not force):
            return False  # mid-promotion (no model.json for a moment) or unchanged
        self._seen = seen
        try:
            new = self._load()
        except (UserError, OSError, ValueError) as exc:
            self.refused += 1
            log.error("model: %s changed but does not load (%s); still running %s",
                      self.path, str(exc).splitlines()[0], self.version)
            return False
        old_names = self.detector.names
        if new.names != old_names:
            new.close()
            self.refused += 1
            log.error("model: %s changed its labels (%s, was %s); the rules were checked "
                      "against the old ones: restart watch to take it; still running %s",
                      self.path, sorted(new.names.values()), sorted(old_names.values()),
                      self.version)
            return False
        self.detector.swap(new)
        self.version = bundle_version(self.path)
        self.reloads += 1
        log.info("model: switched to %s (%s)", self.version, new.describe())
        self.swapped.set()
        return True

    def _loop(self) -> None:
        while not self._stop.is_set():
            forced = self._wake.wait(self.poll_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.check(force=forced)
            except Exception:  # the watcher must outlive one bad reload
                log.exception("model: reloading %s", self.path)

    def _identity(self) -> tuple | None:
        try:
            st = BundleMeta.path(self.path).stat()
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _load(self) -> Detector:
        if self.loader is not None:
            return self.loader(self.path, self.cfg)
        from realtime.detectors import load_detector

        return load_detector(self.path, self.cfg)
