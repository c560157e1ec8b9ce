"""The page in a real browser (Debian's headless Chromium through its chromedriver and
Selenium) against a real server on 127.0.0.1: what a person does and sees."""

from __future__ import annotations

import shutil
import time

import numpy as np
import pytest

from realtime.serve.config import ServeConfig
from tests.fixtures.events import EventsWriter
from tests.fixtures.page import page_server

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

SHOTS = "serve-shots"


@pytest.fixture(scope="module")
def browser(chromium):
    """Chromium through chromedriver (the ``chromium`` fixture skips without them, and
    fails under CI)."""
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--mute-audio",
                "--window-size=1200,900", "--autoplay-policy=no-user-gesture-required"):
        options.add_argument(arg)
    service = webdriver.ChromeService(executable_path=shutil.which("chromedriver"))
    driver = webdriver.Chrome(options=options, service=service)
    try:
        yield driver
    finally:
        driver.quit()


def wait(driver, condition, timeout: float = 20.0):
    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition)


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
