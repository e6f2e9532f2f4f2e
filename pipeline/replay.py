"""ReplayPoses: take poses from an earlier run's ``poses`` table instead of running models.

``matchtag run VIDEO --pose replay --poses-from OLD_TAGS`` decodes the video as usual
but looks each frame's people up in ``OLD_TAGS/poses``.  Use it to re-track and re-tag
videos after a tracker or event-model upgrade without paying for pose inference
again, and to measure the CPU stages (decode, tracking, writing) on their own.
"""

from __future__ import annotations

import apache_beam as beam
from apache_beam.metrics import Metrics

from tagging.core.types import FramePoses
from tagging.track.teams import torso_colours


class _ReplayFn(beam.DoFn):
    def __init__(self, tags_dir: str):
        self.tags_dir = tags_dir
        self.people = Metrics.counter("matchtag", "people_detected")
        self._video = None
        self._frames: dict[int, FramePoses] = {}

    def _load(self, video_id: str) -> None:
        from tagging.tables.queries import frame_poses, read_table

        poses = read_table(self.tags_dir, "poses", video_id)
        self._frames = {int(i): frame_poses(g) for i, g in poses.groupby("frame_index")}
        self._video = video_id

    def process(self, element):
        (video_id, frame_index, ts), image = element
        if video_id != self._video:  # ranges arrive one video at a time per worker
            self._load(video_id)
        poses = self._frames.get(int(frame_index), FramePoses.empty())
        # fresh track ids; torso colours from the decoded frame (not stored), for the teams
        poses = FramePoses(poses.xyxy, poses.box_score, poses.keypoints, poses.score,
                           appearance=torso_colours(image, poses.xyxy, poses.keypoints))
        self.people.inc(len(poses))
        yield video_id, (frame_index, ts, poses)


class ReplayPoses(beam.PTransform):
    """Frames -> ``(video_id, (frame_index, timestamp_ms, FramePoses))`` from stored poses."""

    def __init__(self, tags_dir: str):
        super().__init__()
        self.tags_dir = tags_dir

    def expand(self, frames):
        return frames | "LookUpPoses" >> beam.ParDo(_ReplayFn(self.tags_dir))
