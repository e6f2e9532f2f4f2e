"""Our RunInference ModelHandlers for the pose stage.

Beam's TensorFlow handler depends on tensorflow_hub, which does not work with TF
2.21, so the pose stage brings its own handlers:

- ``PoseModelHandler``: frames in, FramePoses out (the MultiPose backend, and any
  caller that wants one step);
- ``DetectModelHandler`` + ``CropPoseModelHandler``: the top-down backend in two
  RunInference steps, so that person crops from many frames form one model batch
  (``BatchElements`` over crops, not frames).

All handlers of one worker process share one estimator per configuration
(:func:`shared_estimator`), so the detector and crop graphs are loaded once.
"""

from __future__ import annotations

import threading
from typing import Any, Iterable, Optional, Sequence

import numpy as np
from apache_beam.ml.inference.base import ModelHandler, PredictionResult

from tagging.pose.stage import PoseStageConfig, build_estimator

_SHARED: dict = {}
_SHARED_LOCK = threading.Lock()


def shared_estimator(config: PoseStageConfig):
    """One estimator per configuration and worker process (loaded on first use).

    Beam's RunInference shares a model per handler; the top-down stage has two
    handlers (detection, crops) that need the same graphs, so they share this one.
    """
    with _SHARED_LOCK:
        if config not in _SHARED:
            _SHARED[config] = build_estimator(config)
        return _SHARED[config]


class _SharedEstimatorHandler(ModelHandler[np.ndarray, PredictionResult, Any]):
    """What our three handlers share: the per-process estimator, batch sizes, byte counts.

    Subclasses define ``run_inference`` and ``namespace``.
    """

    namespace = "matchtag_pose"

    def __init__(self, config: PoseStageConfig, max_batch_size: int = 4):
        super().__init__()
        self._config = config
        self._max_batch_size = max_batch_size

    def load_model(self):
        return shared_estimator(self._config)

    def get_num_bytes(self, batch: Sequence) -> int:
        # elements are arrays, or (crop, flip) pairs for the crop step
        return sum(int((a[0] if isinstance(a, tuple) else a).nbytes) for a in batch)

    def get_metrics_namespace(self) -> str:
        return self.namespace

    def batch_elements_kwargs(self):
        return {"min_batch_size": 1, "max_batch_size": self._max_batch_size}


class PoseModelHandler(_SharedEstimatorHandler):
    """One-step pose stage (MultiPose): frame -> FramePoses."""

    def run_inference(self, batch: Sequence[np.ndarray], model, inference_args: Optional[dict] = None
                      ) -> Iterable[PredictionResult]:
        # Frames are processed one by one inside the batch: the graphs take one
        # frame per call as shipped.
        out = []
        for frame in batch:
            out.append(PredictionResult(example=None, inference=model(frame), model_id=self._config.model_id))
        return out


class DetectModelHandler(_SharedEstimatorHandler):
    """Top-down step 1: frame -> ``(Detections, crop_boxes (N, 4), crops (N, S, S, 3) uint8,
    torso colours (N, 4), frame (height, width))``."""

    namespace = "matchtag_detect"

    def run_inference(self, batch: Sequence[np.ndarray], model, inference_args: Optional[dict] = None
                      ) -> Iterable[PredictionResult]:
        out = []
        for frame in batch:
            out.append(PredictionResult(example=None, inference=model.detect(frame),
                                        model_id=self._config.detector.model))
        return out


class CropPoseModelHandler(_SharedEstimatorHandler):
    """Top-down step 2: ``(crop (S, S, 3) uint8, flip test: bool)`` -> (17, 3) (y, x, score) in the crop.
    S is the person's crop side (``TopDownPoseEstimator.crop_sides``).

    BatchElements hands it up to ``max_batch_size`` crops at a time, from any frames;
    the crop model runs them in one call (tagging.pose.movenet.BatchedMoveNet).
    """

    def __init__(self, config: PoseStageConfig, max_batch_size: int = 16):
        super().__init__(config, max_batch_size)

    def run_inference(self, batch: Sequence[tuple[np.ndarray, bool]], model, inference_args: Optional[dict] = None
                      ) -> Iterable[PredictionResult]:
        # Crops may differ in side (small people run smaller crops): run_crops groups them.
        raw = model.run_crops([crop for crop, _ in batch], np.array([flip for _, flip in batch], bool))
        return [PredictionResult(example=None, inference=r, model_id=self._config.pose.crop_model) for r in raw]
