"""`lookout batch`: many images and clips through one model on Ray (local or a cluster).

The work itself (`work`) knows nothing of Ray: a worker loads the model once with
`load_detector`, runs `predict`'s image code on a batch of images or `annotate` on one
clip, and returns one JSON result per element, with the error instead when that file
was bad. `ray_runner` maps it over a Ray Data dataset: Ray's local cluster by default,
any Ray cluster given its address. `job.run_batch` plans the inputs and writes the
summary outputs.
"""

from __future__ import annotations

from realtime.batch.job import BatchReport, BatchSettings, run_batch

__all__ = ["BatchReport", "BatchSettings", "run_batch"]
