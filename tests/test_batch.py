"""Batch jobs: manifests, frame ranges, partial files, reruns, --skip-existing, crashes, runners."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from commit_helpers import mixed_videos
from conftest import astronaut_clip_frames, write_clip

from pipeline.cli import main
from pipeline.decode import summarize_video
from pipeline.main import jobs_for
from pipeline.options import UsageError, parse_run_args
from schemas.tables import TABLES
from tagging.tables.queries import read_table
from tagging.video.inputs import ManifestError, read_manifest
from tagging.video.reader import FrameReader, plan_ranges

RUNNER = ["--runner", "FnApiRunner"]


# --- pure parts --------------------------------------------------------------------------

def test_plan_ranges_cover_the_video_once():
    ranges = plan_ranges(169, 50)
    assert ranges == [(0, 50), (50, 100), (100, 150), (150, None)]
    assert plan_ranges(0, 50) == [(0, None)]              # unknown length: one open range
    assert plan_ranges(169, 50, stride=3)[1] == (51, 102)  # starts stay on the stride grid
    assert plan_ranges(169, 50, limit_frame=20) == [(0, 20)]


def test_ranges_decode_the_same_frames_as_one_pass(tmp_path, astronaut):
    clip = write_clip(tmp_path / "c.avi", astronaut_clip_frames(astronaut, 23))
    whole = [(f.index, f.timestamp_ms, int(f.image.sum())) for f in FrameReader(str(clip), stride=2)]
    parts = []
    for start, stop in plan_ranges(23, 5, stride=2):
        parts += [(f.index, f.timestamp_ms, int(f.image.sum()))
                  for f in FrameReader(str(clip), 2, None, start, stop)]
    assert parts == whole and [p[0] for p in parts] == list(range(0, 23, 2))


def test_summarize_video_reports_where_decoding_stopped():
    plan = {"video_id": "v", "path": "/x/v.avi", "sha256": "0" * 64, "fps": 10.0, "declared_frames": 30,
            "status": "failed", "error": None}
    ok = [{"start": 0, "frames_seen": 15, "frames_kept": 15, "last_index": 14, "truncated": False, "error": None},
          {"start": 15, "frames_seen": 15, "frames_kept": 15, "last_index": 29, "truncated": False, "error": None}]
    row = summarize_video("v", [plan], ok)
    assert (row["status"], row["frame_count"], row["duration_ms"]) == ("ok", 30, 3000.0)
    cut = [dict(ok[0], frames_seen=9, frames_kept=9, last_index=8, truncated=True),
           dict(ok[1], frames_seen=0, frames_kept=0, last_index=14, truncated=True)]
    row = summarize_video("v", [plan], cut)
    assert row["status"] == "partial" and row["frames_processed"] == 9
    assert row["error"].startswith("/x/v.avi: decoding stopped at frame 9 of 30 declared")


def test_manifest_rows_ids_and_metadata(tmp_path):
    (tmp_path / "a.mp4").write_bytes(b"x")
    (tmp_path / "b.mp4").write_bytes(b"x")
    m = tmp_path / "m.csv"
    m.write_text("path,video_id,competition,season,match_date,home,away\n"
                 "a.mp4,bl-2024-01,Bundesliga,2024/25,2024-08-23,Gladbach,Leverkusen\n"
                 "b.mp4,,,,,,\n")
    entries = read_manifest(str(m))
    assert entries[0] == (str(tmp_path / "a.mp4"), "bl-2024-01",
                          {"competition": "Bundesliga", "season": "2024/25", "match_date": "2024-08-23",
                           "home": "Gladbach", "away": "Leverkusen"})
    _, opts = parse_run_args(["--manifest", str(m), "--output", str(tmp_path / "o")])
    jobs = {j.video_id: j for j in jobs_for(opts)}
    assert set(jobs) == {"bl-2024-01", "b"} and jobs["bl-2024-01"].metadata["home"] == "Gladbach"


@pytest.mark.parametrize("text, message", [
    ("file,x\na.mp4,1\n", "needs a header row with a 'path' column"),
    ("path,video_id\n,abc\n", "line 2: empty 'path'"),
    ("path,video_id\na.mp4,../evil\n", "line 2: video_id '../evil' must be"),
    # issue 13: each of these was silently misread, or a traceback, before
    ("path,path\na.mp4,b.mp4\n", "column 'path' appears twice in the header"),
    ("path,video_id\na.mp4,m1,extra\n", "line 2: 3 fields but the header has 2"),
    ("path,video_id\na.mp4,m1\nb.mp4,m2,x,y\n", "line 3: 4 fields but the header has 2"),
    ("path,video_id\na.mp4,12345\n", "line 2: video_id '12345' looks like a number"),
    ("path\na.mp4\x00\n", "line 2: the path holds a NUL byte"),
    ('path\n"a.mp4\n', "line 2: not valid CSV (unexpected end of data)"),
])
def test_bad_manifests_name_file_and_line(tmp_path, text, message):
    m = tmp_path / "m.csv"
    m.write_text(text)
    with pytest.raises(ManifestError, match=re.escape(message)) as err:
        read_manifest(str(m))
    assert str(m) in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("flags, message", [
    (["--track-chunk-s", "-1"], "--track-chunk-s must be >= 0"),
    (["--track-chunk-s", "2", "--track-overlap-s", "2"], "--track-overlap-s must be >= 0 and less than"),
])
def test_bad_tracking_segments_are_usage_errors(tmp_path, flags, message):
    from pipeline.options import validate

    _, opts = parse_run_args(["a.mp4", "--output", str(tmp_path / "o"), *flags])
    with pytest.raises(UsageError, match=message):
        validate(opts)


# --- runs --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def batch(tmp_path_factory, astronaut, models):
    """Three real-pixel clips (one cut mid-stream) and a broken file, in a manifest."""
    root = tmp_path_factory.mktemp("batch")
    frames = astronaut_clip_frames(astronaut, 12)
    for name in ("m1", "m2", "m3"):
        write_clip(root / f"{name}.avi", frames)
    data = (root / "m3.avi").read_bytes()
    (root / "cut.avi").write_bytes(data[: len(data) // 2])
    (root / "m3.avi").unlink()
    (root / "notes.mp4").write_text("not a video\n")
    manifest = root / "matches.csv"
    manifest.write_text("path,video_id,competition,home,away\n"
                        "m1.avi,match-1,Test Cup,A,B\nm2.avi,match-2,Test Cup,C,D\n"
                        "cut.avi,match-3,Test Cup,E,F\nnotes.mp4,match-4,Test Cup,G,H\n")
    out = root / "tags"
    code = main(["run", "--manifest", str(manifest), "--output", str(out), "--range-frames", "5", *RUNNER])
    return {"root": root, "manifest": manifest, "out": out, "code": code}


def _counts(out: Path) -> dict:
    return {t: len(read_table(out, t)) for t in TABLES}


def test_manifest_run_partial_and_failed_rows(batch):
    assert batch["code"] == 1
    v = read_table(batch["out"], "videos").set_index("video_id")
    assert v.loc["match-1", "status"] == "ok" and v.loc["match-1", "frame_count"] == 12
    assert v.loc["match-1", "competition"] == "Test Cup" and v.loc["match-2", "home"] == "C"
    assert v.loc["match-3", "status"] == "partial"
    assert "cut.avi: decoding stopped at frame" in v.loc["match-3", "error"]
    assert 0 < v.loc["match-3", "frames_processed"] < 12
    assert v.loc["match-4", "status"] == "failed" and "notes.mp4" in v.loc["match-4", "error"]
    poses = read_table(batch["out"], "poses")
    assert set(poses[poses.video_id == "match-1"].frame_index) == set(range(12))
    assert poses[poses.video_id == "match-3"].frame_index.max() < v.loc["match-3", "frames_processed"]
    runs = pd.read_parquet(batch["out"] / "runs")
    r = runs.iloc[-1]
    assert (r.videos_total, r.videos_ok, r.videos_partial, r.videos_failed) == (4, 2, 1, 1)
    assert any("match-4" in f for f in r.failures)


def test_skip_existing_processes_nothing_already_tagged(batch):
    before = _counts(batch["out"])
    code = main(["run", "--manifest", str(batch["manifest"]), "--output", str(batch["out"]), "--skip-existing",
          "--range-frames", "5", *RUNNER])
    # The damaged and the cut file failed in the first run; skipped now, they are not
    # failures of this run: a nightly job goes green.
    assert code == 0
    runs = pd.read_parquet(batch["out"] / "runs").sort_values("started_at")
    last = runs.iloc[-1]
    # Same bytes and config give the same tags: the cut and the broken file are not retried.
    assert (last.videos_total, last.videos_skipped, last.frames_decoded) == (4, 4, 0)
    assert (last.videos_ok, last.videos_partial, last.videos_failed, len(last.failures)) == (0, 0, 0, 0)
    assert _counts(batch["out"]) == before


def test_retry_failed_retags_only_failed_and_partial_videos(batch, tmp_path):
    out = tmp_path / "tags"
    shutil.copytree(batch["out"], out)
    code = main(["run", "--manifest", str(batch["manifest"]), "--output", str(out), "--skip-existing",
                 "--retry-failed", "--range-frames", "5", *RUNNER])
    assert code == 1  # the two bad files are tried again, and fail again
    last = pd.read_parquet(out / "runs").sort_values("started_at").iloc[-1]
    assert (last.videos_skipped, last.videos_ok, last.videos_partial, last.videos_failed) == (2, 0, 1, 1)
    assert sorted(f.split(":")[0] for f in last.failures) == ["match-3", "match-4"]
    runs = read_table(out, "videos").set_index("video_id").run_id
    assert runs["match-3"] == runs["match-4"] != runs["match-1"] == runs["match-2"]
    assert main(["run", "--manifest", str(batch["manifest"]), "--output", str(out), "--retry-failed",
                 *RUNNER]) == 2  # without --skip-existing it means nothing: refused


def test_killed_run_then_rerun_equals_clean_run(tmp_path, astronaut, models):
    """SIGKILL while the pipeline runs (tests/test_commit.py kills at every step of the
    write and commit phase)."""
    frames = astronaut_clip_frames(astronaut, 6)
    inputs = [str(write_clip(tmp_path / f"v{i}.avi", frames)) for i in range(2)]
    clean = tmp_path / "clean"
    assert main(["run", *inputs, "--output", str(clean), *RUNNER]) == 0
    out = tmp_path / "crashed"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    args = ["run", *inputs, "--output", str(out), *RUNNER]
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not (out / "_locks").exists():
        time.sleep(0.05)
    time.sleep(1.0)  # into the pipeline
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    if (out / "_commits").exists():
        assert mixed_videos(out) == []
    assert main(["run", *inputs, "--output", str(out), *RUNNER]) == 0
    assert mixed_videos(out) == []
    assert _counts(out) == _counts(clean)
    assert {p.name for p in out.iterdir()} == {*TABLES, "runs", "_commits"}  # the dead run's files are gone


# --- runners -----------------------------------------------------------------------------

@pytest.mark.parametrize("runner_args", [
    ["--runner", "DataflowRunner", "--project", "p", "--region", "europe-west1",
     "--temp_location", "gs://bucket/tmp", "--setup_file", "./setup.py"],
    ["--runner", "FlinkRunner", "--flink_master", "localhost:8081", "--environment_type", "LOOPBACK"],
    ["--runner", "SparkRunner", "--spark_master_url", "spark://localhost:7077"],
])
def test_pipeline_builds_for_cluster_runners(tmp_path, runner_args):
    import apache_beam as beam
    from apache_beam.options.pipeline_options import StandardOptions

    from pipeline.graph import build
    from pipeline.options import validate

    video = tmp_path / "v.avi"
    video.write_bytes(b"")
    options, opts = parse_run_args([str(video), "--output", str(tmp_path / "out"), *runner_args])
    validate(opts)
    assert options.view_as(StandardOptions).runner == runner_args[1]
    pipeline = beam.Pipeline(runner=beam.runners.DirectRunner(), options=options)
    build(pipeline, opts, jobs_for(opts), "test-run")
    proto = pipeline.to_runner_api()  # what a runner is sent; nothing is submitted
    names = {t.unique_name for t in proto.components.transforms.values()}
    for stage in ("DecodeFrames", "EstimatePoses", "TrackPlayers", "TagEvents", "WriteTables"):
        assert stage in names


def test_multiprocess_local_workers(tmp_path, astronaut, models):
    frames = astronaut_clip_frames(astronaut, 6)
    inputs = [str(write_clip(tmp_path / f"w{i}.avi", frames)) for i in range(2)]
    out = tmp_path / "tags"
    assert main(["run", *inputs, "--output", str(out), "--runner", "FnApiRunner",
                 "--direct_running_mode=multi_processing", "--direct_num_workers=2"]) == 0
    assert _counts(out)["poses"] == 12 and set(read_table(out, "videos").status) == {"ok"}


def test_replay_retags_from_stored_poses_without_models(batch, tmp_path):
    manifest = tmp_path / "one.csv"
    manifest.write_text(f"path,video_id\n{batch['root'] / 'm1.avi'},match-1\n")
    out = tmp_path / "replayed"
    assert main(["run", "--manifest", str(manifest), "--output", str(out), "--pose", "replay",
                 "--poses-from", str(batch["out"]), *RUNNER]) == 0
    cols = ["frame_index", "bbox_x1", "nose_x", "score"]
    old = read_table(batch["out"], "poses", "match-1")[cols].sort_values(cols).reset_index(drop=True)
    new = read_table(out, "poses", "match-1")[cols].sort_values(cols).reset_index(drop=True)
    pd.testing.assert_frame_equal(old, new)
    # torso colours are recomputed from the decoded frames, so teams come out as in the first run
    team = ["track_id", "team"]
    pd.testing.assert_frame_equal(read_table(batch["out"], "tracks", "match-1")[team].sort_values("track_id")
                                  .reset_index(drop=True),
                                  read_table(out, "tracks", "match-1")[team].sort_values("track_id").reset_index(drop=True))
    assert read_table(out, "videos").iloc[0].pose_backend.startswith("replay:")
    assert main(["run", "--manifest", str(manifest), "--output", str(out), "--pose", "replay", *RUNNER]) == 2
