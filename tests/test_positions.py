"""The positions table: every tracked person's box on every processed frame of their track,
short gaps filled (tagging/track/positions.py, pipeline TrackPositions)."""

import tempfile

import apache_beam as beam
import numpy as np
import pandas as pd
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.transforms import FinishBlocks, GroupByTrack, TrackPlayers, TrackPositions
from schemas.tables import file_schema
from tagging.core.keypoints import NUM_KEYPOINTS
from tagging.core.types import FramePoses
from tagging.track.positions import FILL_MAX_GAP_MS, fill_positions, split_by_block


def test_the_fill_limit_is_the_trackers():
    assert FILL_MAX_GAP_MS == pytest.approx(1200.0)


def test_a_short_gap_is_interpolated_and_flagged():
    f = np.array([0, 1, 5, 6])
    t = f * 40.0
    box = np.array([[0, 0, 10, 20], [4, 0, 14, 20], [20, 8, 30, 28], [24, 8, 34, 28]], np.float32)
    pos = fill_positions(f, t, box)
    assert pos.frame_index.tolist() == list(range(7))
    assert pos.observed.tolist() == [True, True, False, False, False, True, True]
    assert pos.timestamp_ms.tolist() == [40.0 * i for i in range(7)]
    # frames 2..4 are 1/4, 2/4, 3/4 of the way from frame 1's box to frame 5's
    np.testing.assert_allclose(pos.xyxy[2:5], [[8, 2, 18, 22], [12, 4, 22, 24], [16, 6, 26, 26]])
    # the detections' own boxes are kept exactly
    np.testing.assert_array_equal(pos.xyxy[pos.observed], box)


@pytest.mark.parametrize("fps, longest", [(25.0, 30), (7.0, 8)])
def test_the_limit_is_in_seconds_whatever_the_frame_rate(fps, longest):
    """1.2 s: 30 missing frames at 25 fps, 8 at 7 fps; one more and the gap stays open."""
    for missing, filled in ((longest, True), (longest + 1, False)):
        f = np.array([0, missing + 1])
        pos = fill_positions(f, f * 1000.0 / fps, np.zeros((2, 4)))
        assert len(pos.frame_index) == (missing + 2 if filled else 2), (fps, missing)


def test_gaps_follow_the_decode_stride():
    """With --stride 3 the processed frames are 0, 3, 6, ...: a gap is filled on those only."""
    f = np.array([0, 12])
    pos = fill_positions(f, f * 40.0, np.array([[0, 0, 4, 4], [12, 0, 16, 4]]), stride=3)
    assert pos.frame_index.tolist() == [0, 3, 6, 9, 12]
    np.testing.assert_allclose(pos.xyxy[:, 0], [0, 3, 6, 9, 12])


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="aligned"):
        fill_positions([0, 1], [0.0], np.zeros((2, 4)))
    with pytest.raises(ValueError, match="strictly increasing"):
        fill_positions([0, 0], [0.0, 0.0], np.zeros((2, 4)))
    with pytest.raises(ValueError, match="stride"):
        fill_positions([0, 1], [0.0, 40.0], np.zeros((2, 4)), stride=0)


def test_blocks_split_by_video_frame():
    pos = fill_positions(np.array([0, 1, 4, 9, 10]), np.arange(5) * 40.0, np.zeros((5, 4)), max_gap_ms=0)
    parts = split_by_block(pos, 5)
    assert {k: p.frame_index.tolist() for k, p in parts.items()} == {0: [0, 1, 4], 1: [9], 2: [10]}


# ---- in the pipeline ----------------------------------------------------------------------

def _walkers(n_frames, hidden):
    """(frame_index, ts_ms, FramePoses) of two people walking right 4 px a frame, 25 fps;
    person 1 is not detected on the frames in ``hidden``."""
    out = []
    for f in range(n_frames):
        boxes = [[40 + 4 * f, 60, 80 + 4 * f, 160], [40 + 4 * f, 300, 80 + 4 * f, 400]]
        if f in hidden:
            boxes = boxes[:1]
        b = np.array(boxes, np.float32)
        out.append((f, f * 40.0, FramePoses(b, np.full(len(b), 0.9, np.float32),
                                            np.zeros((len(b), NUM_KEYPOINTS, 3), np.float32),
                                            np.full(len(b), 0.8, np.float32))))
    return out


_SINK: list = []  # the in-process FnApiRunner appends here (a bound method would be a pickled copy)


def _collect(element):
    _SINK.append(element)


def test_pipeline_writes_observed_and_filled_boxes(tmp_path):
    """Person 1 is hidden for 10 frames (0.4 s) across a block boundary, and for 40 (1.6 s)
    later: the first gap is filled, the second is not; every detection's own box is there."""
    short, long_ = set(range(35, 45)), set(range(80, 120))
    frames = _walkers(150, short | long_)
    out = tmp_path / "tags"
    _SINK.clear()
    with tempfile.TemporaryDirectory() as root:
        with beam.Pipeline(runner="FnApiRunner", options=PipelineOptions([])) as p:
            tracks = (p
                      | beam.Create([("v", f) for f in frames])
                      | TrackPlayers(root, block_frames=40, chunk_s=2.0, overlap_s=0.4)
                      | FinishBlocks(str(out), "r1"))["tracks"] | GroupByTrack()
            _ = tracks | TrackPositions(root, str(out), "r1", block_frames=40) | beam.Map(_collect)
    items = [item for _, item in _SINK]
    assert {kind for kind, _, _ in items} == {"file"} and {t for _, t, _ in items} == {"positions"}
    assert len(items) == 4                                   # one file per block of 40 frames
    pos = pd.concat([pd.read_parquet(out / path) for _, _, path in items]).sort_values(["frame_index", "track_id"])
    assert list(pos.columns) == file_schema("positions").names
    assert not pos.duplicated(["frame_index", "track_id"]).any()
    poses = pd.concat(pd.read_parquet(f) for f in (out / "poses").rglob("*.parquet"))
    tracked = poses[poses.track_id >= 0]
    assert tracked.track_id.nunique() == 2                   # both gaps kept one id each (re-link)
    observed = pos[pos.observed]
    assert len(observed) == len(tracked)
    merged = observed.merge(tracked, on=["frame_index", "track_id"], suffixes=("", "_pose"))
    for c in ("bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2"):
        assert (merged[c] == merged[f"{c}_pose"]).all()
    low = int(tracked[tracked.bbox_y1 > 200].track_id.iloc[0])
    filled = pos[~pos.observed]
    assert set(filled.track_id) == {low}
    assert sorted(filled.frame_index) == sorted(short)       # the 1.6 s gap has no rows
    row = filled[filled.frame_index == 40].iloc[0]
    assert (row.bbox_x1, row.bbox_y1, row.timestamp_ms) == (200.0, 300.0, 1600.0)


def test_load_positions_filters_and_types(tag_sample):
    from tagging.tables import load_poses, load_positions

    poses = load_poses(tag_sample, columns=["track_id"])
    pos = load_positions(tag_sample)
    assert list(pos.columns) == ["video_id", *file_schema("positions").names]
    assert str(pos.track_id.dtype) == "Int64" and pos.observed.dtype == bool
    assert len(pos) == int((poses.track_id >= 0).sum())          # the sample has no gaps to fill
    assert len(load_positions(tag_sample, observed=True)) == len(pos)
    assert load_positions(tag_sample, observed=False).empty
    some = pos[pos.video_id == pos.video_id.iloc[0]]
    tid = int(some.track_id.iloc[0])
    one = load_positions(tag_sample, some.video_id.iloc[0], track_id=tid, start_ms=0, end_ms=5000)
    assert len(one) and set(one.track_id) == {tid} and one.timestamp_ms.max() < 5000
    with pytest.raises(ValueError, match="no column"):
        load_positions(tag_sample, columns=["keypoints"])
