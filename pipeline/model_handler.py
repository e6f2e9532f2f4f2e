"""Our RunInference ModelHandler: frames (RGB uint8 arrays) in, FramePoses out.

Beam's TensorFlow handler depends on tensorflow_hub, which does not work with TF
2.21, so the pose stage brings its own handler.  RunInference loads the model once
per worker process (through Beam's shared handle) and feeds it batches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Optional, Sequence

import numpy as np
from apache_beam.ml.inference.base import ModelHandler, PredictionResult

from tagging.detect import DetectorConfig, PersonDetector
from tagging.models import fetch_models, load_model
from tagging.pose import MultiPoseEstimator, PoseConfig, TopDownPoseEstimator


@dataclass(frozen=True)
class PoseStageConfig:
    backend: str = "topdown"
    detector: DetectorConfig = DetectorConfig()
    pose: PoseConfig = PoseConfig()

    @property
    def model_names(self) -> list[str]:
        if self.backend == "multipose":
            return ["movenet-multipose"]
        return [self.detector.model, self.pose.crop_model]

    @property
    def model_id(self) -> str:
        if self.backend == "multipose":
            return "movenet-multipose"
        tiles = f"+tiles{self.detector.tile_px}" if self.detector.tile_px else ""
        return f"{self.detector.model}{tiles}/{self.pose.crop_model}"


def build_estimator(config: PoseStageConfig):
    """Load the models of ``config`` (fetching them if missing) into an estimator."""
    fetch_models(config.model_names)
    if config.backend == "multipose":
        return MultiPoseEstimator(load_model("movenet-multipose"), config.pose)
    detector = PersonDetector(load_model(config.detector.model), config.detector)
    return TopDownPoseEstimator(detector, load_model(config.pose.crop_model), config.pose)


class PoseModelHandler(ModelHandler[np.ndarray, PredictionResult, Any]):
    """RunInference handler for the pose stage."""

    def __init__(self, config: PoseStageConfig, max_batch_size: int = 4):
        super().__init__()
        self._config = config
        self._max_batch_size = max_batch_size

    def load_model(self):
        return build_estimator(self._config)

    def run_inference(self, batch: Sequence[np.ndarray], model, inference_args: Optional[dict] = None
                      ) -> Iterable[PredictionResult]:
        # Frames are processed one by one inside the batch: the detector and crop
        # graphs take one image per call as shipped.
        return [PredictionResult(example=None, inference=model(frame), model_id=self._config.model_id)
                for frame in batch]

    def get_num_bytes(self, batch: Sequence[np.ndarray]) -> int:
        return sum(int(f.nbytes) for f in batch)

    def get_metrics_namespace(self) -> str:
        return "matchtag_pose"

    def batch_elements_kwargs(self):
        return {"min_batch_size": 1, "max_batch_size": self._max_batch_size}
