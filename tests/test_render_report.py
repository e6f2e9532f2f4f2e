"""`matchtag render` and `matchtag report` on real-pixel clips tagged by the whole pipeline."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import astronaut_clip_frames, write_clip

from pipeline.cli import main
from schemas.tables import PARTITION_COLUMN, file_schema
from tagging.tables.queries import read_table
from tagging.tables.store import table_dataset

pytestmark = pytest.mark.models
RUNNER = ["--runner", "FnApiRunner"]
av = pytest.importorskip("av", reason="PyAV is needed to read the rendered mp4 back (pip install av)")


def replace_events(root: Path, video_id: str, events: list[dict]) -> None:
    """Put ``events`` in place of a video's events, in the committed file(s) of its partition
    (the first file gets the rows, any others are emptied), so readers see them."""
    files = [f for f in table_dataset(root, "events").files if f"{PARTITION_COLUMN}={video_id}" in f]
    assert files, f"no events file for {video_id}"
    schema = file_schema("events")
    for i, path in enumerate(files):
        rows = events if i == 0 else []
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)


@pytest.fixture(scope="module")
def tagged(tmp_path_factory, astronaut_clip, astronaut, models):
    """The astronaut clip, a copy of it that is deleted after tagging (its file is gone), and a
    text file named .mp4 (a failed video); three events put on the clip's track."""
    root = tmp_path_factory.mktemp("render")
    clip = root / "astro clip.avi"
    shutil.copy(astronaut_clip, clip)
    gone = write_clip(root / "gone.avi", astronaut_clip_frames(astronaut, 6)[::-1])
    bad = root / "broken.mp4"
    bad.write_text("not a video\n" * 20)
    out = root / "tags"
    code = main(["run", str(clip), str(gone), str(bad), "--output", str(out), "--max-frames", "6", *RUNNER])
    assert code == 1   # the broken file failed, alone
    gone.unlink()
    poses = read_table(out, "poses", "astro_clip")
    track = int(poses.track_id.mode()[0])
    ts = sorted(poses.timestamp_ms.unique())
    events = [{"event_type": "throw_in", "track_id": track, "start_ms": ts[1], "end_ms": ts[3], "peak_ms": ts[2],
               "confidence": 0.91, "model": "test"},
              {"event_type": "jump", "track_id": track, "start_ms": ts[4], "end_ms": ts[5], "peak_ms": ts[4],
               "confidence": 0.4, "model": "test"}]
    replace_events(out, "astro_clip", events)
    replace_events(out, "gone", [{**events[0], "confidence": 0.5}])
    return {"out": out, "clip": clip, "gone": gone, "track": track, "timestamps": ts}


def _probe(path: Path) -> tuple[int, int, int, str, list[float]]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        times = [float(f.pts * f.time_base) for f in container.decode(stream)]
        return len(times), stream.codec_context.width, stream.codec_context.height, stream.codec_context.name, times


def test_render_whole_clip_decodes_back_to_the_same_frames(tagged, tmp_path):
    out = tmp_path / "overlay.mp4"
    code = main(["render", str(tagged["clip"]), "--tags", str(tagged["out"]), "--out", str(out)])
    assert code == 0
    frames, width, height, codec, times = _probe(out)
    # every decoded frame of the source, at its size: the clip has 8 frames, 6 were tagged
    assert (frames, width, height, codec) == (8, 640, 480, "h264")
    np.testing.assert_allclose(np.diff(times), 0.1, atol=1e-3)   # the source's 10 fps


def test_render_draws_team_coloured_skeletons_and_event_labels(tagged, tmp_path):
    from tagging.draw.frame import draw_overlay, team_colour
    from tagging.tables.queries import frame_poses

    poses = read_table(tagged["out"], "poses", "astro_clip")
    rows = poses[poses.frame_index == 2]
    blank = np.full((480, 640, 3), 90, np.uint8)
    event = {"event_type": "throw_in", "track_id": tagged["track"], "confidence": 0.91,
             "start_ms": 100.0, "end_ms": 300.0}
    plain = draw_overlay(blank, frame_poses(rows), {tagged["track"]: "b"}, [])
    labelled = draw_overlay(blank, frame_poses(rows), {tagged["track"]: "b"}, [event])
    blue = np.all(plain == team_colour("b"), axis=-1)
    assert blue.sum() > 200     # the box and skeleton are drawn in team b's colour
    assert (labelled != plain).any(axis=-1).sum() > 500    # the event's labels were added


def test_render_window_keeps_frame_rate_and_shows_the_event(tagged, tmp_path):
    out = tmp_path / "window.mp4"
    proc = subprocess.run([sys.executable, "-m", "pipeline.cli", "render", str(tagged["clip"]), "--tags",
                           str(tagged["out"]), "--out", str(out), "--start", "0.2", "--end", "0.5", "--json"],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(Path.cwd())})
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert (result["first_frame"], result["last_frame"], result["frames"]) == (2, 4, 3)
    assert result["events_shown"] == 2     # throw_in 0.1-0.3 s and jump 0.4-0.5 s overlap 0.2-0.4 s
    frames, width, height, codec, times = _probe(out)
    assert (frames, width, height, codec) == (3, 640, 480, "h264")
    np.testing.assert_allclose(times, [0.0, 0.1, 0.2], atol=1e-3)


def test_render_finds_the_video_by_content_when_moved(tagged, tmp_path):
    moved = tmp_path / "renamed.avi"
    shutil.copy(tagged["clip"], moved)
    out = tmp_path / "moved.mp4"
    assert main(["render", str(moved), "--tags", str(tagged["out"]), "--out", str(out), "--end", "0.3"]) == 0
    assert _probe(out)[0] == 3


def test_render_refuses_a_video_not_in_the_tables(tagged, tmp_path, astronaut, capsys):
    other = write_clip(tmp_path / "other.avi", astronaut_clip_frames(astronaut, 3)[::-1])
    out = tmp_path / "x.mp4"
    out.write_bytes(b"an earlier render")
    assert main(["render", str(other), "--tags", str(tagged["out"]), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("matchtag: error: ") and str(other) in err[0]
    assert "not in the videos table" in err[0]
    assert out.read_bytes() == b"an earlier render"    # nothing already written is lost
    assert main(["render", str(other), "--tags", str(tagged["out"]), "--out", str(out),
                 "--video-id", "nope"]) == 2
    assert "no video 'nope'" in capsys.readouterr().err
    # --video-id overrides the matching
    assert main(["render", str(other), "--tags", str(tagged["out"]), "--out", str(out),
                 "--video-id", "astro_clip"]) == 0
    assert _probe(out)[0] == 3


def test_render_rejects_bad_windows(tagged, tmp_path, capsys):
    args = ["render", str(tagged["clip"]), "--tags", str(tagged["out"]), "--out", str(tmp_path / "w.mp4")]
    assert main([*args, "--start", "0.5", "--end", "0.2"]) == 2
    assert "--end (0.2 s) must be after --start" in capsys.readouterr().err
    assert main([*args, "--start", "30"]) == 2
    assert "past the end" in capsys.readouterr().err
    assert not (tmp_path / "w.mp4").exists()


# --- report ------------------------------------------------------------------------------

EXTERNAL = [re.compile(p) for p in (r"https?://", r"(?<![:\w])//[\w.-]", r"\b(?:src|href)\s*=\s*(?![\"']?(?:data:|#))",
                                    r"url\(\s*(?![\"']?(?:data:|#))", r"@import", r"\bsrcset\b")]


def external_references(page: str) -> list[str]:
    """Anything in ``page`` a browser could fetch from elsewhere: URLs, protocol-relative
    links, and src/href/url() that are not data: URIs or #anchors.  Data URIs are removed
    first (base64 can hold "//")."""
    text = re.sub(r"data:[\w/+.-]+(?:;[\w=.-]+)*,[A-Za-z0-9+/=%]*", "data:", page)
    return [m.group(0) for rx in EXTERNAL for m in rx.finditer(text)]


def test_external_reference_check_catches_links():
    assert external_references('<img src="data:image/jpeg;base64,ab//cd"><a href="#v0">x</a>') == []
    for bad in ('<script src="x.js">', '<a href="https://e.com">', "<link href=//cdn.x/y.css>",
                "body{background:url(a.png)}", "@import 'x.css';", '<img src=pic.png>'):
        assert external_references(bad), bad


@pytest.fixture(scope="module")
def report(tagged, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "report.html"
    proc = subprocess.run([sys.executable, "-m", "pipeline.cli", "report", "--tags", str(tagged["out"]),
                           "--out", str(out), "--json"], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(Path.cwd())})
    assert proc.returncode == 0, proc.stderr
    return out, json.loads(proc.stdout)


def test_report_is_one_self_contained_file(report):
    path, summary = report
    assert sorted(p.name for p in path.parent.iterdir()) == ["report.html"]
    page = path.read_text()
    assert external_references(page) == []
    assert summary["bytes"] == path.stat().st_size


def test_report_names_every_video_and_event(report, tagged):
    path, summary = report
    page = path.read_text()
    videos = {v["video_id"]: v for v in summary["videos"]}
    assert set(videos) == {"astro_clip", "gone", "broken"}
    for vid in videos:
        assert f"<h2>{vid}</h2>" in page
    assert videos["astro_clip"]["events"] == 2 and videos["astro_clip"]["thumbnails"] == 2
    assert page.count("data:image/jpeg;base64,") == 2
    assert "<h4>throw_in (1)</h4>" in page and "<h4>jump (1)</h4>" in page
    # the events' rows (peak, type, track, ...) are in the page's data
    rows = json.loads(re.search(r'id="ev0">(.*?)</script>', page).group(1))
    assert [(r[1], r[2]) for r in rows] == [("throw_in", tagged["track"]), ("jump", tagged["track"])]


def test_report_keeps_videos_whose_file_is_gone_and_failures(report, tagged):
    path, summary = report
    page = path.read_text()
    videos = {v["video_id"]: v for v in summary["videos"]}
    assert videos["gone"]["events"] == 1 and videos["gone"]["thumbnails"] == 0
    assert "video file not found" in videos["gone"]["note"]
    assert f"video file not found at {tagged['gone']}: no thumbnails" in page
    assert videos["broken"]["status"] == "failed"
    error = read_table(tagged["out"], "videos", "broken").error.iloc[0]
    assert error in page or error.replace('"', "&quot;").replace("'", "&#x27;") in page
    assert "broken:" in page     # the runs table's failures list


def test_report_refuses_a_folder_without_tables(tmp_path, capsys):
    assert main(["report", "--tags", str(tmp_path), "--out", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("matchtag: error: ") and "no videos table" in err
    assert not (tmp_path / "r.html").exists()


@pytest.fixture(scope="module")
def open_in_chromium():
    """bench/report_browser.py's headless-Chromium check; skips when the browser is absent."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    import report_browser

    if report_browser.chromium_paths() is None:
        pytest.skip("browser test: chromium and chromedriver are not installed "
                    "(apt-get install -y chromium chromium-driver)")
    pytest.importorskip("selenium", reason="browser test: selenium is not installed (pip install -e '.[dev]')")
    return report_browser.open_in_chromium


def test_report_opens_in_headless_chromium_without_console_errors(report, open_in_chromium):
    path, _ = report
    errors = open_in_chromium(path, clicks=(".pager th.sortable", "select", ".pager button:nth-of-type(2)"))
    assert errors == []


def test_browser_check_sees_console_errors(tmp_path, open_in_chromium):
    """The check above can fail: a script error and a page without tables are reported."""
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><html><body><script>undefinedFunction();</script></body></html>")
    errors = open_in_chromium(page)
    assert any("undefinedFunction" in e for e in errors)
    assert "the paged tables rendered no rows" in errors


def test_find_video_matches_by_content_and_refuses_changed_files(tmp_path):
    from schemas.tables import TABLES
    from tagging.core.hashing import sha256_file
    from tagging.draw.render import RenderError, find_video
    from tagging.tables.store import CommitRecord, commit_local

    a, b, c = tmp_path / "a.avi", tmp_path / "b.avi", tmp_path / "copy_of_a.avi"
    a.write_bytes(b"first video")
    b.write_bytes(b"second video")
    c.write_bytes(b"first video")
    schema = file_schema("videos")
    for vid, path in (("a", a), ("b", b), ("copy_of_a", c)):
        part = tmp_path / "tags" / "videos" / f"video_id={vid}"
        part.mkdir(parents=True)
        row = {name: None for name in schema.names}
        row.update(path=str(path), sha256=sha256_file(path), status="ok", fps=10.0, frame_count=3)
        pq.write_table(pa.Table.from_pylist([row], schema=schema), part / "part-0.parquet")
        commit_local(tmp_path / "tags", CommitRecord(vid, "fake-run", {t: [] for t in TABLES} | {
            "videos": [f"videos/video_id={vid}/part-0.parquet"]}, status="ok"))
    tags = tmp_path / "tags"
    assert find_video(tags, str(b))[PARTITION_COLUMN] == "b"
    assert find_video(tags, str(c))[PARTITION_COLUMN] == "copy_of_a"    # identical bytes: this path wins
    moved = tmp_path / "elsewhere.avi"
    b.rename(moved)
    assert find_video(tags, str(moved))[PARTITION_COLUMN] == "b"
    third = tmp_path / "a_again.avi"      # a's bytes at a path no row has: a and copy_of_a both match
    third.write_bytes(b"first video")
    with pytest.raises(RenderError, match="matches several videos"):
        find_video(tags, str(third))
    a.write_bytes(b"re-encoded")
    with pytest.raises(RenderError, match="has changed since it was tagged as 'a'"):
        find_video(tags, str(a))
    assert find_video(tags, str(a), video_id="a")[PARTITION_COLUMN] == "a"


def test_frames_at_gives_the_asked_frames_once_each(astronaut_clip):
    from tagging.video.reader import FrameReader, frames_at

    every = {f.index: f.image for f in FrameReader(str(astronaut_clip))}
    got = list(frames_at(str(astronaut_clip), [5, 1, 5, 7], max_gap=2))   # 1 alone, then 5..7 in one pass
    assert [f.index for f in got] == [1, 5, 7]
    for f in got:
        np.testing.assert_array_equal(f.image, every[f.index])


def test_people_per_frame_counts_only_processed_frames():
    from tagging.draw.report import processed_frames

    counts = np.array([2, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0])
    stamps = np.full(len(counts), np.nan)
    stamps[[0, 4]] = [0.0, 400.0]
    # --stride 2: frames 0, 2, 4 were processed (2 with nobody); none after the last pose
    assert processed_frames(counts, stamps, 2).tolist() == [0, 2, 4]
    assert processed_frames(counts, stamps, 1).tolist() == [0, 1, 2, 3, 4]
    assert processed_frames(counts, np.full(3, np.nan), 1).tolist() == []
