"""Stage 2, pose: person detector, crop pose models, the estimators that combine them, and the
model weights (fetched from the npm registry, converted from TF.js, cached, verified).

TensorFlow is imported only when a model is loaded.
"""

from tagging.pose.detector import DetectorConfig, PersonDetector
from tagging.pose.estimators import MultiPoseEstimator, PoseConfig, TopDownPoseEstimator
from tagging.pose.models import MODELS, ModelFetchError, configure_tensorflow, fetch_models, load_graph
from tagging.pose.stage import PoseStageConfig, build_estimator

__all__ = ["DetectorConfig", "PersonDetector", "MultiPoseEstimator", "PoseConfig", "TopDownPoseEstimator",
           "MODELS", "ModelFetchError", "configure_tensorflow", "fetch_models", "load_graph", "PoseStageConfig",
           "build_estimator"]
