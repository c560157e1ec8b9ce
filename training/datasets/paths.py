"""File-name rules shared by the readers: safe names, image look-up, natural order."""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath, PureWindowsPath

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".JPG", ".JPEG", ".PNG")
TRAIN_NAMES = {"train", "training", "trainval"}
TEST_NAMES = {"test", "testing", "val", "valid", "validation", "eval"}


def show(path: str | os.PathLike) -> str:
    """A printable form of any path, even one whose bytes are not UTF-8."""
    text = os.fspath(path)
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def is_utf8(name: str | os.PathLike) -> bool:
    """False for names that came from non-UTF-8 bytes (surrogate escapes)."""
    try:
        os.fspath(name).encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def escapes(name: str) -> bool:
    """True when ``name`` is absolute or climbs out of the folder it is relative to."""
    if not name:
        return False
    unix = name.replace("\\", "/")
    if PurePosixPath(unix).is_absolute() or PureWindowsPath(name).drive:
        return True
    return os.path.normpath(unix).split("/")[0] == ".."


def find_image(name: str, bases: list[Path], stem: str | None = None) -> Path | None:
    """The first ``base/name`` that exists; failing that, ``base/stem.<image ext>``.

    Names that escape their folder are never looked up (the checker reports them).
    """
    if name and not escapes(name):
        rel = name.replace("\\", "/")
        for base in bases:
            candidate = base / rel
            if candidate.is_file():
                return candidate
    if stem:
        for base in bases:
            for ext in IMAGE_EXTS:
                candidate = base / f"{stem}{ext}"
                if candidate.is_file():
                    return candidate
    return None


def natural_key(path: str | os.PathLike) -> list:
    """Sort key so that ``img-2`` comes before ``img-10``."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", os.fspath(path))]


def split_from_name(parts: list[str] | tuple[str, ...]) -> str | None:
    """'train' / 'test' when a folder or file name fixes the split (fruit-nuts' train/, test/)."""
    for part in parts:
        tokens = set(re.split(r"[^a-z]+", part.lower()))
        if tokens & TEST_NAMES:
            return "test"
        if tokens & TRAIN_NAMES:
            return "train"
    return None
