"""tagging/track/sequences.py: IoU tracker, whole-video tracking, summaries and sequences."""

import numpy as np
import pytest

from tagging.core.types import FramePoses
from tagging.track.sequences import (
    IoUTracker,
    IoUTrackerConfig,
    TrackSummary,
    keypoint_sequences,
    summarize_tracks,
    track_frames,
)

NONE = (np.zeros((0, 4), np.float32), np.zeros(0, np.float32))


def _box(x, y, w=40, h=100):
    return [x, y, x + w, y + h]


# ----------------------------------------------------------------------- IoUTracker

def test_two_moving_boxes_keep_their_ids():
    tracker = IoUTracker()
    seen = []
    for t in range(20):
        a = _box(100 + 5 * t, 50)        # walks right
        b = _box(600 - 5 * t, 80)        # walks left, never meets a
        # detections come in alternating order: ids must follow boxes, not positions in the list
        boxes = np.array([a, b] if t % 2 == 0 else [b, a], np.float32)
        ids = tracker.update(boxes, np.array([0.9, 0.8]))
        seen.append(ids.tolist() if t % 2 == 0 else ids.tolist()[::-1])
    assert all(s == [1, 2] for s in seen)


def test_update_returns_int64_and_minus_one_for_unmatched():
    tracker = IoUTracker()
    ids = tracker.update(np.array([_box(0, 0), _box(200, 0)]), np.array([0.9, 0.1]))
    assert ids.dtype == np.int64
    assert ids.tolist() == [1, -1]
    assert tracker.update(*NONE).tolist() == []


def test_low_score_detection_does_not_start_a_track():
    cfg = IoUTrackerConfig(new_track_score=0.3)
    tracker = IoUTracker(cfg)
    for _ in range(3):
        assert tracker.update(np.array([_box(0, 0)]), np.array([0.29])).tolist() == [-1]
    # at the threshold it starts one
    assert tracker.update(np.array([_box(0, 0)]), np.array([0.3])).tolist() == [1]


def test_low_score_detection_continues_an_existing_track():
    tracker = IoUTracker()
    assert tracker.update(np.array([_box(0, 0)]), np.array([0.9])).tolist() == [1]
    assert tracker.update(np.array([_box(2, 0)]), np.array([0.05])).tolist() == [1]


def test_match_needs_iou_above_threshold():
    tracker = IoUTracker(IoUTrackerConfig(iou_threshold=0.3))
    tracker.update(np.array([_box(0, 0)]), np.array([0.9]))
    # 40-wide box moved by 30 px: IoU = 10 / 70 < 0.3 -> new track
    assert tracker.update(np.array([_box(30, 0)]), np.array([0.9])).tolist() == [2]


def test_each_track_matches_at_most_one_detection():
    tracker = IoUTracker()
    tracker.update(np.array([_box(0, 0)]), np.array([0.9]))
    ids = tracker.update(np.array([_box(1, 0), _box(2, 0)]), np.array([0.9, 0.9]))
    assert sorted(ids.tolist()) == [1, 2]
    assert ids.tolist() == [1, 2]          # the better-overlapping one keeps id 1


def test_track_unseen_for_more_than_max_age_ends_and_new_id_is_issued():
    tracker = IoUTracker(IoUTrackerConfig(max_age_frames=2))
    box, score = np.array([_box(0, 0)]), np.array([0.9])
    assert tracker.update(box, score).tolist() == [1]
    for _ in range(3):                     # unseen for 3 > 2 frames
        tracker.update(*NONE)
    assert tracker.update(box, score).tolist() == [2]
    assert tracker.update(box, score).tolist() == [2]


def test_track_survives_a_short_gap():
    tracker = IoUTracker(IoUTrackerConfig(max_age_frames=2))
    box, score = np.array([_box(0, 0)]), np.array([0.9])
    assert tracker.update(box, score).tolist() == [1]
    tracker.update(*NONE)                  # unseen for 1 frame
    assert tracker.update(box, score).tolist() == [1]


def test_track_unseen_for_exactly_max_age_frames_is_still_alive():
    tracker = IoUTracker(IoUTrackerConfig(max_age_frames=2))
    box, score = np.array([_box(0, 0)]), np.array([0.9])
    assert tracker.update(box, score).tolist() == [1]
    tracker.update(*NONE)
    tracker.update(*NONE)                  # unseen for 2 frames: not *more* than 2
    assert tracker.update(box, score).tolist() == [1]


def test_max_age_zero_still_tracks_consecutive_frames():
    tracker = IoUTracker(IoUTrackerConfig(max_age_frames=0))
    box, score = np.array([_box(0, 0)]), np.array([0.9])
    assert [tracker.update(box, score)[0] for _ in range(3)] == [1, 1, 1]


def test_ids_are_never_reused():
    tracker = IoUTracker(IoUTrackerConfig(max_age_frames=0))
    all_ids = []
    for t in range(6):
        all_ids += tracker.update(np.array([_box(200 * t, 0)]), np.array([0.9])).tolist()
    assert all_ids == [1, 2, 3, 4, 5, 6]


# ----------------------------------------------------------------------- track_frames & co.

def _poses(boxes, scores, box_scores=None, kp_y=None):
    n = len(boxes)
    kps = np.zeros((n, 17, 3), np.float32)
    if kp_y is not None:
        kps[:, :, 1] = np.asarray(kp_y, np.float32)[:, None]
    kps[:, :, 2] = 0.9
    return FramePoses(np.array(boxes, np.float32).reshape(-1, 4),
                      box_scores if box_scores is not None else np.full(n, 0.9),
                      kps, np.asarray(scores, np.float32))


def _video():
    """Frames 0..4 at 40 ms: person A walks right throughout, B appears in frames 2..4,
    a weak detection in frame 1 starts no track."""
    frames = []
    for f in range(5):
        boxes, scores, bs, ky = [_box(100 + 4 * f, 50)], [0.5 + 0.1 * f], [0.9], [f]
        if f >= 2:
            boxes.append(_box(500, 60))
            scores.append(0.4)
            bs.append(0.8)
            ky.append(100 + f)
        if f == 1:
            boxes.append(_box(900, 0))
            scores.append(0.3)
            bs.append(0.1)
            ky.append(-1)
        frames.append((f, f * 40.0, _poses(boxes, scores, np.array(bs), ky)))
    return frames


def test_track_frames_sorts_by_frame_index_and_assigns_ids():
    frames = _video()
    shuffled = [frames[i] for i in (3, 0, 4, 2, 1)]
    tracked = track_frames(shuffled, IoUTrackerConfig())
    assert [f for f, _, _ in tracked] == [0, 1, 2, 3, 4]
    assert [ts for _, ts, _ in tracked] == [0.0, 40.0, 80.0, 120.0, 160.0]
    ids = [p.track_id.tolist() for _, _, p in tracked]
    assert ids == [[1], [1, -1], [1, 2], [1, 2], [1, 2]]


def test_track_frames_uses_box_score_to_start_tracks():
    frames = [(0, 0.0, _poses([_box(0, 0)], [0.9], np.array([0.2])))]
    assert track_frames(frames, IoUTrackerConfig())[0][2].track_id.tolist() == [-1]
    frames = [(0, 0.0, _poses([_box(0, 0)], [0.1], np.array([0.9])))]
    assert track_frames(frames, IoUTrackerConfig())[0][2].track_id.tolist() == [1]


def test_summarize_tracks():
    summaries = summarize_tracks(track_frames(_video(), IoUTrackerConfig()))
    assert [s.track_id for s in summaries] == [1, 2]
    a, b = summaries
    assert isinstance(a, TrackSummary)
    assert (a.first_frame, a.last_frame, a.first_ms, a.last_ms, a.frame_count) == (0, 4, 0.0, 160.0, 5)
    assert a.mean_score == pytest.approx(np.mean([0.5, 0.6, 0.7, 0.8, 0.9]), rel=1e-5)
    assert (b.first_frame, b.last_frame, b.first_ms, b.last_ms, b.frame_count) == (2, 4, 80.0, 160.0, 3)
    assert b.mean_score == pytest.approx(0.4, rel=1e-5)


def test_summarize_tracks_empty():
    assert summarize_tracks([]) == []
    assert summarize_tracks([(0, 0.0, FramePoses.empty())]) == []


def test_track_sequences():
    seqs = keypoint_sequences(track_frames(_video(), IoUTrackerConfig()))
    assert sorted(seqs) == [1, 2]               # the untracked person (-1) is left out
    ts, kps = seqs[1]
    assert ts.dtype == np.float64
    np.testing.assert_array_equal(ts, [0, 40, 80, 120, 160])
    assert kps.shape == (5, 17, 3)
    np.testing.assert_array_equal(kps[:, 0, 1], [0, 1, 2, 3, 4])   # each frame's own keypoints
    ts, kps = seqs[2]
    np.testing.assert_array_equal(ts, [80, 120, 160])
    np.testing.assert_array_equal(kps[:, 0, 1], [102, 103, 104])


def test_track_seq_per_track_equals_the_per_video_helpers():
    """The pipeline's per-track path (track_observations -> TrackSeq) gives what
    summarize_tracks / keypoint_sequences give from the whole video, whatever the frame order."""
    from tagging.track.sequences import TrackSeq, track_observations

    tracked = track_frames(_video(), IoUTrackerConfig())
    obs: dict[int, list] = {}
    for frame in reversed(tracked):
        for tid, o in track_observations(*frame):
            obs.setdefault(tid, []).append(o)
    seqs = {tid: TrackSeq.from_observations(tid, o) for tid, o in obs.items()}
    assert [seqs[t].summary() for t in sorted(seqs)] == summarize_tracks(tracked)
    for tid, (ts, kps) in keypoint_sequences(tracked).items():
        np.testing.assert_array_equal(seqs[tid].timestamp_ms, ts)
        np.testing.assert_array_equal(seqs[tid].keypoints, kps)
    with pytest.raises(ValueError, match="no observations"):
        TrackSeq.from_observations(3, [])
