"""The Ray glue: map the `work` classes over a Ray Data dataset.

Ray Data, not Apache Beam: Beam 2.77 requires protobuf < 7 and pyarrow < 26, and next to
TensorFlow 2.20 and tf-models-official 2.20 pip resolves it to protobuf 6.33 / pyarrow 25,
below what lookout runs on; ``ray[data]`` resolves with every pin unchanged.

Locally (no address) a private Ray instance is started on this machine and stopped at the
end: the same code path a cluster runs, with actors as local processes. With an address
(``auto``, ``HOST:6379`` or ``ray://HOST:10001``) the job runs on that cluster; every node
then needs lookout installed and the inputs and output folder at the same paths.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Self

from core.errors import UserError
from realtime.batch.work import ClipWorker, ImageWorker, WorkerSpec


@dataclass(frozen=True)
class RayOptions:
    """How Ray runs: ``address`` None = a local Ray instance; ``parallel`` workers
    (each one model copy; 0 = one per node of the cluster, 1 locally)."""

    address: str | None = None
    parallel: int = 0
    batch: int = 8  # images per worker call
    gpus_per_worker: float = 0.0
    verbose: bool = False


Element = tuple[int, str, str]  # (index, file, output name or stem)


class RayRunner:
    """Start (or join) Ray, run the element lists, stop. A context manager."""

    def __init__(self, options: RayOptions) -> None:
        self.options = options
        self._started = False
        self.fixed_seconds = 0.0  # starting (or joining) and stopping Ray: paid once a run

    def __enter__(self) -> Self:
        try:
            import ray
            import ray.data
        except ImportError:
            raise UserError("lookout batch needs Ray Data: pip install 'lookout[batch]' "
                            "(or pip install 'ray[data]')") from None

        start = time.monotonic()
        level = logging.INFO if self.options.verbose else logging.ERROR
        kwargs: dict = {"logging_level": level, "log_to_driver": self.options.verbose,
                        "include_dashboard": False}
        try:
            if self.options.address:
                ray.init(address=self.options.address, **kwargs)
            else:
                # "local" always starts a private instance, never one a user left running.
                cpus = max(os.cpu_count() or 1, self.options.parallel or 1)
                ray.init(address="local", num_cpus=cpus, **kwargs)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            where = self.options.address or "a local Ray instance"
            raise UserError(f"cannot start Ray on {where}: {exc}") from None
        self._started = True
        self.fixed_seconds = time.monotonic() - start
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = self.options.verbose  # lookout draws its own
        context.execution_options.verbose_progress = False
        if not self.options.verbose:
            logging.getLogger("ray").setLevel(logging.ERROR)
            logging.getLogger("ray.data").setLevel(logging.ERROR)
        return self

    def __exit__(self, *exc: object) -> None:
        import ray

        if self._started:
            start = time.monotonic()
            ray.shutdown()
            self.fixed_seconds += time.monotonic() - start

    def workers(self) -> int:
        """The actor pool size: the option, else one per alive node of the cluster."""
        import ray

        if self.options.parallel > 0:
            return self.options.parallel
        if not self.options.address:
            return 1
        return max(1, sum(1 for node in ray.nodes() if node.get("Alive")))

    def run(self, spec: WorkerSpec, images: list[Element], clips: list[Element],
            on_result: Callable[[int, str], None]) -> None:
        """Images (batched), then clips (one per call); ``on_result(index, json)`` as each
        result arrives on the driver."""
        if images:
            # Each Ray task costs a scheduling round trip: give a worker up to 8 detector
            # batches per call, while leaving every worker a few calls to balance the load.
            batch = self.options.batch
            per_call = max(batch, min(8 * batch, math.ceil(len(images) / (4 * self.workers()))))
            self._map(ImageWorker, spec, images, per_call, on_result)
        if clips:
            self._map(ClipWorker, spec, clips, 1, on_result)

    def _map(self, worker: type, spec: WorkerSpec, elements: list[Element], batch: int,
             on_result: Callable[[int, str], None]) -> None:
        import ray

        items = [{"index": i, "file": f, "output": o} for i, f, o in elements]
        # One block per worker call, so every worker gets work from the first moment.
        dataset = ray.data.from_items(items, override_num_blocks=math.ceil(len(items) / batch))
        pool = min(self.workers(), math.ceil(len(items) / batch))
        results = dataset.map_batches(
            worker, fn_constructor_args=(spec,), batch_size=batch, batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=pool), num_cpus=1,
            num_gpus=self.options.gpus_per_worker or None)
        batches = iter(results.iter_batches(batch_format="numpy", batch_size=None))
        try:
            for block in batches:
                for index, text in zip(block["index"], block["result"], strict=True):
                    on_result(int(index), str(text))
        finally:
            # When on_result stops the run (a model no worker can load), shut Ray Data's
            # executor down now: left to the garbage collector it outlives ray.shutdown()
            # and cancels the actors of the next run in this process.
            close = getattr(batches, "close", None)
            if close:
                close()
