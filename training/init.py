"""``--init``: start training from a checkpoint (path, URL or an earlier run).

The backbone is restored, and the decoder too when its variables match; the heads
stay new (sized for our classes). Restoring itself is Model Garden's
(`task.initialize` via ``init_checkpoint`` / ``init_checkpoint_modules``); this module
finds the checkpoint, downloads it when it is a URL, and checks compatibility first so
a mismatch is one line saying what does not match, not a traceback mid-training.
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
                 on_progress: OnProgress | None = None) -> dict:
    """Point ``params.task`` at the checkpoint and choose the modules that fit.

    Returns:
        ``{"checkpoint": prefix, "modules": [...], "skipped": {module: reason}}``.
    """
    import tensorflow as tf
    from official.core import task_factory

    prefix = resolve_checkpoint(spec, cache_dir, on_progress)
    try:
        tf.train.load_checkpoint(prefix)
    except (tf.errors.OpError, ValueError) as exc:
        raise UserError(f"train.init {spec}: not a readable TF checkpoint "
                        f"({str(exc).splitlines()[0][:160]})") from None
    model = task_factory.get_task(params.task).build_model()
    skipped = {}
    reason = _restore_error(prefix, model, "backbone")
    if reason:
        raise UserError(f"train.init {spec}: backbone does not match "
                        f"{params.task.model.backbone.type}: {reason}")
    modules = ["backbone"]
    if model.decoder is not None:
        reason = _restore_error(prefix, model, "decoder")
        if reason:
            skipped["decoder"] = reason
        else:
            modules.append("decoder")
    params.task.init_checkpoint = prefix
    params.task.init_checkpoint_modules = modules
    return {"checkpoint": prefix, "modules": modules, "skipped": skipped}


def _restore_error(prefix: str, model, module: str) -> str | None:
    """None when ``module`` restores completely from ``prefix``, else why not."""
    import tensorflow as tf

    layer = getattr(model, module)
    try:
        status = tf.train.Checkpoint(**{module: layer}).read(prefix)
        status.expect_partial().assert_existing_objects_matched()
    except AssertionError as exc:
        text = str(exc)
        if "Unresolved object" in text or "not matched" in text or "Some objects" in text:
            missing = text.count("\n") or 1
            return (f"the checkpoint lacks {module} variables of this architecture "
                    f"({missing} unmatched; trained with another preset?)")
        return text.splitlines()[0][:200]
    except ValueError as exc:
        line = next((s for s in str(exc).splitlines() if "shape" in s), str(exc).splitlines()[0])
        return f"shape mismatch: {line.strip()[:200]}"
    if not layer.weights:
        return f"{module} has no variables"
    return None
