"""Restore a detector from a checkpoint module by module, leaving the class-dependent
classifier weights fresh (MediaPipe Model Maker's recipe for Model Garden checkpoints).

Published checkpoints (and lookout's runs) hold the model's modules at the checkpoint's
root: ``backbone/``, ``decoder/``, ``head/`` (Model Garden's trainer saves
``model.checkpoint_items`` beside ``model``). Backbone and decoder come back whole; of
the head, everything but the classifier's pointwise kernel and bias (their size is
anchors x classes) — the classifier's depthwise kernel, when separable, does not depend
on the classes and is restored too.
"""

from __future__ import annotations

MODULES = ("backbone", "decoder", "head")
HEAD_PARTS = ("_cls_convs", "_cls_norms", "_box_convs", "_box_norms", "_box_regressor")


def build(model, input_size: int) -> None:
    """Create every variable: the head's are made on its first call. Backbone, decoder and
    head are called directly, not the model: its detection generator (NMS) would take
    seconds in eager mode and creates no variable."""
    import tensorflow as tf

    features = model.backbone(tf.zeros([1, input_size, input_size, 3]), training=False)
    if model.decoder is not None:
        features = model.decoder(features, training=False)
    model.head(features, training=False)


def class_dependent(model) -> list:
    """The head's variables whose shape depends on the number of classes."""
    return [v for v in model.head._classifier.weights if "depthwise_kernel" not in v.name]


def _head(model):
    import tensorflow as tf

    head = model.head
    items = {name: getattr(head, name) for name in HEAD_PARTS}
    classifier = head._classifier
    if hasattr(classifier, "depthwise_kernel"):
        items["_classifier"] = tf.train.Checkpoint(depthwise_kernel=classifier.depthwise_kernel)
    return tf.train.Checkpoint(**items)


def _items(model, modules) -> dict:
    return {m: _head(model) if m == "head" else getattr(model, m) for m in modules}


def read(prefix: str, model, modules) -> None:
    """Restore ``modules`` of ``model`` from ``prefix``; AssertionError/ValueError when the
    checkpoint does not hold all of them."""
    import tensorflow as tf

    status = tf.train.Checkpoint(**_items(model, modules)).read(prefix)
    status.expect_partial().assert_existing_objects_matched()


def restore_error(prefix: str, model, module: str) -> str | None:
    """None when ``module`` restores completely from ``prefix``, else why not."""
    if getattr(model, module, None) is None:
        return "this architecture has none"
    try:
        read(prefix, model, [module])
    except AssertionError as exc:
        text = str(exc)
        if "Unresolved object" in text or "not matched" in text or "Some objects" in text:
            missing = text.count("\n") or 1
            return (f"the checkpoint lacks {module} variables of this architecture "
                    f"({missing} unmatched; made for another architecture?)")
        return text.splitlines()[0][:200]
    except ValueError as exc:
        line = next((s for s in str(exc).splitlines() if "shape" in s), str(exc).splitlines()[0])
        return f"shape mismatch: {line.strip()[:200]}"
    if not getattr(model, module).weights:
        return f"{module} has no variables"
    return None


def plan(prefix: str, model, input_size: int) -> tuple[list[str], dict[str, str], dict]:
    """Which modules of ``model`` (built here) restore from ``prefix``.

    Returns:
        ``(modules, skipped, counts)``: the modules to restore, why others are not, and
        per module ``{"restored": n, "fresh": n}`` variable counts.

    Without the backbone in ``modules`` nothing useful restores (the caller says so).
    """
    build(model, input_size)
    modules, skipped = [], {}
    for module in MODULES:
        reason = restore_error(prefix, model, module)
        if reason is None:
            modules.append(module)
        elif getattr(model, module, None) is not None:
            skipped[module] = reason
    fresh_ids = {id(v) for v in class_dependent(model)} if "head" in modules else set()
    counts = {}
    for module in MODULES:
        layer = getattr(model, module, None)
        if layer is None:
            continue
        weights = layer.weights
        restored = 0 if module not in modules else sum(id(v) not in fresh_ids for v in weights)
        counts[module] = {"restored": restored, "fresh": len(weights) - restored}
    return modules, skipped, counts


def initializer(prefix: str, modules: list[str], input_size: int):
    """A replacement for ``task.initialize(model)`` that restores ``modules`` as `plan` chose."""
    def initialize(model) -> None:
        build(model, input_size)
        read(prefix, model, modules)

    return initialize
