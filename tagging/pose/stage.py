"""The pose stage as one configuration: which backend and models, and the estimator it builds.

``PoseStageConfig`` is what the pipeline's options turn into, what ``matchtag evaluate
pose`` scores, and what the RunInference handlers share (one estimator per config and
worker process).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional

from tagging.pose.detector import DetectorConfig, PersonDetector
from tagging.pose.estimators import MultiPoseEstimator, PoseConfig, TopDownPoseEstimator
from tagging.pose.models import configure_tensorflow, fetch_models, load_graph


@dataclass(frozen=True)
class PoseStageConfig:
    backend: str = "topdown"                    # topdown | posenet | multipose
    detector: DetectorConfig = DetectorConfig()
    pose: PoseConfig = PoseConfig()
    # TensorFlow device on the worker: None = $MATCHTAG_DEVICE, else auto (GPU when visible).
    device: Optional[str] = None

    def __post_init__(self):
        # ``posenet`` is the top-down backend with PoseNet on the crops.
        if self.backend == "posenet" and self.pose.crop_model != "posenet":
            object.__setattr__(self, "pose", replace(self.pose, crop_model="posenet"))
        # The flip test is for the MoveNet crop models.  PoseNet is here to reproduce
        # the course's lab as it was, and flipping measured slightly worse for it
        # (COCO AP 0.413 against 0.420; docs/pose.md).
        if self.pose.crop_model == "posenet" and self.pose.flip_test:
            object.__setattr__(self, "pose", replace(self.pose, flip_test=False))

    @property
    def model_names(self) -> list[str]:
        if self.backend == "multipose":
            return ["movenet-multipose"]
        return [self.detector.model, self.pose.crop_model]

    @property
    def model_id(self) -> str:
        """What the ``videos`` table's ``pose_backend`` records, e.g. ``centernet+autotiles/movenet-thunder+flip64px``."""
        if self.backend == "multipose":
            return "movenet-multipose"
        tiles = f"+tiles{self.detector.tile_px}" if self.detector.tile_px else ""
        if self.detector.tile_px < 0:
            tiles = "+autotiles"
        flip = ""
        if self.pose.flip_test:
            flip = f"+flip{self.pose.flip_min_height_px:g}px" if self.pose.flip_min_height_px > 0 else "+flip"
        return f"{self.detector.model}{tiles}/{self.pose.crop_model}{flip}"


def build_estimator(config: PoseStageConfig):
    """Load the models of ``config`` (fetching them if missing) into an estimator."""
    configure_tensorflow(device=config.device)
    fetch_models(config.model_names)
    if config.backend == "multipose":
        return MultiPoseEstimator(load_graph("movenet-multipose"), config.pose)
    detector = PersonDetector(load_graph(config.detector.model), config.detector)
    return TopDownPoseEstimator(detector, load_graph(config.pose.crop_model), config.pose)
