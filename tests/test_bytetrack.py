"""tagging/track/online.py and tagging/track/offline.py: association, life cycle, whole-video pass."""

import numpy as np
import pytest

from tagging.core.types import FramePoses
from tagging.track.offline import (
    Track,
    camera_path,
    drop_outliers,
    fill_gaps,
    ids_per_frame,
    join_tracklets,
    relink_tracks,
    smooth_boxes,
    track_video,
)
from tagging.track.online import ByteTracker, TrackerConfig
from tagging.track.sequences import track_frames

NONE = (np.zeros((0, 4)), np.zeros(0))


def _box(x, y, w=40, h=100):
    return [x, y, x + w, y + h]


def _run(tracker, frames):
    return [tracker.update(np.array(b, np.float64).reshape(-1, 4), np.array(s, np.float64)).tolist()
            for b, s in frames]


# ----------------------------------------------------------------------- online association

def test_crossing_players_keep_ids_thanks_to_motion():
    """Two players run through each other; IoU alone would swap them at the crossing."""
    tracker = ByteTracker()
    seen = []
    for t in range(40):
        a, b = _box(100 + 6 * t, 50), _box(334 - 6 * t, 52)
        flip = t % 3 == 1                              # order must not matter
        ids = tracker.update(np.array([b, a] if flip else [a, b], float), np.array([0.9, 0.8]))
        seen.append(ids.tolist()[::-1] if flip else ids.tolist())
    assert seen[0] == [1, 2]
    assert all(s == [1, 2] for s in seen)


def test_first_frame_boxes_get_ids_at_once_later_ones_after_two_frames():
    tracker = ByteTracker()
    assert tracker.update(np.array([_box(0, 0)], float), np.array([0.9])).tolist() == [1]
    assert tracker.update(np.array([_box(0, 0), _box(500, 0)], float), np.array([0.9, 0.9])).tolist() == [1, -1]
    assert tracker.update(np.array([_box(0, 0), _box(500, 0)], float), np.array([0.9, 0.9])).tolist() == [1, 2]


def test_low_score_boxes_continue_tracks_but_never_start_them():
    cfg = TrackerConfig()
    tracker = ByteTracker(cfg)
    assert tracker.update(np.array([_box(0, 0)], float), np.array([0.9])).tolist() == [1]
    # second stage: a low-score box that overlaps the track well keeps it alive
    assert tracker.update(np.array([_box(1, 0)], float), np.array([0.3])).tolist() == [1]
    # a low-score box elsewhere starts nothing, however long it stays
    for _ in range(5):
        ids = tracker.update(np.array([_box(2, 0), _box(600, 0)], float), np.array([0.9, 0.3]))
        assert ids.tolist() == [1, -1]
    # below low_score: ignored entirely
    assert tracker.update(np.array([_box(3, 0)], float), np.array([cfg.low_score / 2])).tolist() == [-1]


def test_birth_needs_new_track_score():
    tracker = ByteTracker(TrackerConfig(new_track_score=0.8))
    for _ in range(3):
        assert tracker.update(np.array([_box(0, 0)], float), np.array([0.7])).tolist() == [-1]


def test_lost_track_is_reactivated_with_its_old_id():
    tracker = ByteTracker(TrackerConfig(max_lost_frames=10))
    frames = [([_box(100 + 3 * t, 0)], [0.9]) for t in range(10)]
    frames += [NONE] * 5                                   # occluded for 5 frames
    frames += [([_box(100 + 3 * t, 0)], [0.9]) for t in range(15, 20)]
    ids = _run(tracker, frames)
    assert {i for f in ids for i in f} == {1}


def test_track_lost_longer_than_max_lost_frames_is_removed():
    tracker = ByteTracker(TrackerConfig(max_lost_frames=3, camera_shift=False))
    ids = _run(tracker, [([_box(0, 0)], [0.9])] * 3 + [NONE] * 5 + [([_box(0, 0)], [0.9])] * 3)
    assert ids[0] == [1] and ids[-1] == [2]


def test_tentative_track_that_is_not_confirmed_never_gets_an_id():
    tracker = ByteTracker()
    tracker.update(np.array([_box(0, 0)], float), np.array([0.9]))
    ids = _run(tracker, [([_box(0, 0), _box(700, 0)], [0.9, 0.9]), ([_box(0, 0)], [0.9])])
    assert ids == [[1, -1], [1]]
    assert [t[0] for t in tracker.tracks()] == [1]


def test_camera_pan_is_compensated():
    """Every player jumps 30 px at once (a fast pan): with the common-shift estimate all
    keep their ids, and the shift is reported."""
    tracker = ByteTracker(TrackerConfig(box_buffer=0.0, match_iou=0.5))
    xs = [100, 250, 400, 550]
    for t in range(5):
        tracker.update(np.array([_box(x, 100) for x in xs], float), np.full(4, 0.9))
    ids = tracker.update(np.array([_box(x + 30, 100) for x in xs], float), np.full(4, 0.9))
    assert ids.tolist() == [1, 2, 3, 4]
    assert tracker.camera_shift_px[-1][0] == pytest.approx(30, abs=1)
    off = ByteTracker(TrackerConfig(box_buffer=0.0, match_iou=0.5, camera_shift=False))
    for t in range(5):
        off.update(np.array([_box(x, 100) for x in xs], float), np.full(4, 0.9))
    assert off.update(np.array([_box(x + 30, 100) for x in xs], float), np.full(4, 0.9)).tolist() == [-1] * 4


def test_config_is_validated():
    with pytest.raises(ValueError, match="low_score"):
        TrackerConfig(low_score=0.6, high_score=0.5)
    with pytest.raises(ValueError, match="max_lost_frames"):
        TrackerConfig(max_lost_frames=-1)
    with pytest.raises(ValueError, match="crowd_cover"):
        TrackerConfig(crowd_cover=1.5)


def test_update_rejects_mismatched_scores():
    with pytest.raises(ValueError, match="2 boxes but 1 scores"):
        ByteTracker().update(np.zeros((2, 4)), np.zeros(1))


# ----------------------------------------------------------------------- whole-video pass

def _track(tid, frames, x0=0.0, vx=0.0, y=0.0, score=0.9):
    frames = np.asarray(frames, np.int64)
    boxes = np.array([_box(x0 + vx * f, y) for f in frames], np.float64)
    return Track(tid, frames, boxes, np.zeros(len(frames), np.int64), np.full(len(frames), score))


def test_join_links_tracklets_that_continue_each_others_motion():
    cfg = TrackerConfig(join_max_gap_frames=30)
    a = _track(1, range(0, 20), x0=0, vx=5)                # runs right, vanishes at frame 19
    b = _track(2, range(20, 40), x0=400, vx=-5)            # someone else, running left
    c = _track(3, range(30, 50), x0=0, vx=5)               # a's continuation after a 10-frame gap
    joined = join_tracklets([a, b, c], cfg)
    by_id = {t.track_id: t for t in joined}
    assert sorted(by_id) == [1, 2]
    np.testing.assert_array_equal(by_id[1].frame, np.r_[0:20, 30:50])


def test_join_respects_max_gap_and_time_order():
    a, c = _track(1, range(0, 20), vx=5), _track(3, range(60, 80), vx=5)
    assert len(join_tracklets([a, c], TrackerConfig(join_max_gap_frames=30))) == 2
    # overlapping in time: never joined
    d = _track(4, range(10, 30), vx=5)
    assert len(join_tracklets([a, d], TrackerConfig())) == 2


def test_join_uses_the_camera_path():
    """A pan moves everyone by 10 px/frame during a 10-frame gap: without removing it the
    continuation is 100 px off; with the path it lines up."""
    n = 50
    path = np.zeros((n, 2))
    path[20:30, 0] = 10 * np.arange(1, 11)
    path[30:, 0] = 100
    a = _track(1, range(0, 15), x0=0)
    c = _track(2, range(30, 50), x0=100)
    cfg = TrackerConfig(join_max_cost=0.5)
    assert len(join_tracklets([a, c], cfg)) == 2
    assert len(join_tracklets([a, c], cfg, path)) == 1


def test_relink_finds_a_player_again_where_he_left_after_a_long_gap():
    """Two players leave the picture (a pan) and come back 200 frames later, each near
    where he left; the motion join does not reach that far, the re-link does."""
    a = _track(1, range(0, 30), x0=100, y=0)
    b = _track(2, range(0, 30), x0=400, y=0)
    b2 = _track(3, range(230, 260), x0=410, y=0)          # b is back, 10 px off
    a2 = _track(4, range(240, 270), x0=95, y=0)            # a is back, 5 px off
    cfg = TrackerConfig()
    assert len(join_tracklets([a, b, b2, a2], cfg)) == 4
    by_id = {t.track_id: t for t in relink_tracks([a, b, b2, a2], cfg)}
    assert sorted(by_id) == [1, 2]
    np.testing.assert_array_equal(by_id[1].frame, np.r_[0:30, 240:270])
    np.testing.assert_array_equal(by_id[2].frame, np.r_[0:30, 230:260])


def test_relink_respects_its_gates():
    a = _track(1, range(0, 30), x0=100)
    far = _track(2, range(230, 260), x0=100 + 40 * 3 * 100)  # 300 box heights away
    late = _track(3, range(2000, 2030), x0=100)            # beyond relink_max_gap_frames
    assert len(relink_tracks([a, far], TrackerConfig())) == 2
    assert len(relink_tracks([a, late], TrackerConfig(relink_max_gap_frames=1500))) == 2
    assert len(relink_tracks([a, late], TrackerConfig(relink_max_gap_frames=2500))) == 1
    assert len(relink_tracks([a, _track(4, range(230, 260), x0=100)], TrackerConfig(relink_max_cost=0))) == 2


def test_camera_path_is_the_median_common_motion():
    tracks = [_track(i, range(0, 10), x0=100 * i, vx=4) for i in range(1, 4)]
    tracks.append(_track(9, range(0, 10), x0=900, vx=-20))   # one player sprinting the other way
    path = camera_path(tracks, 10)
    np.testing.assert_allclose(path[:, 0], 4 * np.arange(10))
    np.testing.assert_allclose(path[:, 1], 0)


def test_fill_gaps_interpolates_short_gaps_only():
    t = _track(1, [0, 1, 4, 5, 20], vx=10)
    t.det_index[:] = [0, 1, 2, 3, 4]
    filled = fill_gaps(t, max_gap_frames=3)
    np.testing.assert_array_equal(filled.frame, [0, 1, 2, 3, 4, 5, 20])
    np.testing.assert_allclose(filled.xyxy[2:4, 0], [20, 30])
    np.testing.assert_array_equal(filled.det_index, [0, 1, -1, -1, 2, 3, 4])
    np.testing.assert_array_equal(filled.observed, [1, 1, 0, 0, 1, 1, 1])
    assert filled.score[2] == 0


def test_smoothing_removes_jitter_but_keeps_straight_motion():
    rng = np.random.default_rng(0)
    t = _track(1, range(50), vx=3)
    truth = t.xyxy.copy()
    t.xyxy = t.xyxy + rng.normal(0, 2, t.xyxy.shape)
    s = smooth_boxes(t, 2.0)
    inner = slice(10, 40)
    assert np.abs(s.xyxy[inner] - truth[inner]).mean() < 0.6 * np.abs(t.xyxy[inner] - truth[inner]).mean()
    np.testing.assert_allclose(smooth_boxes(_track(1, range(50), vx=3), 2.0).xyxy[inner], truth[inner], atol=1e-6)


def test_drop_outliers_unassigns_a_stray_box():
    t = _track(1, range(20), vx=2)
    t.det_index[:] = np.arange(20)
    t.xyxy[10] += [60, 0, 60, 0]                           # one frame on the neighbour
    cleaned = drop_outliers(t, TrackerConfig())
    assert 10 not in cleaned.frame.tolist() and len(cleaned) == 19


def _sim_frames(n=60, miss=()):
    """Three players walking, one missed in some frames, plus a one-frame false positive."""
    xyxy, score = [], []
    for f in range(n):
        boxes = [_box(100 + 3 * f, 100), _box(400 - 2 * f, 300), _box(700, 50 + f)]
        s = [0.9, 0.8, 0.85]
        if f in miss:
            boxes.pop(0)
            s.pop(0)
        if f == 30:
            boxes.append(_box(1000, 600))
            s.append(0.4)
        xyxy.append(np.array(boxes, float))
        score.append(np.array(s))
    return xyxy, score


def test_offline_fills_missed_frames_and_keeps_one_id_per_player():
    xyxy, score = _sim_frames(miss=set(range(20, 28)))
    tracks = track_video(xyxy, score, TrackerConfig(), "offline")
    assert len(tracks) == 3
    first = next(t for t in tracks if t.xyxy[0, 0] < 150)
    np.testing.assert_array_equal(first.frame, np.arange(60))       # the 8 missed frames filled
    assert (~first.observed).sum() == 8
    ids = ids_per_frame(tracks, [len(b) for b in xyxy])
    assert ids[30].tolist()[-1] == -1                                # the false positive
    assert all(len(set(i.tolist()) - {-1}) == len(i) - (1 if f == 30 else 0) for f, i in enumerate(ids))


def test_online_mode_reports_only_what_it_saw():
    xyxy, score = _sim_frames(miss={20, 21})
    tracks = track_video(xyxy, score, TrackerConfig(), "online")
    assert len(tracks) == 3
    assert all(t.observed.all() for t in tracks)
    with pytest.raises(ValueError, match="mode"):
        track_video(xyxy, score, TrackerConfig(), "sideways")


def test_track_frames_default_is_the_new_tracker():
    xyxy, score = _sim_frames(n=20)
    frames = [(f, 40.0 * f, FramePoses(b, s, np.zeros((len(b), 17, 3)), s))
              for f, (b, s) in enumerate(zip(xyxy, score))]
    tracked = track_frames(list(reversed(frames)))
    assert [f for f, _, _ in tracked] == list(range(20))
    assert [sorted(p.track_id.tolist()) for _, _, p in tracked][5] == [1, 2, 3]
