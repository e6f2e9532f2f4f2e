"""COCO-17 keypoints: index, mirror and skeleton tables built on the names in ``schemas``."""

from __future__ import annotations

from schemas.tables import KEYPOINT_NAMES  # the column order of the poses table

NUM_KEYPOINTS = len(KEYPOINT_NAMES)
KP = {name: i for i, name in enumerate(KEYPOINT_NAMES)}

# Index of each keypoint's mirror image (left <-> right; the nose is its own).
MIRROR_INDEX: tuple[int, ...] = tuple(
    KP[n.replace("left_", "right_")] if n.startswith("left_") else
    KP[n.replace("right_", "left_")] if n.startswith("right_") else KP[n]
    for n in KEYPOINT_NAMES)

# Limbs drawn between keypoints (index pairs into KEYPOINT_NAMES).
SKELETON: tuple[tuple[int, int], ...] = (
    (KP["left_ankle"], KP["left_knee"]), (KP["left_knee"], KP["left_hip"]),
    (KP["right_ankle"], KP["right_knee"]), (KP["right_knee"], KP["right_hip"]),
    (KP["left_hip"], KP["right_hip"]), (KP["left_shoulder"], KP["left_hip"]),
    (KP["right_shoulder"], KP["right_hip"]), (KP["left_shoulder"], KP["right_shoulder"]),
    (KP["left_shoulder"], KP["left_elbow"]), (KP["left_elbow"], KP["left_wrist"]),
    (KP["right_shoulder"], KP["right_elbow"]), (KP["right_elbow"], KP["right_wrist"]),
    (KP["nose"], KP["left_eye"]), (KP["nose"], KP["right_eye"]),
    (KP["left_eye"], KP["left_ear"]), (KP["right_eye"], KP["right_ear"]),
)
