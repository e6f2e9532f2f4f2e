"""bench/pose_agreement.py: pairing people of two runs and measuring how far keypoints moved."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from query_sample import write_sample_output
from tagging.tables.queries import read_table

BENCH = Path(__file__).resolve().parents[1] / "bench" / "pose_agreement.py"


def _agreement():
    spec = importlib.util.spec_from_file_location("pose_agreement", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.agreement


def test_moved_keypoints_are_measured_in_box_heights(tmp_path):
    poses = read_table(write_sample_output(tmp_path), "poses", "match-2")
    moved = poses.copy()
    height = moved.bbox_y2 - moved.bbox_y1
    moved["nose_x"] += 0.5 * height           # one keypoint of 17 moves half a body
    same = _agreement()(poses, poses.copy(), split_px=0.0)
    assert same["from_0px"]["median_box_heights"] == 0.0 and same["from_0px"]["share_within_0.1"] == 1.0
    got = _agreement()(poses, moved, split_px=0.0)
    r = got["from_0px"]
    assert r["pairs"] == len(poses) and got["under_0px"]["pairs"] == 0
    assert r["median_box_heights"] == 0.0
    scored = (poses.filter(like="_score").drop(columns=["score", "box_score", "ball_score"], errors="ignore")
              >= 0.2).to_numpy()
    nose_share = scored[:, 0].sum() / scored.sum()
    assert r["share_within_0.1"] == pytest.approx(1 - nose_share, abs=1e-4)
