"""tagging/events/law15_rule.py: the Law-15 throw-in rule on synthetic keypoint sequences.

A standing person in image coordinates (y grows downward), torso length 70 px:
shoulders at y 130, hips at y 200, head (nose, eyes, ears) at y 95..100, ankles at y 300.
"""

import numpy as np
import pytest

from tagging.core.keypoints import KP
from tagging.events.law15_rule import (
    RULE_MODEL_NAME,
    Event,
    ThrowInRuleConfig,
    _runs,
    detect_throw_ins,
    tag_throw_ins,
    throw_in_frames,
)

FPS = 25
DT = 1000 / FPS   # 40 ms
SCORE = 0.9


def standing():
    k = np.zeros((17, 3), np.float32)
    pts = {
        "nose": (100, 100), "left_eye": (97, 96), "right_eye": (103, 96),
        "left_ear": (93, 97), "right_ear": (107, 97),
        "left_shoulder": (88, 130), "right_shoulder": (112, 130),
        "left_elbow": (85, 165), "right_elbow": (115, 165),
        "left_wrist": (84, 195), "right_wrist": (116, 195),
        "left_hip": (94, 200), "right_hip": (106, 200),
        "left_knee": (94, 250), "right_knee": (106, 250),
        "left_ankle": (93, 300), "right_ankle": (107, 300),
    }
    for name, (x, y) in pts.items():
        k[KP[name]] = (x, y, SCORE)
    return k


def arms_up(k, lift=0.0, left_x=97.0, right_x=103.0, one_arm=False):
    """Both hands together over the head (wrists at y 60 - lift)."""
    k = k.copy()
    k[KP["left_elbow"], :2] = (90, 85)
    k[KP["left_wrist"], :2] = (left_x, 60 - lift)
    if not one_arm:
        k[KP["right_elbow"], :2] = (110, 85)
        k[KP["right_wrist"], :2] = (right_x, 60 - lift)
    return k


def sequence(n_frames=75, up=range(25, 50), **arm_kw):
    """(timestamps_ms, keypoints) at 25 fps; the arms are up in frames ``up``.
    The wrists are highest in the middle of the window."""
    up = list(up)
    mid = up[len(up) // 2] if up else -1
    ts = np.arange(n_frames) * DT
    kps = np.stack([standing() for _ in range(n_frames)])
    for i in up:
        kps[i] = arms_up(kps[i], lift=10.0 - abs(i - mid) * 0.5, **arm_kw)
    return ts, kps


# ----------------------------------------------------------------------- positives

def test_held_throw_in_gives_exactly_one_event():
    ts, kps = sequence()                      # arms up frames 25..49: 1000 .. 1960 ms
    events = detect_throw_ins(7, ts, kps)
    assert len(events) == 1
    e = events[0]
    assert isinstance(e, Event)
    assert e.event_type == "throw_in"
    assert e.track_id == 7
    assert e.model == RULE_MODEL_NAME
    assert e.start_ms == pytest.approx(1000.0)
    assert e.end_ms == pytest.approx(1960.0)
    assert 1000.0 <= e.peak_ms <= 1960.0
    assert e.peak_ms == pytest.approx(37 * DT)  # wrists highest in the middle frame
    assert e.confidence == pytest.approx(SCORE, rel=1e-5)


def test_throw_in_frames_per_frame_flags():
    ts, kps = sequence()
    hands_up, elevation, score = throw_in_frames(kps)
    assert hands_up.dtype == bool and hands_up.shape == (75,)
    assert np.nonzero(hands_up)[0].tolist() == list(range(25, 50))
    # elevation in torso lengths: head top 96, wrists at 60 - lift, torso 70
    assert elevation[37] == pytest.approx((96 - 50) / 70, rel=1e-5)
    assert elevation[0] == pytest.approx((96 - 195) / 70, rel=1e-5)   # hands down: negative
    np.testing.assert_allclose(score, SCORE, rtol=1e-6)


def test_one_dropped_frame_is_bridged():
    ts, kps = sequence()
    kps[36, KP["left_wrist"], 2] = 0.1        # one frame with an unsure wrist
    events = detect_throw_ins(1, ts, kps)
    assert len(events) == 1
    assert (events[0].start_ms, events[0].end_ms) == (pytest.approx(1000.0), pytest.approx(1960.0))


def test_just_over_min_duration_counts():
    ts, kps = sequence(up=range(25, 34))      # 9 frames: 8 x 40 = 320 ms
    assert len(detect_throw_ins(1, ts, kps)) == 1


def test_two_separate_throw_ins_in_one_track():
    ts, kps = sequence(n_frames=150, up=range(10, 30))
    _, later = sequence(n_frames=150, up=range(100, 125))
    kps[100:125] = later[100:125]
    events = detect_throw_ins(3, ts, kps)
    assert [(e.start_ms, e.end_ms) for e in events] == [(400.0, 1160.0), (4000.0, 4960.0)]


# ----------------------------------------------------------------------- negatives

def test_one_arm_up_gives_nothing():
    ts, kps = sequence(one_arm=True)
    assert detect_throw_ins(1, ts, kps) == []


def test_second_wrist_just_below_head_top_gives_nothing():
    # the hands are close together (28 px < 0.6 x 70) but only one is over the head (y 96)
    ts, kps = sequence()
    kps[25:50, KP["left_wrist"], :2] = (97, 70)
    kps[25:50, KP["right_wrist"], :2] = (103, 97)
    assert (np.linalg.norm(kps[37, KP["left_wrist"], :2] - kps[37, KP["right_wrist"], :2])
            <= 0.6 * 70)
    assert detect_throw_ins(1, ts, kps) == []


def test_wrists_far_apart_gives_nothing():
    ts, kps = sequence(left_x=40.0, right_x=160.0)    # 120 px apart > 0.6 x 70
    assert detect_throw_ins(1, ts, kps) == []


def test_wrists_below_head_top_gives_nothing():
    ts, kps = sequence()
    kps[25:50, KP["left_wrist"], 1] = 98.0     # hands at eye level: not over the head
    kps[25:50, KP["right_wrist"], 1] = 98.0
    assert detect_throw_ins(1, ts, kps) == []


def test_feet_running_gives_nothing():
    ts, kps = sequence()
    # the whole person runs to the right at 8 px per frame: ankles travel 192 px in the window
    kps[:, :, 0] += (np.arange(75) * 8.0)[:, None]
    hands_up, _, _ = throw_in_frames(kps)
    assert hands_up[25:50].all()               # the upper body alone still looks right
    assert detect_throw_ins(1, ts, kps) == []


def test_feet_shuffling_a_little_is_still_planted():
    ts, kps = sequence()
    kps[:, KP["left_ankle"], 0] += np.where(np.arange(75) % 2 == 0, 0.0, 10.0)  # 10 px < 0.35 x 70
    assert len(detect_throw_ins(1, ts, kps)) == 1


def test_feet_never_seen_gives_nothing():
    ts, kps = sequence()
    kps[:, KP["left_ankle"], 2] = 0.1
    assert detect_throw_ins(1, ts, kps) == []


def test_too_short_gives_nothing():
    ts, kps = sequence(up=range(25, 32))       # 7 frames: 6 x 40 = 240 ms < 300 ms
    assert detect_throw_ins(1, ts, kps) == []


def test_too_long_gives_nothing():
    ts, kps = sequence(n_frames=200, up=range(10, 150))   # 5.56 s > 4 s
    assert detect_throw_ins(1, ts, kps) == []


def test_low_wrist_scores_give_nothing():
    ts, kps = sequence()
    kps[:, KP["left_wrist"], 2] = 0.2
    kps[:, KP["right_wrist"], 2] = 0.2
    assert detect_throw_ins(1, ts, kps) == []


def test_no_head_seen_gives_nothing():
    ts, kps = sequence()
    kps[:, :5, 2] = 0.1
    assert detect_throw_ins(1, ts, kps) == []


def test_standing_only_and_empty_give_nothing():
    ts, kps = sequence(up=[])
    assert detect_throw_ins(1, ts, kps) == []
    assert detect_throw_ins(1, np.zeros(0), np.zeros((0, 17, 3))) == []


def test_config_thresholds_are_used():
    ts, kps = sequence(up=range(25, 32))       # 240 ms
    assert len(detect_throw_ins(1, ts, kps, ThrowInRuleConfig(min_duration_ms=200))) == 1
    ts, kps = sequence(left_x=70.0, right_x=130.0)   # 60 px apart
    assert detect_throw_ins(1, ts, kps) == []
    assert len(detect_throw_ins(1, ts, kps, ThrowInRuleConfig(max_wrist_gap=1.0))) == 1


# ----------------------------------------------------------------------- runs and tag_throw_ins

def test_runs_bridge_small_gaps():
    m = np.array([0, 1, 1, 0, 1, 0, 0, 1, 1, 0], bool)
    assert _runs(m, 0) == [(1, 2), (4, 4), (7, 8)]
    assert _runs(m, 1) == [(1, 4), (7, 8)]
    assert _runs(m, 2) == [(1, 8)]
    assert _runs(np.zeros(4, bool), 1) == []


def test_tag_events_over_several_tracks():
    t1 = sequence()                                   # throw-in at 1000 ms
    t2 = sequence(up=[])                              # just standing
    t3 = sequence(up=range(5, 20))                    # throw-in at 200 ms
    t4 = sequence(one_arm=True)                       # waving
    events = tag_throw_ins({1: t1, 2: t2, 3: t3, 4: t4})
    assert [(e.track_id, e.start_ms) for e in events] == [(3, 200.0), (1, 1000.0)]
    assert all(e.event_type == "throw_in" for e in events)
    assert tag_throw_ins({}) == []


def test_tag_events_same_start_sorted_by_track():
    seq = sequence()
    events = tag_throw_ins({9: seq, 2: seq})
    assert [e.track_id for e in events] == [2, 9]
