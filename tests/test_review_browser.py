"""`matchtag review` in headless Chromium (Debian's chromium + chromium-driver, selenium):
pick a player by clicking his skeleton, add an event of a new class, confirm and reject
candidates, reload, find the labels as left.  One test on the astronaut clip (no shared
data needed), one on ../shared/data/video/street_crowd_openpose.avi (realdata), which also
takes a screenshot: into the test's temp dir, or over docs/img/review.png when
MATCHTAG_UPDATE_DOCS_IMG=1 (so that a CI run never edits tracked files)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from review_helpers import Server
from test_render_report import open_in_chromium, replace_events  # noqa: F401  (a fixture)

from pipeline.cli import main
from tagging.evaluate.events import read_labels
from tagging.review.labels import LabelStore
from tagging.tables.queries import read_table

pytestmark = pytest.mark.models
RUNNER = ["--runner", "FnApiRunner"]
DOCS_IMG = Path(__file__).resolve().parents[1] / "docs" / "img"


@pytest.fixture(scope="module")
def chromium(request):
    """bench/report_browser.py (its driver), after test_render_report's skip rules: no
    chromium, chromedriver or selenium, no test."""
    request.getfixturevalue("open_in_chromium")
    import report_browser

    return report_browser


def seed_candidates(out: Path, video_id: str) -> list[dict]:
    """Two candidate events on the two longest tracks, written into the committed events file
    as the pipeline writes its rows (the default model tags nothing on these short clips)."""
    poses = read_table(out, "poses", video_id)
    tracked = poses[poses.track_id >= 0]
    tracks = list(tracked.track_id.value_counts().index[:2])
    ts = sorted(tracked.timestamp_ms.unique())
    rows = [{"event_type": kind, "track_id": int(t), "start_ms": ts[0], "end_ms": ts[-1], "peak_ms": ts[len(ts) // 2 + i],
             "confidence": conf, "model": "default-seeded"}
            for i, (kind, t, conf) in enumerate(zip(("throw_in", "jump"), tracks * 2, (0.81, 0.55)))]
    replace_events(out, video_id, rows)
    return rows


def _wait(driver, script: str, timeout: float = 180.0, what: str = ""):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.2)
    status = driver.execute_script("return document.getElementById('status').textContent")
    raise AssertionError(f"timed out waiting for {what or script}; status: {status}")


def _press(driver, keys: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(driver).send_keys(keys).perform()


def _saved_after(driver, before: int) -> int:
    return _wait(driver, f"return Number(document.body.dataset.saved || 0) > {before} && "
                         "Number(document.body.dataset.saved)", 30, "a save")


def _rows(driver) -> list[tuple[str, str, str]]:
    return driver.execute_script(
        "return [...document.querySelectorAll('#events tbody tr')].map(r => "
        "[r.dataset.type, r.children[2].textContent, r.dataset.status]);")


def review_flow(driver, server: Server, new_class: str, screenshot: Path | None = None) -> dict:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    driver.get(server.url)
    _wait(driver, "return document.body.dataset.ready", what="the video to load")
    _wait(driver, "return state.items.length >= 2", 30, "the candidates")
    # the help overlay lists the shortcuts; frame stepping moves by one frame
    _press(driver, "?")
    assert driver.execute_script("return !document.getElementById('help').hidden && "
                                 "document.querySelectorAll('#help-keys tr').length") >= 15
    _press(driver, "\ue00c")   # Esc
    assert driver.execute_script("return document.getElementById('help').hidden")
    t0 = driver.execute_script("return video.currentTime")
    _press(driver, "\ue014")   # ArrowRight
    step = _wait(driver, f"return video.currentTime > {t0} && video.currentTime - {t0}", 10, "a frame step")
    assert abs(step - 1 / driver.execute_script("return state.video.fps")) < 1e-3
    _press(driver, "\ue012")   # ArrowLeft
    saved = 0
    # confirm the first candidate, reject the second: J C, J X
    _press(driver, "j")
    _press(driver, "c")
    saved = _saved_after(driver, saved)
    _press(driver, "j")
    _press(driver, "x")
    saved = _saved_after(driver, saved)
    # a frame with tracked people on the canvas, then click the skeleton of one of them
    person = _wait(driver, "return state.frame && state.frame.people.find(p => p.track >= 0)", 30,
                   "skeletons drawn on the canvas")
    canvas = driver.find_element(By.ID, "overlay")
    size = driver.execute_script("const r = overlay.getBoundingClientRect(); "
                                 "return [r.width, r.height, overlay.width, overlay.height];")
    x1, y1, x2, y2 = person["box"]
    cx, cy = (x1 + x2) / 2 * size[0] / size[2], (y1 + y2) / 2 * size[1] / size[3]
    ActionChains(driver).move_to_element_with_offset(canvas, int(cx - size[0] / 2), int(cy - size[1] / 2)).click().perform()
    picked = _wait(driver, "return document.getElementById('picked').dataset.track", 10, "the picked player")
    assert int(picked) == person["track"]
    # a new class, named on the spot: N, type its name, Enter
    _press(driver, "n")
    alert = driver.switch_to.alert
    alert.send_keys(new_class)
    alert.accept()
    saved = _saved_after(driver, saved)
    before = _rows(driver)
    if screenshot is not None:
        driver.save_screenshot(str(screenshot))
    driver.refresh()
    _wait(driver, "return document.body.dataset.ready", what="the video after reload")
    _wait(driver, "return state.items.length >= 3", 30, "the labels after reload")
    after = _rows(driver)
    errors = [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
    return {"before": before, "after": after, "track": person["track"], "errors": errors}


def _check(result: dict, root: Path, video_id: str, candidates: list[dict], new_class: str) -> None:
    assert result["errors"] == []
    assert sorted(result["after"]) == sorted(result["before"])
    statuses = {(t, s) for t, _, s in result["after"]}
    assert {(candidates[0]["event_type"], "confirmed"), (candidates[1]["event_type"], "rejected"),
            (new_class, "added")} <= statuses
    labels = read_labels(LabelStore.of_output(root).path(), with_status=True)
    labels = labels[labels.video_id == video_id]
    got = {(r.event_type, int(r.track_id), r.status) for r in labels.itertuples()}
    assert got == {(candidates[0]["event_type"], candidates[0]["track_id"], "confirmed"),
                   (candidates[1]["event_type"], candidates[1]["track_id"], "rejected"),
                   (new_class, result["track"], "confirmed")}


@pytest.fixture(scope="module")
def astronaut_tags(tmp_path_factory, astronaut_clip, models):
    root = tmp_path_factory.mktemp("review_browser")
    clip = root / "astro.avi"
    shutil.copy(astronaut_clip, clip)
    out = root / "tags"
    assert main(["run", str(clip), "--output", str(out), "--max-frames", "6", *RUNNER]) == 0
    return out, seed_candidates(out, "astro")


def test_review_in_chromium_on_the_astronaut_clip(chromium, astronaut_tags):
    out, candidates = astronaut_tags
    server = Server(out)
    try:
        with chromium.chromium_driver(1400, 900) as driver:
            result = review_flow(driver, server, "arms_wide")
        ranges = {r: _range(server, r) for r in ("bytes=0-99", "bytes=-10", "bytes=100-", "bytes=999999999-")}
    finally:
        server.stop()
    _check(result, out, "astro", candidates, "arms_wide")
    # the avi was converted once into the cache, and is served with Range requests (seeking)
    copies = list((out / "_review_cache").glob("*.mp4"))
    assert len(copies) == 1
    size = copies[0].stat().st_size
    assert ranges["bytes=0-99"] == (206, f"bytes 0-99/{size}", copies[0].read_bytes()[:100])
    assert ranges["bytes=-10"] == (206, f"bytes {size - 10}-{size - 1}/{size}", copies[0].read_bytes()[-10:])
    assert ranges["bytes=100-"][:2] == (206, f"bytes 100-{size - 1}/{size}")
    assert ranges["bytes=999999999-"][:2] == (416, f"bytes */{size}")


def _range(server: Server, spec: str) -> tuple[int, str, bytes]:
    import urllib.error
    import urllib.request

    req = urllib.request.Request(f"{server.base}/media/astro?token={server.token}", headers={"Range": spec})
    try:
        with urllib.request.urlopen(req, timeout=60) as res:
            return res.status, res.headers["Content-Range"], res.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Range"], b""


@pytest.mark.realdata
def test_review_in_chromium_on_the_street_crowd(chromium, shared_data, models, tmp_path):
    """Street crowd, 5 frames tagged by the test itself, two seeded candidates."""
    video = shared_data / "video" / "street_crowd_openpose.avi"
    out = tmp_path / "tags"
    assert main(["run", str(video), "--output", str(out), "--max-frames", "5", *RUNNER]) == 0
    candidates = seed_candidates(out, "street_crowd_openpose")
    server = Server(out)
    try:
        with chromium.chromium_driver(1500, 820) as driver:
            shot = (DOCS_IMG if os.environ.get("MATCHTAG_UPDATE_DOCS_IMG") == "1" else tmp_path) / "review.png"
            result = review_flow(driver, server, "pointing", screenshot=shot)
        assert shot.stat().st_size > 10_000, f"{shot}: no screenshot"
    finally:
        server.stop()
    _check(result, out, "street_crowd_openpose", candidates, "pointing")
