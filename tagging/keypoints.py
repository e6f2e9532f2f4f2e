"""COCO-17 keypoints: the one place their names, order and skeleton are defined."""

from __future__ import annotations

KEYPOINT_NAMES: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)
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
