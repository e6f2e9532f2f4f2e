"""What the single-pose crop models share: the call contract of the top-down estimator.

``model(crops (N, S, S, 3) uint8/int32 RGB) -> [(N, 1, 17, 3)]`` with (y, x, score)
relative to each crop.  Subclasses decode their own graph's heads in ``_predict``.
"""

from __future__ import annotations

import numpy as np

from tagging.core.keypoints import NUM_KEYPOINTS


class CropPoseModel:
    def __init__(self, graph, input_size: int, name: str):
        self.graph = graph
        self.input_size = input_size
        self.name = name

    def __call__(self, crops: np.ndarray) -> list[np.ndarray]:
        crops = np.asarray(crops)
        if crops.ndim != 4 or crops.shape[1:] != (self.input_size, self.input_size, 3):
            raise ValueError(f"{self.name}: crops must be (N, {self.input_size}, {self.input_size}, 3); "
                             f"got {crops.shape}")
        if len(crops) == 0:
            return [np.zeros((0, 1, NUM_KEYPOINTS, 3), np.float32)]
        return [self._predict(crops)[:, None]]

    def _predict(self, crops: np.ndarray) -> np.ndarray:
        """(N, S, S, 3) crops, N >= 1 -> (N, 17, 3) (y, x, score) relative to each crop."""
        raise NotImplementedError
