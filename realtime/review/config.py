"""The ``[review]`` table: where the review folder is."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.config import Section, doc


@dataclass
class ReviewConfig(Section):
    table = "review"

    dir: str = doc("", "the review folder: a JPEG + labelImg XML per reviewed event "
                       "('' = EVENTS_DIR/review)")

    def folder(self, events_dir: str | Path) -> Path:
        return Path(self.dir) if self.dir else Path(events_dir) / "review"
