"""The table `lookout demo` ends with: where every output is, and what it holds."""

from __future__ import annotations

import os
from pathlib import Path

from rich.table import Table

from lookout.demo.plan import DemoResult


def _show(*paths: Path) -> str:
    """Paths relative to the current folder when they are inside it (shorter to read)."""
    out = []
    for path in paths:
        try:
            out.append(str(Path(os.path.relpath(path))) if Path(path).resolve().is_relative_to(
                Path.cwd()) else str(path))
        except ValueError:
            out.append(str(path))
    return "\n".join(out)


def summary_table(result: DemoResult) -> Table:
    p = result.paths
    details = {s.name: s.detail for s in result.stages}
    rows = [
        ("sample images (labelImg VOC)", _show(p.samples), details.get("samples", "")),
        ("sample clip, doorbell clip", _show(p.clip, p.doorbell), ""),
        ("dataset (TFRecords)", _show(p.dataset), details.get("dataset", "")),
        ("training run", _show(p.run), details.get("train", "")),
        ("metrics, PR curves", _show(p.metrics, p.run / "pr_curves.png"), details.get("eval", "")),
        ("model bundle", _show(p.bundle),
         "saved_model/, frozen graph, model.tflite, model_int8.tflite, label map, model.json"),
        ("annotated clip", _show(p.annotated), details.get("annotate", "")),
        ("detections, 1 line/frame", _show(p.detections), ""),
        ("doorbell events", _show(p.events / "events.jsonl", p.events / "snapshots"),
         details.get("watch", "")),
    ]
    reused = sum(s.reused for s in result.stages)
    table = Table(title=f"lookout demo: done in {result.seconds:.0f} s ({reused} of "
                        f"{len(result.stages)} stages reused)", title_justify="left")
    table.add_column("output")
    table.add_column("where", style="cyan", no_wrap=True)
    table.add_column("what")
    for what, where, detail in rows:
        table.add_row(what, where, detail)
    return table
