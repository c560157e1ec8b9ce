"""The suite stands on its own: the tutorial data is found (or fetched, checksummed) by one
helper, and every system tool it drives is named in one table that `.ci/run` and the
README follow."""

from __future__ import annotations

import hashlib
import http.server
import shutil
import threading
from functools import partial
from pathlib import Path

import pytest

from tests.fixtures import datasets, tools
from tests.fixtures.datasets import SOURCES, STAMP, DataUnavailable, registry, tutorial_data

REPO = Path(__file__).resolve().parents[1]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != STAMP}


class Served:
    """A loopback HTTP server over ``root``, counting the requests it answers."""

    def __init__(self, root: Path) -> None:
        served = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args) -> None:
                served.requests += 1

        self.requests = 0
        self.httpd = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), partial(Handler, directory=str(root)))
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def published(name: str, ours: Path, root: Path) -> Path:
    """``ours`` (our layout) laid out as its GitHub repository publishes it, under
    ``root/OWNER/REPO/COMMIT/`` (how raw.githubusercontent.com addresses a file)."""
    source = SOURCES[name]
    base = root / source.repo / source.commit
    for remote in registry(name):
        target = base / remote
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ours / source.local_name(remote), target)
    return base


@pytest.fixture
def no_env(monkeypatch):
    monkeypatch.delenv("LOOKOUT_DATA", raising=False)
    monkeypatch.delenv("LOOKOUT_DATA_URL", raising=False)


@pytest.mark.parametrize("name", list(SOURCES))
def test_the_pinned_checksums_are_those_of_the_tutorials_files(request, name):
    """Every pinned file is in our copy with that sha256, and our copy has nothing else."""
    ours = request.getfixturevalue(name.replace("-", "_"))
    pinned = {SOURCES[name].local_name(remote): digest
              for remote, digest in registry(name).items()}
    assert {path: sha256(ours / path) for path in pinned} == pinned
    assert set(files(ours)) == set(pinned)


def test_looked_for_in_order_env_beside_the_checkout_cache(tmp_path, monkeypatch, no_env):
    checkout = tmp_path / "work" / "lookout"
    beside = tmp_path / "work" / "shared" / "datasets" / "fruit-nuts"
    env = tmp_path / "mine" / "fruit-nuts"
    cache = tmp_path / "cache"
    for folder in (checkout, beside, env, cache / "fruit-nuts"):
        folder.mkdir(parents=True)
    (cache / "fruit-nuts" / STAMP).write_text("done\n")
    monkeypatch.chdir(tmp_path)  # the working folder plays no part

    def find() -> Path:
        return tutorial_data("fruit-nuts", repo=checkout, cache=cache, base_url="http://0.0.0.0:9")

    monkeypatch.setenv("LOOKOUT_DATA", str(env.parent))
    assert find() == env
    monkeypatch.delenv("LOOKOUT_DATA")
    assert find() == beside
    beside.rmdir()
    assert find() == cache / "fruit-nuts"
    (cache / "fruit-nuts" / STAMP).unlink()  # an interrupted download: fetch again
    with pytest.raises(DataUnavailable) as failed:
        find()
    assert "LOOKOUT_DATA" in str(failed.value) and "\n" not in str(failed.value)
    monkeypatch.setenv("LOOKOUT_DATA", str(tmp_path / "nothing"))
    with pytest.raises(DataUnavailable, match="has no fruit-nuts/ folder"):
        find()


def test_downloads_the_published_files_checks_them_and_lays_them_out(
        fruit_nuts, tmp_path, no_env):
    published("fruit-nuts", fruit_nuts, tmp_path / "github")
    server = Served(tmp_path / "github")
    cache = tmp_path / "cache"
    try:
        got = tutorial_data("fruit-nuts", repo=tmp_path / "clone", cache=cache,
                            base_url=server.url)
        fetched = server.requests
        again = tutorial_data("fruit-nuts", repo=tmp_path / "clone", cache=cache,
                              base_url=server.url)
    finally:
        server.close()
    assert got == again == cache / "fruit-nuts"
    assert files(got) == files(fruit_nuts)  # our layout, the same bytes
    assert fetched == len(registry("fruit-nuts")) and server.requests == fetched  # once
    assert (got / STAMP).read_text().startswith("Tony607/object_detection_demo@")
    assert not (got / ".published").exists()


def test_a_file_that_does_not_match_its_checksum_is_refused(fruit_nuts, tmp_path, no_env):
    base = published("fruit-nuts", fruit_nuts, tmp_path / "github")
    (base / "data/images/train/3.xml").write_text("<annotation>tampered</annotation>")
    server = Served(tmp_path / "github")
    cache = tmp_path / "cache"
    try:
        with pytest.raises(DataUnavailable) as failed:
            tutorial_data("fruit-nuts", repo=tmp_path / "clone", cache=cache,
                          base_url=server.url)
    finally:
        server.close()
    message = str(failed.value)
    assert "3.xml" in message and "hash" in message.lower() and "\n" not in message
    assert not (cache / "fruit-nuts" / STAMP).exists()
    assert not (cache / "fruit-nuts" / "train").exists()  # nothing laid out half
    assert not list(cache.rglob("3.xml"))  # the bad file was never kept


def test_a_test_without_its_data_skips_with_how_to_get_it_and_fails_under_ci(
        tmp_path, monkeypatch):
    monkeypatch.setenv("LOOKOUT_DATA", str(tmp_path))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="LOOKOUT_DATA=.*has no raccoon/"):
        datasets.require("raccoon")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must have it"):
        datasets.require("raccoon")


def test_a_missing_tool_skips_naming_its_packages_and_fails_under_ci(monkeypatch):
    monkeypatch.setitem(tools.TOOLS, "nothing", tools.Tool(lambda: None, "pkg-a pkg-b", "tests"))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install pkg-a pkg-b"):
        tools.require("nothing")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=".ci/run installs it"):
        tools.require("nothing")


def test_ci_installs_every_tool_and_runs_as_ci():
    script = (REPO / ".ci" / "run").read_text()
    assert "export CI=true" in script
    for tool in tools.TOOLS.values():
        for package in tool.packages.split():
            assert package in script, f".ci/run does not install {package}"


def test_the_readme_gives_the_one_apt_line():
    assert tools.apt_line() in (REPO / "README.md").read_text()
