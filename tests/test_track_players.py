"""pipeline TrackPlayers: chunk-parallel tracking in Beam, from spilled blocks of frames, gives
what the serial reference gives."""

import tempfile

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.spill import apply_ids
from pipeline.transforms import TrackPlayers
from tagging.core.keypoints import NUM_KEYPOINTS
from tagging.core.types import FramePoses
from tagging.track.segments import SegmentGrid, ids_by_ordinal, track_video_segmented
from tagging.track.sequences import PIPELINE_TRACKER_CONFIG, track_frames


def _video(n_frames, n_players, stride, drop=()):
    """(frame_index, ts_ms, FramePoses) of players walking right, boxes listed in a shuffled order."""
    rng = np.random.default_rng(n_players)
    out = []
    for f in range(n_frames):
        if f in drop:
            continue
        boxes = np.array([[50 + 120 * i + 3 * f, 80 + 40 * i, 90 + 120 * i + 3 * f, 180 + 40 * i]
                          for i in range(n_players)], np.float32)
        order = rng.permutation(n_players)
        kps = np.zeros((n_players, NUM_KEYPOINTS, 3), np.float32)
        out.append((f * stride, f * stride * 40.0,
                    FramePoses(boxes[order], np.full(n_players, 0.9, np.float32), kps, np.full(n_players, 0.8))))
    return out


_SINK: list = []  # the in-process FnApiRunner appends here (a closure's list would be a pickled copy)


def _collect(element):
    _SINK.append(element)


def _run(videos, block_frames=40, **kwargs):
    _SINK.clear()
    stride = kwargs.get("stride", 1)
    with tempfile.TemporaryDirectory() as root:
        with beam.Pipeline(runner="FnApiRunner", options=PipelineOptions([])) as p:
            (p
             | beam.Create([(vid, f) for vid, frames in videos.items() for f in frames])
             | TrackPlayers(root, block_frames=block_frames, **kwargs)
             | beam.FlatMapTuple(lambda ref, ids: [(ref.video_id, f) for f in apply_ids(ref, ids, stride)])
             | beam.Map(_collect))
    out: dict = {}
    for vid, frame in _SINK:  # one element per frame, in any order
        out.setdefault(vid, []).append(frame)
    return {vid: sorted(frames, key=lambda f: f[0]) for vid, frames in out.items()}


def _box_ids(tracked):
    """{(frame_index, rounded box): id}: comparable across any order of boxes in a frame."""
    return {(f, tuple(np.round(b, 1))): int(t) for f, _, p in tracked for b, t in zip(p.xyxy, p.track_id)}


@pytest.mark.parametrize("stride", [1, 3])
def test_chunked_pipeline_equals_serial_reference(stride):
    videos = {"a": _video(150, 3, stride, drop={40, 41}), "b": _video(60, 2, stride)}
    out = _run(videos, chunk_s=2.0 * stride, overlap_s=0.4 * stride, stride=stride)
    assert set(out) == {"a", "b"}
    for vid, frames in videos.items():
        tracked = out[vid]
        assert [f for f, _, _ in tracked] == [f for f, _, _ in frames]      # every frame, in order
        ords = [f // stride for f, _, _ in frames]
        ref = track_video_segmented(ords, [ts for _, ts, _ in frames], [p.xyxy for _, _, p in frames],
                                    [p.box_score for _, _, p in frames],
                                    SegmentGrid(2000.0 * stride, 400.0 * stride), PIPELINE_TRACKER_CONFIG)
        expect = {}
        by_ord = ids_by_ordinal(ref)
        for (f, _, p), o in zip(frames, ords):
            for det, tid in by_ord.get(o, []):
                expect[(f, tuple(np.round(p.xyxy[det], 1)))] = tid
        got = {k: v for k, v in _box_ids(tracked).items() if v >= 0}
        assert got == expect
        assert len(set(got.values())) == len(frames[0][2])                  # one id per player, whole video


def test_unchunked_pipeline_equals_track_frames():
    frames = _video(80, 3, 1)
    out = _run({"v": frames}, chunk_s=0)
    ref = track_frames([(f, ts, FramePoses(p.xyxy, p.box_score, p.keypoints, p.score)) for f, ts, p in frames])
    assert _box_ids(out["v"]) == _box_ids(ref)


def test_relink_off_keeps_people_who_come_back_apart():
    """A player who leaves for 6 s and comes back at the same place: one id with the
    long-range re-link (the default), two without it (`matchtag run --relink off`)."""
    import dataclasses

    frames = [(f, ts, FramePoses.empty() if 60 <= f < 210 else p) for f, ts, p in _video(300, 1, 1)]
    for f, _, p in frames:                    # standing still: back exactly where he left
        p.xyxy[:] = [100, 100, 140, 200]
    on = _run({"v": frames}, chunk_s=0)
    off = _run({"v": frames}, config=dataclasses.replace(PIPELINE_TRACKER_CONFIG, relink_max_cost=0.0), chunk_s=0)
    assert len({i for _, _, p in on["v"] for i in p.track_id.tolist()}) == 1
    assert len({i for _, _, p in off["v"] for i in p.track_id.tolist()}) == 2
