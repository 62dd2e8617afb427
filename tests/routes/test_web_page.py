"""The web page at / in a real headless Chromium (Debian's chromium + chromium-driver) against
a real uvicorn server with auth on: upload a generated clip, follow its progress, check that
the verdict and the chart say what the API says, and that errors read in plain words.

Set WEB_PAGE_SCREENSHOT=path to also save the result's screenshot there (docs/web-page.png was
taken that way, then reduced to 256 colours with Pillow to stay small).
"""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service as ChromeService
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from settings import Settings
from tests.support import provenance as prov
from tests.support.live_server import serve
from tests.support.videos import astronaut_bgr

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
TOKEN = "page-key"
# The chart's geometry, as api/static/app.js draws it.
WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 720, 270, 46, 16, 24, 38


@dataclass
class Site:
    url: str
    upload_dir: Path


@pytest.fixture(scope="module")
def site(model_base: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    upload_dir = tmp_path_factory.mktemp("page-uploads")
    settings = Settings(
        _env_file=None,
        MODEL_BASE_PATH=model_base,
        UPLOAD_DIR=upload_dir,
        BACKEND="embedded",
        REQUIRE_AUTH=True,
        API_KEYS=TOKEN,
    )
    with serve(settings) as url:
        yield Site(url, upload_dir)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        if os.environ.get("CI"):
            pytest.fail("CI needs Debian's chromium and chromium-driver (.ci/run installs them)")
        pytest.skip("apt-get install chromium chromium-driver to run the browser tests")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1000,1200",
        "--force-device-scale-factor=1",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=ChromeService(CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def open_page(browser: webdriver.Chrome, site: Site, token: str) -> None:
    browser.get(site.url + "/")
    browser.get_log("browser")  # type: ignore[no-untyped-call]  # start the log from here
    # Every text the status line shows, in order, to check that progress was followed.
    browser.execute_script(
        "window.statuses = [];"
        "const s = document.getElementById('status');"
        "new MutationObserver(() => window.statuses.push(s.textContent))"
        "  .observe(s, {childList: true, characterData: true, subtree: true});"
    )
    field = browser.find_element(By.ID, "token")
    field.clear()
    if token:
        field.send_keys(token)


def wait_for_outcome(browser: webdriver.Chrome) -> WebElement:
    """The result or the error box, whichever the page shows first."""

    def shown(driver: webdriver.Chrome) -> WebElement | bool:
        for box in ("result", "error"):
            element = driver.find_element(By.ID, box)
            if element.is_displayed():
                return element
        return False

    outcome = WebDriverWait(browser, 90, poll_frequency=0.1).until(shown)
    assert isinstance(outcome, WebElement)
    return outcome


def floats(elements: list[WebElement], *names: str) -> list[tuple[float, ...]]:
    return [tuple(float(e.get_attribute(n) or "nan") for n in names) for e in elements]


def screenshot(browser: webdriver.Chrome, path: Path) -> None:
    """The whole page, not only the window."""
    browser.execute_script("document.activeElement.blur()")
    shot = browser.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}
    )
    path.write_bytes(base64.b64decode(shot["data"]))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_page_checks_a_clip_and_draws_the_answer(
    browser: webdriver.Chrome, site: Site, videos: dict[str, Path], tmp_path: Path
) -> None:
    clip = videos["faces"]  # 4 s at 10 fps, a face in every frame
    open_page(browser, site, TOKEN)
    browser.find_element(By.ID, "fps").send_keys("10")
    browser.find_element(By.ID, "file").send_keys(str(clip))
    outcome = wait_for_outcome(browser)
    assert outcome.get_attribute("id") == "result", browser.find_element(By.ID, "error").text

    expected = api_answer(site, clip, fps=10, include="crops")
    verdict = browser.find_element(By.ID, "verdict")
    assert verdict.get_attribute("data-verdict") == expected.get("verdict", expected["label"])
    assert verdict.text in {"Likely fake", "Likely real", "Uncertain"}
    assert f"{expected['score']:.3f}" in browser.find_element(By.ID, "score").text
    facts = browser.find_element(By.ID, "facts").text
    assert f"face in {expected['meta']['face_frames']} of 40 sampled frames" in facts

    # One dot per scored frame, where the frame's time and score put it.
    samples = expected["frame_samples"]
    dots = browser.find_elements(By.CSS_SELECTOR, "#chart svg circle.point")
    seconds = 40 / 10
    want = [(LEFT + s["t"] / seconds * (WIDTH - LEFT - RIGHT), y_of(s["score"])) for s in samples]
    assert len(dots) == len(samples) == 40
    assert floats(dots, "cx", "cy") == [pytest.approx(p, abs=0.06) for p in want]
    (threshold,) = browser.find_elements(By.CSS_SELECTOR, "#chart svg line.threshold")
    assert float(threshold.get_attribute("data-value") or "nan") == expected["threshold"]
    assert float(threshold.get_attribute("y1") or "nan") == pytest.approx(
        y_of(expected["threshold"])
    )

    # A plain generated clip declares nothing: the panel says so, in the API's words.
    assert expected["provenance"]["summary"] == "no_provenance"
    panel = provenance_panel(browser)
    assert panel["summary"] == "no_provenance"
    assert panel["message"] == expected["provenance"]["message"]
    assert "signed by" not in panel["entries"]
    assert panel["entries"]["watermarks"].startswith("none found")

    # The crops that were scored, asked for by the page and decoded by the browser.
    crops = browser.find_elements(By.CSS_SELECTOR, "#crops img")
    assert len(crops) == 40
    assert {c.get_property("naturalWidth") for c in crops} == {64}

    # Progress came from the job's events, frame by frame, before the answer.
    statuses: list[str] = browser.execute_script("return window.statuses")
    analysing = [s for s in statuses if s.startswith("Analysing frames: ")]
    assert any(" of 40 (" in s and not s.startswith("Analysing frames: 40 ") for s in analysing)
    assert statuses[-1] == "Done: faces.mp4"
    assert console_errors(browser) == []  # nothing blocked by the page's CSP, no script error
    assert list(site.upload_dir.iterdir()) == []

    screenshot(browser, tmp_path / "web-page.png")
    if target := os.environ.get("WEB_PAGE_SCREENSHOT"):
        shutil.copyfile(tmp_path / "web-page.png", target)


def test_the_provenance_panel_shows_a_declared_ai_image(
    browser: webdriver.Chrome, site: Site, tmp_path: Path
) -> None:
    """A JPEG signed with C2PA Content Credentials that declare it AI-generated (a throwaway
    CA, not trusted by this server): the panel says who signed, what was declared, that the
    signature holds and that the signer is not trusted; the verdict is fake by provenance."""
    ok, jpeg = cv2.imencode(".jpg", astronaut_bgr())
    assert ok
    definition = prov.manifest(prov.created(prov.AI, agent="Test Diffusion 2"))
    upload = tmp_path / "generated.jpg"
    upload.write_bytes(prov.sign(prov.make_pki(), jpeg.tobytes(), "image/jpeg", definition))

    open_page(browser, site, TOKEN)
    browser.find_element(By.ID, "file").send_keys(str(upload))
    outcome = wait_for_outcome(browser)
    assert outcome.get_attribute("id") == "result", browser.find_element(By.ID, "error").text
    expected = api_answer(site, upload)
    assert expected["provenance"]["summary"] == "declared_ai_generated"
    assert browser.find_element(By.ID, "verdict").get_attribute("data-verdict") == "fake"
    panel = provenance_panel(browser)
    assert panel["summary"] == "declared_ai_generated"
    assert panel["message"] == expected["provenance"]["message"]
    entries = panel["entries"]
    assert entries["signed by"] == f"{prov.SIGNER_NAME}, {prov.SIGNER_ORG}"
    assert entries["signature"] == "valid"
    assert entries["trusted signer"].startswith("no")
    assert entries["declared"] == "created: trainedAlgorithmicMedia"
    assert entries["signed at"] == (expected["provenance"]["c2pa"]["signed_at"] or "no time-stamp")
    assert entries["watermarks"].startswith("none found")
    # The reason the verdict is fake is listed with the others.
    reasons = [r.text for r in browser.find_elements(By.CSS_SELECTOR, "#reasons li")]
    assert any(r.endswith("declared_ai_generated") for r in reasons)
    assert console_errors(browser) == []


def test_errors_are_shown_in_plain_words(
    browser: webdriver.Chrome, site: Site, tmp_path: Path
) -> None:
    not_a_video = tmp_path / "notes.mp4"
    not_a_video.write_text("meeting notes, not a video\n" * 20)

    open_page(browser, site, token="")
    browser.find_element(By.ID, "file").send_keys(str(not_a_video))
    error = wait_for_outcome(browser)
    assert error.get_attribute("id") == "error"
    assert "needs an access token" in browser.find_element(By.ID, "error-title").text
    assert "code: unauthorized, HTTP 401" in browser.find_element(By.ID, "error-code").text

    browser.find_element(By.ID, "token").send_keys(TOKEN)
    browser.find_element(By.ID, "start").click()
    WebDriverWait(browser, 30, poll_frequency=0.1).until(
        lambda d: "unsupported_media" in d.find_element(By.ID, "error-code").text
    )
    assert browser.find_element(By.ID, "error-title").text == (
        "This file cannot be read as a video."
    )
    refused = httpx.post(
        site.url + "/predict",
        headers={"Authorization": f"Bearer {TOKEN}"},
        files={"file": (not_a_video.name, not_a_video.read_bytes())},
    )
    assert refused.status_code == 415
    assert browser.find_element(By.ID, "error-detail").text == refused.json()["error"]
    assert not browser.find_element(By.ID, "result").is_displayed()
    assert list(site.upload_dir.iterdir()) == []


def test_optional_parts_of_an_answer_are_drawn_when_present(
    browser: webdriver.Chrome, site: Site
) -> None:
    """Reasons, coverage, crops and one series per tracked face, from an answer that has them
    (newer gateways add these keys; the page must not need them)."""
    crop = np.zeros((64, 64, 3), np.uint8)
    crop[:, :32] = 255
    jpeg = base64.b64encode(cv2.imencode(".jpg", crop)[1].tobytes()).decode()
    frames: list[dict[str, Any]] = [
        {"t": 0.0, "faces": [{"score": 0.2, "track": 0, "crop": jpeg}]},
        {"t": 0.5, "faces": [{"score": 0.3, "track": 0}, {"score": 0.9, "track": 1}]},
        {"t": 3.0, "faces": [{"score": 0.25, "track": 0, "crop": jpeg}]},
    ]
    answer = {
        "score": 0.35, "label": "real", "verdict": "uncertain", "threshold": 0.5,
        "frame_samples": [{"t": f["t"], "score": f["faces"][0]["score"]} for f in frames],
        "version": "1", "latency_ms": 1200, "model": "deepfake", "backend": "embedded",
        "meta": {"src_fps": 10, "total_frames": 40, "used_step": 5, "face_frames": 3,
                 "sampled_frames": 8},
        "reasons": [{"code": "few_frames", "message": "Only 3 frames had a face."}],
        "coverage": {"sampled_frames": 8, "face_frames": 3, "smallest_face_px": 41},
        "frames": frames,
    }  # fmt: skip
    open_page(browser, site, TOKEN)
    browser.execute_script("showResult(arguments[0])", answer)
    assert browser.find_element(By.ID, "verdict").text == "Uncertain"
    reasons = browser.find_elements(By.CSS_SELECTOR, "#reasons li")
    assert [r.text for r in reasons] == ["Only 3 frames had a face. few_frames"]
    terms = browser.find_elements(By.CSS_SELECTOR, "#coverage dt")
    values = browser.find_elements(By.CSS_SELECTOR, "#coverage dd")
    assert {t.text: v.text for t, v in zip(terms, values, strict=True)} == {
        "sampled frames": "8",
        "face frames": "3",
        "smallest face px": "41",
    }
    images = browser.find_elements(By.CSS_SELECTOR, "#crops img")
    assert len(images) == 2
    WebDriverWait(browser, 5).until(lambda d: all(i.get_property("naturalWidth") for i in images))
    assert [i.get_property("naturalWidth") for i in images] == [64, 64]  # decoded, not broken
    series = browser.find_elements(By.CSS_SELECTOR, "#chart svg path.series")
    assert [p.get_attribute("data-name") for p in series] == ["face 0", "face 1"]
    # Face 0 is not seen between 0.5 s and 3 s (sampled every 0.5 s): the line breaks there.
    assert (series[0].get_attribute("d") or "").count("M") == 2
    assert len(browser.find_elements(By.CSS_SELECTOR, "#chart svg circle.point")) == 4
    # No provenance key (a gateway from before it): no panel.
    assert not browser.find_element(By.ID, "provenance-box").is_displayed()
    assert console_errors(browser) == []


def provenance_panel(browser: webdriver.Chrome) -> dict[str, Any]:
    """What the provenance panel shows: its summary, message and each term -> value."""
    box = browser.find_element(By.ID, "provenance-box")
    assert box.is_displayed()
    terms = browser.find_elements(By.CSS_SELECTOR, "#provenance dt")
    values = browser.find_elements(By.CSS_SELECTOR, "#provenance dd")
    return {
        "summary": box.get_attribute("data-summary"),
        "message": browser.find_element(By.ID, "provenance-message").text,
        "entries": {t.text: v.text for t, v in zip(terms, values, strict=True)},
    }


def y_of(score: float) -> float:
    return TOP + (1 - score) * (HEIGHT - TOP - BOTTOM)


def api_answer(site: Site, clip: Path, **params: Any) -> dict[str, Any]:
    response = httpx.post(
        site.url + "/predict",
        params=params,
        headers={"Authorization": f"Bearer {TOKEN}"},
        files={"file": (clip.name, clip.read_bytes())},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def console_errors(browser: webdriver.Chrome) -> list[str]:
    try:
        entries: list[dict[str, Any]] = browser.get_log("browser")  # type: ignore[no-untyped-call]
    except WebDriverException:  # pragma: no cover - a driver without console logs
        return []
    return [e["message"] for e in entries if e.get("level") == "SEVERE"]
