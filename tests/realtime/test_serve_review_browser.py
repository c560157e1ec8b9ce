"""Reviewing in a real browser (Debian's headless Chromium through Selenium) against a real
server on 127.0.0.1: a person draws, relabels and deletes boxes on the canvas with mouse
and touch, marks the alert, saves, meets a conflict, and presses the retrain button."""

from __future__ import annotations

import json

import pytest

from realtime.review.voc import read_objects, voc_xml
from realtime.serve.config import ServeConfig
from tests.fixtures.events import EventsWriter
from tests.fixtures.page import page_server

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.actions import interaction
from selenium.webdriver.common.actions.action_builder import ActionBuilder
from selenium.webdriver.common.actions.pointer_input import PointerInput
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from tests.fixtures.browser import (
    box_labels,
    drag_mouse,
    headless_chromium,
    open_event,
    saved,
    to_screen,
    wait,
)


@pytest.fixture(scope="module")
def browser(chromium):
    with headless_chromium(chromium, (1200, 1400)) as driver:
        yield driver


def drag_touch(driver, canvas, start, end) -> None:
    sx, sy = to_screen(driver, canvas, *start)
    ex, ey = to_screen(driver, canvas, *end)
    finger = PointerInput(interaction.POINTER_TOUCH, "finger")
    actions = ActionBuilder(driver, mouse=finger)
    actions.pointer_action.move_to(canvas, sx, sy).pointer_down()
    actions.pointer_action.move_to(canvas, (sx + ex) // 2, (sy + ey) // 2)
    actions.pointer_action.move_to(canvas, ex, ey).pointer_up()
    actions.perform()


def same_as_lookout_label(xml_path) -> bool:
    """The XML is byte for byte what the labelImg writer makes of its own boxes."""
    data = xml_path.read_bytes()
    return data == voc_xml(xml_path.with_suffix(".jpg"), 320, 240, 3, read_objects(data),
                           verified=True).encode()


def test_review_an_event_in_the_browser(browser, tmp_path):
    from training.datasets.check import check_dataset

    writer = EventsWriter(tmp_path / "events")
    event = writer.event("front", "red", clip_s=3.0)  # alert box [10, 20, 60, 80]: nothing there
    other = writer.event("garage", "red", x=0.3)  # another picture: not a duplicate
    writer.close()
    bundle = tmp_path / "door"
    bundle.mkdir()
    (bundle / "label_map.pbtxt").write_text("item { id: 1 name: 'red' }\n"
                                            "item { id: 2 name: 'blue' }\n")
    (bundle / "model.json").write_text(json.dumps({
        "name": "door", "architecture": "test", "classes": {"1": "red", "2": "blue"},
        "training_run": str(tmp_path / "gone")}))
    folder = tmp_path / "events" / "review"
    with page_server(tmp_path / "events", ServeConfig(), model=bundle) as srv:
        root, canvas = open_event(browser, srv.url + f"/events/{event}")
        assert box_labels(root) == ["red"]  # the alert's box, to keep or fix

        # draw the missed disc (at 160, 120, radius 28) with the mouse, labelled "blue"
        Select(root.find_element(By.CSS_SELECTOR, "select.new-label")).select_by_visible_text(
            "blue")
        drag_mouse(browser, canvas, (130, 90), (190, 150))
        wait(browser, lambda d: len(box_labels(root)) == 2)
        assert box_labels(root) == ["red", "blue"]
        # change its label, delete the alert's box, mark the alert wrong
        Select(root.find_elements(By.CSS_SELECTOR, "select.box-label")[1]
               ).select_by_visible_text("red")
        root.find_elements(By.CSS_SELECTOR, "ol.boxes button.delete")[0].click()
        assert box_labels(root) == ["red"]
        # a click on a box picks it
        drag_mouse(browser, canvas, (160, 120), (161, 120))
        assert "selected" in root.find_element(By.CSS_SELECTOR, "ol.boxes li").get_attribute(
            "class")
        root.find_element(By.CSS_SELECTOR, 'input[name="verdict"][value="wrong"]').click()
        browser.save_screenshot(str(tmp_path / "review-drawn.png"))
        assert saved(browser, root).startswith("Saved")

        xml = folder / f"{event}.xml"
        [obj] = read_objects(xml.read_bytes())
        assert obj.label == "red"
        assert all(abs(a - b) <= 3 for a, b in zip((obj.xmin, obj.ymin, obj.xmax, obj.ymax),
                                                    (130, 90, 190, 150), strict=True))
        assert same_as_lookout_label(xml)
        assert (folder / f"{event}.jpg").read_bytes() == (
            tmp_path / "events" / "snapshots" / f"{event}.clean.jpg").read_bytes()
        sidecar = json.loads((folder / f"{event}.review.json").read_text())
        assert sidecar["verdict"] == "wrong"

        # a frame of the clip, boxed with a finger: a missed object
        browser.execute_script("document.getElementById('clip').currentTime = 2.0")
        wait(browser, lambda d: d.execute_script(
            "var v = document.getElementById('clip'); return !v.seeking && v.readyState >= 2"))
        root.find_element(By.CSS_SELECTOR, "button.use-video-frame").click()
        wait(browser, lambda d: "clip frame" in root.find_element(By.CSS_SELECTOR,
                                                                   ".frame-name").text)
        wait(browser, lambda d: root.get_attribute("data-ready") == "1")
        assert box_labels(root) == []
        drag_touch(browser, canvas, (200, 80), (260, 150))
        wait(browser, lambda d: len(box_labels(root)) == 1)
        assert root.find_element(By.CSS_SELECTOR, 'input[value="missed"]').is_selected()
        assert saved(browser, root).startswith("Saved")
        frames = sorted(folder.glob(f"{event}-f*.xml"))
        assert [p.name for p in frames] == [f"{event}-f000020.xml"]
        assert same_as_lookout_label(frames[0])

        # a wrong alert with its only box deleted: a negative example
        root, canvas = open_event(browser, srv.url + f"/events/{other}")
        drag_mouse(browser, canvas, (30, 50), (31, 50))  # pick the alert's box, then Delete
        canvas.send_keys(Keys.DELETE)
        wait(browser, lambda d: box_labels(root) == [])
        root.find_element(By.CSS_SELECTOR, 'input[value="wrong"]').click()
        assert "negative example" in saved(browser, root)
        assert read_objects((folder / f"{other}.xml").read_bytes()) == []
        assert not check_dataset(folder).errors  # what `lookout dataset check` runs

        # the XML changes underneath (a person in labelImg): the page asks, never overwrites
        xml = folder / f"{other}.xml"
        theirs = voc_xml(xml.with_suffix(".jpg"), 320, 240, 3, read_objects(
            (folder / f"{event}.xml").read_bytes()), verified=True)
        xml.write_text(theirs)
        root.find_element(By.CSS_SELECTOR, 'input[value="right"]').click()
        assert saved(browser, root).startswith("Not saved")
        conflict = root.find_element(By.CSS_SELECTOR, ".conflict")
        assert conflict.is_displayed() and "changed" in conflict.text
        browser.execute_script("arguments[0].scrollIntoView({block: 'end'})", conflict)
        browser.save_screenshot(str(tmp_path / "review-conflict.png"))
        assert xml.read_text() == theirs
        root.find_element(By.CSS_SELECTOR, "button.take-theirs").click()
        assert box_labels(root) == ["red"] and not conflict.is_displayed()
        assert saved(browser, root).startswith("Saved")  # theirs kept, now marked right
        assert read_objects(xml.read_bytes()) == read_objects(theirs)

        # a POST without the page's token is refused
        status = browser.execute_async_script(
            "fetch('/api/events/" + other + "/review', {method: 'POST', body: '{}',"
            " headers: {'Content-Type': 'application/json'}}).then(r => arguments[0](r.status))")
        assert status == 403

        # the reviews page lists them; its button runs the real `lookout retrain`, whose
        # one-line refusal (this bundle's run is gone) the page shows
        browser.get(srv.url + "/reviews")
        rows = wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "tr.review-row"))
        assert len(rows) == 3
        panel = browser.find_element(By.ID, "retrain")
        panel.find_element(By.CSS_SELECTOR, "button.start").click()
        wait(browser, lambda d: panel.get_attribute("data-state") == "failed", timeout=120)
        assert "is not here" in panel.find_element(By.CSS_SELECTOR, ".state").text
        browser.save_screenshot(str(tmp_path / "reviews.png"))
