"""``--init``: start training from a checkpoint (catalogue name, path, URL or a run).

``coco``, ``imagenet`` and the full names of `training.catalogue` pick Model Garden's
published checkpoint for the preset. The backbone is restored, then the decoder and the
head when they match, all but the classifier's class-dependent weights (see
`training.restore`). This module finds the checkpoint, downloads it when it is a URL,
and checks compatibility first, so a mismatch is one line saying what does not match,
not a traceback mid-training.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

from core.errors import UserError
from core.progress import OnProgress
from training.download import fetch

ARCHIVES = (".tar.gz", ".tgz", ".tar")


def resolve_checkpoint(spec: str, cache_dir: str | Path | None = None,
                       on_progress: OnProgress | None = None) -> str:
    """A checkpoint prefix (``.../ckpt-N``) for a path, run folder, URL or archive URL."""
    if spec.endswith(ARCHIVES) and Path(spec).is_file():  # e.g. a weights mirror folder
        return _find_checkpoint(_extract_local(Path(spec), cache_dir), spec)
    if spec.startswith(("http://", "https://")):
        base = spec.partition("#")[0]
        if base.endswith(ARCHIVES):
            archive = fetch(spec, cache_dir, on_progress)
            return _find_checkpoint(_extract(archive, spec), spec)
        pinned = spec.partition("#")[2]
        if pinned:
            raise UserError(f"train.init {spec}: '#sha256=' pins archives (.tar.gz); "
                            "checkpoint prefixes are two files")
        index = fetch(base + ".index", cache_dir, on_progress, group=base)
        fetch(base + ".data-00000-of-00001", cache_dir, on_progress, group=base)
        return str(index.with_suffix(""))
    path = Path(spec)
    if path.is_dir():
        return _find_checkpoint(path, spec)
    if Path(f"{spec}.index").is_file():
        return spec
    if path.suffix == ".index" and path.is_file():
        return str(path.with_suffix(""))
    raise UserError(f"train.init {spec}: no checkpoint there (give a folder, a run, a "
                    "checkpoint prefix like runs/x/ckpt-200, or a URL)")


def _extract(archive: Path, spec: str) -> Path:
    folder = archive.with_name(archive.name + ".d")
    if (folder / ".complete").is_file():
        return folder
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(folder, filter="data")
    except (tarfile.TarError, EOFError, OSError) as exc:
        archive.unlink(missing_ok=True)
        raise UserError(f"train.init {spec}: corrupt archive ({exc})") from None
    (folder / ".complete").touch()
    return folder


def _extract_local(archive: Path, cache_dir: str | Path | None) -> Path:
    """Unpack a local archive into the download cache (the source folder may be read-only)."""
    import hashlib

    from training.download import default_cache_dir

    key = hashlib.sha256(str(archive.resolve()).encode()).hexdigest()[:16]
    folder = Path(cache_dir or default_cache_dir()) / key
    folder.mkdir(parents=True, exist_ok=True)
    stamp = folder / f"{archive.name}.mtime"
    mtime = str(archive.stat().st_mtime_ns)
    target = folder / f"{archive.name}.d"
    if stamp.is_file() and stamp.read_text() != mtime:  # the mirror's file changed
        import shutil

        shutil.rmtree(target, ignore_errors=True)
    stamp.write_text(mtime)
    link = folder / archive.name
    if not link.exists():
        link.symlink_to(archive.resolve())
    return _extract(link, str(archive))


def _find_checkpoint(folder: Path, spec: str) -> str:
    import tensorflow as tf

    latest = tf.train.latest_checkpoint(str(folder))
    if latest:
        return latest
    indexes = sorted(folder.rglob("*.index"), key=lambda p: (len(p.parts), p.name))
    if not indexes:
        raise UserError(f"train.init {spec}: no TF2 checkpoint (*.index) found in {folder}")
    return str(indexes[-1].with_suffix(""))


def prepare_init(spec: str, params, cache_dir: str | Path | None = None,
                 on_progress: OnProgress | None = None, model_name: str | None = None,
                 mirror: str | None = None, classes: dict[int, str] | None = None) -> dict:
    """Resolve ``spec`` (catalogue name, path, URL, run), check it fits, record it in
    ``params.task``.

    Args:
        model_name: the lookout preset (catalogue names are looked up for it).
        mirror: weights mirror for catalogue names (default $LOOKOUT_WEIGHTS_URL).
        classes: the labels the model learns; a run trained on exactly these (what
            `lookout retrain` starts from) gives its class outputs too, so training
            starts from that run's model as it was, not from a fresh classifier.

    Returns:
        ``{"checkpoint": prefix, "weights": catalogue name or None, "url": ...,
        "modules": [...], "skipped": {module: reason}, "counts": {module:
        {"restored": n, "fresh": n}}}``; pass it to `training.restore.initializer`.
    """
    import tensorflow as tf
    from official.core import task_factory

    from training import catalogue, restore

    weights = catalogue.lookup(spec, model_name) if model_name else None
    url = catalogue.weights_url(weights, mirror) if weights else spec
    try:
        prefix = resolve_checkpoint(url, cache_dir, on_progress)
    except UserError as exc:
        if weights is None or "cannot download" not in str(exc):
            raise
        raise UserError(f"{exc}; offline? point {catalogue.MIRROR_ENV} (or --weights-url) at "
                        "a mirror holding the same paths") from None
    try:
        tf.train.load_checkpoint(prefix)
    except (tf.errors.OpError, ValueError) as exc:
        raise UserError(f"train.init {spec}: not a readable TF checkpoint "
                        f"({str(exc).splitlines()[0][:160]})") from None
    model = task_factory.get_task(params.task).build_model()
    modules, skipped, counts = restore.plan(prefix, model, int(params.task.model.input_size[0]),
                                            same_classes=_same_classes(spec, classes))
    if "backbone" not in modules:
        raise UserError(f"train.init {spec}: backbone does not match "
                        f"{params.task.model.backbone.type}: {skipped['backbone']}")
    mismatched = {m: why for m, why in skipped.items()
                  if not (m == "head" and restore.TOWERS in modules)}
    if weights and weights.contents == catalogue.FULL and mismatched:
        module, reason = next(iter(mismatched.items()))
        raise UserError(f"train.init {spec}: {module} does not match {weights.name}: {reason}")
    params.task.init_checkpoint = prefix
    # Model Garden's own names (rerunning params.yaml with official/vision/train.py);
    # lookout restores with training.restore, which also takes the head.
    params.task.init_checkpoint_modules = [m for m in modules if m in ("backbone", "decoder")]
    return {"checkpoint": prefix, "weights": weights.name if weights else None, "url": url,
            "modules": modules, "skipped": skipped, "counts": counts}


def _same_classes(spec: str, classes: dict[int, str] | None) -> bool:
    """``spec`` is a lookout run trained on exactly ``classes`` (same ids, same names)."""
    from training.run_record import RunRecord

    if not classes:
        return False
    try:
        run = RunRecord.read_if_present(spec) if Path(spec).is_dir() else None
    except UserError:
        return False
    return run is not None and dict(run.classes or {}) == dict(classes)


OFFLINE_ENV = "LOOKOUT_OFFLINE"  # "1": `auto` never downloads (cache and mirror only)
CONNECT_S = 3.0  # how long `auto` waits for the weights' host before training from scratch


def auto_init(preset: str, cache_dir: str | Path | None = None,
              on_progress: OnProgress | None = None,
              mirror: str | None = None) -> tuple[str, str]:
    """``train.init = "auto"``: ``("coco", "")`` when the preset's COCO checkpoint is in the
    cache, in the weights mirror or downloadable (it is downloaded here); otherwise
    ``("", line)``: from scratch, with one line saying why and how to fix it."""
    import os

    from training import catalogue
    from training.download import is_cached, reachable

    try:
        weights = catalogue.lookup("coco", preset)
        url = catalogue.weights_url(weights, mirror)
    except UserError as exc:
        return "", _scratch_line(preset, str(exc))
    remote = url.startswith(("http://", "https://"))
    group = None if weights.is_archive else url.partition("#")[0]
    probe = url if weights.is_archive else url.partition("#")[0] + ".index"
    if not remote or is_cached(probe, cache_dir, group):
        return "coco", ""
    from_mirror = bool(mirror or os.environ.get(catalogue.MIRROR_ENV))
    if os.environ.get(OFFLINE_ENV, "") not in ("", "0") and not from_mirror:
        return "", _scratch_line(preset, f"{weights.name} is not in the download cache and "
                                 f"{OFFLINE_ENV} forbids downloading it")
    why = reachable(url, CONNECT_S)
    if why is None:
        try:
            resolve_checkpoint(url, cache_dir, on_progress)
            return "coco", ""
        except UserError as exc:
            why = str(exc)
    else:
        why = f"cannot reach {url.split('/')[2]} ({why})"
    return "", _scratch_line(preset, f"{weights.name}: {why}")


def _scratch_line(preset: str, why: str) -> str:
    return (f"init: training {preset} from scratch: no COCO checkpoint ({why}); to start "
            "from one, point --weights-url or $LOOKOUT_WEIGHTS_URL at a mirror (a folder "
            "or URL laid out like tf_model_garden/), or give --init PATH (--init none: from "
            "scratch without this line)")
