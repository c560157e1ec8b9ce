"""config.toml loading: typed tables, unknown keys and wrong types name file, line and key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lookout.cli import main
from lookout.config import Config, describe, load_config, override
from lookout.errors import UserError

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
