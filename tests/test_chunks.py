"""tagging/track/segments.py: segment planning and stitching into global ids."""

import numpy as np
import pytest

from tagging.track.offline import Track, track_video
from tagging.track.segments import ChunkPlan, plan_chunks, stitch_chunks, track_chunk, track_video_chunked


def test_plan_covers_every_frame_once_and_overlaps():
    plans = plan_chunks(1000, 300, 50)
    assert [(p.start, p.stop) for p in plans] == [(0, 300), (250, 550), (500, 800), (750, 1000)]
    owned = np.concatenate([np.arange(p.own_start, p.own_stop) for p in plans])
    np.testing.assert_array_equal(owned, np.arange(1000))        # each frame owned exactly once
    for a, b in zip(plans, plans[1:]):
        assert b.start < a.stop and a.start <= a.own_start < a.own_stop <= a.stop


def test_plan_edge_cases():
    assert plan_chunks(0, 100, 10) == []
    assert plan_chunks(80, 100, 10) == [ChunkPlan(0, 80, 0, 80)]
    with pytest.raises(ValueError, match="overlap_frames"):
        plan_chunks(100, 50, 50)


def _players(n_frames, n=4):
    xyxy, score = [], []
    for f in range(n_frames):
        boxes = np.array([[100 + 150 * i + 2 * f, 100 + 30 * i, 140 + 150 * i + 2 * f, 200 + 30 * i]
                          for i in range(n)], float)
        xyxy.append(boxes)
        score.append(np.full(n, 0.9))
    return xyxy, score


def test_chunked_equals_single_pass_on_clean_tracks():
    xyxy, score = _players(230)
    single = track_video(xyxy, score)
    chunked = track_video_chunked(xyxy, score, chunk_frames=60, overlap_frames=20)
    assert len(single) == len(chunked) == 4
    for a, b in zip(single, chunked):
        np.testing.assert_array_equal(a.frame, b.frame)
        np.testing.assert_array_equal(a.det_index, b.det_index)


def test_stitch_matches_by_shared_boxes_not_by_local_id():
    """Chunk 2 numbers its tracks in another order; stitching follows the boxes."""
    xyxy, score = _players(100, n=2)
    plans = plan_chunks(100, 60, 20)
    first = track_chunk(xyxy, score, plans[0])
    second = track_chunk(xyxy, score, plans[1])
    for t, new_id in zip(second, (7, 3)):
        t.track_id = new_id
    second.reverse()
    stitched = stitch_chunks(plans, [first, second])
    assert len(stitched) == 2
    for t in stitched:
        np.testing.assert_array_equal(t.frame, np.arange(100))
        assert len(set(t.det_index.tolist())) == 1                 # one player throughout


def test_unmatched_tracks_get_their_own_global_ids():
    plans = [ChunkPlan(0, 60, 0, 50), ChunkPlan(40, 100, 50, 100)]
    box = np.array([[0, 0, 10, 10]], float)

    def tr(frames, x):
        f = np.asarray(frames)
        return Track(1, f, np.repeat(box + [x, 0, x, 0], len(f), 0), np.zeros(len(f), np.int64), np.ones(len(f)))

    stitched = stitch_chunks(plans, [[tr(range(0, 60), 0)], [tr(range(40, 100), 500)]])
    assert [t.track_id for t in stitched] == [1, 2]
    np.testing.assert_array_equal(stitched[0].frame, np.arange(0, 50))    # owned part only
    np.testing.assert_array_equal(stitched[1].frame, np.arange(50, 100))
    with pytest.raises(ValueError, match="2 chunk plans but 1"):
        stitch_chunks(plans, [[]])


# ---- time-segmented chunks, as the pipeline runs them -------------------------------

from tagging.track.segments import SegmentGrid, ids_by_ordinal, track_video_segmented  # noqa: E402


def test_segment_grid_puts_overlap_frames_in_two_segments():
    grid = SegmentGrid(10_000, 2_000)                 # 10 s segments, 2 s overlap: step 8 s
    assert grid.segments_of(0) == [0]
    assert grid.segments_of(7_999) == [0]
    assert grid.segments_of(8_000) == [0, 1]
    assert grid.segments_of(9_999) == [0, 1]
    assert grid.segments_of(10_000) == [1]
    assert grid.segments_of(16_500) == [1, 2]
    with pytest.raises(ValueError, match="overlap"):
        SegmentGrid(1_000, 1_000)


def _ids(tracks, n_frames):
    by = ids_by_ordinal(tracks)
    return [sorted(by.get(f, [])) for f in range(n_frames)]


def test_one_segment_is_exactly_the_single_pass():
    xyxy, score = _players(120, n=3)
    ts = np.arange(120) * 40.0                          # 25 fps, 4.8 s: inside one 60-s segment
    single = track_video(xyxy, score)
    seg = track_video_segmented(np.arange(120), ts, xyxy, score, SegmentGrid(60_000, 2_000))
    assert _ids(seg, 120) == _ids(single, 120)


def test_many_segments_keep_one_id_per_player():
    xyxy, score = _players(300, n=4)                    # 12 s at 25 fps, in 2-s segments
    ts = np.arange(300) * 40.0
    seg = track_video_segmented(np.arange(300), ts, xyxy, score, SegmentGrid(2_000, 400))
    assert len(seg) == 4
    for t in seg:
        obs = t.det_index[t.observed]
        assert len(set(obs.tolist())) == 1 and t.observed.sum() == 300


def test_segments_given_out_of_order_and_with_strided_ordinals():
    """Frames arrive shuffled, ordinals come from frame_index // stride with one frame lost."""
    xyxy, score = _players(200, n=2)
    keep = [f for f in range(200) if f != 77]
    rng = np.random.default_rng(1)
    order = rng.permutation(len(keep))
    ords = np.array(keep)[order]
    seg = track_video_segmented(ords, ords * 80.0, [xyxy[i] for i in ords], [score[i] for i in ords],
                                SegmentGrid(4_000, 800))
    assert len(seg) == 2
    assert all(77 not in t.frame[t.observed].tolist() for t in seg)


def _crowd_detections(n_frames=600, n_players=12, seed=4):
    """v2-noised detections (bursty, occlusion-driven misses) of players who cross each
    other under a slowly panning camera, 25 fps."""
    from tagging.evaluate.tracking import MotSequence, NoiseProtocolV2, simulate_detections

    rng = np.random.default_rng(seed)
    pos = rng.uniform([50, 150], [900, 450], (n_players, 2))
    vel = rng.normal(0, 1.5, (n_players, 2))
    pan = 1.2 * np.sin(np.arange(n_frames) / 90.0)
    frame, tid, xyxy = [], [], []
    for f in range(n_frames):
        vel = 0.97 * vel + rng.normal(0, 0.3, vel.shape)
        pos = np.clip(pos + vel, [0, 120], [960, 480])
        pos[:, 0] -= pan[f]
        h = 60 + pos[:, 1] / 6                          # nearer (lower) is bigger
        for i in range(n_players):
            frame.append(f + 1)
            tid.append(i + 1)
            xyxy.append([pos[i, 0] - h[i] / 5, pos[i, 1] - h[i], pos[i, 0] + h[i] / 5, pos[i, 1]])
    seq = MotSequence("crowd", n_frames, 1000, 500, 25.0, np.array(frame), np.array(tid), np.array(xyxy, float))
    dets = simulate_detections(seq, 3, NoiseProtocolV2())
    return dets.xyxy, dets.score


def test_stitching_views_gives_the_full_stitch_ids():
    """The pipeline stitches a match from SegmentViews (a few percent of its boxes): every
    observed box must get the id the stitch of the full tracks gives it, joins included."""
    from tagging.track.sequences import PIPELINE_TRACKER_CONFIG
    from tagging.track.segments import _pieces, plans_for_spans, segment_view, stitch_segments, stitch_views, track_segment

    xyxy, score = _crowd_detections()
    ts = np.arange(len(xyxy)) * 40.0
    grid = SegmentGrid(4_000, 800)
    config = PIPELINE_TRACKER_CONFIG
    members: dict[int, list[int]] = {}
    for f, t in enumerate(ts):
        for k in grid.segments_of(t):
            members.setdefault(k, []).append(f)
    segments, views = [], []
    for k, idx in members.items():
        tracks = track_segment(idx, [xyxy[i] for i in idx], [score[i] for i in idx], config)
        segments.append((k, min(idx), max(idx), tracks))
        shared = [i for i in idx if len(grid.segments_of(ts[i])) > 1]
        views.append(segment_view(k, idx, shared, tracks, config.join_fit_frames))
    assert len(segments) >= 7
    # the views hold a small share of the boxes
    n_full = sum(len(t) for s in segments for t in s[3])
    assert sum(len(t) for v in views for t in v.tracks) < 0.6 * n_full
    full = stitch_segments(segments, config=config)
    want = {(int(f), int(d)): t.track_id for t in full for f, d in zip(t.frame[t.observed], t.det_index[t.observed])}
    plans, ids = stitch_views(views[::-1], config=config)          # any order
    got = {}
    for k, _first, _last, tracks in segments:
        p = plans[k]
        for i, t in enumerate(tracks):
            own = t.observed & (t.frame >= p.own_start) & (t.frame < p.own_stop)
            got.update({(int(f), int(d)): int(ids[k][i]) for f, d in zip(t.frame[own], t.det_index[own])})
    assert got == want
    # and the whole-video joins did link pieces (so the test covers them)
    segs = sorted(segments, key=lambda s: s[0])
    pieces = _pieces(plans_for_spans([(s[1], s[2] + 1) for s in segs]), [s[3] for s in segs], 0.5)
    assert len(full) < len(pieces)
