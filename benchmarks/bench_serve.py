"""The page: what it costs the detector, how fast the API answers, whether memory grows.

1. ``/api/events`` latency over an events folder of ``--events`` events (written with
   watch's own event log; every event has a snapshot): 2 browser-like clients poll the
   list (first page, a camera filter, a day filter, a later page) for ``--seconds``;
   p50/p95 per request (goal: p95 <= 100 ms at 10,000 events).
2. Detector fps of a watch run on ``--cameras`` generated cameras (files, as fast as the
   machine goes, detector on every frame), without the page and with ``watch --serve``
   while 2 clients poll the page and one viewer per camera refreshes its live tile as the
   page does (goal: >= 0.95 of the fps without the page).
3. Resident memory of the serving process sampled while part 1 polls for
   ``--memory-minutes`` more, and of a live ``watch --serve`` on ``--cameras`` MJPEG
   cameras with the clients for ``--live-minutes`` (goal: no growth after warm-up).

The page runs in its own process in part 1 (``lookout serve``), inside the watch's in
part 2 (``watch --serve``); the clients always run in another process, as browsers do.

    lookout bench serve [--events 10000] [--seconds 20] [--cameras 4] [--memory-minutes 10]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.fixtures, run as a script

from rich.console import Console
from rich.table import Table

P95_GOAL_MS = 100.0
FPS_GOAL = 0.95


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="lookout bench serve", description=__doc__.split("\n")[0])
    p.add_argument("--events", type=int, default=10_000, help="events in the folder")
    p.add_argument("--seconds", type=float, default=20.0, help="API polling time")
    p.add_argument("--cameras", type=int, default=4, help="generated cameras for part 2")
    p.add_argument("--clip-seconds", type=float, default=300.0,
                   help="each camera's clip at 10 fps (default 300: runs of tens of seconds)")
    p.add_argument("--memory-minutes", type=float, default=0.0,
                   help="also poll this long and sample memory (the issue asks 10)")
    p.add_argument("--live-minutes", type=float, default=0.0,
                   help="also run a live watch --serve this long and sample its memory")
    p.add_argument("--skip-watch", action="store_true", help="only parts 1 and 3")
    p.add_argument("--out", default="", help="work folder (default: a temporary one)")
    p.add_argument("--clients", metavar="URL", help=argparse.SUPPRESS)  # part 2's browsers
    return p.parse_args(argv)


def write_events(root: Path, n: int) -> None:
    """``n`` events (new + end) over 30 days and 4 cameras, one snapshot file each
    (hard links of one JPEG: the page stats every file it links)."""
    import os

    import numpy as np

    from realtime.watch.events import Event, EventLog, new_event_id, utc_iso
    from realtime.watch.snapshots import write_jpeg

    (root / "snapshots").mkdir(parents=True, exist_ok=True)
    first = root / "snapshots" / "first.jpg"
    write_jpeg(first, np.full((240, 320, 3), 90, np.uint8))
    log = EventLog(root / "events.jsonl")
    log.append = _fast_append(log)  # fsync per line is the recorder's job, not the bench's
    now = time.time()
    for i in range(n):
        wall = now - 30 * 86400 * (1 - i / n)
        camera = ("front", "garage", "yard", "drive")[i % 4]
        event = Event(id=new_event_id(wall), rule="visitor", label=("person", "car")[i % 2],
                      source=camera, camera=camera, start=1.0, start_frame=10,
                      started_at=utc_iso(wall), score=0.9, box=[1, 2, 3, 4])
        event.snapshot = f"snapshots/{event.id}.jpg"
        os.link(first, root / event.snapshot)
        log.append(event.record("new"))
        event.end, event.end_reason = 6.0, "unseen"
        log.append(event.record("end"))
    log._file.flush()
    log.close()


def _fast_append(log):
    import json

    def append(record: dict) -> None:
        log._file.write(json.dumps(record, separators=(",", ":")) + "\n")
    return append


def poll_api(base: str, seconds: float, clients: int = 2) -> list[float]:
    """Each client loops over four list requests; returns every request's seconds."""
    day = time.strftime("%Y-%m-%d", time.localtime(time.time() - 3 * 86400))
    paths = ["/api/events", "/api/events?camera=garage", f"/api/events?day={day}",
             "/api/events?offset=5000&limit=50"]
    times: list[float] = []
    lock = threading.Lock()
    end = time.monotonic() + seconds

    def client() -> None:
        i = 0
        while time.monotonic() < end:
            t0 = time.perf_counter()
            with urllib.request.urlopen(base + paths[i % len(paths)], timeout=30) as r:
                r.read()
            with lock:
                times.append(time.perf_counter() - t0)
            i += 1
            time.sleep(0.05)  # a browser polls; it does not spin

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return times


def api_part(args, work: Path, console: Console) -> dict:
    """``lookout serve`` in its own process (as a person runs it), polled from this one."""
    import os
    import subprocess

    root = work / f"events_{args.events}"
    if not (root / "events.jsonl").exists():
        t0 = time.perf_counter()
        write_events(root, args.events)
        console.print(f"wrote {args.events} events in {time.perf_counter() - t0:.1f} s")
    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(repo), "COLUMNS": "300"}
    env.pop("LOOKOUT_SERVE_PASSWORD", None)
    proc = subprocess.Popen([sys.executable, "-m", "lookout", "serve", str(root), "--bind",
                             "127.0.0.1:0"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        url = _page_url(proc)
        poll_api(url, 2.0)  # warm-up: the first request reads the whole log
        times = sorted(poll_api(url, args.seconds))
        memory = [_rss_mb(proc.pid)]
        if args.memory_minutes > 0:
            deadline = time.monotonic() + args.memory_minutes * 60
            while time.monotonic() < deadline:
                poll_api(url, 10.0)
                memory.append(_rss_mb(proc.pid))
    finally:
        proc.terminate()
        proc.wait(30)
    q = statistics.quantiles(times, n=100)
    return {"requests": len(times), "p50_ms": q[49] * 1000, "p95_ms": q[94] * 1000,
            "memory": memory}


def _page_url(proc) -> str:
    import re

    while True:
        line = proc.stderr.readline()
        if not line:
            raise RuntimeError("the page's process ended before listening")
        found = re.search(r"page on (http://[\d.]+:\d+)", line)
        if found:
            return found.group(1)


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main(argv: list[str] | None = None) -> int:
    import logging
    import os

    args = parse(argv)
    if args.clients:
        return clients_main(args.clients, args.cameras)
    console = Console(highlight=False)
    logging.getLogger("lookout").setLevel(logging.WARNING)  # not every event of the runs
    with tempfile.TemporaryDirectory(prefix="bench_serve_") as tmp:
        work = Path(args.out or tmp)
        work.mkdir(parents=True, exist_ok=True)
        load = os.getloadavg()
        api = api_part(args, work, console)
        table = Table(title=f"lookout bench serve (load average {load[0]:.1f} at the start, "
                            f"{os.cpu_count()} cores)")
        table.add_column("figure")
        table.add_column("value", justify="right")
        table.add_column("goal")
        table.add_row(f"/api/events p50 over {args.events} events", f"{api['p50_ms']:.1f} ms", "")
        table.add_row(f"/api/events p95 ({api['requests']} requests, 2 clients)",
                      f"{api['p95_ms']:.1f} ms",
                      "met" if api["p95_ms"] <= P95_GOAL_MS else f"missed (<= {P95_GOAL_MS:.0f})")
        if len(api["memory"]) > 1:
            first, last = api["memory"][0], api["memory"][-1]
            table.add_row(f"rss after warm-up -> after {args.memory_minutes:g} min",
                          f"{first:.0f} -> {last:.0f} MiB",
                          "met" if last - first < 0.05 * first else "missed (grew)")
        if not args.skip_watch:
            watch = watch_part(args, work, console)
            ratio = watch["with"] / watch["without"]
            table.add_row("detector fps without the page (mean of 2)", f"{watch['without']:.1f}",
                          "")
            table.add_row(f"with watch --serve, 2 pollers + {args.cameras} tile viewers",
                          f"{watch['with']:.1f} ({ratio:.2f}x)",
                          "met" if ratio >= FPS_GOAL else f"missed (>= {FPS_GOAL})")
            table.add_row("live tiles served / JPEGs encoded",
                          f"{watch['tiles']} / {watch['encoded']}", "")
        if args.live_minutes > 0:
            live = live_part(args, work, console)
            first, last = live["rss"][0], live["rss"][-1]
            table.add_row(f"live watch --serve ({args.cameras} cameras, {live['frames']} "
                          f"frames): rss after 1 min -> {args.live_minutes:g} min later",
                          f"{first:.0f} -> {last:.0f} MiB (max {max(live['rss']):.0f})",
                          "met" if last - first < 0.05 * first else "missed (grew)")
        console.print(table)
    return 0


def watch_part(args, work: Path, console: Console) -> dict:
    """Detector fps of one watch run over ``--cameras`` generated clips (file mode: as fast
    as the machine goes, detector on every frame), without and with the page under load,
    in the order A B B A, so warm-up and a drifting machine load weigh on both alike."""
    from realtime.detectors import load_detector
    from tests.fixtures.models import make_color_bundle

    clips = [make_camera_clip(work / f"cam{i}.mp4", args.clip_seconds, seed=i)
             for i in range(args.cameras)]
    bundle = work / "bundle"
    detector = load_detector(bundle if bundle.is_dir() else make_color_bundle(bundle))
    fps = {"without": [], "with": []}
    served = encoded = 0
    try:
        for i, pages in enumerate(((False, True), (True, False))):
            for page in pages:
                r = watch_once(detector, clips, work / f"events_{i}_{page}", page)
                fps["with" if page else "without"].append(r["fps"])
                served += r["tiles"]
                encoded += r["encoded"]
                console.print(f"run {i + 1} {'with' if page else 'without'} the page: "
                              f"{r['fps']:.1f} fps")
    finally:
        detector.close()
    return {"without": statistics.mean(fps["without"]), "with": statistics.mean(fps["with"]),
            "tiles": served, "encoded": encoded}


def make_camera_clip(path: Path, seconds: float, seed: int) -> Path:
    from realtime.mp4 import Mp4Writer
    from tests.fixtures.doorbell import Visit, doorbell_frames

    if path.exists():
        return path
    writer = Mp4Writer(path, 10.0)
    for frame in doorbell_frames((Visit(2.0 + seed, 6.0),), seconds=seconds, fps=10,
                                 width=320, height=240):
        writer.write(frame)
    writer.close()
    return path


def watch_once(detector, clips: list[Path], events: Path, page: bool) -> dict:
    from realtime.serve.config import ServeConfig
    from realtime.settings import RunSettings
    from realtime.watch.cameras import Camera
    from realtime.watch.config import WatchConfig, WatchDeliveryConfig, WatchRuleConfig
    from realtime.watch.runner import WatchRun

    watch = WatchConfig(events_dir=str(events), health_every_s=3600,
                        rules=[WatchRuleConfig(labels=["red"], end_after_s=3.0)],
                        delivery=WatchDeliveryConfig(console=False))
    watch.motion.enabled = False  # the detector on every frame: the most it can be slowed
    serve = ServeConfig(bind="127.0.0.1:0" if page else "")
    run = WatchRun(detector, [Camera(str(c), f"cam{i}") for i, c in enumerate(clips)],
                   RunSettings(watch=watch, serve=serve), mode="file", drain_s=0.0)
    clients = None
    run.start()
    try:
        if page:
            clients = start_clients(run.server.url, len(clips))
        t0 = time.perf_counter()
        stats = run.run()
        wall = time.perf_counter() - t0
    finally:
        tiles = 0
        if clients is not None:
            out, _ = clients.communicate("", timeout=60)  # stdin closed: they stop
            tiles = int(out.strip() or 0)
        encoded = run.server.tiles_encoded() if page else 0
        run.stop()
    return {"fps": stats.frames_written / wall, "tiles": tiles, "encoded": encoded}


def start_clients(url: str, cameras: int):
    """The browser-like clients in their own process (as browsers are), once ready."""
    import subprocess

    clients = subprocess.Popen([sys.executable, __file__, "--clients", url, "--cameras",
                                str(cameras)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               text=True)
    clients.stdout.readline()  # "ready": their start-up is not the page's cost
    return clients


def live_part(args, work: Path, console: Console) -> dict:
    """A live ``watch --serve`` on ``--cameras`` MJPEG cameras (10 fps each, on loopback)
    with the clients polling, for ``--live-minutes``: this process's RSS each 30 s after
    a minute's warm-up."""
    from realtime.detectors import load_detector
    from realtime.serve.config import ServeConfig
    from realtime.settings import RunSettings
    from realtime.watch.cameras import Camera
    from realtime.watch.config import WatchConfig, WatchDeliveryConfig, WatchRuleConfig
    from realtime.watch.health import rss_mb
    from realtime.watch.runner import WatchRun
    from tests.fixtures.media import MjpegServer
    from tests.fixtures.models import make_color_bundle

    cams = [MjpegServer(fps=10, width=320, height=240).start() for _ in range(args.cameras)]
    bundle = work / "bundle"
    detector = load_detector(bundle if bundle.is_dir() else make_color_bundle(bundle))
    watch = WatchConfig(events_dir=str(work / "events_live"), health_every_s=3600,
                        rules=[WatchRuleConfig(labels=["red"], end_after_s=3.0)],
                        delivery=WatchDeliveryConfig(console=False))
    run = WatchRun(detector, [Camera(c.url, f"cam{i}") for i, c in enumerate(cams)],
                   RunSettings(watch=watch, serve=ServeConfig(bind="127.0.0.1:0")),
                   mode="live", drain_s=0.0)
    thread = threading.Thread(target=run.run)
    run.start()
    thread.start()
    clients, samples = start_clients(run.server.url, len(cams)), []
    try:
        time.sleep(60)
        deadline = time.monotonic() + args.live_minutes * 60
        while time.monotonic() < deadline:
            samples.append(rss_mb())
            time.sleep(30)
        samples.append(rss_mb())
        frames = sum(c["frames"] for c in run.camera_counters().values())
    finally:
        clients.communicate("", timeout=60)
        run.stop_event.set()
        thread.join(60)
        run.stop()
        detector.close()
        for c in cams:
            c.close()
    return {"rss": samples, "frames": frames}


def clients_main(url: str, cameras: int) -> int:
    """``--clients URL``: poll the page like browsers until stdin closes; print the
    number of tiles fetched."""
    from realtime.serve.config import ServeConfig

    stop, tiles = threading.Event(), [0]
    threads = page_clients(url, [f"cam{i}" for i in range(cameras)], ServeConfig(), stop,
                           tiles)
    print("ready", flush=True)
    sys.stdin.read()
    stop.set()
    for t in threads:
        t.join()
    print(tiles[0], flush=True)
    return 0


def page_clients(base: str, cameras: list[str], serve, stop: threading.Event,
                 tiles: list[int]) -> list[threading.Thread]:
    """2 pollers as app.js polls (the list's rows, the cameras' health every poll_s) and
    one tile viewer per camera (the next tile 1/live_fps after the last arrived)."""
    def get(path: str) -> None:
        try:
            with urllib.request.urlopen(base + path, timeout=30) as r:
                r.read()
        except OSError:
            pass  # no picture yet (404), or the run just ended

    def poller() -> None:
        while not stop.wait(serve.poll_s):
            get("/fragments/events?limit=50")
            get("/api/cameras")

    def viewer(name: str) -> None:
        while not stop.wait(1 / serve.live_fps):
            get(f"/live/{name}.jpg")
            tiles[0] += 1

    targets = [poller, poller] + [lambda n=n: viewer(n) for n in cameras]
    threads = [threading.Thread(target=t, daemon=True) for t in targets]
    for t in threads:
        t.start()
    return threads


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
