"""Person and ball detection: CenterNet or NanoDet graphs, whole frame plus optional tiles.

Input frames are RGB uint8 (H, W, 3).  Output is :class:`tagging.core.types.Detections`
in frame pixels after NMS: people (COCO ``person``) and, from the same model calls,
balls (COCO ``sports ball``), so finding the ball costs no second pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from tagging.core.boxes import nms
from tagging.core.types import Detections

PERSON_CLASS = 0  # COCO-80, 0-based
BALL_CLASS = 32   # COCO-80 "sports ball", 0-based


@dataclass(frozen=True)
class DetectorConfig:
    """Thresholds of the person detector."""

    model: str = "centernet"          # "centernet" or "nanodet"
    score_threshold: float = 0.25
    nms_iou: float = 0.5
    # Drop a box when this share of it lies inside a better box (tile edge halves).
    containment: float = 0.8
    # Tiles find small (distant) people a 512-px whole-frame pass misses: square tiles
    # overlapping by ``tile_overlap`` are detected in addition to the whole frame.
    # -1 = automatic (see ``tiles_for``), 0 = whole frame only, N = always tiles of N px.
    tile_px: int = -1
    tile_overlap: float = 0.25
    min_box_height_px: float = 8.0
    # Automatic tiling: only frames whose longer side exceeds the detector input by
    # this factor (smaller frames gain little: the tile would be magnified < 1.25x
    # relative to the whole-frame pass) ...
    auto_min_frame_ratio: float = 1.25
    # ... and only when the whole-frame pass finds nobody, or its median person is
    # shorter than this in detector-input pixels (CenterNet's recall drops below it).
    auto_max_person_input_px: float = 64.0
    # Automatic tile side: this share of the frame's longer side, kept within
    # [detector input / 2, detector input], i.e. tiles are magnified at most 2x.
    auto_tile_share: float = 0.4
    # Balls: a 5-15 px ball scores far lower than a person.  On 32 hand-labelled frames of
    # the Bundesliga wide shot (docs/events.md, "The ball"), 0.3 kept the ball within 10 px
    # in 83 % of the frames with it in view at 1.0 false box per frame; 0.1 reached 93 % at
    # 18 false boxes per frame, 0.4 63 % at 0.2.  Boxes larger than ``ball_max_px`` are not a
    # ball at any camera distance the pipeline is made for.
    ball_score_threshold: float = 0.3
    ball_max_px: float = 60.0
    ball_nms_iou: float = 0.3
    # A ball's box is about square; the detector's "balls" that are a player's leg or a
    # whole distant player are two to three times taller than wide.
    ball_max_aspect: float = 1.6


def letterbox(image: np.ndarray, size: int) -> tuple[np.ndarray, float]:
    """Resize keeping aspect ratio so the longer side is ``size``; pad bottom/right.

    Returns (size x size x 3 image, scale from source pixels to padded pixels).
    """
    h, w = image.shape[:2]
    scale = size / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image, (nw, nh), interpolation=interp)
    out = np.zeros((size, size, 3), image.dtype)
    out[:nh, :nw] = resized
    return out, scale


def tile_origins(width: int, height: int, tile_px: int, overlap: float) -> list[tuple[int, int, int]]:
    """(x0, y0, side) of square tiles covering the frame with the given overlap."""
    side = min(tile_px, width, height)
    step = max(1, int(side * (1 - overlap)))

    def starts(length: int) -> list[int]:
        if length <= side:
            return [0]
        n = int(np.ceil((length - side) / step)) + 1
        return [round(i * (length - side) / (n - 1)) for i in range(n)]

    return [(x, y, side) for y in starts(height) for x in starts(width)]


def decode_centernet(raw: np.ndarray, scale: float, offset_xy: tuple[float, float],
                     score_threshold: float, class_id: int = PERSON_CLASS) -> tuple[np.ndarray, np.ndarray]:
    """CenterNet ``[100, 6]`` (x1, y1, x2, y2 in input px, score, class) -> frame boxes of ``class_id``."""
    raw = raw.reshape(-1, 6)
    keep = (raw[:, 5].round() == class_id) & (raw[:, 4] >= score_threshold)
    boxes = raw[keep, :4] / scale + np.array(offset_xy * 2, np.float32)
    return boxes.astype(np.float32), raw[keep, 4].astype(np.float32)


_NANODET_MEAN = np.array([103.53, 116.28, 123.675], np.float32)
_NANODET_STD = np.array([57.375, 57.12, 58.395], np.float32)
NANODET_SIZE = 416


def decode_nanodet(outputs: list[np.ndarray], scale: float, offset_xy: tuple[float, float],
                   score_threshold: float, class_id: int = PERSON_CLASS) -> tuple[np.ndarray, np.ndarray]:
    """NanoDet heads -> frame boxes of ``class_id``.

    Per stride (8, 16, 32) there is a (cells, 80) sigmoid class map and a (cells, 44)
    box map: 4 sides x 11 bins, distance = softmax-expectation over bins x stride,
    measured from the cell centre ((col + 0.5) x stride, (row + 0.5) x stride).
    """
    cls_maps = sorted((o.reshape(-1, o.shape[-1]) for o in outputs if o.shape[-1] == 80), key=len, reverse=True)
    box_maps = sorted((o.reshape(-1, o.shape[-1]) for o in outputs if o.shape[-1] == 44), key=len, reverse=True)
    all_boxes, all_scores = [], []
    for cls_map, box_map in zip(cls_maps, box_maps):
        cells = cls_map.shape[0]
        side = int(round(np.sqrt(cells)))
        stride = NANODET_SIZE / side
        score = cls_map[:, class_id]
        keep = np.nonzero(score >= score_threshold)[0]
        if keep.size == 0:
            continue
        bins = box_map[keep].reshape(-1, 4, 11)
        bins = np.exp(bins - bins.max(axis=-1, keepdims=True))
        bins /= bins.sum(axis=-1, keepdims=True)
        dist = (bins * np.arange(11, dtype=np.float32)).sum(-1) * stride
        cx = (keep % side + 0.5) * stride
        cy = (keep // side + 0.5) * stride
        boxes = np.stack([cx - dist[:, 0], cy - dist[:, 1], cx + dist[:, 2], cy + dist[:, 3]], 1)
        all_boxes.append(boxes)
        all_scores.append(score[keep])
    if not all_boxes:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
    boxes = np.concatenate(all_boxes) / scale + np.array(offset_xy * 2, np.float32)
    return boxes.astype(np.float32), np.concatenate(all_scores).astype(np.float32)


class PersonDetector:
    """Runs a detector graph over the whole frame (and tiles, if configured).

    ``model`` is a callable ``model(batch) -> list[np.ndarray]`` (a
    :class:`tagging.pose.models.GraphModel`); tests may pass any stand-in.
    """

    def __init__(self, model: Callable[..., list[np.ndarray]], config: DetectorConfig = DetectorConfig()):
        self.model = model
        self.config = config

    def _run_view(self, view: np.ndarray, offset: tuple[float, float]
                  ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        """((person boxes, scores), (ball boxes, scores)) of one view, from one model call."""
        cfg = self.config
        if cfg.model == "centernet":
            padded, scale = letterbox(view, 512)
            (raw,) = self.model(padded[None].astype(np.float32))
            return (decode_centernet(raw[0], scale, offset, cfg.score_threshold),
                    decode_centernet(raw[0], scale, offset, cfg.ball_score_threshold, BALL_CLASS))
        padded, scale = letterbox(view[..., ::-1], NANODET_SIZE)  # NanoDet wants BGR
        x = ((padded.astype(np.float32) - _NANODET_MEAN) / _NANODET_STD).transpose(2, 0, 1)[None]
        outputs = self.model(x)
        return (decode_nanodet(outputs, scale, offset, cfg.score_threshold),
                decode_nanodet(outputs, scale, offset, cfg.ball_score_threshold, BALL_CLASS))

    @property
    def input_px(self) -> int:
        return 512 if self.config.model == "centernet" else NANODET_SIZE

    def tiles_for(self, width: int, height: int, whole_xyxy: np.ndarray) -> int:
        """Tile side for this frame (0 = no tiles), given the whole-frame boxes.

        Fixed ``tile_px`` > 0 is used as is.  Automatic (-1): tile a frame when it is
        large (longer side > ``auto_min_frame_ratio`` x the detector input) and the
        people found in it are small (median height < ``auto_max_person_input_px``
        once scaled to the detector input) or absent; the tile side is
        ``auto_tile_share`` x the longer side, within [input / 2, input].
        """
        cfg = self.config
        if cfg.tile_px >= 0:
            return cfg.tile_px
        longer = max(width, height)
        size = self.input_px
        if longer <= cfg.auto_min_frame_ratio * size:
            return 0
        scale = size / longer
        if len(whole_xyxy):
            median_h = float(np.median(whole_xyxy[:, 3] - whole_xyxy[:, 1])) * scale
            if median_h >= cfg.auto_max_person_input_px:
                return 0
        return int(np.clip(round(cfg.auto_tile_share * longer), size // 2, size))

    def detect_all(self, frame_rgb: np.ndarray) -> tuple[Detections, Detections]:
        """(people, balls) of one frame, each after NMS; the balls come from the same
        model calls (whole frame and tiles) as the people."""
        cfg = self.config
        h, w = frame_rgb.shape[:2]
        whole, whole_balls = self._run_view(frame_rgb, (0.0, 0.0))
        people, balls = [whole], [whole_balls]
        tile_px = self.tiles_for(w, h, whole[0][whole[1] >= cfg.score_threshold])
        if tile_px:
            for x0, y0, side in tile_origins(w, h, tile_px, cfg.tile_overlap):
                found, found_balls = self._run_view(frame_rgb[y0:y0 + side, x0:x0 + side], (float(x0), float(y0)))
                people.append(found)
                balls.append(found_balls)
        persons = _merge(people, w, h, lambda xyxy: (xyxy[:, 3] - xyxy[:, 1]) >= cfg.min_box_height_px,
                         cfg.nms_iou, cfg.containment)
        ball_dets = _merge(balls, w, h, lambda xyxy: ball_shaped(xyxy, cfg), cfg.ball_nms_iou, cfg.containment)
        return persons, ball_dets

    def __call__(self, frame_rgb: np.ndarray) -> Detections:
        return self.detect_all(frame_rgb)[0]


def ball_shaped(xyxy: np.ndarray, config: DetectorConfig) -> np.ndarray:
    """(N,) bool: which (N, 4) px boxes may be a ball (small enough, about square)."""
    w = np.maximum(xyxy[:, 2] - xyxy[:, 0], 1e-3)
    h = np.maximum(xyxy[:, 3] - xyxy[:, 1], 1e-3)
    aspect = np.maximum(w / h, h / w)
    return (h <= config.ball_max_px) & (w <= config.ball_max_px) & (aspect <= config.ball_max_aspect)


def _merge(results: list[tuple[np.ndarray, np.ndarray]], w: int, h: int, keep, nms_iou: float,
           containment: float) -> Detections:
    """Boxes of all views -> one frame's Detections: clipped to the frame, filtered by
    ``keep((N, 4) boxes px) -> (N,) bool``, then NMS."""
    boxes, scores = zip(*results)
    xyxy = np.concatenate(boxes)
    score = np.concatenate(scores)
    xyxy[:, [0, 2]] = xyxy[:, [0, 2]].clip(0, w)
    xyxy[:, [1, 3]] = xyxy[:, [1, 3]].clip(0, h)
    ok = keep(xyxy)
    xyxy, score = xyxy[ok], score[ok]
    keep = nms(xyxy, score, nms_iou, containment)
    return Detections(xyxy[keep], score[keep])
