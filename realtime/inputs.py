"""What the file verbs (`predict`, `batch`, `label`) accept as inputs: files, folders and
globs expanded to media files, and output names that never collide."""

from __future__ import annotations

import glob
from collections.abc import Iterable
from pathlib import Path

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
VIDEO_SUFFIXES = {".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".ts",
                  ".flv", ".wmv"}


def expand_inputs(inputs: list[str], suffixes: set[str], noun: str, *,
                  any_file: bool = False) -> tuple[list[str], list[tuple[str, str]]]:
    """Files, folders (their files with ``suffixes``, sorted) and globs → ``(files,
    problems)``, each file once, in the order given.

    An input that names nothing usable is a ``(input, why)`` problem, not an error, so the
    rest still runs. ``noun`` names a file in those reasons ("image", "image or clip");
    ``any_file``: a file named outright is taken whatever its suffix (reading it says more).
    """
    files: list[str] = []
    problems: list[tuple[str, str]] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = [str(p) for p in sorted(path.iterdir())
                     if p.is_file() and p.suffix.lower() in suffixes]
            why = "folder has no " + " or ".join(word + "s" for word in noun.split(" or "))
        elif path.is_file():
            found = [item] if any_file or path.suffix.lower() in suffixes else []
            why = f"not an {noun} (unknown file type)"
        elif glob.has_magic(item):
            found = sorted(p for p in glob.glob(item, recursive=True)
                           if Path(p).suffix.lower() in suffixes)
            why = f"pattern matches no {noun}"
        else:
            found, why = [], "no such file or folder"
        if not found:
            problems.append((item, why))
        files.extend(f for f in found if f not in files)
    return files, problems


def unique_names(names: Iterable[str], taken: Iterable[str] = ()) -> list[str]:
    """Each name, made unique (case-insensitively) with ``_2``, ``_3``… before its suffix;
    ``taken`` names are never given out (the run's own outputs)."""
    used = {t.lower() for t in taken}
    result = []
    for name in names:
        stem, suffix = Path(name).stem, Path(name).suffix
        unique, n = name, 1
        while unique.lower() in used:
            n += 1
            unique = f"{stem}_{n}{suffix}"
        used.add(unique.lower())
        result.append(unique)
    return result
