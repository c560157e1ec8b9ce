"""A `DatasetReport` printed with rich: counts, objects per class, box sizes, problems."""

from __future__ import annotations

import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from training.datasets.check import DatasetReport
from training.datasets.example import ERROR


def box_spread(report: DatasetReport) -> dict[str, list[float]]:
    """Percentiles (min, 10, 50, 90, max) of box width, height and sqrt(area), in pixels."""
    if not len(report.box_w):
        return {}
    w = np.frombuffer(report.box_w, np.float32)
    h = np.frombuffer(report.box_h, np.float32)
    q = [0, 10, 50, 90, 100]
    return {name: np.percentile(v, q).round(1).tolist()
            for name, v in (("width", w), ("height", h), ("sqrt(area)", np.sqrt(w * h)))}


def size_buckets(report: DatasetReport) -> dict[str, int]:
    """COCO's small (< 32²), medium (< 96²) and large box counts."""
    area = np.frombuffer(report.box_w, np.float32) * np.frombuffer(report.box_h, np.float32)
    return {"small": int((area < 32**2).sum()),
            "medium": int(((area >= 32**2) & (area < 96**2)).sum()),
            "large": int((area >= 96**2).sum())}


def print_report(report: DatasetReport, console: Console | None = None, title: str = "",
                 built: bool = False) -> None:
    """Print ``report``; ``built`` says errors were skipped (``--skip-bad``) rather than fatal."""
    console = console or Console()
    console.print(f"[bold]{title or 'dataset'}[/] {escape(report.source)} ([cyan]{report.format}[/]): "
                  f"{report.images} usable image(s) of {report.examples}, "
                  f"{sum(report.objects.values())} object(s)", highlight=False)

    splits = sorted(report.splits)
    classes = Table("class", "objects", *[f"{s} objects" for s in splits], title="objects per class")
    for name, n in sorted(report.objects.items()):
        classes.add_row(name, str(n), *[str(report.splits[s].objects[name]) for s in splits])
    if splits:  # a separate section, so it cannot be read as a class named "images"
        classes.add_section()
        classes.add_row("[dim](images)[/]", str(report.images),
                        *[str(report.splits[s].images) for s in splits])
    console.print(classes)

    spread = box_spread(report)
    if spread:
        sizes = Table("box size (px)", "min", "p10", "median", "p90", "max", title="box-size spread")
        for name, values in spread.items():
            sizes.add_row(name, *[f"{v:g}" for v in values])
        console.print(sizes)
        buckets = size_buckets(report)
        console.print("COCO size buckets: " + ", ".join(f"{k} {v}" for k, v in buckets.items()),
                      highlight=False)

    for p in report.problems:
        colour = "red" if p.severity == ERROR else "yellow"
        console.print(f"{escape(p.where)}: [{colour}]{p.severity}[/]: {escape(p.message)}", highlight=False,
                      markup=True, soft_wrap=True)
    if report.skipped:
        console.print(f"[bold]skipped[/] {len(report.skipped)}: " + escape(", ".join(report.skipped)),
                      highlight=False, soft_wrap=True)
    e, w = len(report.errors), len(report.warnings)
    left_out = f"[yellow]built without the {len(report.skipped)} image(s) with errors[/]"
    if e:
        verdict = left_out if built else "[red]errors[/]"
    else:
        verdict = "[yellow]usable, with warnings[/]" if w else "[green]ok[/]"
    console.print(f"{e} error(s), {w} warning(s): {verdict}")
