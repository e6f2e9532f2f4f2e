"""PoseNet (MobileNetV1, output stride 16) as a single-pose model on person crops.

This is the PoseNet of the TF.js PoseNet demos and of the seed course's lab, from the
same npm package as MoveNet.  The graph gives, per crop of side S (385 px here):

- ``heatmap``: (N, G, G, 17) logits, G = (S - 1) / 16 + 1 = 25;
- ``offset``: (N, G, G, 34) pixel offsets, y for joint k in channel k, x in k + 17.

Single-pose decoding (PoseNet's ``decodeSinglePose``): per joint, the cell with the
highest heatmap; position = cell x 16 + offset (crop pixels); score = sigmoid(logit).
Input pixels are scaled to -1..1 (x / 127.5 - 1), as the MobileNet PoseNet expects.
"""

from __future__ import annotations

import numpy as np

from tagging.core.keypoints import NUM_KEYPOINTS
from tagging.pose.crop_model import CropPoseModel
from tagging.pose.models import CROP_MODEL_SIZES

OUTPUT_STRIDE = 16


def decode_single_pose(heatmap_logits: np.ndarray, offsets: np.ndarray, input_size: int) -> np.ndarray:
    """(N, G, G, 17) logits and (N, G, G, 34) offsets -> (N, 17, 3) (y_rel, x_rel, score)."""
    n, gh, gw, k = heatmap_logits.shape
    if k != NUM_KEYPOINTS or offsets.shape != (n, gh, gw, 2 * k):
        raise ValueError(f"unexpected PoseNet head shapes {heatmap_logits.shape}, {offsets.shape}")
    flat = heatmap_logits.reshape(n, -1, k).argmax(axis=1)            # (N, 17)
    cy, cx = flat // gw, flat % gw
    rows, joints = np.arange(n)[:, None], np.arange(k)[None]
    logit = heatmap_logits[rows, cy, cx, joints]
    off_y = offsets[rows, cy, cx, joints]
    off_x = offsets[rows, cy, cx, joints + k]
    y = (cy * OUTPUT_STRIDE + off_y) / input_size
    x = (cx * OUTPUT_STRIDE + off_x) / input_size
    score = 1.0 / (1.0 + np.exp(-logit))
    return np.stack([y, x, score], axis=-1).astype(np.float32)


class PoseNetCrops(CropPoseModel):
    """``model(crops (N, S, S, 3) uint8/int32 RGB) -> [(N, 1, 17, 3)]`` like BatchedMoveNet."""

    def __init__(self, graph, input_size: int = CROP_MODEL_SIZES["posenet"]):
        super().__init__(graph, input_size, "posenet")

    def _predict(self, crops: np.ndarray) -> np.ndarray:
        heat, off = self.graph(crops.astype(np.float32) / 127.5 - 1.0)
        return decode_single_pose(heat, off, self.input_size)
