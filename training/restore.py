"""Restore a detector from a checkpoint module by module, leaving the class-dependent
classifier weights fresh (MediaPipe Model Maker's recipe for Model Garden checkpoints).

Published checkpoints (and lookout's runs) hold the model's modules at the checkpoint's
root: ``backbone/``, ``decoder/``, ``head/`` (Model Garden's trainer saves
``model.checkpoint_items`` beside ``model``). Backbone and decoder come back whole; of
the head, everything but the classifier's pointwise kernel and bias (their size is
anchors x classes) — the classifier's depthwise kernel, when separable, does not depend
on the classes and is restored too. When the anchors differ from the checkpoint's (anchors
fitted to the data), the box regressor's outputs do not fit either: the head's conv towers
still come back ("head-towers"), so only the two output layers start fresh.
"""

from __future__ import annotations

MODULES = ("backbone", "decoder", "head")
TOWERS = "head-towers"  # the head without its anchor-dependent output layers
CLASSIFIER = "classifier"  # with "head": its class outputs too (an earlier run, same labels)
HEAD_PARTS = ("_cls_convs", "_cls_norms", "_box_convs", "_box_norms")


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
    return _pointwise(model.head._classifier)


def anchor_dependent(model) -> list:
    """The head's output variables whose shape depends on the anchors per location."""
    return _pointwise(model.head._classifier) + _pointwise(model.head._box_regressor)


def _pointwise(layer) -> list:
    return [v for v in layer.weights if "depthwise_kernel" not in v.name]


def _head(model, with_regressor: bool, with_classifier: bool = False):
    import tensorflow as tf

    head = model.head
    items = {name: getattr(head, name) for name in HEAD_PARTS}
    outputs = {"_classifier": with_classifier, "_box_regressor": with_regressor}
    for name, whole in outputs.items():
        layer = getattr(head, name)
        if whole:
            items[name] = layer
        elif hasattr(layer, "depthwise_kernel"):  # separable: the depthwise part fits
            items[name] = tf.train.Checkpoint(depthwise_kernel=layer.depthwise_kernel)
    return tf.train.Checkpoint(**items)


def _items(model, modules) -> dict:
    items = {}
    for m in modules:
        if m in ("head", TOWERS):
            items["head"] = _head(model, with_regressor=m == "head",
                                  with_classifier=m == "head" and CLASSIFIER in modules)
        elif m == CLASSIFIER:
            continue  # (part of the head's item)
        else:
            items[m] = getattr(model, m)
    return items


def read(prefix: str, model, modules) -> None:
    """Restore ``modules`` of ``model`` from ``prefix``; AssertionError/ValueError when the
    checkpoint does not hold all of them."""
    import tensorflow as tf

    status = tf.train.Checkpoint(**_items(model, modules)).read(prefix)
    status.expect_partial().assert_existing_objects_matched()


def _restores(prefix: str, model, modules: list[str]) -> bool:
    try:
        read(prefix, model, modules)
    except (AssertionError, ValueError):
        return False
    return True


def restore_error(prefix: str, model, module: str) -> str | None:
    """None when ``module`` (or `TOWERS`) restores completely from ``prefix``, else why not."""
    layer = model.head if module == TOWERS else getattr(model, module, None)
    if layer is None:
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
    if not layer.weights:
        return f"{module} has no variables"
    return None


def plan(prefix: str, model, input_size: int,
         same_classes: bool = False) -> tuple[list[str], dict[str, str], dict]:
    """Which modules of ``model`` (built here) restore from ``prefix``.

    Args:
        same_classes: the checkpoint was trained on the same labels (an earlier run of
            this dataset, as `lookout retrain` starts from): its class outputs are kept
            too (`CLASSIFIER`), so training starts from that model as it was.

    Returns:
        ``(modules, skipped, counts)``: the modules to restore (``head``, or `TOWERS` when
        only the anchors differ; `CLASSIFIER` with ``head``), why others are not (or not
        whole), and per module ``{"restored": n, "fresh": n}`` variable counts.

    Without the backbone in ``modules`` nothing useful restores (the caller says so).
    """
    build(model, input_size)
    modules, skipped = [], {}
    for module in MODULES:
        reason = restore_error(prefix, model, module)
        if reason is not None and module == "head" and restore_error(prefix, model, TOWERS) is None:
            modules.append(TOWERS)
            skipped[module] = f"anchors differ from the checkpoint's ({reason})"
        elif reason is None:
            modules.append(module)
        elif getattr(model, module, None) is not None:
            skipped[module] = reason
    if same_classes and "head" in modules and _restores(prefix, model, ["head", CLASSIFIER]):
        modules.append(CLASSIFIER)  # the head whole: its class outputs fit this model
    fresh = {"head": class_dependent if CLASSIFIER not in modules else lambda m: [],
             TOWERS: anchor_dependent}
    fresh_ids = {id(v) for m in modules if m in fresh for v in fresh[m](model)}
    counts = {}
    for module in MODULES:
        layer = getattr(model, module, None)
        if layer is None:
            continue
        weights = layer.weights
        taken = module in modules or (module == "head" and TOWERS in modules)
        restored = sum(id(v) not in fresh_ids for v in weights) if taken else 0
        counts[module] = {"restored": restored, "fresh": len(weights) - restored}
    return modules, skipped, counts


def initializer(prefix: str, modules: list[str], input_size: int):
    """A replacement for ``task.initialize(model)`` that restores ``modules`` as `plan` chose."""
    def initialize(model) -> None:
        build(model, input_size)
        read(prefix, model, modules)

    return initialize
