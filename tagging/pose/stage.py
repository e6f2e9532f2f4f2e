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
from tagging.pose.models import (CROP_MODEL_SIZES, SINGLE_POSE_MOVENETS, configure_tensorflow, fetch_models,
                                 load_graph, load_movenet)


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
        small = self.pose.small_crop_px
        if small < 0 or small % 32:
            raise ValueError(f"PoseConfig.small_crop_px must be 0 or a positive multiple of 32; got {small}")
        # Smaller crops are a MoveNet graph rewrite (tagging.pose.tfjs_convert.set_movenet_input_size),
        # and only smaller than the model's own side saves anything (Lightning is 192 px).
        if small and (self.pose.crop_model not in SINGLE_POSE_MOVENETS
                      or small >= CROP_MODEL_SIZES[self.pose.crop_model]):
            object.__setattr__(self, "pose", replace(self.pose, small_crop_px=0))

    @property
    def small_crops(self) -> bool:
        """Whether some people (the small ones) go through the crop model at a smaller side."""
        return self.backend != "multipose" and self.pose.small_crop_px > 0

    @property
    def model_names(self) -> list[str]:
        if self.backend == "multipose":
            return ["movenet-multipose"]
        return [self.detector.model, self.pose.crop_model]

    @property
    def model_id(self) -> str:
        """What the ``videos`` table's ``pose_backend`` records, e.g.
        ``centernet+autotiles/movenet-thunder+crop128px<64px+flip64px``."""
        if self.backend == "multipose":
            return "movenet-multipose"
        tiles = f"+tiles{self.detector.tile_px}" if self.detector.tile_px else ""
        if self.detector.tile_px < 0:
            tiles = "+autotiles"
        flip = ""
        if self.pose.flip_test:
            flip = f"+flip{self.pose.flip_min_height_px:g}px" if self.pose.flip_min_height_px > 0 else "+flip"
        small = (f"+crop{self.pose.small_crop_px}px<{self.pose.small_person_height_px:g}px"
                 if self.small_crops else "")
        return f"{self.detector.model}{tiles}/{self.pose.crop_model}{small}{flip}"


def build_estimator(config: PoseStageConfig):
    """Load the models of ``config`` (fetching them if missing) into an estimator."""
    configure_tensorflow(device=config.device)
    fetch_models(config.model_names)
    if config.backend == "multipose":
        return MultiPoseEstimator(load_graph("movenet-multipose"), config.pose)
    detector = PersonDetector(load_graph(config.detector.model), config.detector)
    small = load_movenet(config.pose.crop_model, config.pose.small_crop_px) if config.small_crops else None
    return TopDownPoseEstimator(detector, load_graph(config.pose.crop_model), config.pose, small)
