"""Download a file into a cache: progress reports, resume with HTTP Range, SHA-256 check.

``fetch(url)`` returns the cached file. A partial download is kept as ``NAME.part``
and continued from where it stopped on the next call (servers that ignore Range get a
fresh download). The digest of every finished file is recorded beside it and checked
on reuse; ``URL#sha256=HEX`` pins the expected digest.
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from core.errors import UserError
from core.progress import OnProgress, report

CHUNK = 1 << 16
TIMEOUT_S = 30


def default_cache_dir() -> Path:
    root = os.environ.get("LOOKOUT_CACHE") or Path.home() / ".cache" / "lookout"
    return Path(root) / "downloads"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_path(url: str, cache_dir: str | Path | None = None, group: str | None = None) -> Path:
    """Where `fetch` keeps ``url`` (whether or not it is there yet)."""
    base = url.partition("#")[0]
    name = Path(urllib.parse.urlparse(base).path).name or "download"
    key = hashlib.sha256((group or base).encode()).hexdigest()[:16]
    return Path(cache_dir or default_cache_dir()) / key / name


def is_cached(url: str, cache_dir: str | Path | None = None, group: str | None = None) -> bool:
    """Has `fetch` finished downloading ``url`` (its digest recorded beside it)?"""
    target = cache_path(url, cache_dir, group)
    return target.is_file() and target.with_name(f"{target.name}.json").is_file()


def reachable(url: str, timeout: float = 3.0) -> str | None:
    """None when ``url``'s host accepts a TCP connection within ``timeout`` s, else why
    not (one short try, so an offline machine falls back at once instead of waiting for
    a download's long timeout)."""
    import socket

    parts = urllib.parse.urlparse(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "", port), timeout=timeout):
            return None
    except OSError as exc:
        return str(getattr(exc, "strerror", None) or exc) or type(exc).__name__


def fetch(url: str, cache_dir: str | Path | None = None, on_progress: OnProgress | None = None,
          group: str | None = None) -> Path:
    """Return the local copy of ``url`` (downloading or resuming as needed).

    Files fetched with the same ``group`` share a cache folder (a checkpoint's
    ``.index`` and ``.data`` files must sit side by side).
    """
    base, _, fragment = url.partition("#")
    expected = fragment.removeprefix("sha256=").lower() if fragment.startswith("sha256=") else None
    target = cache_path(url, cache_dir, group)
    target.parent.mkdir(parents=True, exist_ok=True)
    name = target.name
    part, meta = target.with_name(f"{name}.part"), target.with_name(f"{name}.json")

    if target.is_file() and meta.is_file():
        recorded = json.loads(meta.read_text()).get("sha256")
        actual = sha256_of(target)
        if actual == recorded and expected in (None, actual):
            return target
        target.unlink()  # corrupted or a different pinned version: download again

    _download(base, part, on_progress)
    actual = sha256_of(part)
    if expected and actual != expected:
        part.unlink()
        raise UserError(f"{base}: checksum mismatch (sha256 {actual[:12]}…, expected "
                        f"{expected[:12]}…); the file is corrupt or changed")
    os.replace(part, target)
    meta.write_text(json.dumps({"url": base, "sha256": actual, "bytes": target.stat().st_size}))
    return target


def _download(url: str, part: Path, on_progress: OnProgress | None) -> None:
    have = part.stat().st_size if part.is_file() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # nothing left to fetch: the part is complete
            return
        raise UserError(f"{url}: download failed (HTTP {exc.code} {exc.reason})") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UserError(f"{url}: cannot download ({reason})") from None
    with response:
        resumed = response.status == 206
        length = response.headers.get("Content-Length")
        total = (int(length) + (have if resumed else 0)) if length else None
        done = have if resumed else 0
        name = part.name.removesuffix(".part")
        with open(part, "ab" if resumed else "wb") as f:
            report(on_progress, "download", done, total, name)
            try:
                for block in iter(lambda: response.read(CHUNK), b""):
                    f.write(block)
                    done += len(block)
                    report(on_progress, "download", done, total, name)
            except (OSError, urllib.error.URLError) as exc:
                raise UserError(f"{url}: download interrupted at {done} bytes ({exc}); "
                                "run again to resume") from None
    if total is not None and done < total:
        raise UserError(f"{url}: download interrupted at {done} of {total} bytes; "
                        "run again to resume")
