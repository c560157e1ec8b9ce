"""``--freeze backbone`` / ``backbone,decoder``: fine-tune only the higher layers.

The tutorials' advice for very small sets: keep what the pretrained backbone (and FPN)
learnt and train the rest. A frozen Keras module leaves ``trainable_variables`` (so
Model Garden's train step computes no update for it) and runs its batch norms in
inference mode, so its moving statistics stay as restored too.
"""

from __future__ import annotations

from core.errors import UserError

FREEZABLE = ("backbone", "decoder")


def parse_freeze(text: str | list[str] | None) -> list[str]:
    """``"backbone,decoder"`` → ``["backbone", "decoder"]``; '' → []."""
    items = text if isinstance(text, list) else (text or "").split(",")
    modules = [m.strip() for m in items if m and m.strip()]
    unknown = [m for m in modules if m not in FREEZABLE]
    if unknown:
        raise UserError(f"--freeze {','.join(modules)}: can freeze {' and '.join(FREEZABLE)} "
                        f"(not {', '.join(unknown)})")
    return [m for m in FREEZABLE if m in modules]


def freeze_on_build(task, modules: list[str]) -> None:
    """Make ``task.build_model`` return models with ``modules`` frozen."""
    if not modules:
        return
    build_model = task.build_model

    def build_frozen():
        model = build_model()
        for name in modules:
            layer = getattr(model, name, None)
            if layer is None:
                raise UserError(f"--freeze {name}: this preset has no {name}")
            layer.trainable = False
        return model

    task.build_model = build_frozen
