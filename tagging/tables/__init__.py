"""The tag tables from the outside: typed stage outputs -> rows (``rows``), reading them back
(``queries``) and query-side keypoint smoothing (``smoothing``).  Schemas live in ``schemas``."""

from tagging.tables.queries import coverage, frame_poses, keypoints_array, long_keypoints, read_table, read_tables
from tagging.tables.rows import event_row, pose_rows, track_row
from tagging.tables.smoothing import OneEuroConfig, smooth_poses

__all__ = ["coverage", "frame_poses", "keypoints_array", "long_keypoints", "read_table", "read_tables", "event_row",
           "pose_rows", "track_row", "OneEuroConfig", "smooth_poses"]
