"""Stage 3, tracking: boxes in, one id per player out, then teams.

``kalman`` (motion model) -> ``online`` (ByteTrack-style frame-by-frame pass) ->
``offline`` (whole-video joins, re-links, gap fills) -> ``segments`` (long videos in
parallel pieces, stitched) -> ``sequences`` (per-track keypoint sequences and summaries);
``teams`` clusters torso colours per video.  The tracker never sees the detector.
"""

from tagging.track.offline import Track, offline_tracks, track_video
from tagging.track.online import ByteTracker, TrackerConfig
from tagging.track.segments import SegmentGrid, stitch_segments, track_segment
from tagging.track.sequences import PIPELINE_TRACKER_CONFIG, TrackSeq, TrackSummary, track_frames
from tagging.track.teams import TeamConfig, assign_teams, torso_colours, track_colour

__all__ = ["Track", "offline_tracks", "track_video", "ByteTracker", "TrackerConfig", "SegmentGrid",
           "stitch_segments", "track_segment", "PIPELINE_TRACKER_CONFIG", "TrackSeq", "TrackSummary",
           "track_frames", "TeamConfig", "assign_teams", "torso_colours", "track_colour"]
