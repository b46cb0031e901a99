"""End to end: headless Chromium drives the review page against a real TorchServe.

    .venv/bin/python -m pytest -m slow tests/test_web_browser.py

Needs Debian's `chromium` and `chromium-driver` (.ci/run installs them): skipped when they are
missing, failed instead when CI=true. The archive holds model_store/artifacts when present, else
a random export: the test checks that the page shows what the server answered, not the model's taste.
With WEB_SCREENSHOT=PATH it also keeps the page's screenshot there (`make screenshot`: docs/web_page.png).
"""

from __future__ import annotations

import os
import re
import shutil

import pytest
import requests

from serving.archive import build
from serving.torchserve import running_torchserve
from tests.conftest import ROOT
from tests.page_server import running_page
from tests.random_export import make_random_export
from web.settings import PageSettings

pytestmark = pytest.mark.slow
ARTIFACTS = ROOT / "model_store" / "artifacts"
REVIEW = "A wonderful, moving film. The actors are superb and the story stayed with me for days."
WAIT_S = 60  # the first explanation also imports captum in the worker, on two busy cores


def browser_paths() -> tuple[str, str]:
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium and driver:
        return chromium, driver
    message = "Debian's chromium and chromium-driver are needed (apt-get install chromium chromium-driver)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver_path = browser_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--window-size=900,1000", f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    try:
        yield driver
    finally:
        driver.quit()


def submit(browser, text: str) -> None:
    from selenium.webdriver.common.by import By

    box = browser.find_element(By.ID, "review")
    box.clear()
    if text:
        box.send_keys(text)
    browser.find_element(By.ID, "analyse").click()


def wait_visible(browser, element_id: str):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as visible
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, WAIT_S).until(visible.visibility_of_element_located((By.ID, element_id)))


def test_page_shows_label_probability_shaded_words_and_readable_errors(browser, tmp_path):
    from selenium.webdriver.common.by import By

    export = ARTIFACTS if (ARTIFACTS / "network.pt").is_file() else make_random_export(tmp_path / "export")
    mar = build(export, tmp_path / "mar")
    with running_torchserve(mar, tmp_path) as torchserve:
        settings = PageSettings(torchserve_url=torchserve.inference_url, key_file=torchserve.key_file)
        with running_page(settings) as page:
            url = page.url + "/"
            expected = requests.post(
                f"{torchserve.inference_url}/predictions/sentiment", json={"text": REVIEW}, headers=torchserve.headers(), timeout=WAIT_S
            ).json()
            browser.get(url)
            submit(browser, REVIEW)
            wait_visible(browser, "result")

            assert browser.find_element(By.ID, "label").text.lower() == expected["label"]
            assert browser.find_element(By.ID, "probability").text == f"P(positive) = {100 * expected['score']:.1f}%"
            fill = browser.find_element(By.ID, "bar-fill").get_attribute("style")
            width = float(re.search(r"width:\s*([\d.]+)%", fill).group(1))
            assert abs(width - 100 * expected["score"]) < 0.1, fill
            words = browser.find_elements(By.CSS_SELECTOR, "#explained .word")
            assert "wonderful" in [w.text.lower() for w in words] and "superb," not in [w.text for w in words]
            shades = {w.value_of_css_property("background-color") for w in words}
            assert any(shade.startswith(("rgba(22, 128, 61", "rgba(200, 30, 45")) for shade in shades)  # green or red
            assert browser.find_element(By.ID, "error").is_displayed() is False
            browser.save_screenshot(str(tmp_path / "web_page.png"))

            submit(browser, "")
            error = wait_visible(browser, "error")
            assert "empty" in error.text and "HTTP 400" in error.text
            assert not browser.find_element(By.ID, "result").is_displayed()
            browser.save_screenshot(str(tmp_path / "web_page_error.png"))

    # TorchServe is gone now: the page's server answers 502 and the page says so in words.
    with running_page(settings) as page:
        browser.get(page.url + "/")
        submit(browser, REVIEW)
        error = wait_visible(browser, "error")
        assert "not reachable" in error.text and "HTTP 502" in error.text
    assert (tmp_path / "web_page.png").stat().st_size > 10_000
    if os.environ.get("WEB_SCREENSHOT"):
        shutil.copyfile(tmp_path / "web_page.png", os.environ["WEB_SCREENSHOT"])
