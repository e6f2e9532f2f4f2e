"""Ball detection against hand labels: recall at IoU 0.3 and at a centre distance, false detections.

Labels are a CSV ``frame_index,visible,x1,y1,x2,y2`` (frame pixels; ``visible=0``: the
ball is not in view in that frame, the box columns empty).  Detections are rows
``frame_index, x1, y1, x2, y2, score`` (the ``balls`` table, or a CSV of the same
columns).  Only labelled frames are scored.

- **Recall** (any): a visible ball counts as found when some detection of its frame
  overlaps it at IoU >= ``iou`` (or has its centre within ``centre_px``).
- **Top-1 recall**: the frame's highest-scoring detection is the one that matches: what a
  consumer that takes "the ball" of a frame gets.
- **False detections per frame**: detections matching no labelled ball, over all
  labelled frames (the frames without a visible ball included).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

LABEL_COLUMNS = ("frame_index", "visible", "x1", "y1", "x2", "y2")
DETECTION_COLUMNS = ("frame_index", "x1", "y1", "x2", "y2", "score")


class BallLabelError(ValueError):
    """A labels or detections file that cannot be used; the message names it."""


def _read_csv(path: str, columns: tuple[str, ...], what: str) -> pd.DataFrame:
    try:
        df = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise BallLabelError(f"{path}: cannot read the {what} CSV: {exc}") from None
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise BallLabelError(f"{path}: missing column(s) {', '.join(missing)}; expected {','.join(columns)}")
    return df


def read_labels(path: str) -> pd.DataFrame:
    """The labels CSV, checked: one row per frame, boxes present and ordered where visible."""
    df = _read_csv(path, LABEL_COLUMNS, "labels")
    if df.empty:
        raise BallLabelError(f"{path}: no labelled frames")
    if df["frame_index"].duplicated().any():
        dup = int(df.loc[df["frame_index"].duplicated(), "frame_index"].iloc[0])
        raise BallLabelError(f"{path}: frame {dup} is labelled twice")
    bad_vis = ~df["visible"].isin([0, 1])
    if bad_vis.any():
        raise BallLabelError(f"{path}: visible must be 0 or 1 (row {int(np.argmax(bad_vis)) + 2})")
    vis = df[df["visible"] == 1]
    box = vis[["x1", "y1", "x2", "y2"]].apply(pd.to_numeric, errors="coerce")
    bad = box.isna().any(axis=1) | (box["x2"] <= box["x1"]) | (box["y2"] <= box["y1"])
    if bad.any():
        raise BallLabelError(f"{path}: frame {int(vis.loc[bad, 'frame_index'].iloc[0])} is visible but its box "
                             "is missing or has x2 <= x1 or y2 <= y1")
    return df.astype({"frame_index": np.int64, "visible": np.int64})


def read_detections_csv(path: str) -> pd.DataFrame:
    """Ball boxes ``frame_index,x1,y1,x2,y2,score`` (frame pixels), as bench/ball_detections.py writes them."""
    return _read_csv(path, DETECTION_COLUMNS, "detections")


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    x1 = np.maximum(box[0], boxes[:, 0])
    y1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[2], boxes[:, 2])
    y2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def _centre_dist(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    c = (box[:2] + box[2:]) / 2
    cs = (boxes[:, :2] + boxes[:, 2:]) / 2
    return np.hypot(cs[:, 0] - c[0], cs[:, 1] - c[1])


@dataclass
class BallScores:
    frames: int                       # labelled frames
    visible: int                      # of which with the ball in view
    min_score: float
    recall_iou: float                 # any detection at IoU >= iou
    recall_centre: float              # any detection within centre_px
    top1_recall_iou: float
    top1_recall_centre: float
    false_per_frame: float            # detections matching no ball (centre_px), per labelled frame
    detections_per_frame: float
    iou: float
    centre_px: float

    def to_dict(self) -> dict:
        return asdict(self)


def score_balls(labels: pd.DataFrame, detections: pd.DataFrame, iou: float = 0.3, centre_px: float = 10.0,
                min_score: float = 0.0) -> BallScores:
    """Score ``detections`` (DETECTION_COLUMNS) against ``labels`` (LABEL_COLUMNS, :func:`read_labels`)."""
    det = detections[detections["score"] >= min_score]
    by_frame = {int(f): g for f, g in det.groupby("frame_index")}
    hits = {"iou": 0, "centre": 0, "top_iou": 0, "top_centre": 0}
    false = total = 0
    vis_n = 0
    for row in labels.itertuples(index=False):
        g = by_frame.get(int(row.frame_index))
        boxes = np.zeros((0, 4)) if g is None else g[["x1", "y1", "x2", "y2"]].to_numpy(np.float64)
        scores = np.zeros(0) if g is None else g["score"].to_numpy(np.float64)
        total += len(boxes)
        if int(row.visible) != 1:
            false += len(boxes)
            continue
        vis_n += 1
        truth = np.array([row.x1, row.y1, row.x2, row.y2], np.float64)
        if not len(boxes):
            continue
        ious, dists = _iou(truth, boxes), _centre_dist(truth, boxes)
        top = int(np.argmax(scores))
        hits["iou"] += bool((ious >= iou).any())
        hits["centre"] += bool((dists <= centre_px).any())
        hits["top_iou"] += bool(ious[top] >= iou)
        hits["top_centre"] += bool(dists[top] <= centre_px)
        false += int((dists > centre_px).sum())
    n = len(labels)
    share = (lambda k: hits[k] / vis_n) if vis_n else (lambda k: float("nan"))
    return BallScores(n, vis_n, float(min_score), share("iou"), share("centre"), share("top_iou"),
                      share("top_centre"), false / n, total / n, float(iou), float(centre_px))
