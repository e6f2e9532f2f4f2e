"""tagging.tables.load: types, filters (and that they are pushed down to pyarrow), joins."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from query_sample import SECOND_HALF_S
from read_meter import metered_reads

import tagging.tables.load as load
from schemas.tables import KEYPOINT_COLUMNS, file_schema
from tagging.tables import (
    events_with_poses,
    events_with_team,
    load_events,
    load_poses,
    load_runs,
    load_tracks,
    load_videos,
    read_table,
    track_keypoints,
)
from tagging.tables.store import commit_local, commit_records


def test_video_id_first_as_plain_strings_in_every_table(tag_sample):
    for loader in (load_videos, load_poses, load_tracks, load_events):
        df = loader(tag_sample)
        assert df.columns[0] == "video_id" and df["video_id"].dtype == "str", loader.__name__
        assert not isinstance(df["video_id"].dtype, pd.CategoricalDtype)
    runs = load_runs(tag_sample)
    assert runs.columns[0] == "run_id" and runs["run_id"].dtype == "str"
    assert read_table(tag_sample, "poses").columns[0] == "video_id"


def test_integers_stay_integers_when_a_video_failed(tag_sample):
    videos = load_videos(tag_sample).set_index("video_id")
    assert str(videos.frame_count.dtype) == "Int64" and str(videos.width.dtype) == "Int32"
    assert str(videos.height.dtype) == "Int32" and str(videos.frames_processed.dtype) == "Int64"
    assert videos.frame_count.isna().tolist() == [True, False, False]    # broken, match-1, match-2
    assert videos.loc["match-1", "frame_count"] == 95 * 60 * 25
    assert str(videos.tagged_at.dtype).startswith("datetime64") and "UTC" in str(videos.tagged_at.dtype)
    poses = load_poses(tag_sample, "match-2")
    assert str(poses.track_id.dtype) == "Int64" and poses.nose_x.dtype == np.float32


def test_runs_failures_are_python_lists(tag_sample):
    runs = load_runs(tag_sample)
    assert runs.failures.tolist() == [[], ["broken: /matches/broken.mp4: not a video"]]
    assert all(type(f) is list for f in runs.failures)
    assert runs.started_at.is_monotonic_increasing and str(runs.videos_failed.dtype) == "Int64"


def test_filters_give_what_pandas_would_on_the_whole_table(tag_sample):
    poses, tracks, events = (pd.read_parquet(tag_sample / t) for t in ("poses", "tracks", "events"))
    for f in (poses, tracks, events):
        f["video_id"] = f["video_id"].astype(str)
    team_a = {(v, t) for v, t, team in zip(tracks.video_id, tracks.track_id, tracks.team) if team == "a"}

    got = load_poses(tag_sample, "match-1", team="a", start="47min30s", end=SECOND_HALF_S + 10)
    want = poses[np.array([(v, t) in team_a for v, t in zip(poses.video_id, poses.track_id)])
                 & (poses.video_id == "match-1") & (poses.timestamp_ms >= SECOND_HALF_S * 1000)
                 & (poses.timestamp_ms < (SECOND_HALF_S + 10) * 1000)]
    assert len(got) == len(want) == 30 and set(got.track_id) == {1, 2, 3}
    assert got.timestamp_ms.min() == SECOND_HALF_S * 1000 and got.timestamp_ms.max() < (SECOND_HALF_S + 10) * 1000
    assert list(got.frame_index) == sorted(got.frame_index)

    got = load_events(tag_sample, ["match-1", "match-2"], event_type="throw_in", team=["a", "other"])
    want = events[(events.event_type == "throw_in")
                  & np.array([(v, t) in team_a for v, t in zip(events.video_id, events.track_id)])]
    assert sorted(zip(got.video_id, got.peak_ms)) == sorted(zip(want.video_id, want.peak_ms)) and len(got) == 4

    assert set(load_tracks(tag_sample, team="other").track_id) == {6}
    assert len(load_poses(tag_sample, track_id=3, start_ms=0, end_ms=2000)) == 4        # 2 videos x 2 s
    assert load_events(tag_sample, "match-1", start=SECOND_HALF_S).peak_ms.min() >= SECOND_HALF_S * 1000
    assert load_poses(tag_sample, "no-such-video").empty and load_poses(tag_sample, []).empty
    assert list(load_videos(tag_sample, status="failed").video_id) == ["broken"]


def test_columns_and_times(tag_sample):
    got = load_poses(tag_sample, "match-2", columns=["timestamp", "nose_y"], times="timedelta")
    assert list(got.columns) == ["video_id", "timestamp", "nose_y"]
    assert got.timestamp.dtype.kind == "m" and got.timestamp.iloc[3] == pd.Timedelta(seconds=1)
    events = load_events(tag_sample, "match-1", times="timedelta")
    assert {"start", "end", "peak"} <= set(events.columns) and not any(c.endswith("_ms") for c in events.columns)
    assert load_videos(tag_sample, "broken", times="timedelta").duration.isna().all()
    with pytest.raises(ValueError, match="no column 'nose_z'.*did you mean 'nose_[xy]'"):
        load_poses(tag_sample, "match-2", columns=["nose_z"])
    with pytest.raises(ValueError, match="times='s'"):
        load_poses(tag_sample, times="s")
    with pytest.raises(ValueError, match="start or start_ms"):
        load_poses(tag_sample, start=1, start_ms=1000)
    with pytest.raises(ValueError, match="not a time"):
        load_events(tag_sample, start="half time")


def test_time_spellings():
    assert load.time_range_ms("47:30", "1:02:30") == (2_850_000.0, 3_750_000.0)
    assert load.time_range_ms("45", 60.5) == (45_000.0, 60_500.0)          # bare numbers are seconds
    assert load.time_range_ms(pd.Timedelta(minutes=1), "2min") == (60_000.0, 120_000.0)
    assert load.time_range_ms(start_ms=1.5) == (1.5, None)
    with pytest.raises(ValueError, match="ends .* before it starts"):
        load.time_range_ms(10, 5)


def test_track_keypoints(tag_sample):
    ts, kps = track_keypoints(tag_sample, "match-1", 4, start="10min", end="11min")
    assert ts.shape == (60,) and kps.shape == (60, 17, 3) and kps.dtype == np.float32
    assert np.all(np.diff(ts) > 0) and ts[0] == 600_000
    rows = load_poses(tag_sample, "match-1", track_id=4, start="10min", end="11min")
    np.testing.assert_array_equal(kps.reshape(60, -1), rows[list(KEYPOINT_COLUMNS)].to_numpy(np.float32))
    with pytest.raises(LookupError, match="track 99"):
        track_keypoints(tag_sample, "match-1", 99)


def test_events_with_team_and_match_metadata(tag_sample):
    ev = events_with_team(tag_sample, event_type="throw_in")
    assert list(ev.columns[:5]) == ["video_id", "event_type", "track_id", "team", "start_ms"]
    tracks = load_tracks(tag_sample).set_index(["video_id", "track_id"]).team
    assert [tracks[(v, t)] for v, t in zip(ev.video_id, ev.track_id)] == ev.team.tolist()
    one = ev[ev.video_id == "match-1"]
    assert set(one.home) == {"Rovers"} and set(one.away) == {"United"} and ev[ev.video_id == "match-2"].home.isna().all()


def test_events_with_poses_cuts_each_events_window(tag_sample, tmp_path):
    out = shutil.copytree(tag_sample, tmp_path / "tags")
    # an event whose track has no pose near its peak (track 2 of match-2 ends at 599 s)
    extra = pa.Table.from_pylist([{"event_type": "fall", "track_id": 2, "start_ms": 900_000.0, "end_ms": 901_000.0,
                                   "peak_ms": 900_500.0, "confidence": 0.5, "model": "test"}],
                                 schema=file_schema("events"))
    pq.write_table(extra, out / "events" / "video_id=match-2" / "part-extra.parquet")
    record = commit_records(out)["match-2"]       # committed with the video's other files
    record.files["events"].append("events/video_id=match-2/part-extra.parquet")
    commit_local(out, record)

    rows = events_with_poses(out, "match-2", window_ms=(2000, 1000))
    assert rows.event.nunique() == 3 and list(rows.columns[:3]) == ["video_id", "event", "event_type"]
    matched = rows[rows.frame_index.notna()]
    assert (matched.offset_ms >= -2000).all() and (matched.offset_ms <= 1000).all()
    assert matched.groupby("event").size().tolist() == [4, 4]          # -2, -1, 0, +1 s around each peak
    assert (matched.timestamp_ms - matched.peak_ms == matched.offset_ms).all()
    lost = rows[rows.event_type == "fall"]
    assert len(lost) == 1 and lost.frame_index.isna().all() and lost.nose_x.isna().all()

    # the thrower's wrists are above the nose at the peak of every throw-in (what the sample draws)
    peaks = events_with_poses(out, event_type="throw_in", window_ms=0)
    assert len(peaks) == 7 and (peaks.left_wrist_y < peaks.nose_y).all()
    assert events_with_poses(out, "match-1", event_type="throw_in", start="99min").empty


@pytest.fixture
def counted():
    with metered_reads() as measure:
        yield measure


def test_filtered_load_poses_reads_fewer_bytes_than_a_full_read(tag_sample, counted):
    full, everything = counted(lambda: load_poses(tag_sample))
    one_video, video = counted(lambda: load_poses(tag_sample, "match-1"))
    half, second_half = counted(lambda: load_poses(tag_sample, "match-1", start=SECOND_HALF_S))
    few, projected = counted(lambda: load_poses(tag_sample, "match-1", start=SECOND_HALF_S,
                                                columns=["timestamp_ms", "nose_x", "nose_y"]))
    assert len(full) == 41700 and len(one_video) == 39900 and len(half) == len(few) == 19950
    # partition pruning: match-2's and broken's poses files are never opened
    assert video["files"] == 1 < everything["files"] == 3 and video["bytes"] < everything["bytes"]
    # row-group pruning on timestamp_ms statistics: the first half's row groups are skipped
    assert second_half["bytes"] < 0.6 * video["bytes"]
    # projection: 3 of 61 columns
    assert projected["bytes"] < 0.15 * second_half["bytes"]
    # a team filter opens the video's tracks file, then its poses file: nothing else
    team, by_team = counted(lambda: load_poses(tag_sample, "match-2", team="b", columns=["nose_x"]))
    assert len(team) == 1200 and by_team["files"] == 2


def test_row_order_does_not_depend_on_the_files_or_the_columns_asked(tag_sample, tmp_path):
    out = shutil.copytree(tag_sample, tmp_path / "tags")
    path = out / "tracks" / "video_id=match-1" / "part-00000-of-00001.parquet"
    table = pq.read_table(path, schema=file_schema("tracks"))
    pq.write_table(table.take(list(range(table.num_rows))[::-1]), path)     # tracks 7, 6, ..., 1 on disk
    teams = load_tracks(out, "match-1", columns=["team"])
    assert list(teams.columns) == ["video_id", "team"]
    assert teams.team.tolist() == load_tracks(tag_sample, "match-1").team.tolist()
    assert teams.team.iloc[0] == "a" and pd.isna(teams.team.iloc[-1])


def test_coverage_with_a_null_frames_processed(tag_sample, tmp_path):
    from tagging.tables.queries import coverage

    out = shutil.copytree(tag_sample, tmp_path / "tags")
    path = out / "videos" / "video_id=broken" / "part-00000-of-00001.parquet"
    row = pq.read_table(path, schema=file_schema("videos")).to_pylist()[0]
    pq.write_table(pa.Table.from_pylist([{**row, "frames_processed": None}], schema=file_schema("videos")), path)
    assert load_videos(out, "broken").frames_processed.isna().all()          # <NA> in an Int64 column
    cov = coverage(out).set_index("video_id")
    assert cov.loc["broken", "frames"] == 0 and cov.loc["match-2", "frames"] == 600
