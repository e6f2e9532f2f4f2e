"""What every stage shares: keypoint tables, box geometry, the typed containers passed between
stages (:class:`Detections`, :class:`FramePoses`, :class:`Event`) and file hashes."""

from tagging.core.boxes import box_area, containment_matrix, iou_matrix, nms, square_crop_box
from tagging.core.hashing import sha256_file
from tagging.core.keypoints import KEYPOINT_NAMES, KP, MIRROR_INDEX, NUM_KEYPOINTS, SKELETON
from tagging.core.types import Detections, Event, FramePoses

__all__ = ["box_area", "containment_matrix", "iou_matrix", "nms", "square_crop_box", "sha256_file",
           "KEYPOINT_NAMES", "KP", "MIRROR_INDEX", "NUM_KEYPOINTS", "SKELETON", "Detections", "Event", "FramePoses"]
