"""`gpu_visible`: the GPU question answered without TensorFlow (realtime/devices.py)."""

from __future__ import annotations

import importlib.util

import pytest

from realtime import devices


@pytest.mark.parametrize(("env", "nodes", "tf_installed", "expected"), [
    (None, ["/dev/nvidia0", "/dev/nvidiactl"], True, True),
    ("0", ["/dev/nvidia0"], True, True),
    ("-1", ["/dev/nvidia0"], True, False),  # hidden by CUDA_VISIBLE_DEVICES
    ("", ["/dev/nvidia0"], True, False),
    (None, ["/dev/nvidiactl", "/dev/nvidia-uvm"], True, False),  # driver, no device
    (None, [], True, False),
    (None, ["/dev/nvidia0"], False, False),  # runtime-only install: nothing could use it
])
def test_gpu_visible_rule(env, nodes, tf_installed, expected, monkeypatch):
    if env is None:
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    else:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", env)
    monkeypatch.setattr(devices.glob, "glob", lambda pattern: nodes)
    real = importlib.util.find_spec
    monkeypatch.setattr(devices.importlib.util, "find_spec",
                        lambda name: (object() if tf_installed else None)
                        if name == "tensorflow" else real(name))
    assert devices.gpu_visible() is expected
