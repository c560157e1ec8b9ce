"""What a run trains, decided before its first step: budget, weights, input, levels, steps.

`plan_run` turns ``[train]`` into the run's settings:

1. The budget: ``train.time``; on a CPU with neither time nor steps, ``train.cpu_time``
   (30m); on a GPU with neither, `DEFAULT_STEPS` steps and no clock.
2. The weights: ``init = "auto"`` takes the preset's COCO checkpoint when it can get it
   (`training.init.auto_init`), else trains from scratch and says so.
3. Input size and finest pyramid level, under the budget. The data says what it would
   like (`training.fit.fit_to_data`: the input that makes 90% of the boxes 16 px, a finer
   level when boxes are too small for the preset's); a probe times real training steps at
   the cheapest choice (`training.budget.probe_step_seconds`) and `STEP_COST` scales it to
   the others. The rule: take the choice that reaches the smallest objects (feature map
   side ``input / 2**min_level``) among those that still give the run `MIN_IMAGES` images
   (steps x batch) in the budget; when none does, the cheapest, and no zoom-in.
4. The steps: what the budget allows at the estimated step time (the learning-rate
   schedule decays over them), or ``train.steps`` when that comes first.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import UserError
from training.autosize import FLOOR, BoxStats, round_up
from training.budget import DEFAULT_STEPS, format_duration, parse_duration, steps_within
from training.config import TrainConfig
from training.fit import DataFit, fit_to_data
from training.presets import PRESETS

# Seconds per training step relative to 256 px at min_level 3 (retinanet-mobilenetv2-fpn,
# batch 8, raccoon, this project's 2-core CPU shared with other work: `lookout bench train
# --mode costs`, each choice timed in turns with 256 px / level 3, medians of 5). Steps
# cost more than Model Garden's FLOPs say (level 3: 1.56x, 2.25x, 3.06x, 4.0x, 6.25x at
# 320-640 px; level 2: 2.16x, 3.38x, 4.86x, 8.64x at 256-512 px): memory traffic grows
# with the feature maps. Sizes between the measured ones are interpolated by pixels,
# larger ones extrapolated (`relative_cost`).
STEP_COST: dict[int, dict[int, float]] = {
    3: {256: 1.0, 320: 2.16, 384: 3.62, 448: 3.97, 512: 5.83, 640: 8.62},
    2: {256: 1.56, 320: 2.75, 384: 5.98, 512: 8.58},
}
# Images a run must see (steps x batch) for a larger input or a finer level to pay: with
# Model Garden's defaults on a 2-core CPU, 2000 steps of 8 images reached AP50 0.30 on a
# film set where 400 steps at 640 px with level 2 scored 0.000 (issue 23); 1500 steps of 8
# keep three quarters of the runs that learnt.
MIN_IMAGES = 12_000
# The zoom-in augmentation (`aug_zoom`) is held to the same bar: its crops show fewer,
# larger objects than the test images have, which a short run cannot afford. On the 12x12
# raccoon mosaics, 10 minutes from scratch at 256 px with fitted anchors (`bench train
# --mode budget`, batch 4, about 3,700 images): AP50 0.069 with it, 0.331 without (Model
# Garden's anchors and the previous 2000-step schedule: 0.240). Above MIN_IMAGES it stays
# as issue 18 measured it (with 576 px and fitted anchors, from a checkpoint: 1.61x).


def relative_cost(size: int, min_level: int) -> float:
    """`STEP_COST` at any size: linear in the input's pixels between the measured sizes,
    proportional to them beyond."""
    table = STEP_COST[2 if min_level <= 2 else 3]
    sizes = sorted(table)
    if size <= sizes[0]:
        return table[sizes[0]] * (size / sizes[0]) ** 2
    if size >= sizes[-1]:
        return table[sizes[-1]] * (size / sizes[-1]) ** 2
    hi = next(s for s in sizes if s >= size)
    lo = max(s for s in sizes if s <= size)
    if hi == lo:
        return table[lo]
    t = (size**2 - lo**2) / (hi**2 - lo**2)
    return table[lo] + t * (table[hi] - table[lo])


@dataclass
class Candidate:
    size: int
    min_level: int
    step_seconds: float
    steps: int

    @property
    def reach(self) -> float:
        """Side of the finest feature map: what sets the smallest object learnt."""
        return self.size / 2**self.min_level


@dataclass
class Plan:
    """The run's settings (``cfg`` resolved: input size, steps, init) and why."""

    cfg: TrainConfig
    fit: DataFit
    messages: list[tuple[str, bool]] = field(default_factory=list)  # (text, is a warning)
    budget_s: float | None = None  # None: steps only, no clock
    step_seconds: float | None = None  # estimated before the first step
    setup_s: float = 0.0  # building and tracing the model, once more in the run

    def as_dict(self) -> dict:
        return {"budget_s": self.budget_s, "steps": self.cfg.steps,
                "step_seconds": None if self.step_seconds is None else round(self.step_seconds, 4)}


def budget_of(cfg: TrainConfig, gpu: bool) -> tuple[float | None, str]:
    """``(seconds, where it came from)``; None when the run is counted in steps."""
    seconds = parse_duration(cfg.time, "train.time")
    if seconds is not None:
        return seconds, f"--time {cfg.time}"
    if cfg.steps or gpu or cfg.strategy == "multi_worker_mirrored":  # workers count steps
        return None, ""
    why = ("train.cpu_time, the default on a CPU; ask for more with --time 2h, or give "
           "exact --steps N")
    return parse_duration(cfg.cpu_time, "train.cpu_time"), why


def plan_run(cfg: TrainConfig, records: list[Path], build: Callable, *, gpu: bool,
             clock: float, probe: Callable, init: Callable,
             stats: BoxStats | None = None,
             say: Callable[[str, bool], None] | None = None) -> Plan:
    """Decide the run (see the module doc).

    Args:
        build: ``build(cfg, fit) -> params`` (the Model Garden experiment).
        clock: ``time.monotonic()`` when the run began (the budget counts from there).
        probe: ``probe(params) -> (seconds per step, setup seconds)``.
        init: ``init(preset) -> (init spec, line)`` resolving ``init = "auto"``.
        stats: the training boxes (default: read from ``records``).
        say: ``say(text, warning)`` gets each message as soon as it is decided (the budget
            line first, before the probe runs); all of them are in `Plan.messages` too.
    """
    budget_s, source = budget_of(cfg, gpu)
    messages = _Messages(say)
    if budget_s is not None:
        text = f"training for {format_duration(budget_s)} ({source}), then evaluating"
        messages.append((text, False))
    if budget_s is not None and cfg.strategy == "multi_worker_mirrored":
        raise UserError("train.time: a multi-worker run is counted in steps; give --steps N")
    spec = cfg.init
    if spec == "auto":
        spec, line = init(cfg.model)
        if line:
            messages.append((line, True))
    elif spec == "none":
        spec = ""
    cfg = dataclasses.replace(cfg, init=spec)
    stats = stats if stats is not None else BoxStats.from_records(records)
    wanted = fit_to_data(cfg, records, stats)
    if budget_s is None:
        steps = cfg.steps or DEFAULT_STEPS
        cfg = dataclasses.replace(cfg, input_size=wanted.input_size, steps=steps)
        messages.extend(_said(wanted))
        return Plan(cfg, wanted, list(messages))

    preset = PRESETS[cfg.model]
    base_level = preset.levels[0]
    pretrained = bool(spec) and _is_detector(spec, cfg)  # its FPN has the preset's levels
    auto = cfg.input_size == "auto"
    if auto:
        smallest = min(wanted.input_size, round_up(FLOOR, preset.size_multiple))
        sizes = list(range(smallest, wanted.input_size + 1, preset.size_multiple))
    else:
        sizes = [int(cfg.input_size)]
    levels = sorted({base_level, wanted.anchors.min_level}, reverse=True)
    ref_fit = fit_to_data(cfg, records, stats, size=sizes[0] if auto else None, finer=False)
    params = build(dataclasses.replace(cfg, input_size=sizes[0], steps=DEFAULT_STEPS), ref_fit)
    ref_seconds, setup = probe(params)
    ref_cost = relative_cost(sizes[0], base_level)

    def candidate(size: int, level: int) -> Candidate:
        per_step = ref_seconds * relative_cost(size, level) / ref_cost
        left = budget_s - (time.monotonic() - clock)
        return Candidate(size, level, per_step, steps_within(left, per_step, setup))

    options = [candidate(s, lv) for s in sizes for lv in levels]
    enough = [c for c in options if c.steps * cfg.batch >= MIN_IMAGES]
    chosen = max(enough, key=lambda c: (c.reach, -c.step_seconds)) if enough else options[0]
    fit = fit_to_data(cfg, records, stats, size=chosen.size if auto else None,
                      finer=chosen.min_level < base_level and not pretrained,
                      zoom_pays=chosen.steps * cfg.batch >= MIN_IMAGES)
    final = candidate(chosen.size, fit.anchors.min_level)
    steps = min(cfg.steps, final.steps) if cfg.steps else final.steps
    cfg = dataclasses.replace(cfg, input_size=chosen.size, steps=steps)
    messages.extend(_said(fit))
    messages.append((_why(chosen, options, wanted, ref_seconds, sizes[0], cfg.batch), False))
    end = time.time() + min(budget_s - (time.monotonic() - clock),
                            setup + steps * final.step_seconds)
    messages.append((f"about {final.step_seconds:.2f} s/step → {steps} steps"
                     + (" (--steps comes first)" if steps < final.steps else "")
                     + f"; training ends about {time.strftime('%H:%M', time.localtime(end))}",
                     False))
    return Plan(cfg, fit, list(messages), budget_s, final.step_seconds, setup)


class _Messages(list):
    """The plan's messages, each also said at once when there is someone to tell."""

    def __init__(self, say: Callable[[str, bool], None] | None) -> None:
        super().__init__()
        self.say = say

    def append(self, item: tuple[str, bool]) -> None:
        super().append(item)
        if self.say is not None:
            self.say(*item)

    def extend(self, items) -> None:
        for item in items:
            self.append(item)


def _said(fit: DataFit) -> list[tuple[str, bool]]:
    return [(line, False) for line in fit.lines] + [(line, True) for line in fit.warnings]


def _why(chosen: Candidate, options: list[Candidate], wanted: DataFit, ref_seconds: float,
         ref_size: int, batch: int) -> str:
    """One line: what the budget chose and what it turned down."""
    need = -(-MIN_IMAGES // batch)
    text = (f"budget: input {chosen.size}, finest level {chosen.min_level} "
            f"(probe: {ref_seconds:.2f} s/step at {ref_size} px)")
    declined = [c for c in options if c.reach > chosen.reach]
    if declined:
        best = max(declined, key=lambda c: c.reach)
        text += (f"; the data would like input {wanted.input_size}, level "
                 f"{wanted.anchors.min_level}, but input {best.size} at level {best.min_level} "
                 f"allows only {best.steps} steps, under the {need} a run needs to learn")
    return text


def _is_detector(spec: str, cfg: TrainConfig) -> bool:
    """Does ``spec`` name a published detector (its FPN is built for the preset's levels)?"""
    from training.catalogue import FULL, lookup

    weights = lookup(spec, cfg.model)
    return weights is not None and weights.contents == FULL
