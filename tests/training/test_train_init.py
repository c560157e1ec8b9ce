"""--init: checkpoints from a path, a run, or a URL served by a real loopback HTTP server
(with Range support, as real file servers have), checksums, resume, clear errors."""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import tarfile
import threading
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import tensorflow as tf

from core.errors import UserError
from tests.training.runs import fruit_dataset, shared_run, tiny_cfg
from training.download import fetch
from training.init import prepare_init, resolve_checkpoint
from training.train import train

pytestmark = pytest.mark.slow


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Static files with ``Range: bytes=N-`` support; ``?cut`` paths send half a body."""

    seen_ranges: ClassVar[list[str]] = []
    cut_once: ClassVar[set[str]] = set()

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        start = 0
        header = self.headers.get("Range")
        if header:
            self.seen_ranges.append(header)
            start = int(header.removeprefix("bytes=").split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        body = data[start:]
        if self.path in self.cut_once:  # the connection drops half-way, once
            self.cut_once.discard(self.path)
            body = body[: len(body) // 2]
        self.wfile.write(body)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("www")
    handler = functools.partial(RangeHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def source_run(tmp_path_factory) -> Path:
    return shared_run(tmp_path_factory.getbasetemp())


def test_url_checkpoint_restores_backbone_bit_for_bit(tmp_path, server, source_run) -> None:
    root, url = server
    for part in ("ckpt-4.index", "ckpt-4.data-00000-of-00001"):
        (root / part).write_bytes((source_run / part).read_bytes())
    dataset = fruit_dataset(tmp_path.parent.parent)
    run = tmp_path / "run"
    # backbone and decoder frozen (the config no longer takes lr 0): the training step
    # leaves them as restored, so the run's checkpoint holds exactly what --init restored
    train(dataset, run, tiny_cfg(steps=1, init=f"{url}/ckpt-4", freeze="backbone,decoder"),
          evaluate_at_end=False, cache_dir=tmp_path / "cache")
    info = json.loads((run / "run.json").read_text())
    assert info["init"]["modules"] == ["backbone", "decoder", "head"]
    src = tf.train.load_checkpoint(str(source_run / "ckpt-4"))
    dst = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(run)))
    keys = [k for k in src.get_variable_to_shape_map()
            if k.startswith(("backbone/", "decoder/")) and "moving_" not in k
            and "OPTIMIZER_SLOT" not in k]
    assert len(keys) > 100
    for key in keys:
        np.testing.assert_array_equal(src.get_tensor(key), dst.get_tensor(key), err_msg=key)
    heads = [k for k in src.get_variable_to_shape_map()
             if k.startswith("head/") and k.endswith("kernel/.ATTRIBUTES/VARIABLE_VALUE")]
    assert heads and any(not np.array_equal(src.get_tensor(k), dst.get_tensor(k)) for k in heads)


def test_run_folder_and_pinned_archive_resolve(tmp_path, server, source_run) -> None:
    assert resolve_checkpoint(str(source_run)) == str(source_run / "ckpt-4")
    root, url = server
    archive = root / "retinanet.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for part in ("ckpt-4.index", "ckpt-4.data-00000-of-00001"):
            tar.add(source_run / part, arcname=f"model/{part}")
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    prefix = resolve_checkpoint(f"{url}/retinanet.tar.gz#sha256={digest}", tmp_path)
    assert Path(prefix).name == "ckpt-4"
    assert Path(prefix + ".index").read_bytes() == (source_run / "ckpt-4.index").read_bytes()
    with pytest.raises(UserError, match="checksum mismatch"):
        fetch(f"{url}/retinanet.tar.gz#sha256={'0' * 64}", tmp_path / "other")


def test_interrupted_download_resumes_with_range(tmp_path, server) -> None:
    root, url = server
    payload = np.random.default_rng(1).integers(0, 256, 300_000, dtype=np.uint8).tobytes()
    (root / "big.bin").write_bytes(payload)
    RangeHandler.cut_once.add("/big.bin")
    with pytest.raises(UserError, match="interrupted at .* bytes.*run again to resume"):
        fetch(f"{url}/big.bin", tmp_path)
    RangeHandler.seen_ranges.clear()
    path = fetch(f"{url}/big.bin", tmp_path)
    assert RangeHandler.seen_ranges == ["bytes=150000-"]
    assert path.read_bytes() == payload
    path.write_bytes(b"tampered")  # a corrupted cache entry is detected and fetched again
    assert fetch(f"{url}/big.bin", tmp_path).read_bytes() == payload


def test_bad_urls_are_one_line_errors(tmp_path, server) -> None:
    root, url = server
    (root / "junk.tar.gz").write_bytes(b"definitely not gzip" * 100)
    with pytest.raises(UserError, match="corrupt archive"):
        resolve_checkpoint(f"{url}/junk.tar.gz", tmp_path)
    with pytest.raises(UserError, match="HTTP 404"):
        resolve_checkpoint(f"{url}/missing/ckpt-9", tmp_path)
    with pytest.raises(UserError, match="cannot download"):
        resolve_checkpoint("http://127.0.0.1:9/ckpt-1", tmp_path)  # discard port: closed
    with pytest.raises(UserError, match="no checkpoint there"):
        resolve_checkpoint(str(tmp_path / "nowhere"), tmp_path)


def test_incompatible_architecture_says_what_does_not_match(tmp_path, source_run) -> None:
    from training.experiment import build_experiment

    spine = build_experiment(tiny_cfg(model="retinanet-spinenet-mobile"), 4, ["x"], ["x"])
    from official.core import task_factory

    model = task_factory.get_task(spine.task).build_model()
    prefix = tf.train.Checkpoint(backbone=model.backbone).write(
        str(tmp_path / "spine" / "ckpt-1"))
    mobilenet = build_experiment(tiny_cfg(), 4, ["x"], ["x"])
    with pytest.raises(UserError, match=r"train.init .*ckpt-1: backbone does not match mobilenet"):
        prepare_init(prefix, mobilenet)
    # the heads of our own runs are sized for their classes; the backbone is what counts.
    # The run's anchors were fitted to its boxes: a model built for it uses them too
    # (as `lookout train --init runs/X` does)
    from training.fit import DataFit

    run_fit = DataFit.from_dict(json.loads((source_run / "run.json").read_text())["data_fit"])
    other_classes = build_experiment(tiny_cfg(), 7, ["x"], ["x"], fit=run_fit)
    info = prepare_init(str(source_run), other_classes)
    assert info["modules"] == ["backbone", "decoder", "head"]
    assert info["counts"]["head"]["fresh"] == 2  # the classifier's pointwise kernel and bias
    assert other_classes.task.init_checkpoint == str(source_run / "ckpt-4")


def test_a_run_of_the_same_labels_restores_its_classifier_too(source_run) -> None:
    """`lookout retrain` trains from the bundle's own run on the same labels: the model
    comes back whole, class outputs included, so the candidate starts as the current
    model (a fresh classifier made a short retrain worse than the model it started from).
    A run of other labels (same count, other names) keeps its classifier out."""
    from official.core import task_factory

    from training.experiment import build_experiment
    from training.fit import DataFit
    from training.restore import CLASSIFIER, initializer

    run = json.loads((source_run / "run.json").read_text())
    classes = {int(k): v for k, v in run["classes"].items()}

    def params():
        return build_experiment(tiny_cfg(), run["num_classes"], ["x"], ["x"],
                                fit=DataFit.from_dict(run["data_fit"]))

    info = prepare_init(str(source_run), params(), classes=classes)
    assert info["modules"] == ["backbone", "decoder", "head", CLASSIFIER]
    assert info["counts"]["head"]["fresh"] == 0
    model = task_factory.get_task(params().task).build_model()
    initializer(info["checkpoint"], info["modules"], run["input_size"])(model)
    src = tf.train.load_checkpoint(info["checkpoint"])
    for layer_var, key in ((model.head._classifier.pointwise_kernel, "pointwise_kernel"),
                           (model.head._classifier.bias, "bias")):
        np.testing.assert_array_equal(
            layer_var.numpy(), src.get_tensor(f"head/_classifier/{key}/.ATTRIBUTES/VARIABLE_VALUE"))

    renamed = {**classes, 1: "not " + classes[1]}
    other = prepare_init(str(source_run), params(), classes=renamed)
    assert CLASSIFIER not in other["modules"] and other["counts"]["head"]["fresh"] == 2


# ------------------------------------------------------------ train.init = "auto"

PRESET = "retinanet-mobilenetv2-fpn"


def test_auto_without_network_trains_from_scratch_at_once(tmp_path, monkeypatch) -> None:
    import training.download
    from training import catalogue
    from training.init import OFFLINE_ENV, auto_init

    monkeypatch.delenv(OFFLINE_ENV, raising=False)
    # a mirror nobody listens on: refused at once, no download timeout
    spec, line = auto_init(PRESET, tmp_path, mirror="http://127.0.0.1:9/mg")
    assert spec == ""
    assert line.startswith(f"init: training {PRESET} from scratch: no COCO checkpoint")
    assert "retinanet-mobilenetv2-fpn-i320-coco" in line and "127.0.0.1" in line
    assert "LOOKOUT_WEIGHTS_URL" in line and "--init PATH" in line and "--init none" in line
    # offline: the published URL is not even tried
    monkeypatch.setenv(OFFLINE_ENV, "1")
    monkeypatch.delenv(catalogue.MIRROR_ENV, raising=False)
    monkeypatch.setattr(training.download, "reachable", lambda *a: pytest.fail("network"))
    spec, line = auto_init(PRESET, tmp_path)
    assert spec == "" and OFFLINE_ENV in line and "not in the download cache" in line
    # a mirror folder without the file: the same fallback, naming the file
    spec, line = auto_init(PRESET, tmp_path, mirror=str(tmp_path))
    assert spec == "" and "not in the weights mirror" in line


def test_auto_takes_the_mirror_then_the_cache(tmp_path) -> None:
    from tests.fixtures.checkpoints import serve, write_published
    from training import catalogue
    from training.download import is_cached
    from training.init import auto_init

    weights = catalogue.lookup("coco", PRESET)
    root = tmp_path / "mirror"
    write_published(weights, root, 64)
    with serve(root) as url:
        assert auto_init(PRESET, tmp_path / "cache", mirror=url) == ("coco", "")
        assert is_cached(catalogue.weights_url(weights, url), tmp_path / "cache")
    # the server is gone: the cached archive is used, nothing is fetched
    assert auto_init(PRESET, tmp_path / "cache", mirror=url) == ("coco", "")
    assert auto_init(PRESET, tmp_path / "other-cache", mirror=url)[0] == ""


def test_a_run_with_init_auto_restores_the_coco_checkpoint(tmp_path, monkeypatch) -> None:
    from tests.fixtures.checkpoints import serve, write_published
    from training import catalogue

    weights = catalogue.lookup("coco", PRESET)
    write_published(weights, tmp_path / "mirror", 64)
    said = []
    with serve(tmp_path / "mirror") as url:
        monkeypatch.setenv(catalogue.MIRROR_ENV, url)
        train(fruit_dataset(tmp_path), tmp_path / "run", tiny_cfg(steps=1, init="auto"),
              evaluate_at_end=False, cache_dir=tmp_path / "cache",
              notify=lambda text, warning: said.append(text))
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["init"]["weights"] == weights.name
    assert info["train"]["init"] == "coco"
    assert not any("from scratch" in s for s in said)
    # fruit-nuts' boxes match Model Garden's anchors badly at 128 px (recall 0.3): fitted
    # ones pay for the pretrained head's output layers relearning, and it says so
    assert any(s.startswith("anchors fitted, although the pretrained head") for s in said)
    # (as many anchors per place as Model Garden's: the output layers' shapes fit, and they
    # are restored as a start; with another count only the towers would be)
    assert info["init"]["modules"][:2] == ["backbone", "decoder"]
    assert info["init"]["modules"][2] in ("head", "head-towers")
