"""Training under a time budget: durations, the plan made before the first step, the clock
ending a real run the way Ctrl+C does (then evaluated), the ETA and the progress lines a
log gets, and the warning of a run that is not learning."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from rich.console import Console

from core.errors import UserError
from core.progress import Progress
from lookout.progress import Bars, plain_line
from training.autosize import BoxStats
from training.budget import format_duration, parse_duration
from training.config import TrainConfig
from training.health import LossWatch, not_learning
from training.plan import MIN_IMAGES, plan_run, relative_cost
from training.progress import ProgressAction, StopFlag, TimeUp


@pytest.mark.parametrize(("text", "seconds"), [
    ("30m", 1800), ("2h", 7200), ("90s", 90), ("1h30m", 5400), ("1.5h", 5400), ("", None),
    (" 45 S ", 45),
])
def test_durations(text, seconds) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["30", "soon", "10x", "0s", "5m later"])
def test_bad_durations_are_one_line(text) -> None:
    with pytest.raises(UserError, match=r"train.time: .*30m, 2h or 90s|must be more than 0"):
        parse_duration(text)
    with pytest.raises(UserError, match="train.time"):
        TrainConfig(time=text)


def test_format_duration() -> None:
    assert [format_duration(s) for s in (90, 1800, 5400, 45)] == ["1m30s", "30m", "1h30m", "45s"]


def test_step_cost_grows_with_the_input_and_the_finer_level() -> None:
    sizes = [256, 288, 320, 448, 640, 768]
    for level in (3, 2):
        costs = [relative_cost(s, level) for s in sizes]
        assert costs == sorted(costs) and len(set(costs)) == len(costs)
    assert relative_cost(256, 3) == 1.0
    assert all(relative_cost(s, 2) > relative_cost(s, 3) for s in sizes)


def _small_boxes(n: int = 400) -> BoxStats:
    """Objects of 6-20 px in 1000 px frames: the data would like a large input, level 2."""
    rng = np.random.default_rng(0)
    side = rng.uniform(6, 20, n)
    cx, cy = rng.uniform(50, 950, n), rng.uniform(50, 500, n)
    rows = np.stack([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2,
                     np.full(n, 1000.0), np.full(n, 563.0)], axis=1)
    return BoxStats.from_boxes(rows)


def _plan(budget: str, probe_s: float = 0.5, **changes):
    probes, said = [], []

    def probe(params):
        assert said[0][0].startswith("training for ")  # said before the probe's wait
        probes.append(params)
        return probe_s, 10.0

    cfg = TrainConfig(time=budget, init="none", max_input_size=640, **changes)
    plan = plan_run(cfg, [], lambda c, f: (c.input_size, f.anchors.min_level), gpu=False,
                    clock=__import__("time").monotonic(), probe=probe,
                    init=lambda preset: ("", ""), stats=_small_boxes(),
                    say=lambda text, warning: said.append((text, warning)))
    assert said == plan.messages
    return plan, probes


def test_a_short_budget_keeps_the_cheap_input() -> None:
    plan, probes = _plan("30m", probe_s=1.0)
    assert probes == [(256, 3)]  # the probe runs the cheapest choice
    assert plan.cfg.input_size == 256 and plan.fit.anchors.min_level == 3
    assert plan.cfg.steps * plan.cfg.batch >= MIN_IMAGES
    text = [t for t, _ in plan.messages]
    assert text[0] == "training for 30m (--time 30m), then evaluating"
    assert any("the data would like input 640, level 2" in t and "allows only" in t
               for t in text)
    assert any(t.startswith("about 1.00 s/step → ") and "training ends about" in t
               for t in text)


def test_a_long_budget_buys_a_larger_input_and_the_finer_level() -> None:
    short, _ = _plan("30m", probe_s=1.0)
    long, _ = _plan("12h", probe_s=1.0)
    assert long.cfg.input_size > short.cfg.input_size
    assert long.fit.anchors.min_level == 2
    assert long.step_seconds == pytest.approx(relative_cost(long.cfg.input_size, 2))
    # the schedule decays to the end of the budget: steps fill it at the estimated pace
    assert long.cfg.steps == pytest.approx(12 * 3600 / long.step_seconds, rel=0.01)


def test_zoom_in_only_when_the_budget_gives_enough_images() -> None:
    # small objects: the data asks for the zoom-in; 10 minutes at 1 s/step cannot pay for it
    short, _ = _plan("10m", probe_s=1.0)
    assert short.cfg.steps * short.cfg.batch < MIN_IMAGES and not short.fit.zoom
    assert any("no zoom-in augmentation: the budget allows too few steps" in t
               for t, _ in short.messages)
    enough, _ = _plan("30m", probe_s=1.0)
    assert enough.fit.zoom
    forced, _ = _plan("10m", probe_s=1.0, aug_zoom="on")  # the user's word stands
    assert forced.fit.zoom


def test_steps_and_time_the_first_reached_ends() -> None:
    plan, _ = _plan("12h", steps=300)
    assert plan.cfg.steps == 300
    assert any("--steps comes first" in t for t, _ in plan.messages)


def test_cpu_default_is_a_budget_gpu_default_is_steps() -> None:
    clock = __import__("time").monotonic()
    common = {"build": lambda c, f: None, "clock": clock, "probe": lambda p: (0.5, 1.0),
              "init": lambda preset: ("", ""), "stats": _small_boxes()}
    cpu = plan_run(TrainConfig(init="none", cpu_time="20m"), [], gpu=False, **common)
    assert cpu.budget_s == 1200
    assert cpu.messages[0][0].startswith("training for 20m (train.cpu_time, the default on a "
                                         "CPU; ask for more with --time 2h")
    gpu = plan_run(TrainConfig(init="none"), [], gpu=True, **common)
    assert gpu.budget_s is None and gpu.cfg.steps == 2000
    steps = plan_run(TrainConfig(init="none", steps=50), [], gpu=False, **common)
    assert steps.budget_s is None and steps.cfg.steps == 50


class _Step:
    def __init__(self) -> None:
        self.value = 0

    def numpy(self) -> int:
        return self.value


def test_eta_from_the_first_report_and_the_clock_ends_the_run() -> None:
    import time

    reports: list[Progress] = []
    step = _Step()
    action = ProgressAction(step, 100, 2, StopFlag(), reports.append, step_seconds=0.5,
                            deadline=time.monotonic() + 3600)
    assert reports[0].eta == pytest.approx(50.0)  # before any step: the probe's estimate
    step.value = 10
    action({"total_loss": 1.0})
    assert reports[-1].eta is not None and reports[-1].eta > 0
    action.deadline = time.monotonic() - 1  # the budget is spent
    step.value = 20
    with pytest.raises(TimeUp):
        action({"total_loss": 1.0})


def test_a_flat_loss_warns_once_a_falling_one_never() -> None:
    flat = LossWatch(100)
    signs = [flat.add(step, 1.0 - 0.001 * step) for step in range(10, 110, 10)]
    fired = [s for s in signs if s]
    assert len(fired) == 1 and "fell only" in fired[0]
    falling = LossWatch(100)
    assert not any(falling.add(step, 2.0 / (1 + step / 10)) for step in range(10, 110, 10))
    text = not_learning(fired[0], input_size=640, under_16px=0.3, steps=400, batch=8, lr=0.01,
                        init="", class_boxes={"car": 500, "bike": 12})
    assert text.count("this run may not be learning") == 1
    for cause in ("objects too small", "too few steps for input 640", "bike (12)",
                  "learning rate", "no pretrained weights"):
        assert cause in text
    assert "car" not in text  # only the causes that hold


def test_without_a_terminal_a_line_at_least_every_interval() -> None:
    import time

    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=200)
    with Bars(console, every_s=0.2) as bars:
        bars(Progress("train", 10, 100, "loss 1.0", eta=90.0))
        deadline = time.monotonic() + 30
        while ((out.getvalue().count("train 10/100") < 3 or "ETA 0:01:29" not in out.getvalue())
               and time.monotonic() < deadline):
            time.sleep(0.05)
    lines = [x for x in out.getvalue().splitlines() if x.startswith("train 10/100")]
    assert len(lines) >= 3
    assert "ETA 0:01:30" in lines[0] and "ETA 0:01:29" in lines[-1]  # counts down
    assert plain_line(Progress("train", 5, None, "x")) == "train 5  x"


# ---------------------------------------------------------------- real runs

@pytest.mark.slow
def test_the_clock_ends_a_real_run_then_it_is_evaluated(tmp_path, monkeypatch) -> None:
    import training.train as train_module
    from tests.training.runs import fruit_dataset, tiny_cfg
    from training.train import train

    # the probe is told steps are instant, so the plan holds far more steps than the
    # budget: only the clock can end this run
    monkeypatch.setattr(train_module, "probe_step_seconds", lambda params, strategy: (1e-4, 0.0))
    said = []
    info = train(fruit_dataset(tmp_path), tmp_path / "run", tiny_cfg(steps=0, time="15s"),
                 notify=lambda text, warning: said.append((text, warning)))
    assert info.stopped_by == "time" and not info.interrupted
    assert 0 < info.step < info.steps
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["status"] == "done" and run["stopped_by"] == "time"
    assert run["budget"]["budget_s"] == 15 and run["train"]["steps"] == info.steps
    assert (tmp_path / "run" / f"ckpt-{info.step}.index").is_file()  # saved at the stop
    assert info.metrics is not None and (tmp_path / "run" / "metrics.json").is_file()
    assert said[0] == ("training for 15s (--time 15s), then evaluating", False)
    # fruit-nuts fits in memory: its decoded images are cached (augmented after the cache)
    (cache,) = [t for t, _ in said if t.startswith("input cache:")]
    assert "decoded images" in cache and "in memory" in cache, cache


@pytest.mark.slow
def test_cli_cpu_default_budget_first_line_and_log_lines(tmp_path) -> None:
    from tests.training.runs import fruit_dataset, lookout

    config = tmp_path / "config.toml"
    config.write_text('[train]\ncpu_time = "10s"\ninput_size = 128\nbatch = 2\n')
    proc = lookout("--config", str(config), "train", str(fruit_dataset(tmp_path)),
                   "--out", str(tmp_path / "run"), "--no-eval")
    out, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err[-2000:]
    lines = out.splitlines()
    assert lines[0].startswith("training for 10s (train.cpu_time, the default on a CPU; ask "
                               "for more with --time 2h"), out
    assert any(x.startswith("warning: init: training retinanet-mobilenetv2-fpn from scratch")
               and "LOOKOUT_WEIGHTS_URL" in x for x in lines), out  # offline: said once
    assert any(x.startswith("about ") and "s/step" in x and "training ends about" in x
               for x in lines), out
    progress = [x for x in lines if x.startswith("train ")]
    assert progress and "ETA" in progress[0], out  # a log shows how far it is
    assert "Traceback" not in err
