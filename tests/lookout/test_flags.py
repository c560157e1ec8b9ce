"""Every verb that runs a model takes the same detector and pipeline flags, from one
definition (`lookout.commands._flags`), and one function (`run_settings`) turns flags
and config into the one `RunSettings` each verb hands to its library call."""

from __future__ import annotations

import argparse

import pytest

from lookout.cli import build_parser
from lookout.commands import _flags
from lookout.config import Config
from realtime.config import PipelineConfig
from realtime.settings import RunSettings
from realtime.tracking.config import TrackConfig


def verb_parsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices


def options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {s: a for a in parser._actions for s in a.option_strings}


@pytest.mark.parametrize("verb", sorted(_flags.MODEL_VERB_FLAGS))
def test_verb_takes_exactly_the_shared_flags(verb):
    definitions = {**_flags.DETECTOR_FLAGS, **_flags.PIPELINE_FLAGS}
    wanted = set(_flags.MODEL_VERB_FLAGS[verb])
    have = options(verb_parsers()[verb])
    for flag, spec in definitions.items():
        if flag not in wanted:
            assert flag not in have, f"{verb} has {flag} outside the shared definition"
            continue
        action = have[flag]
        assert action.default is None, f"{verb} {flag}: a default would hide config.toml"
        assert action.help == spec["help"] and action.type == spec.get("type")
        assert action.choices == spec.get("choices")
        assert action.dest == spec.get("dest", flag.lstrip("-").replace("-", "_"))
    assert set(_flags.DETECTOR_FLAGS) <= wanted  # every verb that runs a model


def test_every_verb_with_a_model_argument_is_in_the_definition():
    for verb, parser in verb_parsers().items():
        runs_model = any(a.dest == "model" and not a.option_strings and "bundle" in a.help
                         for a in parser._actions)  # the MODEL argument: it runs a model
        assert runs_model == (verb in _flags.MODEL_VERB_FLAGS), verb


def test_watch_flags_reach_the_detector_and_pipeline_config():
    parser = build_parser()
    args = parser.parse_args(["watch", "m", "--source", "s", "--labels", "lm.pbtxt",
                              "--score", "0.3", "--classes", "person, cat", "--batch", "2",
                              "--stride", "3", "--resize", "320", "--max-wait", "5",
                              "--tile", "512"])
    config = _flags.run_settings(args, Config(), "watch")
    assert config.detector.tile == "512"
    assert config.detector.labels == "lm.pbtxt" and config.detector.score == 0.3
    assert config.detector.classes == ["person", "cat"]
    assert (config.pipeline.batch, config.pipeline.stride, config.pipeline.resize,
            config.pipeline.max_wait_ms) == (2, 3, 320, 5.0)
    untouched = _flags.run_settings(parser.parse_args(["watch", "m", "--source", "s"]),
                                    Config(), "watch")
    assert untouched.detector == Config().detector and untouched.pipeline == Config().pipeline


class _Captured(Exception):
    """Raised by the stand-in library calls below, carrying the settings they got."""


# verb -> (its command line, the library call it makes, where that call takes settings)
VERB_CALLS = {
    "predict": (["predict", "m", "a.png", "--out", "o"], "realtime.predict.predict_images", 3),
    "annotate": (["annotate", "m", "c.mp4", "--out", "o.mp4"], "realtime.annotate.annotate", 3),
    "live": (["live", "m", "--no-window"], "realtime.live.run_live", 2),
    "watch": (["watch", "m", "--source", "c.mp4"], "realtime.watch.runner.run_watch", 2),
    "batch": (["batch", "m", "c.mp4", "--out", "o"], "realtime.batch.run_batch", 3),
    "watch --replay": (["watch", "m", "--replay", "c.mp4", "--truth", "t"],
                       "realtime.watch.replay.replay", 2),
}


@pytest.mark.parametrize("verb", sorted(VERB_CALLS))
def test_every_model_verb_hands_one_settings_object_built_from_flags_and_config(
        verb, monkeypatch):
    """A flag and a config value reach each verb's library call through `RunSettings`."""
    import importlib

    argv, target, at = VERB_CALLS[verb]
    module, name = target.rsplit(".", 1)

    def stand_in(*args, **kwargs):
        raise _Captured(args[at] if len(args) > at else kwargs.get("settings"))

    monkeypatch.setattr(importlib.import_module(module), name, stand_in)
    config = Config(pipeline=PipelineConfig(queue_size=5), track=TrackConfig(max_missed=9))
    args = build_parser().parse_args([*argv, "--score", "0.3", "--max-det", "7"])
    with pytest.raises(_Captured) as got:
        args.func(args, config)
    settings = got.value.args[0]
    if verb == "batch":
        settings = settings.run  # BatchSettings: the run's settings and Ray's options
    assert isinstance(settings, RunSettings)
    assert (settings.detector.score, settings.detector.max_det) == (0.3, 7)
    assert settings.pipeline.queue_size == 5 and settings.track.max_missed == 9


@pytest.mark.parametrize("verb", ["annotate", "live", "batch"])
def test_tracking_flags_reach_every_verb_that_tracks(verb):
    argv = VERB_CALLS[verb][0]
    args = build_parser().parse_args([*argv, "--no-track", "--max-missed", "4",
                                      "--line", "0,0.5,1,0.5"])
    settings = _flags.run_settings(args, Config(), verb)
    assert not settings.track.enabled and settings.track.max_missed == 4
    assert [ln.name for ln in settings.track.lines] == ["line1"]
