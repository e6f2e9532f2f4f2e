"""MoveNet single-pose on a batch of crops: numpy decoding of the heads' raw tensors.

The shipped graph decodes one crop; :func:`tagging.pose.tfjs_convert.make_movenet_batchable`
makes its backbone take N crops, and :func:`decode_singlepose` repeats the graph's
own decoding tail per crop, vectorised:

1. the person centre is the argmax of the centre heatmap weighted towards the crop
   centre (``centre_weight``, a constant of the graph);
2. each joint is first placed by the regression head at that centre;
3. the joint heatmap, divided by (distance to that first guess + ``distance_bias``),
   gives the joint's cell; the offset head refines it inside the cell;
4. the joint score is the heatmap value at that cell.

Outputs are (N, 17, 3) ``(y, x, score)`` relative to the crop (0..1), MoveNet's own
convention.  ``BatchedMoveNet(model)(crops)`` returns ``[(N, 1, 17, 3)]``, the shape
of the original graph's ``Identity:0`` with batch N.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tagging.core.keypoints import NUM_KEYPOINTS
from tagging.pose.crop_model import CropPoseModel


@dataclass(frozen=True)
class MoveNetConstants:
    """Decoding constants read from the graph (float16-rounded as shipped)."""

    centre_weight: np.ndarray   # (H, W, 1): weights the centre heatmap towards the crop centre
    distance_bias: float        # added to the joint-to-regressed-position distance
    grid_y: np.ndarray          # (H, W, 1) row index of each cell
    grid_x: np.ndarray          # (H, W, 1) column index of each cell
    output_scale: np.ndarray    # (2,) cell -> relative crop coordinate (about 1/H)


def decode_singlepose(heatmaps: np.ndarray, centre: np.ndarray, regression: np.ndarray,
                      offsets: np.ndarray, c: MoveNetConstants) -> np.ndarray:
    """Heads (N, H, W, 17|1|34|34) -> (N, 17, 3) (y_rel, x_rel, score)."""
    n, h, w, k = heatmaps.shape
    if k != NUM_KEYPOINTS or centre.shape != (n, h, w, 1) or regression.shape != (n, h, w, 2 * k) \
            or offsets.shape != (n, h, w, 2 * k):
        raise ValueError(f"unexpected MoveNet head shapes {heatmaps.shape}, {centre.shape}, "
                         f"{regression.shape}, {offsets.shape}")
    rows = np.arange(n)
    weighted = (centre * c.centre_weight[None]).reshape(n, -1)
    flat = weighted.argmax(axis=1)
    cy, cx = flat // w, flat - (flat // w) * w
    reg = regression[rows, cy, cx].reshape(n, k, 2)                       # (N, 17, [dy, dx])
    guess_y = cy[:, None].astype(np.float32) + reg[..., 0]               # (N, 17)
    guess_x = cx[:, None].astype(np.float32) + reg[..., 1]
    dist = np.sqrt(np.square(c.grid_y[None] - guess_y[:, None, None, :])
                   + np.square(c.grid_x[None] - guess_x[:, None, None, :])) + np.float32(c.distance_bias)
    flat_k = (heatmaps / dist).reshape(n, -1, k).argmax(axis=1)           # (N, 17)
    ky, kx = flat_k // w, flat_k - (flat_k // w) * w
    joints = np.arange(k)
    off = offsets[rows[:, None], ky, kx].reshape(n, k, k, 2)[:, joints, joints]   # (N, 17, 2)
    y = (ky.astype(np.float32) + off[..., 0]) * c.output_scale[0]
    x = (kx.astype(np.float32) + off[..., 1]) * c.output_scale[1]
    score = heatmaps[rows[:, None], ky, kx, joints[None]]
    return np.stack([y, x, score], axis=-1).astype(np.float32)


class BatchedMoveNet(CropPoseModel):
    """A batchable MoveNet graph as ``model(crops (N, S, S, 3) int32) -> [(N, 1, 17, 3)]``.

    ``graph``: a :class:`tagging.pose.models.GraphModel` whose outputs are the four heads
    (heatmaps, centre, regression, offsets) and which exposes ``constant(name)``.
    """

    def __init__(self, graph, constants: MoveNetConstants, input_size: int):
        super().__init__(graph, input_size, getattr(graph, "name", "movenet"))
        self.constants = constants

    def _predict(self, crops: np.ndarray) -> np.ndarray:
        heat, centre, reg, off = self.graph(crops.astype(np.int32, copy=False))
        return decode_singlepose(heat, centre, reg, off, self.constants)
