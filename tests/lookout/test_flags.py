"""Every verb that runs a model takes the same detector and pipeline flags, from one
definition (`lookout.commands._flags`), and they reach the config."""

from __future__ import annotations

import argparse

import pytest

from lookout.cli import build_parser
from lookout.commands import _flags
from lookout.commands.watch import apply_flags
from lookout.config import Config


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
    config = apply_flags(args, Config())
    assert config.detector.tile == "512"
    assert config.detector.labels == "lm.pbtxt" and config.detector.score == 0.3
    assert config.detector.classes == ["person", "cat"]
    assert (config.pipeline.batch, config.pipeline.stride, config.pipeline.resize,
            config.pipeline.max_wait_ms) == (2, 3, 320, 5.0)
    untouched = apply_flags(parser.parse_args(["watch", "m", "--source", "s"]), Config())
    assert untouched.detector == Config().detector and untouched.pipeline == Config().pipeline
