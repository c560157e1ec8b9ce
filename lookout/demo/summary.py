"""The table `lookout demo` ends with: where every output is, and what it holds."""

from __future__ import annotations

from rich.table import Table

from lookout.demo.demo import DemoResult


def summary_table(result: DemoResult) -> Table:
    p = result.paths
    details = {s.name: s.detail for s in result.stages}
    rows = [
        ("sample images (labelImg VOC)", p.samples, details.get("samples", "")),
        ("sample clip / doorbell clip", f"{p.clip}\n{p.doorbell}", ""),
        ("dataset (TFRecords, label map)", p.dataset, details.get("dataset", "")),
        ("training run (checkpoints, TensorBoard)", p.run, details.get("train", "")),
        ("metrics (COCO AP, VOC AP50 per class)", f"{p.metrics}\n{p.run / 'pr_curves.png'}",
         details.get("eval", "")),
        ("model bundle", p.bundle, details.get("export", "")),
        ("annotated clip", p.annotated, details.get("annotate", "")),
        ("detections (JSONL, one line per frame)", p.detections, ""),
        ("doorbell events + snapshots", f"{p.events / 'events.jsonl'}\n{p.events / 'snapshots'}",
         details.get("watch", "")),
    ]
    table = Table(title=f"lookout demo: done in {result.seconds:.0f} s "
                        f"({sum(s.reused for s in result.stages)} of {len(result.stages)} "
                        "stages reused)", title_justify="left")
    table.add_column("output")
    table.add_column("where", style="cyan", overflow="fold")
    table.add_column("what")
    for what, where, detail in rows:
        table.add_row(what, str(where), detail)
    return table
