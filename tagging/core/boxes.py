"""Pure box helpers: IoU, containment, NMS, square crops.  Boxes are (N, 4) xyxy pixels."""

from __future__ import annotations

import numpy as np


def box_area(xyxy: np.ndarray) -> np.ndarray:
    xyxy = np.asarray(xyxy, np.float32).reshape(-1, 4)
    return np.clip(xyxy[:, 2] - xyxy[:, 0], 0, None) * np.clip(xyxy[:, 3] - xyxy[:, 1], 0, None)


def _intersection(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = np.asarray(a, np.float32).reshape(-1, 4)
    b = np.asarray(b, np.float32).reshape(-1, 4)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    return np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) intersection over union."""
    inter = _intersection(a, b)
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0).astype(np.float32)


def containment_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) share of each box in ``a`` that lies inside each box in ``b``."""
    inter = _intersection(a, b)
    area = box_area(a)[:, None]
    return np.where(area > 0, inter / np.maximum(area, 1e-9), 0.0).astype(np.float32)


def nms(xyxy: np.ndarray, score: np.ndarray, iou_threshold: float,
        containment_threshold: float | None = None) -> np.ndarray:
    """Greedy non-maximum suppression; returns kept indices, best score first.

    With ``containment_threshold``, a box is also dropped when that share of it lies
    inside a better-scoring kept box (a half-person cut by a tile edge, a torso box
    inside a full-body box).
    """
    xyxy = np.asarray(xyxy, np.float32).reshape(-1, 4)
    order = np.argsort(-np.asarray(score, np.float32), kind="stable")
    keep: list[int] = []
    for i in order:
        if keep:
            kept = xyxy[keep]
            if iou_matrix(xyxy[i:i + 1], kept).max() > iou_threshold:
                continue
            if containment_threshold is not None and \
                    containment_matrix(xyxy[i:i + 1], kept).max() > containment_threshold:
                continue
        keep.append(int(i))
    return np.asarray(keep, np.int64)


def square_crop_box(xyxy: np.ndarray, scale: float) -> np.ndarray:
    """(N, 4) square boxes centred on each box, side = ``scale`` x its longer side."""
    xyxy = np.asarray(xyxy, np.float32).reshape(-1, 4)
    cx = (xyxy[:, 0] + xyxy[:, 2]) / 2
    cy = (xyxy[:, 1] + xyxy[:, 3]) / 2
    side = np.maximum(xyxy[:, 2] - xyxy[:, 0], xyxy[:, 3] - xyxy[:, 1]) * scale
    side = np.maximum(side, 1.0)
    return np.stack([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2], axis=1)
