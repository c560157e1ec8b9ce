"""config.toml loading: typed tables, unknown keys and wrong types name file, line and key."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from core.errors import UserError
from lookout.cli import main
from lookout.config import Config, describe, load_config, override

REPO_CONFIG = Path(__file__).resolve().parents[2] / "config.toml"


def test_repo_config_loads_and_matches_defaults():
    assert load_config(REPO_CONFIG) == Config()


def test_every_key_is_documented_in_repo_config():
    text = REPO_CONFIG.read_text()
    for key, _default, meaning in describe():
        if "[" in key:
            continue
        table, _, leaf = key.rpartition(".")
        assert meaning, f"{key} has no doc"
        assert f"[{table}]" in text or f"[[{table}]]" in text, f"table [{table}] missing"
        line = next((ln for ln in text.splitlines() if ln.strip().startswith(f"{leaf} ")), None)
        if line is None:  # list-of-table fields may live in [[...]] examples only
            continue
        assert "#" in line, f"{key}: no comment beside it in config.toml"


def test_values_are_typed(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[train]\nsteps = 50\nlr = 1\n[detector]\nclasses = ['red']\n")
    config = load_config(path)
    assert config.train.steps == 50
    assert config.train.lr == 1.0 and isinstance(config.train.lr, float)
    assert config.detector.classes == ["red"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[train]\nstpes = 5\n", r"c.toml:2: train.stpes: unknown key"),
        ("[trian]\n", r"c.toml:1: trian: unknown key"),
        ("[train]\n\nsteps = 'many'\n", r"c.toml:3: train.steps: expected int, got string 'many'"),
        ("[train]\nsteps = true\n", r"c.toml:2: train.steps: expected int, got bool"),
        ("[detector]\nclasses = 'red'\n", r"detector.classes: expected a list"),
        ("[train\n", r"c.toml: invalid TOML"),
    ],
)
def test_bad_config_names_file_line_and_key(tmp_path, text, expected):
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(UserError, match=re.escape(expected)):
        load_config(path)


def test_missing_file_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="config file not found"):
        load_config(tmp_path / "nope.toml")


def test_flags_override_file_values(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[train]\nsteps = 50\nbatch = 4\n")
    train = override(load_config(path).train, steps=7, batch=None)
    assert (train.steps, train.batch) == (7, 4)


def test_config_check_cli(tmp_path, capsys):
    good = tmp_path / "good.toml"
    good.write_text("[pipeline]\nbatch = 2\n")
    assert main(["config", "check", str(good)]) == 0
    bad = tmp_path / "bad.toml"
    bad.write_text("[pipeline]\nbatch = 2\nbogus = 1\n")
    assert main(["config", "check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "bad.toml:3: pipeline.bogus: unknown key" in err
    assert "Traceback" not in err


def test_config_check_reports_every_bad_value_with_its_line(tmp_path, capsys):
    path = tmp_path / "c.toml"
    path.write_text(
        "[train]\n"                  # 1
        "input_size = 100\n"         # 2
        "\n"
        "[detector]\n"               # 4
        "score = 2.0\n"              # 5
        "\n"
        "[pipeline]\n"               # 7
        "batch = 0\n"                # 8
        "\n"
        "[[watch.rules]]\n"          # 10
        "labels = ['person']\n"
        "confirm_k = 5\n"            # 12
        "confirm_n = 3\n"
    )
    assert main(["config", "check", str(path)]) == 1
    err = capsys.readouterr().err
    for expected in (("c.toml:2: train.input_size: retinanet-mobilenetv2-fpn needs a positive "
                     "multiple of 64, got 100"),
                     "c.toml:5: detector.score: must be between 0 and 1, got 2.0",
                     "c.toml:8: pipeline.batch: must be at least 1, got 0",
                     "c.toml:12: watch.rules[0].confirm_k: need confirm_k (5) <= confirm_n (3)"):
        assert expected in err
    assert "Traceback" not in err and "ok" not in err


@pytest.mark.parametrize(("text", "expected"), [
    ("[[watch.rules]]\nlabels = ['a']\n[[watch.rules]]\nlabels = ['b']\nmin_score = 1.5\n",
     "c.toml:5: watch.rules[1].min_score: must be between 0 and 1, got 1.5"),
    ("[watch.motion]\nrecheck_s = 9.0\n",
     "c.toml:2: watch.motion.recheck_s: 9.0 must be shorter than every rule's end_after_s (5)"),
    ("[train]\nstrategy = 'fast'\n", ("c.toml:2: train.strategy: must be one of one_device | "
                                     "mirrored | multi_worker_mirrored, got 'fast'")),
    ("[detector]\nclasses = ['a', 3]\n", "c.toml:2: detector.classes[1]: expected str, got int 3"),
    ("[annotate]\ncrf = 60\n", "c.toml:2: annotate.crf: must be between 0 and 51, got 60"),
])
def test_ranges_and_rules_name_file_line_and_key(tmp_path, text, expected):
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(UserError) as info:
        load_config(path)
    assert expected in str(info.value)


def test_tables_built_in_python_are_checked_and_name_the_key():
    from realtime.config import DetectorConfig, PipelineConfig

    with pytest.raises(UserError, match=r"^detector\.score: must be between 0 and 1, got 2\.0$"):
        DetectorConfig(score=2.0)
    with pytest.raises(UserError, match=r"pipeline\.batch: must be at least 1, got 0"):
        dataclasses.replace(PipelineConfig(), batch=0)


def test_a_bad_flag_value_names_the_flag_and_the_key():
    with pytest.raises(UserError, match=re.escape(
            "--max-wait -1.0 (pipeline.max_wait_ms): must be at least 0, got -1.0")):
        override(Config().pipeline, max_wait_ms=-1.0)
