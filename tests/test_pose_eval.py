"""tagging/pose_eval: OKS AP plumbing, PoseTrack18 handling, PCKh, auto tiling rule."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tagging.core.keypoints import KEYPOINT_NAMES
from tagging.core.types import FramePoses
from tagging.evaluate.pose import (
    POSETRACK_NAMES,
    AnnotationError,
    drop_in_ignore_regions,
    load_dataset,
    oks_ap,
    pckh,
    scored_joints,
)
from tagging.pose.detector import DetectorConfig, PersonDetector

JHMDB = ["neck", "belly", "head", "right_shoulder", "left_shoulder", "right_hip", "left_hip", "right_elbow",
         "left_elbow", "right_knee", "left_knee", "right_wrist", "left_wrist", "right_ankle", "left_ankle"]


def _person(x0=100.0, y0=50.0):
    """A plausible COCO-17 standing person, (17, 3) x, y, v=2."""
    xy = np.array([[0, 0], [-3, -3], [3, -3], [-6, 0], [6, 0], [-15, 20], [15, 20], [-20, 45], [20, 45],
                   [-22, 70], [22, 70], [-10, 75], [10, 75], [-10, 115], [10, 115], [-10, 150], [10, 150]],
                  np.float32) + [x0, y0]
    return np.concatenate([xy, np.full((17, 1), 2.0)], 1)


def _write(tmp_path, names, anns, images=None):
    data = {"categories": [{"id": 1, "name": "person", "keypoints": list(names)}],
            "images": images or [{"id": 1, "file_name": "a.jpg", "width": 400, "height": 300}],
            "annotations": anns}
    path = tmp_path / "ann.json"
    path.write_text(json.dumps(data))
    return load_dataset(path, tmp_path)


def _poses(kps_list, boxes=None):
    kps = np.stack(kps_list).astype(np.float32)
    kps[..., 2] = 0.9
    boxes = boxes if boxes is not None else [[k[:, 0].min(), k[:, 1].min(), k[:, 0].max(), k[:, 1].max()]
                                             for k in kps]
    return FramePoses.from_keypoints(kps, boxes, np.full(len(kps), 0.9))


def _coco_ann(kps, i=1):
    x, y = kps[:, 0], kps[:, 1]
    bbox = [float(x.min()), float(y.min()), float(np.ptp(x)), float(np.ptp(y))]
    return {"id": i, "image_id": 1, "category_id": 1, "keypoints": kps.reshape(-1).tolist(),
            "num_keypoints": 17, "bbox": bbox, "area": bbox[2] * bbox[3] * 0.6, "iscrowd": 0}


def test_oks_ap_is_one_for_exact_poses_and_drops_for_a_miss(tmp_path):
    a, b = _person(100), _person(250)
    ds = _write(tmp_path, KEYPOINT_NAMES, [_coco_ann(a, 1), _coco_ann(b, 2)])
    assert ds.kind == "coco"
    perfect = oks_ap(ds, {1: _poses([a, b])})
    assert perfect["AP"] == pytest.approx(1.0) and perfect["AR"] == pytest.approx(1.0)
    half = oks_ap(ds, {1: _poses([a])})
    assert half["AR"] == pytest.approx(0.5)
    shifted = a.copy()
    shifted[:, :2] += 25                                  # far off: OKS well below 0.5
    assert oks_ap(ds, {1: _poses([shifted])})["AP"] == pytest.approx(0.0)


def test_posetrack_head_joints_are_not_scored_and_area_comes_from_the_box(tmp_path):
    a = _person()
    ann = _coco_ann(a)
    del ann["area"]
    ds = _write(tmp_path, POSETRACK_NAMES, [ann])
    assert ds.kind == "posetrack18"
    wrong_head = a.copy()
    wrong_head[1:3, :2] += 40                             # our eyes vs their head_bottom/top
    assert oks_ap(ds, {1: _poses([wrong_head])})["AP"] == pytest.approx(1.0)


def test_people_in_ignore_regions_are_dropped():
    poses = _poses([_person(100), _person(300)])
    image = {"ignore_regions_x": [[250, 400, 400, 250]], "ignore_regions_y": [[0, 0, 300, 300]]}
    kept = drop_in_ignore_regions(poses, image)
    assert len(kept) == 1 and kept.keypoints[0, 0, 0] == pytest.approx(100)


def test_jhmdb_pckh_maps_limb_joints_and_uses_head_to_neck_size(tmp_path):
    coco = _person()
    # JHMDB layout from the COCO person: neck between shoulders, head 30 px above it
    by = dict(zip(KEYPOINT_NAMES, coco))
    neck = (by["left_shoulder"] + by["right_shoulder"]) / 2
    rows = {"neck": neck, "belly": (by["left_hip"] + by["right_hip"]) / 2, "head": neck - [0, 30, 0]}
    kps = np.stack([rows.get(n, by.get(n)) for n in JHMDB])
    ds = _write(tmp_path, JHMDB, [{"id": 1, "image_id": 1, "category_id": 1, "keypoints": kps.reshape(-1).tolist(),
                                   "bbox": [0, 0, 1, 1]}])
    assert ds.kind == "pckh"
    assert sorted(JHMDB[i] for i in scored_joints(tuple(JHMDB))) == sorted(
        n for n in JHMDB if n not in ("neck", "belly", "head"))
    assert pckh(ds, {1: _poses([coco])})["PCKh"] == pytest.approx(1.0)
    moved = coco.copy()
    moved[KP_WRISTS, :2] += 16                           # 22.6 px > 0.5 x 30 px: two of 12 wrong
    assert pckh(ds, {1: _poses([moved])})["PCKh"] == pytest.approx(10 / 12)
    assert pckh(ds, {1: FramePoses.empty()})["PCKh"] == 0.0


KP_WRISTS = [KEYPOINT_NAMES.index("left_wrist"), KEYPOINT_NAMES.index("right_wrist")]


def test_bad_annotation_files_are_named(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text("{}")
    with pytest.raises(AnnotationError, match="x.json: not a COCO-style keypoint file"):
        load_dataset(bad, tmp_path)
    with pytest.raises(AnnotationError, match="nope.json: cannot read"):
        load_dataset(tmp_path / "nope.json", tmp_path)
    with pytest.raises(AnnotationError, match="share fewer than 4 joints"):
        _write(tmp_path, ["a", "b", "c"], [])


# ----------------------------------------------------------------------- automatic tiling rule

def test_auto_tiling_only_for_large_frames_with_small_people():
    det = PersonDetector(lambda x: None, DetectorConfig())          # the rule needs no model
    tall = np.array([[0, 0, 50, 200]], np.float32)                   # 200 px in a 848 frame -> 121 input px
    short = np.array([[0, 0, 10, 30]], np.float32)                   # 30 px -> 18 input px
    assert det.tiles_for(640, 360, short) == 0                       # small frame: no gain
    assert det.tiles_for(848, 478, tall) == 0                        # big people: whole frame suffices
    assert det.tiles_for(848, 478, short) == round(0.4 * 848)        # 339 px tiles (1.5x)
    assert det.tiles_for(848, 478, np.zeros((0, 4))) == 339          # nobody found: look closer
    assert det.tiles_for(1920, 1080, short) == 512                   # capped at the input size
    assert PersonDetector(None, DetectorConfig(tile_px=0)).tiles_for(1920, 1080, short) == 0
    assert PersonDetector(None, DetectorConfig(tile_px=300)).tiles_for(100, 100, tall) == 300


# ----------------------------------------------------------------------- real data, real models

@pytest.mark.realdata
@pytest.mark.models
def test_evaluate_pose_cli_on_one_coco_image(shared_data, models, tmp_path, capsys):
    from pipeline.cli import main

    full = json.loads((shared_data / "pose" / "coco" / "test_coco.json").read_text())
    keep = 785                                              # the skier: one person, 17 joints
    full["images"] = [i for i in full["images"] if i["id"] == keep]
    full["annotations"] = [a for a in full["annotations"] if a["image_id"] == keep]
    ann = tmp_path / "one.json"
    ann.write_text(json.dumps(full))
    assert main(["evaluate", "pose", "--annotations", str(ann), "--images",
                 str(shared_data / "pose" / "coco"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["format"] == "coco" and result["images"] == 1
    assert result["AP"] >= 0.7 and result["AR"] >= 0.7 and 0 <= result["AP50"] <= 1


def test_device_and_thread_settings_are_validated(monkeypatch):
    from tagging.pose.models import configure_tensorflow

    with pytest.raises(ValueError, match="must be auto, cpu or gpu; got 'tpu'"):
        configure_tensorflow(device="tpu")
    monkeypatch.setenv("MATCHTAG_TF_THREADS", "two")
    with pytest.raises(ValueError, match="MATCHTAG_TF_THREADS must be an integer; got 'two'"):
        configure_tensorflow()
