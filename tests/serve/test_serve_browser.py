"""End to end in headless Chromium (Debian's system browser through Selenium and chromedriver; nothing downloaded).

Loads the page, uploads an ISBI slice and a 16-bit TIFF (which browsers cannot show, so the page fetches a preview),
waits for the overlays, checks the overlay against the mask (fill, contour, opacity), the statistics, the model
card panel, the mask download, and that the browser logged no error (a CDN or inline script would break the CSP).

Locally the test is skipped when chromium, chromedriver or selenium is missing; in CI (CI=true) that is a failure.
CI installs the browser with ``apt-get install -y chromium chromium-driver``.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from servekit import decode_png, nuclei_png, running_server, tiff_bytes, upload

from unetzoo.data.io import read_image
from unetzoo.serve.model import ServedModel
from unetzoo.serve.server import UnetzooServer

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
)


def require(found: object, what: str) -> None:
    """Skip locally, fail in CI, when a piece of the browser stack is missing."""
    if found:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{what} is required in CI (apt-get install -y chromium chromium-driver; pip install selenium)")
    pytest.skip(f"{what} not installed: apt-get install -y chromium chromium-driver; pip install selenium")


@pytest.fixture
def browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    require(chromium, "chromium")
    chromedriver = shutil.which("chromedriver")
    require(chromedriver, "chromedriver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        webdriver = None
    require(webdriver, "the selenium package")
    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager must not fetch anything
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'profile'}")
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    options.add_experimental_option(
        "prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False}
    )
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=chromedriver))
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    driver.downloads = downloads
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(condition, timeout: float = 60.0, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


TINTED = """
const canvas = document.querySelectorAll('li.result canvas')[arguments[0]];
const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
let tinted = 0;
for (let i = 0; i < data.length; i += 4) if (data[i] !== data[i + 1]) tinted++;
return [canvas.width, canvas.height, tinted];
"""


def set_view(driver, opacity: int, mode: str) -> None:  # type: ignore[no-untyped-def]
    driver.execute_script(
        """const slider = document.getElementById('opacity');
        slider.value = arguments[0]; slider.dispatchEvent(new Event('input'));
        const radio = document.querySelector(`input[name=mode][value=${arguments[1]}]`);
        radio.checked = true; radio.dispatchEvent(new Event('change'));""",
        opacity,
        mode,
    )


def finished(driver, n: int) -> list | None:  # type: ignore[no-untyped-def]
    """The ``n`` result items once all of them are done or failed."""
    from selenium.webdriver.common.by import By

    nodes = driver.find_elements(By.CSS_SELECTOR, "li.result")
    statuses = [node.get_attribute("data-status") for node in nodes]
    return nodes if len(nodes) == n and all(s in ("done", "error") for s in statuses) else None


@pytest.fixture
def server(model: ServedModel) -> Iterator[UnetzooServer]:
    with running_server(model) as s:
        yield s


def test_page_segments_an_isbi_slice_end_to_end(browser, server: UnetzooServer, isbi_slice: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    tiff = tmp_path / "crop16.tif"
    tiff.write_bytes(tiff_bytes(read_image(isbi_slice)[:96, :128].astype(np.uint16) * 257))
    want = decode_png(upload(server.url, isbi_slice.read_bytes(), "00.png").body)

    browser.get(server.url)
    wait_for(lambda: "ulite" in browser.find_element(By.ID, "card-body").text, 20, "the model card")
    card = browser.find_element(By.ID, "card-body").text
    assert "876,849" in card and "membrane / cell" in card and "dice" in card

    browser.find_element(By.ID, "files").send_keys(f"{isbi_slice}\n{tiff}")
    items = wait_for(lambda: finished(browser, 2), 90, "both results")
    assert [n.get_attribute("data-status") for n in items] == ["done", "done"], [n.text for n in items]

    fg = int(np.count_nonzero(want))
    width, height, tinted = browser.execute_script(TINTED, 0)
    assert (width, height) == (512, 512) and tinted == fg  # fill: exactly the mask's pixels are tinted
    stats = items[0].find_element(By.CLASS_NAME, "stats").text
    assert f"{fg:,} px" in stats and f"{100 * fg / want.size:.2f} %" in stats and "512×512" in stats
    assert browser.execute_script(TINTED, 1)[:2] == [128, 96]  # the TIFF, drawn from /api/preview

    set_view(browser, 45, "contour")
    outline = browser.execute_script(TINTED, 0)[2]
    assert 0 < outline < fg
    set_view(browser, 0, "fill")
    assert browser.execute_script(TINTED, 0)[2] == 0

    items[0].find_element(By.CLASS_NAME, "download").click()
    target = browser.downloads / "00_mask.png"
    wait_for(lambda: target.exists() and not list(browser.downloads.glob("*.crdownload")), 20, "the mask download")
    np.testing.assert_array_equal(decode_png(target.read_bytes()), want)

    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors


def test_page_counts_objects_and_tables_them(browser, instance_model: ServedModel, tmp_path: Path):  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    image = tmp_path / "nuclei.png"
    image.write_bytes(nuclei_png())
    with running_server(instance_model) as s:
        want = upload(s.url, image.read_bytes(), "nuclei.png", "?format=objects").json()
        browser.get(s.url)
        wait_for(lambda: "ulite" in browser.find_element(By.ID, "card-body").text, 20, "the model card")
        browser.find_element(By.ID, "files").send_keys(str(image))
        item = wait_for(lambda: finished(browser, 1), 60, "the result")[0]
        assert item.get_attribute("data-status") == "done", item.text
        assert f"{want['object_count']:,} objects" in item.find_element(By.CLASS_NAME, "stats").text
        details = item.find_element(By.CLASS_NAME, "objects")
        details.find_element(By.TAG_NAME, "summary").click()
        wait_for(lambda: details.find_elements(By.CSS_SELECTOR, "thead td"), 30, "the object table")
        rows = details.find_elements(By.CSS_SELECTOR, "tbody tr")
        assert len(rows) == min(want["object_count"], 500)
        if rows:
            first = [td.text for td in rows[0].find_elements(By.TAG_NAME, "td")]
            assert first[:2] == [str(want["objects"][0]["label"]), str(want["objects"][0]["area"])]
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors
