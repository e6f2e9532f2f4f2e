"""The whole Beam pipeline on a real-pixel clip, plus broken inputs."""

from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq
import pytest

from pipeline.cli import main
from schemas.tables import KEYPOINT_COLUMNS, SCHEMA_VERSION, TABLES, file_schema
from tagging.tables.queries import read_table

pytestmark = pytest.mark.models
RUNNER = ["--runner", "FnApiRunner"]


@pytest.fixture(scope="module")
def tagged(tmp_path_factory, astronaut_clip, models):
    """One run over a good clip, a zero-byte file and a text file named .mp4."""
    root = tmp_path_factory.mktemp("e2e")
    empty = root / "empty.mp4"
    empty.write_bytes(b"")
    text = root / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    out = root / "tags"
    code = main(["run", str(astronaut_clip), str(empty), str(text), "--output", str(out), *RUNNER])
    return {"code": code, "out": out, "clip": astronaut_clip, "empty": empty, "text": text}


def test_bad_videos_fail_alone_and_exit_nonzero(tagged):
    assert tagged["code"] == 1
    videos = read_table(tagged["out"], "videos").set_index("video_id")
    assert set(videos.index) == {"astronaut_walk", "empty", "notes"}
    assert videos.loc["astronaut_walk", "status"] == "ok"
    assert videos.loc["empty", "status"] == "failed"
    assert str(tagged["empty"]) in videos.loc["empty", "error"] and "empty file" in videos.loc["empty", "error"]
    assert videos.loc["notes", "status"] == "failed"
    assert str(tagged["text"]) in videos.loc["notes", "error"]


def test_videos_row_describes_the_clip(tagged):
    v = read_table(tagged["out"], "videos", "astronaut_walk").iloc[0]
    assert (v.width, v.height, v.frame_count, v.frames_processed) == (640, 480, 8, 8)
    assert v.fps == pytest.approx(10.0)
    assert v.duration_ms == pytest.approx(800.0)
    assert len(v.sha256) == 64 and v.path == str(tagged["clip"])


def test_poses_have_one_tracked_person_per_frame(tagged):
    poses = read_table(tagged["out"], "poses", "astronaut_walk").sort_values("frame_index")
    assert sorted(poses["frame_index"].unique()) == list(range(8))
    assert poses.groupby("frame_index").size().max() == 1
    assert poses["timestamp_ms"].tolist() == [100.0 * i for i in range(8)]
    assert poses["track_id"].nunique() == 1 and (poses["track_id"] > 0).all()
    assert (poses["score"] > 0.3).all()
    # The astronaut slides right by 6 px a frame; her nose must follow.
    drift = poses.sort_values("frame_index")["nose_x"].diff().dropna()
    assert drift.between(2, 10).all(), drift.tolist()
    for col in KEYPOINT_COLUMNS:
        assert col in poses.columns


def test_tracks_and_events_tables(tagged):
    tracks = read_table(tagged["out"], "tracks", "astronaut_walk")
    assert len(tracks) == 1
    t = tracks.iloc[0]
    assert (t.first_frame, t.last_frame, t.frame_count) == (0, 7, 8)
    events = read_table(tagged["out"], "events")
    assert list(events.columns) == ["video_id"] + [f.name for f in file_schema("events")]   # video_id first
    assert len(events) == 0  # nobody throws in this clip


def test_every_partition_exists_with_versioned_schema(tagged):
    out = tagged["out"]
    for table in TABLES:
        for vid in ("astronaut_walk", "empty", "notes"):
            files = list((out / table / f"video_id={vid}").glob("*.parquet"))
            assert len(files) == 1, (table, vid)
            schema = pq.read_schema(files[0])
            assert schema.metadata[b"matchtag.schema_version"] == SCHEMA_VERSION.encode()
            assert schema.names == file_schema(table).names
    # no run left anything beside the tables, the runs and the commit records
    assert {p.name for p in out.iterdir()} == {*TABLES, "runs", "_commits"}


def test_rerun_replaces_partitions_without_duplicates(tagged):
    out = tagged["out"]
    before = {t: len(read_table(out, t)) for t in TABLES}
    assert main(["run", str(tagged["clip"]), "--output", str(out), *RUNNER]) == 0
    after = {t: len(read_table(out, t)) for t in TABLES}
    assert after == before
    # the superseded files are gone, so plain pandas reads the same rows
    assert {t: len(pd.read_parquet(out / t)) for t in TABLES} == before


def test_stride_and_max_frames(tmp_path, astronaut_clip, models):
    out = tmp_path / "tags"
    assert main(["run", str(astronaut_clip), "--output", str(out), "--stride", "3",
                 "--max-frames", "2", *RUNNER]) == 0
    poses = read_table(out, "poses")
    assert sorted(poses["frame_index"].unique()) == [0, 3]
    v = read_table(out, "videos").iloc[0]
    assert v.status == "ok" and v.frames_processed == 2


def test_multipose_backend_runs_in_the_pipeline(tmp_path, astronaut_clip, models):
    out = tmp_path / "tags"
    assert main(["run", str(astronaut_clip), "--output", str(out), "--pose", "multipose",
                 "--max-frames", "3", *RUNNER]) == 0
    poses = read_table(out, "poses")
    assert poses["frame_index"].nunique() == 3
    assert read_table(out, "videos").iloc[0].pose_backend == "movenet-multipose"
