"""The tag tables from the outside: typed stage outputs -> rows (``rows``), where their files
are (``store``), typed and filtered reads (``load``, the analysts' query API, docs/querying.md),
pandas helpers on the rows (``queries``) and query-side keypoint smoothing (``smoothing``).
Schemas live in ``schemas``."""

from tagging.tables.load import (
                                 events_with_poses,
                                 events_with_team,
                                 load_balls,
                                 load_events,
                                 load_poses,
                                 load_positions,
                                 load_runs,
                                 load_table,
                                 load_tracks,
                                 load_videos,
                                 track_keypoints,
)
from tagging.tables.queries import coverage, frame_poses, keypoints_array, long_keypoints, read_table, read_tables
from tagging.tables.rows import ball_rows, event_row, pose_rows, position_rows, track_row
from tagging.tables.smoothing import OneEuroConfig, smooth_poses

__all__ = ["events_with_poses", "events_with_team", "load_balls", "load_events", "load_poses", "load_positions", "load_runs",
           "load_table", "load_tracks", "load_videos", "track_keypoints",
           "coverage", "frame_poses", "keypoints_array", "long_keypoints", "read_table", "read_tables", "event_row",
           "ball_rows", "pose_rows", "position_rows", "track_row", "OneEuroConfig", "smooth_poses"]
