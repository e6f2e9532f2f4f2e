"""Pose estimation backends: frames in (RGB uint8, H x W x 3), :class:`FramePoses` out.

- ``TopDownPoseEstimator``: person detector, then a single-pose model (MoveNet
  Lightning/Thunder or PoseNet) on a square crop (``crop_scale`` x the box's longer
  side) around each person; all crops of a frame go through the model in one call.
  Its steps (``detect``, then ``run_crops`` and ``assemble``) are public so the Beam
  pipeline can batch crops across frames.
- ``MultiPoseEstimator``: MoveNet MultiPose on the whole frame (at most 6 people).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from tagging.core.boxes import square_crop_box
from tagging.core.keypoints import MIRROR_INDEX, NUM_KEYPOINTS
from tagging.core.types import Detections, FramePoses
from tagging.pose.detector import PersonDetector
from tagging.pose.models import CROP_MODEL_SIZES
from tagging.scene.context import ball_context, feet_to_grass_edge, fit_grass, person_context
from tagging.track.teams import torso_colours

Model = Callable[..., list[np.ndarray]]


@dataclass(frozen=True)
class PoseConfig:
    """Settings of the pose stage."""

    # Thunder: higher OKS AP than Lightning at every person size measured (docs/pose.md).
    crop_model: str = "movenet-thunder"
    crop_scale: float = 1.25
    max_crops_per_call: int = 8       # bounds memory on frames with many people
    min_keypoint_score: float = 0.2   # keypoints below this do not count in the pose score
    min_pose_score: float = 0.15      # people whose pose score is below this are dropped
    # Flip test: each crop also goes through the model mirrored (in the same call), and
    # the two results are averaged (keypoints un-mirrored, left/right swapped).  Costs
    # twice the crop-model work; gained +0.013 OKS AP on COCO and on PoseTrack18, and
    # +0.013 PCKh on PoseTrack18 (docs/pose.md, "Flip test").
    flip_test: bool = True
    # ... but only for people at least this tall (person box height, frame pixels).  On
    # COCO people shrunk to a given height the flip test gained +0.002..+0.013 AP at
    # 64-214 px and swung from -0.061 to +0.024 at 32-43 px: below 64 px it buys nothing
    # dependable for twice the work, and wide shots are mostly such players (docs/pose.md,
    # "Flip test by person size").  0 = everyone.
    flip_min_height_px: float = 64.0
    # Crop side by person size: people shorter than ``small_person_height_px`` (person box
    # height, frame pixels) go through the same MoveNet at ``small_crop_px`` instead of its
    # native side (Thunder 256).  A 30 px player's crop is ~38 px of frame upsampled either
    # way; at 128 px the model costs about a quarter (docs/pose.md, "Crop side by person
    # size").  0 = every crop at the native side.  MoveNet only, multiple of 32.
    small_crop_px: int = 224
    small_person_height_px: float = 64.0
    # MoveNet MultiPose is trained for a longer side of 256 px (its model card); the
    # frame is scaled to at most this and padded to multiples of 32.
    multipose_max_side: int = 256
    multipose_min_person_score: float = 0.2


def merge_flipped(raw: np.ndarray, raw_mirrored: np.ndarray) -> np.ndarray:
    """Average (N, 17, 3) (y, x, score) crop outputs with those of the mirrored crops.

    The mirrored result is mapped back (x -> 1 - x, left and right keypoints swapped)
    and both positions and scores are averaged: the usual flip test of pose models.
    """
    back = np.asarray(raw_mirrored, np.float32)[:, list(MIRROR_INDEX)].copy()
    back[..., 1] = 1.0 - back[..., 1]
    return ((np.asarray(raw, np.float32) + back) / 2).astype(np.float32)


def extract_crop(frame: np.ndarray, box: np.ndarray, size: int) -> np.ndarray:
    """Square ``box`` (x1, y1, x2, y2; may leave the frame) resampled to size x size.

    Outside the frame is black, as MoveNet's own padding is.
    """
    x1, y1, x2, y2 = (float(v) for v in box)
    s = size / max(x2 - x1, 1e-6)
    m = np.array([[s, 0, -x1 * s], [0, s, -y1 * s]], np.float32)
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    return cv2.warpAffine(frame, m, (size, size), flags=interp, borderMode=cv2.BORDER_CONSTANT)


def movenet_to_frame(raw: np.ndarray, crop_box: np.ndarray) -> np.ndarray:
    """MoveNet (17, 3) (y, x, score) relative to the crop -> (17, 3) (x_px, y_px, score)."""
    raw = raw.reshape(NUM_KEYPOINTS, 3)
    x1, y1, x2, _ = crop_box
    side = x2 - x1
    return np.stack([x1 + raw[:, 1] * side, y1 + raw[:, 0] * side, raw[:, 2]], axis=1)


def clip_to_frame(keypoints: np.ndarray, frame_hw: tuple[int, int]) -> np.ndarray:
    """(N, 17, 3) (x_px, y_px, score) with x clipped to [0, width - 1] and y to [0, height - 1].

    A crop around a person at the frame's edge reaches past it (black padding), and the model
    can place a cut-off limb there: x reached 770.8 on a 768-px-wide frame.  The keypoint is
    kept, on the edge, with its score: the tables promise every keypoint on a pixel of the frame.
    """
    h, w = frame_hw
    out = np.array(keypoints, np.float32, copy=True)
    out[..., 0] = out[..., 0].clip(0, max(w - 1, 0))
    out[..., 1] = out[..., 1].clip(0, max(h - 1, 0))
    return out


class TopDownPoseEstimator:
    """Detector boxes -> single-pose model on each person crop, one batched call per frame.

    ``crop_model(crops (N, S, S, 3) int32) -> [(N, 1, 17, 3)]`` (y, x, score) relative
    to each crop: :class:`tagging.pose.movenet.BatchedMoveNet` or
    :class:`tagging.pose.posenet.PoseNetCrops`.
    """

    def __init__(self, detector: PersonDetector, crop_model: Model, config: PoseConfig = PoseConfig(),
                 small_crop_model: Model | None = None):
        """``small_crop_model``: the crop model at ``config.small_crop_px`` (e.g.
        ``load_movenet(name, 128)``); without it every crop runs at the native side."""
        self.detector = detector
        self.crop_model = crop_model
        self.config = config
        self.crop_size = CROP_MODEL_SIZES[config.crop_model]
        self.models_by_side = {self.crop_size: crop_model}
        for model, size in ((crop_model, self.crop_size), (small_crop_model, config.small_crop_px)):
            model_size = getattr(model, "input_size", size)
            if model_size != size:
                raise ValueError(f"PoseConfig.crop_model is {config.crop_model} ({size} px crops) but the "
                                 f"crop model given takes {model_size} px crops")
        if small_crop_model is not None:
            self.models_by_side[config.small_crop_px] = small_crop_model

    def locate(self, frame_rgb: np.ndarray) -> tuple[Detections, np.ndarray, Detections | None]:
        """People in the frame, the (N, 4) square crop box around each, and the balls (None
        from a detector that only finds people: any callable ``frame -> Detections``)."""
        detect_all = getattr(self.detector, "detect_all", None)
        dets, balls = detect_all(frame_rgb) if detect_all else (self.detector(frame_rgb), None)
        return dets, square_crop_box(dets.xyxy, self.config.crop_scale), balls

    def detect(self, frame_rgb: np.ndarray
               ) -> tuple[Detections, np.ndarray, np.ndarray, np.ndarray, tuple[int, int], tuple]:
        """Everything that needs the frame: ``(detections, crop boxes (N, 4), crops (N, S, S, 3)
        uint8, torso colours (N, 4), frame (height, width) px, scene)``, ``scene`` = ``(balls
        Detections, (N, 3) pitch / feet-to-grass-edge px / body heights)`` (tagging.scene.context).
        Crops are at each person's side (:meth:`crop_sides`): (S_i, S_i, 3) arrays in a list
        when sides differ.  The colours, the grass and the frame size are taken here because the frame does not
        travel past this step in the pipeline (colours feed team assignment after tracking;
        the size bounds the keypoints; the feet are the box's bottom centre, the keypoints
        are not known yet)."""
        dets, crop_boxes, balls = self.locate(frame_rgb)
        pitch = feet_to_grass_edge(fit_grass(frame_rgb), dets.xyxy)
        return (dets, crop_boxes, self.crops(frame_rgb, crop_boxes, self.crop_sides(dets)),
                torso_colours(frame_rgb, dets.xyxy),
                frame_rgb.shape[:2], (balls, pitch))

    def crop_sides(self, dets: Detections) -> np.ndarray:
        """(N,) int: the crop side in pixels each person goes through the crop model at."""
        cfg = self.config
        sides = np.full(len(dets), self.crop_size, int)
        if cfg.small_crop_px in self.models_by_side and cfg.small_crop_px != self.crop_size:
            sides[(dets.xyxy[:, 3] - dets.xyxy[:, 1]) < cfg.small_person_height_px] = cfg.small_crop_px
        return sides

    def crops(self, frame_rgb: np.ndarray, crop_boxes: np.ndarray,
              sides: np.ndarray | None = None) -> np.ndarray | list[np.ndarray]:
        """Crops for the model: (N, S, S, 3) uint8 at the native side when ``sides`` (N,) is
        None or all native, else a list of N (S_i, S_i, 3) uint8 arrays."""
        if sides is None or np.all(np.asarray(sides) == self.crop_size):
            out = np.zeros((len(crop_boxes), self.crop_size, self.crop_size, 3), np.uint8)
            for i, box in enumerate(crop_boxes):
                out[i] = extract_crop(frame_rgb, box, self.crop_size)
            return out
        return [extract_crop(frame_rgb, box, int(side)) for box, side in zip(crop_boxes, sides)]

    def flip_mask(self, dets: Detections) -> np.ndarray:
        """(N,) bool: which people get the flip test (``flip_test`` and tall enough)."""
        heights = dets.xyxy[:, 3] - dets.xyxy[:, 1]
        return np.asarray(self.config.flip_test & (heights >= self.config.flip_min_height_px), bool)

    def run_crops(self, crops, flip: np.ndarray | None = None) -> np.ndarray:
        """(N, S, S, 3) crops, or a sequence of N (S_i, S_i, 3) crops of the sides in
        ``models_by_side`` -> (N, 17, 3) (y, x, score) relative to each crop.

        ``flip`` (N,) bool picks the crops whose mirrored copy runs too, in the same
        calls, the two results averaged (:func:`merge_flipped`); None = every crop when
        ``flip_test`` is on (callers that know the boxes pass :meth:`flip_mask`).
        Crops of each side go through their model together.
        """
        n = len(crops)
        flip = np.full(n, self.config.flip_test) if flip is None else np.asarray(flip, bool).reshape(n)
        if isinstance(crops, np.ndarray) and crops.ndim == 4:
            return self._run_same_side(crops, flip, crops.shape[1])
        sides = np.array([c.shape[0] for c in crops], int)
        out = np.zeros((n, NUM_KEYPOINTS, 3), np.float32)
        for side in np.unique(sides):
            idx = np.flatnonzero(sides == side)
            out[idx] = self._run_same_side(np.stack([crops[i] for i in idx]), flip[idx], int(side))
        return out

    def _run_same_side(self, crops: np.ndarray, flip: np.ndarray, side: int) -> np.ndarray:
        # Crops of another side go to the native model, whose own check names the mismatch.
        model = self.models_by_side.get(side, self.crop_model)
        n = len(crops)
        flipped = np.flatnonzero(flip)
        if len(flipped):
            crops = np.concatenate([crops, crops[flipped][:, :, ::-1]])
        step = max(1, self.config.max_crops_per_call)
        parts = [model(crops[i:i + step].astype(np.int32))[0].reshape(-1, NUM_KEYPOINTS, 3)
                 for i in range(0, len(crops), step)]
        raw = np.concatenate(parts) if parts else np.zeros((0, NUM_KEYPOINTS, 3), np.float32)
        out = raw[:n].copy()
        if len(flipped):
            out[flipped] = merge_flipped(raw[flipped], raw[n:])
        return out

    def assemble(self, dets: Detections, crop_boxes: np.ndarray, raw: np.ndarray, frame_hw: tuple[int, int],
                 appearance: np.ndarray | None = None, scene: tuple | None = None) -> FramePoses:
        """Model outputs (N, 17, 3) for the people of one frame -> FramePoses in frame pixels,
        keypoints clipped to the frame of ``frame_hw`` (height, width) px (:func:`clip_to_frame`).

        ``appearance``: (N, 4) torso colours of the detections (``tagging.track.teams.torso_colours``).
        ``scene``: ``(balls, pitch (N, 3))`` from :meth:`detect`; it gives the poses their
        ``balls`` and ``context`` (the ball relative to the hands needs the keypoints).
        """
        cfg = self.config
        balls = None if scene is None else scene[0]
        if len(dets) == 0:
            empty = FramePoses.empty()
            empty.balls = balls
            return empty
        keypoints = clip_to_frame(np.stack([movenet_to_frame(r, box) for r, box in zip(raw, crop_boxes)]),
                                  frame_hw)
        poses = FramePoses.from_keypoints(keypoints, dets.xyxy, dets.score, cfg.min_keypoint_score)
        if appearance is not None:
            poses.appearance = np.asarray(appearance, np.float32).reshape(-1, 4)
        if scene is not None:
            poses.balls = balls
            ball = (ball_context(None, None, dets.xyxy, keypoints) if balls is None
                    else ball_context(balls.xyxy, balls.score, dets.xyxy, keypoints))
            poses.context = np.concatenate([ball, np.asarray(scene[1], np.float32)], 1)
        return poses[poses.score >= cfg.min_pose_score]

    def __call__(self, frame_rgb: np.ndarray) -> FramePoses:
        dets, crop_boxes, crops, colours, frame_hw, scene = self.detect(frame_rgb)
        raw = self.run_crops(crops, self.flip_mask(dets)) if len(dets) else np.zeros((0, NUM_KEYPOINTS, 3))
        return self.assemble(dets, crop_boxes, raw, frame_hw, colours, scene)


class MultiPoseEstimator:
    """MoveNet MultiPose on the whole frame; returns at most 6 people by design."""

    def __init__(self, model: Model, config: PoseConfig = PoseConfig()):
        self.model = model
        self.config = config

    def __call__(self, frame_rgb: np.ndarray) -> FramePoses:
        cfg = self.config
        h, w = frame_rgb.shape[:2]
        scale = min(1.0, cfg.multipose_max_side / max(h, w))
        nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
        ph, pw = -(-nh // 32) * 32, -(-nw // 32) * 32
        padded = np.zeros((ph, pw, 3), np.int32)
        padded[:nh, :nw] = cv2.resize(frame_rgb, (nw, nh), interpolation=cv2.INTER_AREA)
        (raw,) = self.model(padded[None])
        people = raw[0]  # (6, 56)
        kps = people[:, :51].reshape(-1, NUM_KEYPOINTS, 3)
        # relative to the padded input -> frame pixels
        keypoints = clip_to_frame(np.stack([kps[..., 1] * pw / scale, kps[..., 0] * ph / scale, kps[..., 2]], -1),
                                  (h, w))
        ymin, xmin, ymax, xmax, box_score = (people[:, 51 + i] for i in range(5))
        xyxy = np.stack([xmin * pw, ymin * ph, xmax * pw, ymax * ph], 1) / scale
        xyxy[:, [0, 2]] = xyxy[:, [0, 2]].clip(0, w)
        xyxy[:, [1, 3]] = xyxy[:, [1, 3]].clip(0, h)
        poses = FramePoses.from_keypoints(keypoints, xyxy, box_score, cfg.min_keypoint_score)
        keep = (poses.box_score >= cfg.multipose_min_person_score) & (poses.score >= cfg.min_pose_score)
        poses = poses[keep]
        poses.appearance = torso_colours(frame_rgb, poses.xyxy, poses.keypoints)  # for team colours
        # MultiPose finds no balls: the ball is unknown, the pitch is measured.
        poses.context = person_context(frame_rgb, poses.xyxy, poses.keypoints)
        return poses
