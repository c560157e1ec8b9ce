"""The page in a real browser (Debian's headless Chromium through its chromedriver and
Selenium) against a real server on 127.0.0.1: what a person does and sees."""

from __future__ import annotations

import time

import numpy as np
import pytest

from realtime.serve.config import ServeConfig
from tests.fixtures.events import EventsWriter
from tests.fixtures.page import page_server

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By

from tests.fixtures.browser import headless_chromium, wait

SHOTS = "serve-shots"


@pytest.fixture(scope="module")
def browser(chromium):
    with headless_chromium(chromium, (1200, 900), "--autoplay-policy=no-user-gesture-required") as driver:
        yield driver


def screenshot(driver, tmp_path, name: str) -> np.ndarray:
    """Saves a PNG (kept under pytest's tmp folder for a person to look at) and returns
    its pixels."""
    import cv2

    path = tmp_path / f"{name}.png"
    driver.save_screenshot(str(path))
    return cv2.imread(str(path))


def test_list_event_clip_and_new_events_without_reload(browser, tmp_path):
    writer = EventsWriter(tmp_path / "events")
    garage = writer.event("garage", "blue", wall=time.time() - 3600)
    front = writer.event("front", "red", clip_s=3.0, zone="porch")
    with page_server(tmp_path / "events", ServeConfig(poll_s=0.5)) as srv:
        browser.get(srv.url + "/events")
        rows = wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "tr.event"))
        assert [r.get_attribute("data-id") for r in rows] == [front, garage]
        thumbs = browser.find_elements(By.CSS_SELECTOR, "td.thumb img")
        wait(browser, lambda d: all(d.execute_script(
            "return arguments[0].complete && arguments[0].naturalWidth", t) for t in thumbs))
        assert [t.get_attribute("naturalWidth") for t in thumbs] == ["320", "320"]
        shot = screenshot(browser, tmp_path, "list")
        red = (shot[..., 2] > 180) & (shot[..., 1] < 90) & (shot[..., 0] < 90)
        assert red.sum() > 500  # the thumbnails' red discs are on screen

        marker = browser.execute_script("window.notReloaded = 1; return 1")
        late = writer.event("garage", "blue")  # appended while the page is open
        wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, f'tr[data-id="{late}"]'))
        first = browser.find_element(By.CSS_SELECTOR, "tr.event").get_attribute("data-id")
        assert first == late
        assert browser.execute_script("return window.notReloaded") == marker

        from selenium.webdriver.support.ui import Select

        Select(browser.find_element(By.NAME, "camera")).select_by_value("garage")
        browser.find_element(By.CSS_SELECTOR, ".filters button").click()
        wait(browser, lambda d: "camera=garage" in d.current_url)
        shown = [r.get_attribute("data-id") for r in browser.find_elements(
            By.CSS_SELECTOR, "tr.event")]
        assert shown == [late, garage]  # newest first, the front camera's event left out
        browser.get(srv.url + "/events")
        wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, f'tr[data-id="{front}"]'))
        browser.find_element(By.CSS_SELECTOR, f'tr[data-id="{front}"] td a[href$="{front}"]'
                             ).click()
        wait(browser, lambda d: d.current_url.endswith(f"/events/{front}"))
        facts = browser.find_element(By.CSS_SELECTOR, ".facts").text
        assert "porch" in facts and "3.5 s" in facts and "0.91" in facts
        assert "webhook new done" in facts and "mqtt new pending 1 broker down" in facts
        video = browser.find_element(By.ID, "clip")
        browser.execute_script("arguments[0].play()", video)
        wait(browser, lambda d: d.execute_script(
            "return arguments[0].currentTime > 0.5 && !arguments[0].paused", video))
        browser.execute_script("arguments[0].currentTime = 0.2", video)  # seekable
        assert browser.execute_script("return arguments[0].seekable.length", video) == 1
        screenshot(browser, tmp_path, "event")
    writer.close()


def test_an_open_visit_page_says_when_it_ends_without_reloading(browser, tmp_path):
    writer = EventsWriter(tmp_path / "events")
    visit = writer.event("front", "red", end=False)
    with page_server(tmp_path / "events", ServeConfig(poll_s=0.5)) as srv:
        browser.get(srv.url + f"/events/{visit}")
        note = wait(browser, lambda d: d.find_elements(By.ID, "open-event"))[0]
        assert "still open" in note.text
        assert "still open" in browser.find_element(By.CSS_SELECTOR, ".facts").text
        marker = browser.execute_script("window.notReloaded = 7; return 7")
        writer.finish(visit)  # the visitor leaves while the page is open
        wait(browser, lambda d: "ended after 3.5 s (unseen)" in d.find_element(
            By.ID, "open-event").text)
        assert browser.execute_script("return window.notReloaded") == marker
        browser.find_element(By.CSS_SELECTOR, "#open-event a").click()
        wait(browser, lambda d: not d.find_elements(By.ID, "open-event"))
        assert "3.5 s (unseen)" in browser.find_element(By.CSS_SELECTOR, ".facts").text
    writer.close()


def test_another_address_asks_for_the_password(browser, tmp_path):
    writer = EventsWriter(tmp_path / "events")
    event = writer.event("front")
    env = {"LOOKOUT_SERVE_PASSWORD": "correct horse"}
    with page_server(tmp_path / "events", bind="0.0.0.0:0", environ=env) as srv:
        browser.delete_all_cookies()
        browser.get(srv.url + f"/events/{event}")
        wait(browser, lambda d: "/login" in d.current_url)
        box = browser.find_element(By.NAME, "password")
        box.send_keys("wrong horse")
        box.submit()
        wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "p.error"))
        assert "Wrong password" in browser.find_element(By.CSS_SELECTOR, "p.error").text
        screenshot(browser, tmp_path, "login-refused")
        box = browser.find_element(By.NAME, "password")
        box.send_keys("correct horse")
        box.submit()
        wait(browser, lambda d: d.current_url.endswith(f"/events/{event}"))
        assert "correct horse" not in browser.page_source
        cookie = browser.get_cookie("lookout_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    writer.close()


def test_watch_serve_camera_tile_shows_the_live_picture(browser, tmp_path):
    """A real watch run on a live MJPEG camera with the page inside it: the tile's
    picture changes between two screenshots and its health says the camera is up."""
    import threading

    from realtime.serve.config import ServeConfig as Serve
    from realtime.settings import RunSettings
    from realtime.watch.cameras import Camera
    from realtime.watch.config import WatchConfig, WatchDeliveryConfig, WatchRuleConfig
    from realtime.watch.runner import WatchRun
    from tests.fixtures.engine import BrightnessDetector
    from tests.fixtures.media import MjpegServer

    camera = MjpegServer(fps=10, width=320, height=240).start()
    watch = WatchConfig(events_dir=str(tmp_path / "events"), health_every_s=3600,
                        rules=[WatchRuleConfig(labels=["thing"])],
                        delivery=WatchDeliveryConfig(console=False))
    settings = RunSettings(watch=watch, serve=Serve(bind="127.0.0.1:0", live_fps=4, poll_s=0.5))
    run = WatchRun(BrightnessDetector(), [Camera(camera.url, "porch")], settings, mode="live")
    thread = threading.Thread(target=run.run)
    run.start()
    thread.start()
    try:
        browser.get(run.server.url + "/cameras")
        tile = wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, '[data-camera="porch"]'))
        img = tile.find_element(By.CSS_SELECTOR, "img.live")
        wait(browser, lambda d: d.execute_script(
            "return arguments[0].complete && arguments[0].naturalWidth", img) == 320)
        health = tile.find_element(By.CSS_SELECTOR, ".health")
        wait(browser, lambda d: "running" in health.text and " 0.0 fps" not in health.text)
        first = img.screenshot_as_png
        wait(browser, lambda d: img.screenshot_as_png != first)  # the picture moves
        screenshot(browser, tmp_path, "cameras")
        assert "reconnects 0" in health.text and "detector" in health.text
        cameras = browser.execute_async_script(
            "fetch('/api/cameras').then(r => r.json()).then(arguments[0])")
        assert cameras["live"] and cameras["cameras"][0]["up"]
    finally:
        run.stop_event.set()
        thread.join(30)
        run.stop()
        camera.close()
    assert not thread.is_alive()
