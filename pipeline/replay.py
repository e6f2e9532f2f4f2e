"""ReplayPoses: take poses from an earlier run's ``poses`` table instead of running models.

``matchtag run VIDEO --pose replay --poses-from OLD_TAGS`` decodes the video as usual
but looks each frame's people up in ``OLD_TAGS/poses``.

No detector runs, so there are no new ball detections: the balls are those of
``OLD_TAGS/balls`` when the stored run looked for them, and otherwise **unknown**
(``ball_known`` = 0 in each person's context, no ``balls`` rows; the event taggers then
treat the ball as unknown, not as absent; a warning says so once per video).  The grass
(pitch edge) is measured again from the decoded frame.  Use it to re-track and re-tag
videos after a tracker or event-model upgrade without paying for pose inference
again, and to measure the CPU stages (decode, tracking, writing) on their own.
"""

from __future__ import annotations

import logging

import apache_beam as beam
from apache_beam.metrics import Metrics

from tagging.core.types import Detections, FramePoses
from tagging.scene.context import person_context
from tagging.track.teams import torso_colours

LOG = logging.getLogger("matchtag")


class _ReplayFn(beam.DoFn):
    """Looks frames up in the stored poses, a window of ``window_frames`` at a time: memory
    stays bounded however long the match (a 90-minute match is millions of pose rows)."""

    def __init__(self, tags_dir: str, window_frames: int = 1500):
        self.tags_dir = tags_dir
        self.window_frames = window_frames
        self.people = Metrics.counter("matchtag", "people_detected")
        self._window: tuple[str, int, int] | None = None
        self._frames: dict[int, FramePoses] = {}
        self._balls = None
        self._warned: set[str] = set()

    def _load(self, video_id: str, frame_index: int) -> None:
        from tagging.tables.queries import balls_by_frame, poses_by_frame

        start = frame_index - frame_index % self.window_frames
        stop = start + self.window_frames
        self._frames = dict(poses_by_frame(self.tags_dir, video_id, start, stop, self.window_frames))
        self._balls = balls_by_frame(self.tags_dir, video_id, start, stop)
        if self._balls is None and video_id not in self._warned:
            self._warned.add(video_id)
            LOG.warning("%s: --pose replay: %s holds no ball detections of it; the ball is unknown "
                        "to the event taggers (re-run with pose inference for balls)", video_id, self.tags_dir)
        self._window = (video_id, start, stop)

    def process(self, element):
        (video_id, frame_index, ts), image = element
        w = self._window
        if w is None or w[0] != video_id or not w[1] <= frame_index < w[2]:
            self._load(video_id, int(frame_index))
        poses = self._frames.get(int(frame_index), FramePoses.empty())
        balls = None
        if self._balls is not None:
            balls = self._balls.get(int(frame_index), Detections.empty())
        context = person_context(image, poses.xyxy, poses.keypoints, balls)
        # fresh track ids; torso colours from the decoded frame (not stored), for the teams
        poses = FramePoses(poses.xyxy, poses.box_score, poses.keypoints, poses.score,
                           appearance=torso_colours(image, poses.xyxy, poses.keypoints), context=context,
                           balls=balls)
        self.people.inc(len(poses))
        yield video_id, (frame_index, ts, poses)


class ReplayPoses(beam.PTransform):
    """Frames -> ``(video_id, (frame_index, timestamp_ms, FramePoses))`` from stored poses."""

    def __init__(self, tags_dir: str):
        super().__init__()
        self.tags_dir = tags_dir

    def expand(self, frames):
        return frames | "LookUpPoses" >> beam.ParDo(_ReplayFn(self.tags_dir))
