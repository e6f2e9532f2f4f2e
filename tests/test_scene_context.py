"""Ball and pitch context (issue 16): ball boxes from the detector's outputs, the grass
model on crafted images, context features on crafted sequences, the rule's ball and feet
checks, ``evaluate balls`` and ``evaluate events --negatives`` on crafted inputs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from schemas.tables import CONTEXT_COLUMNS, file_schema
from tagging.core.types import CONTEXT_DIM, Detections, FramePoses
from tagging.events.features import BALL_FAR, CONTEXT_FEATURES, FEET_INSIDE, context_frame_features
from tagging.pose.detector import BALL_CLASS, PERSON_CLASS, DetectorConfig, PersonDetector, decode_centernet
from tagging.scene.context import ball_context, feet_to_grass_edge, fit_grass

REPO = Path(__file__).resolve().parent.parent
_C = {n: i for i, n in enumerate(CONTEXT_COLUMNS)}
_F = {n: i for i, n in enumerate(CONTEXT_FEATURES)}


# ------------------------------------------------------------------ ball boxes from the detector

def _centernet_raw(rows):
    raw = np.zeros((100, 6), np.float32)
    raw[: len(rows)] = rows
    return raw


def test_decode_centernet_keeps_the_ball_class_apart():
    raw = _centernet_raw([[10, 20, 50, 120, 0.9, PERSON_CLASS], [60, 60, 68, 68, 0.35, BALL_CLASS],
                          [70, 70, 76, 76, 0.05, BALL_CLASS]])
    people, _ = decode_centernet(raw, 1.0, (0.0, 0.0), 0.25)
    balls, score = decode_centernet(raw, 2.0, (100.0, 0.0), 0.1, BALL_CLASS)
    assert len(people) == 1
    np.testing.assert_allclose(balls, [[130, 30, 134, 34]])   # / scale + offset
    np.testing.assert_allclose(score, [0.35])


class _FakeCenterNet:
    """Returns one fixed raw output (letterboxed 512 px input coordinates) for any view."""

    def __init__(self, rows):
        self.raw = _centernet_raw(rows)[None]
        self.calls = 0

    def __call__(self, batch):
        self.calls += 1
        return [self.raw]


def test_detect_all_gives_people_and_balls_from_one_call():
    model = _FakeCenterNet([[100, 100, 140, 220, 0.8, PERSON_CLASS],
                            [200, 300, 208, 308, 0.5, BALL_CLASS],     # a ball
                            [300, 300, 306, 330, 0.6, BALL_CLASS],     # 6 x 30: a leg, not a ball
                            [201, 301, 209, 309, 0.4, BALL_CLASS]])    # the same ball again: NMS
    det = PersonDetector(model, DetectorConfig(tile_px=0))
    people, balls = det.detect_all(np.zeros((512, 512, 3), np.uint8))
    assert model.calls == 1
    assert len(people) == 1
    np.testing.assert_allclose(balls.xyxy, [[200, 300, 208, 308]])
    assert len(det(np.zeros((512, 512, 3), np.uint8))) == 1              # __call__: people only


# ------------------------------------------------------------------ the grass model

def _pitch_image(h=240, w=320, edge_y=100, shadow=True):
    """Grey stands above ``edge_y``, grass below (half of it in shadow), a white line."""
    import cv2

    img = np.full((h, w, 3), (120, 118, 125), np.uint8)
    grass_hsv = np.zeros((h - edge_y, w, 3), np.uint8)
    grass_hsv[..., 0], grass_hsv[..., 1], grass_hsv[..., 2] = 50, 170, 170
    if shadow:
        grass_hsv[:, : w // 2, 2] = 80                                   # shadow: same hue, darker
    img[edge_y:] = cv2.cvtColor(grass_hsv, cv2.COLOR_HSV2RGB)
    img[edge_y + 60: edge_y + 63] = 255                                 # a pitch line
    rng = np.random.default_rng(0)
    return np.clip(img.astype(int) + rng.integers(-6, 7, img.shape), 0, 255).astype(np.uint8)


def test_grass_is_found_through_shadow_and_lines():
    grass = fit_grass(_pitch_image())
    assert grass is not None
    assert abs(grass.hue - 50) <= 3
    assert grass.mask[100:].mean() > 0.97 and grass.mask[:95].mean() < 0.02
    d = grass.signed_distance()
    assert d[160, 60] == pytest.approx(60, abs=3)          # 60 px inside, in the shadow half
    assert d[80, 200] == pytest.approx(-20, abs=3)         # 20 px off the grass
    # the frame's bottom border is not an edge: a point near it is far inside
    assert d[235, 160] > 100


def test_grass_everywhere_reads_as_far_inside_without_overflow():
    """No edge in view (a close-up of the pitch): a finite "far inside", at any frame size,
    and no overflow warning (the distance transform's FLT_MAX used to be scaled)."""
    import warnings

    from tagging.scene.context import Grass

    for shape in ((240, 320), (1080, 1920)):
        mask = np.ones(shape, np.uint8)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            d = Grass(mask, 50.0, 1.0, scale=min(1.0, 480 / max(shape))).signed_distance()
        assert np.isfinite(d).all() and d.min() > max(shape)


def test_no_pitch_when_the_frame_shows_no_grass():
    street = np.full((240, 320, 3), (120, 118, 125), np.uint8)
    street[150:, :] = (160, 110, 60)                        # a wooden court
    assert fit_grass(street) is None
    ctx = feet_to_grass_edge(None, np.array([[10, 10, 30, 80]], np.float32))
    assert ctx[0, 0] == 0 and np.isnan(ctx[0, 1:]).all()   # "no pitch", explicitly


def test_feet_distance_in_pixels_and_body_heights():
    grass = fit_grass(_pitch_image())
    boxes = np.array([[50, 40, 70, 160],     # feet 60 px inside, 120 px tall
                      [200, 10, 220, 90]],   # feet 10 px above the edge: off the grass
                     np.float32)
    out = feet_to_grass_edge(grass, boxes)
    assert out[0, 0] == 1
    assert out[0, 1] == pytest.approx(60, abs=3) and out[0, 2] == pytest.approx(0.5, abs=0.03)
    assert out[1, 1] == pytest.approx(-10, abs=3) and out[1, 2] < 0
    # ankles, when confident, are the feet
    kps = np.zeros((1, 17, 3), np.float32)
    kps[0, 15] = (60, 130, 0.9)
    kps[0, 16] = (62, 128, 0.9)
    assert feet_to_grass_edge(grass, boxes[:1], kps)[0, 1] == pytest.approx(30, abs=3)


def test_ball_context_relative_to_the_hands():
    kps = np.zeros((2, 17, 3), np.float32)
    kps[:, 9] = (100, 50, 0.9)
    kps[:, 10] = (110, 50, 0.9)
    kps[1, :, 0] += 330                                                        # 315 px from the ball
    boxes = np.array([[80, 40, 130, 240], [410, 40, 460, 240]], np.float32)   # 200 px tall
    out = ball_context(np.array([[101, 26, 109, 34]], np.float32), np.array([0.5]), boxes, kps)
    assert out[0, 0] == 1 and out[0, 3] == pytest.approx(0.5)
    assert out[0, 1] == pytest.approx(0.0) and out[0, 2] == pytest.approx(0.1)   # 20 px above: +0.1 body heights
    assert out[1, 0] == 1 and np.isnan(out[1, 1]) and out[1, 3] == 0            # looked for, none near
    unknown = ball_context(None, None, boxes, kps)
    assert (unknown[:, 0] == 0).all() and np.isnan(unknown[:, 1:]).all()


def test_frame_poses_carry_context_and_balls():
    p = FramePoses(np.zeros((2, 4)), np.ones(2), np.zeros((2, 17, 3)), np.ones(2))
    assert p.context.shape == (2, CONTEXT_DIM) and np.isnan(p.context).all() and p.balls is None
    p.context = np.arange(2 * CONTEXT_DIM, dtype=np.float32).reshape(2, -1)
    p.balls = Detections([[1, 2, 3, 4]], [0.5])
    one = p[1]
    assert one.context[0, 0] == CONTEXT_DIM and len(one.balls) == 1


# ------------------------------------------------------------------ features on crafted sequences

def _context(T, **cols):
    c = np.full((T, CONTEXT_DIM), np.nan, np.float32)
    for k, v in cols.items():
        c[:, _C[k]] = v
    return c


def test_ball_held_then_released_reads_as_near_then_leaving_fast():
    T = 30
    ts = np.arange(T) * 40.0                                   # 25 fps
    c = _context(T, ball_known=1.0, ball_score=0.3, pitch=1.0, feet_grass_h=-0.2)
    c[:15, _C["ball_dx"]], c[:15, _C["ball_dy"]] = 0.0, 0.05   # held: in the hands
    c[15:, _C["ball_dx"]] = 0.0
    # released at 600 ms: 0.2 body heights further each 40 ms (5 per second), then out of reach
    c[15:, _C["ball_dy"]] = [0.05 + 0.2 * k for k in range(1, 7)] + [np.nan] * 9
    F = context_frame_features(ts, c, np.arange(0, 1160, 50.0))
    held, flying = F[5], F[14]                                   # 250 ms and 700 ms
    assert held[_F["ball_found"]] == 1 and held[_F["ball_hand_dist"]] == pytest.approx(0.05, abs=1e-3)
    assert flying[_F["ball_hand_dist"]] > 0.3 and flying[_F["ball_speed"]] == pytest.approx(5.0, rel=0.01)
    assert F[-1][_F["ball_found"]] == 0 and F[-1][_F["ball_hand_dist"]] == BALL_FAR
    assert (F[:, _F["edge_known"]] == 1).all() and F[0, _F["feet_edge"]] == pytest.approx(-0.2)


def test_unknown_context_is_flagged_not_absent():
    ts = np.arange(20) * 40.0
    grid = np.arange(0, 760, 50.0)
    for F in (context_frame_features(ts, None, grid), context_frame_features(ts, _context(20), grid)):
        assert (F[:, _F["ball_known"]] == 0).all() and (F[:, _F["ball_found"]] == 0).all()
        assert (F[:, _F["pitch_seen"]] == 0).all() and (F[:, _F["no_pitch"]] == 0).all()
        assert (F[:, _F["feet_edge"]] == FEET_INSIDE).all()
    F = context_frame_features(ts, _context(20, ball_known=1.0, ball_score=0.0, pitch=0.0), grid)
    assert (F[:, _F["ball_known"]] == 1).all() and (F[:, _F["no_pitch"]] == 1).all()


# ------------------------------------------------------------------ feature version refusal

@pytest.mark.filterwarnings("ignore:Stochastic Optimizer:sklearn.exceptions.ConvergenceWarning")  # a 5-iteration model
def test_a_model_of_the_pose_only_features_is_refused(tmp_path):
    from tagging.events import model as em
    from tagging.events.model import EventModelError, TrainConfig, build_training_set, load_event_model, train_model
    from tagging.events.synth import generate_dataset

    cfg = TrainConfig(hidden_layers=(8,), max_iter=5)
    tracks = [(s.timestamps_ms, s.keypoints, s.events, s.context) for s in generate_dataset(2, 1, 2)]
    X, y = build_training_set(tracks, [em.BACKGROUND, "throw_in", "kick", "jump", "fall", "celebration"],
                              train_config=cfg)
    model = train_model(X, y, [em.BACKGROUND, "throw_in", "kick", "jump", "fall", "celebration"], "t",
                        train_config=cfg)
    model.feature_version = "events-features-1"                 # as every model before the context
    path = model.save(tmp_path / "pose_only.skops")
    with pytest.raises(EventModelError, match=r"pose_only\.skops.*'events-features-1'.*'events-features-2'.*retrain"):
        load_event_model(path)


# ------------------------------------------------------------------ the rule's ball and feet checks

def _rule_sequence():
    sys.path.insert(0, str(Path(__file__).parent))
    from test_events_rule import sequence

    return sequence()


@pytest.mark.parametrize("cols, fires", [
    ({}, True),                                                               # nothing known: pose alone
    ({"pitch": 1.0, "feet_grass_h": -0.1}, True),                             # behind the line
    ({"pitch": 1.0, "feet_grass_h": 2.5}, False),                             # deep inside the pitch
    ({"pitch": 0.0}, False),                                                  # no pitch: no touchline
    ({"pitch": 1.0}, True),                                                   # edge not in view
    ({"ball_known": 1.0, "ball_dx": 0.0, "ball_dy": 0.05, "ball_score": 0.4}, True),   # ball in the hands
    ({"ball_known": 1.0, "ball_dx": 0.1, "ball_dy": -0.8, "ball_score": 0.4}, False),  # ball at the feet
    ({"ball_known": 1.0, "ball_score": 0.0}, True),                           # looked for, not found
])
def test_rule_checks_ball_and_feet_when_known(cols, fires):
    from tagging.events.law15_rule import ThrowInRuleConfig, detect_throw_ins, tag_throw_ins

    ts, kps = _rule_sequence()
    ctx = _context(len(ts), **cols)
    assert (len(detect_throw_ins(1, ts, kps, ThrowInRuleConfig(), ctx)) == 1) == fires
    assert (len(tag_throw_ins({1: (ts, kps, ctx)})) == 1) == fires


# ------------------------------------------------------------------ matchtag evaluate balls

def _cli(*args):
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=120)


def test_evaluate_balls_on_crafted_labels(tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_text("frame_index,visible,x1,y1,x2,y2\n0,1,100,100,106,106\n1,1,200,50,206,56\n"
                      "2,1,300,300,306,306\n3,0,,,,\n")
    dets = tmp_path / "dets.csv"
    dets.write_text("frame_index,x1,y1,x2,y2,score\n"
                    "0,101,101,107,107,0.5\n"        # hit at IoU 0.3 and 10 px, top-scoring
                    "0,400,400,406,406,0.9\n"        # a false ball that outscores it
                    "1,208,50,214,56,0.4\n"          # 8 px off: centre hit, IoU 0
                    "3,10,10,16,16,0.6\n"            # ball not visible: false
                    "3,20,20,26,26,0.2\n")           # below --min-score 0.3
    r = _cli("evaluate", "balls", "--labels", str(labels), "--detections", str(dets), "--min-score", "0.3", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["frames"] == 4 and out["visible"] == 3
    assert out["recall_iou"] == pytest.approx(1 / 3) and out["recall_centre"] == pytest.approx(2 / 3)
    assert out["top1_recall_iou"] == 0 and out["top1_recall_centre"] == pytest.approx(1 / 3)
    assert out["false_per_frame"] == pytest.approx(2 / 4)
    bad = tmp_path / "bad.csv"
    bad.write_text("frame_index,visible,x1,y1,x2,y2\n0,1,100,100,90,106\n")
    r = _cli("evaluate", "balls", "--labels", str(bad), "--detections", str(dets))
    assert r.returncode == 2 and "bad.csv: frame 0 is visible but its box" in r.stderr
    r = _cli("evaluate", "balls", "--labels", str(labels))
    assert r.returncode == 2 and "exactly one of --tags" in r.stderr
    # the same boxes from a committed balls table
    sys.path.insert(0, str(Path(__file__).parent))
    from commit_helpers import commit_synthetic, synthetic_pose_rows

    rows = [{"video_id": "v", "frame_index": int(f), "timestamp_ms": 40.0 * int(f), "x1": x1, "y1": y1, "x2": x2,
             "y2": y2, "score": s} for f, x1, y1, x2, y2, s in pd.read_csv(dets).itertuples(index=False)]
    commit_synthetic(tmp_path / "tags", "20260101T000000Z-aaaaaa", "v", synthetic_pose_rows("v", 4), balls=rows)
    r = _cli("evaluate", "balls", "--labels", str(labels), "--tags", str(tmp_path / "tags"), "--min-score", "0.3",
             "--json")
    assert r.returncode == 0, r.stderr
    assert {k: v for k, v in json.loads(r.stdout).items() if k != "detections_from"} == \
        {k: v for k, v in out.items() if k != "detections_from"}


# ------------------------------------------------------------------ evaluate events --negatives

def _negatives_root(tmp_path) -> Path:
    """Two event-free 'videos' of 90 s each (synthetic poses), one with two false alarms."""
    from tagging.events.synth import generate_dataset, write_tables

    tracks = generate_dataset(4, 0, 2)
    root = tmp_path / "neg"
    write_tables({"clip_a": tracks[:1], "clip_b": tracks[1:]}, root)
    for vid in ("clip_a", "clip_b"):
        f = root / "videos" / f"video_id={vid}" / "synthetic-00000.parquet"
        t = pq.read_table(f).to_pandas()
        t["duration_ms"] = 90_000.0
        pq.write_table(pa.Table.from_pandas(t, schema=file_schema("videos"), preserve_index=False), f)
    ev = pd.DataFrame({"event_type": ["jump", "throw_in"], "track_id": [1, 1], "start_ms": [0.0, 5.0],
                       "end_ms": [1.0, 6.0], "peak_ms": [0.5, 5.5], "confidence": [0.9, 0.7],
                       "model": ["m", "m"]})
    pq.write_table(pa.Table.from_pandas(ev, schema=file_schema("events"), preserve_index=False),
                   root / "events" / "video_id=clip_b" / "synthetic-00000.parquet")
    return root


def test_evaluate_negatives_reports_false_alarms_per_hour(tmp_path):
    root = _negatives_root(tmp_path)
    r = _cli("evaluate", "events", "--negatives", str(root), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["hours"] == pytest.approx(180 / 3600)
    assert out["classes"]["throw_in"]["false_alarms"] == 1
    assert out["classes"]["throw_in"]["per_hour"] == pytest.approx(20.0)
    assert out["classes"]["jump"]["per_video"] == {"clip_a": 0, "clip_b": 1}
    assert out["classes"]["kick"]["per_hour"] == 0
    text = _cli("evaluate", "events", "--negatives", str(root), "--classes", "throw_in")
    assert text.returncode == 0 and "throw_in" in text.stdout and "jump" not in text.stdout
    r = _cli("evaluate", "events", "--negatives", str(root), "--labels", "x.csv")
    assert r.returncode == 2 and "on its own" in r.stderr


# ------------------------------------------------------------------ the balls table

def test_ball_rows_and_old_output_roots(tmp_path):
    from tagging.tables.load import load_balls
    from tagging.tables.rows import ball_rows
    from tagging.tables.store import CommitRecord

    p = FramePoses.empty()
    assert list(ball_rows("v", 3, 120.0, p)) == []                         # not looked for: no rows
    p.balls = Detections([[1, 2, 3, 4]], [0.5])
    (row,) = ball_rows("v", 3, 120.0, p)
    assert row == {"video_id": "v", "frame_index": 3, "timestamp_ms": 120.0, "x1": 1.0, "y1": 2.0, "x2": 3.0,
                   "y2": 4.0, "score": 0.5}
    # a commit record written before the balls table existed still reads, with no balls
    old = {"video_id": "v", "run_id": "r", "files": {t: [] for t in ("videos", "poses", "tracks", "events")}}
    assert CommitRecord.from_json(json.dumps(old), "x").files["balls"] == []
    root = _negatives_root(tmp_path)
    assert load_balls(root).empty
