"""Score a pose estimator on annotated images: OKS AP (pycocotools) and PCKh@0.5.

The estimator runs end to end (our own detector, then the pose model): ground-truth
boxes are never given to it.  Three annotation flavours are read, all as COCO-style
JSON (``images``, ``annotations`` with ``keypoints`` [x, y, v] triplets,
``categories[0].keypoints`` naming the joints):

- **COCO-17** (the names of :mod:`tagging.core.keypoints`): scored with pycocotools'
  keypoint evaluation as is.
- **PoseTrack18** (COCO-17 slots, but slot 1/2 are ``head_bottom``/``head_top`` instead
  of the eyes, and the ears are never labelled): scored with the same OKS evaluation
  after setting those two head joints to "not labelled" (v = 0), so only the 15 joints
  the two skeletons share count; ``area`` (absent in PoseTrack) is the box area;
  predicted people whose box centre lies in an image's ``ignore_regions`` (unlabelled
  crowds) are dropped before scoring, as PoseTrack's own evaluation does.
  PCKh@0.5 with the annotated head boxes is reported as well.
- **MPII/JHMDB/LSP-style** (any other joint list, e.g. JHMDB's 15 joints): scored with
  PCKh@0.5 on the joints both skeletons have (shoulders, elbows, wrists, hips, knees,
  ankles; the names scored are reported).  The head size is 0.6 x the head box
  diagonal when ``bbox_head`` is given (MPII's definition), else the distance between
  the head(-top) and neck joints.

Numbers from a handful of images are a smoke check of the whole path, not a
benchmark result: say how many images and people they come from.
"""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from tagging.core.keypoints import KEYPOINT_NAMES, KP
from tagging.core.types import FramePoses

POSETRACK_NAMES = ("nose", "head_bottom", "head_top", "left_ear", "right_ear") + KEYPOINT_NAMES[5:]
# Joints COCO-17 and MPII-style skeletons share, by the names datasets use.
_LIMBS = ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")
_ALIASES = {f"{side}_{limb}": KP[f"{full}_{limb}"]
            for limb in _LIMBS for side, full in (("left", "left"), ("right", "right"), ("l", "left"),
                                                  ("r", "right"))}
_HEAD_TOP = ("head_top", "head")
_NECK = ("upper_neck", "neck", "head_bottom")
PCKH_THRESHOLD = 0.5


class AnnotationError(ValueError):
    """The annotation file cannot be scored; the message names the file."""


@dataclass
class PoseDataset:
    path: Path
    images_dir: Path
    data: dict
    kind: str                 # "coco" | "posetrack18" | "pckh"
    joint_names: tuple[str, ...]

    @property
    def num_people(self) -> int:
        return sum(1 for a in self.data["annotations"] if a.get("num_keypoints", 1) > 0)


def load_dataset(annotations: str | Path, images_dir: str | Path) -> PoseDataset:
    path = Path(annotations)
    try:
        data = json.loads(path.read_text())
        names = tuple(data["categories"][0]["keypoints"])
        data["images"], data["annotations"]  # noqa: B018 (presence check)
    except OSError as exc:
        raise AnnotationError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise AnnotationError(f"{path}: not a COCO-style keypoint file "
                              f"(needs images, annotations, categories[0].keypoints): {exc!r}") from exc
    images = Path(images_dir)
    if not images.is_dir():
        raise AnnotationError(f"{images}: images directory does not exist")
    if names == KEYPOINT_NAMES:
        kind = "coco"
    elif names == POSETRACK_NAMES:
        kind = "posetrack18"
    elif len(scored_joints(names)) >= 4:
        kind = "pckh"
    else:
        raise AnnotationError(f"{path}: joints {list(names)} share fewer than 4 joints with COCO-17; "
                              "cannot score")
    return PoseDataset(path, images, data, kind, names)


def scored_joints(names: tuple[str, ...]) -> dict[int, int]:
    """{dataset joint index: COCO-17 index} for the joints scored by PCKh."""
    out = {}
    for i, n in enumerate(names):
        key = n.lower().replace(" ", "_")
        if key in _ALIASES:
            out[i] = _ALIASES[key]
        elif key == "nose" and i == 0 and names[0] == "nose":
            out[i] = KP["nose"]
    return out


def run_estimator(dataset: PoseDataset, estimator: Callable[[np.ndarray], FramePoses],
                  log: Callable[[str], None] = lambda m: None) -> dict[int, FramePoses]:
    """Our poses for every image of the dataset, by image id."""
    out = {}
    for img in dataset.data["images"]:
        file = dataset.images_dir / img["file_name"]
        bgr = cv2.imread(str(file), cv2.IMREAD_COLOR)
        if bgr is None:
            raise AnnotationError(f"{file}: image listed in {dataset.path.name} is missing or unreadable")
        poses = estimator(np.ascontiguousarray(bgr[..., ::-1]))
        if dataset.kind == "posetrack18":
            poses = drop_in_ignore_regions(poses, img)
        out[img["id"]] = poses
        log(f"{img['file_name']}: {len(poses)} people")
    return out


def drop_in_ignore_regions(poses: FramePoses, image: dict) -> FramePoses:
    """Remove people whose box centre lies in one of the image's ignore polygons."""
    xs, ys = image.get("ignore_regions_x") or [], image.get("ignore_regions_y") or []
    if not xs or len(poses) == 0:
        return poses
    polys = [np.stack([np.asarray(x, np.float32), np.asarray(y, np.float32)], 1) for x, y in zip(xs, ys)
             if len(x) >= 3]
    centres = np.stack([(poses.xyxy[:, 0] + poses.xyxy[:, 2]) / 2, (poses.xyxy[:, 1] + poses.xyxy[:, 3]) / 2], 1)
    inside = np.array([any(cv2.pointPolygonTest(p, (float(cx), float(cy)), False) >= 0 for p in polys)
                       for cx, cy in centres], bool)
    return poses[np.nonzero(~inside)[0]]


def _coco_gt(dataset: PoseDataset) -> dict:
    gt = {"images": dataset.data["images"], "categories": [dict(dataset.data["categories"][0], id=1)],
          "annotations": []}
    for a in dataset.data["annotations"]:
        a = dict(a)
        kps = np.asarray(a["keypoints"], np.float32).reshape(-1, 3).copy()
        if dataset.kind == "posetrack18":
            kps[1:3] = 0  # head_bottom/head_top have no COCO counterpart
        a["keypoints"] = kps.reshape(-1).tolist()
        a["num_keypoints"] = int((kps[:, 2] > 0).sum())
        a["category_id"] = 1
        a["iscrowd"] = int(bool(a.get("iscrowd", 0)))
        if "area" not in a:
            a["area"] = float(a["bbox"][2] * a["bbox"][3])
        gt["annotations"].append(a)
    return gt


def oks_ap(dataset: PoseDataset, predictions: dict[int, FramePoses]) -> dict:
    """pycocotools keypoint evaluation: AP, AP50, AP75, APm, APl, AR, AR50, AR75."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    results = []
    for image_id, poses in predictions.items():
        for i in range(len(poses)):
            kps = poses.keypoints[i].copy()
            results.append({"image_id": image_id, "category_id": 1,
                            "keypoints": kps.reshape(-1).astype(float).tolist(),
                            # rank people by detector confidence x pose score
                            "score": float(poses.box_score[i] * poses.score[i])})
    quiet = io.StringIO()
    with contextlib.redirect_stdout(quiet):
        gt = COCO()
        gt.dataset = _coco_gt(dataset)
        gt.createIndex()
        if not results:
            return {k: 0.0 for k in ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75")}
        dt = gt.loadRes(results)
        ev = COCOeval(gt, dt, "keypoints")
        ev.params.imgIds = sorted(predictions)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    keys = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")
    return {k: max(0.0, float(v)) for k, v in zip(keys, ev.stats)}


def _head_size(ann: dict, kps: np.ndarray, names: tuple[str, ...]) -> float | None:
    if "bbox_head" in ann and ann["bbox_head"]:
        _, _, w, h = ann["bbox_head"]
        return 0.6 * float(np.hypot(w, h))
    idx = {n: i for i, n in enumerate(names)}
    top = next((idx[n] for n in _HEAD_TOP if n in idx and kps[idx[n], 2] > 0), None)
    neck = next((idx[n] for n in _NECK if n in idx and kps[idx[n], 2] > 0), None)
    if top is None or neck is None:
        return None
    return float(np.hypot(*(kps[top, :2] - kps[neck, :2])))


def pckh(dataset: PoseDataset, predictions: dict[int, FramePoses],
         threshold: float = PCKH_THRESHOLD) -> dict:
    """PCKh@threshold over the shared joints; people matched one-to-one per image."""
    from scipy.optimize import linear_sum_assignment

    joints = scored_joints(dataset.joint_names)
    src, dst = np.array(list(joints)), np.array(list(joints.values()))
    by_image: dict[int, list[dict]] = {}
    for a in dataset.data["annotations"]:
        by_image.setdefault(a["image_id"], []).append(a)
    correct = np.zeros(len(src))
    total = np.zeros(len(src))
    people = skipped = 0
    for image_id, anns in by_image.items():
        poses = predictions.get(image_id, FramePoses.empty())
        gts = []
        for a in anns:
            kps = np.asarray(a["keypoints"], np.float32).reshape(-1, 3)
            size = _head_size(a, kps, dataset.joint_names)
            vis = kps[src, 2] > 0
            if size is None or size <= 0 or not vis.any():
                skipped += 1
                continue
            gts.append((kps[src, :2], vis, size))
        if not gts:
            continue
        people += len(gts)
        # hits[g, p, j]: prediction p puts joint j of person g within threshold x head size
        hits = np.zeros((len(gts), len(poses), len(src)), bool)
        for g, (xy, vis, size) in enumerate(gts):
            if len(poses):
                d = np.linalg.norm(poses.keypoints[:, dst, :2] - xy[None], axis=-1)
                hits[g] = (d <= threshold * size) & vis[None]
        if len(poses):
            rows, cols = linear_sum_assignment(-hits.sum(-1))
            for g, p in zip(rows, cols):
                correct += hits[g, p]
        for _, vis, _ in gts:
            total += vis
    per_joint = {dataset.joint_names[s]: (float(c / t) if t else None) for s, c, t in zip(src, correct, total)}
    return {"PCKh": float(correct.sum() / max(total.sum(), 1)), "PCKh_per_joint": per_joint,
            "PCKh_threshold": threshold, "PCKh_people": people, "PCKh_people_skipped": skipped,
            "scored_joints": [dataset.joint_names[s] for s in src]}


def evaluate(dataset: PoseDataset, estimator: Callable[[np.ndarray], FramePoses],
             log: Callable[[str], None] = lambda m: None) -> dict:
    """Run ``estimator`` on the dataset and score it; one flat dict (JSON-ready)."""
    predictions = run_estimator(dataset, estimator, log)
    out = {"annotations": str(dataset.path), "format": dataset.kind,
           "images": len(dataset.data["images"]), "people": dataset.num_people,
           "predicted_people": int(sum(len(p) for p in predictions.values()))}
    if dataset.kind in ("coco", "posetrack18"):
        out.update(oks_ap(dataset, predictions))
        if dataset.kind == "posetrack18":
            out["ignored_joints"] = ["head_bottom", "head_top (and the never-labelled ears)"]
    if dataset.kind in ("pckh", "posetrack18"):
        out.update(pckh(dataset, predictions))
    return out
