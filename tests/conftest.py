"""Shared fixtures: real tiny models in every format, the tutorial datasets, and one
fixture per system tool the tests drive (see tests/fixtures)."""

from __future__ import annotations

import os
import signal

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# `train.init = "auto"` (the default) would fetch COCO weights from the internet; tests
# (and every `lookout` they start) stay offline: cache and loopback mirrors only.
os.environ.setdefault("LOOKOUT_OFFLINE", "1")

# A shell starts a background job (`make test &`) with SIGINT ignored, and every lookout
# the tests start would inherit that and shrug off the Ctrl+C they send it. A handled
# signal is reset to its default in a child, so handle it here.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

import pytest

from tests.fixtures import datasets, models, tools


@pytest.fixture(scope="session")
def color_bundle(tmp_path_factory):
    """A full model bundle folder (saved_model/, frozen graph, label map, model.json,
    model.tflite) of the colour-blob detector: class 1 'red', class 2 'blue'."""
    return models.make_color_bundle(tmp_path_factory.mktemp("models") / "colors", tflite=True)


@pytest.fixture(scope="session")
def frozen_graph(tmp_path_factory):
    """``frozen_inference_graph.pb`` (TF1 names) with ``label_map.pbtxt`` beside it."""
    return models.make_frozen_graph(tmp_path_factory.mktemp("frozen"))


@pytest.fixture(scope="session")
def od_api_saved_model(tmp_path_factory):
    """TF2 OD API style SavedModel folder (input ``input_tensor``, any batch); the label
    map is at ``path.parent / 'label_map.pbtxt'``."""
    return models.make_od_api_saved_model(tmp_path_factory.mktemp("odapi"))


@pytest.fixture(scope="session")
def od_api_saved_model_batch1(tmp_path_factory):
    """As `od_api_saved_model`, but its signature is fixed at batch size 1."""
    return models.make_od_api_saved_model(tmp_path_factory.mktemp("odapi1"), batch1=True)


@pytest.fixture(scope="session")
def tflite_od_api(tmp_path_factory):
    """OD API SSD post-process layout .tflite (float input 1x96x96x3, 0-based classes)."""
    return models.make_tflite(tmp_path_factory.mktemp("tflite_od"), layout="od_api", size=96)


@pytest.fixture(scope="session")
def tflite_lookout(tmp_path_factory):
    """Our .tflite layout: signature ``serving_default``, input ``images`` of any size."""
    return models.make_tflite(tmp_path_factory.mktemp("tflite_lk"), layout="lookout")


# ---------------------------------------------------------------- tutorial datasets


@pytest.fixture(scope="session")
def raccoon():
    """The raccoon tutorial's folder (see tests/fixtures/datasets.py for where it is found)."""
    return datasets.require("raccoon")


@pytest.fixture(scope="session")
def fruit_nuts():
    """The fruit-nuts tutorial's folder (train/ and test/, labelImg VOC XML)."""
    return datasets.require("fruit-nuts")


# ---------------------------------------------------------------- system tools
# One fixture per tool: its path, or a skip naming the apt packages (a failure under CI).


@pytest.fixture(scope="session")
def xvfb():
    return tools.require("xvfb")


@pytest.fixture(scope="session")
def xdotool():
    return tools.require("xdotool")


@pytest.fixture(scope="session")
def imagemagick():
    return tools.require("imagemagick")


@pytest.fixture(scope="session")
def rtsp_server():
    return tools.require("rtsp_server")


@pytest.fixture(scope="session")
def mosquitto():
    return tools.require("mosquitto")


@pytest.fixture(scope="session")
def openssl():
    return tools.require("openssl")


@pytest.fixture(scope="session")
def chromium():
    """The browser (chromium); chromedriver is on PATH beside it."""
    return tools.require("chromium")
