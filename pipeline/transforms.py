"""One named Beam transform per stage; the logic itself lives in ``tagging``."""

from __future__ import annotations

import logging

import apache_beam as beam
import numpy as np
from apache_beam.ml.inference.base import KeyedModelHandler, RunInference
from apache_beam.metrics import Metrics

from pipeline import rows
from pipeline.decode import DecodeFrames, DecodeSettings, VideoJob  # noqa: F401  (stage 1)
from pipeline.model_handler import (CropPoseModelHandler, DetectModelHandler, PoseModelHandler,
                                    PoseStageConfig)
from pipeline.write import WriteTables  # noqa: F401  (last stage)
from tagging.events import tag_events
from tagging.teams import teams_of_tracks
from tagging.keypoints import NUM_KEYPOINTS
from tagging.pose import TopDownPoseEstimator
from tagging.bytetrack import TrackerConfig
from tagging.tracking import (PIPELINE_TRACKER_CONFIG, IoUTrackerConfig, summarize_tracks, track_frames,
                              track_sequences)

LOG = logging.getLogger("matchtag")
NAMESPACE = "matchtag"


class EstimatePoses(beam.PTransform):
    """Frames -> ``(video_id, (frame_index, timestamp_ms, FramePoses))`` via RunInference.

    Top-down backends run in two RunInference steps: detection per frame, then the
    crop model on person crops keyed ``(video_id, frame_index, person)``, batched by
    BatchElements across frames (``crop_batch_size``), then regrouped per frame.
    Frames without people still come out (with empty FramePoses).
    """

    def __init__(self, config: PoseStageConfig, max_batch_size: int, crop_batch_size: int = 16):
        super().__init__()
        self._config = config
        self._max_batch_size = max_batch_size
        self._crop_batch_size = crop_batch_size

    def expand(self, frames):
        people = Metrics.counter(NAMESPACE, "people_detected")
        config = self._config

        if config.backend == "multipose":
            def to_video_key(result):
                (video_id, frame_index, ts), prediction = result
                people.inc(len(prediction.inference))
                return video_id, (frame_index, ts, prediction.inference)

            handler = KeyedModelHandler(PoseModelHandler(config, self._max_batch_size))
            return (frames
                    | "RunInference" >> RunInference(handler)
                    | "KeyByVideo" >> beam.Map(to_video_key))

        located = frames | "Detect" >> RunInference(
            KeyedModelHandler(DetectModelHandler(config, self._max_batch_size)))

        def split_crops(result):
            (video_id, frame_index, _ts), prediction = result
            _dets, _boxes, crops, _colours = prediction.inference
            for person, crop in enumerate(crops):
                yield (video_id, frame_index, person), crop

        def frame_meta(result):
            (video_id, frame_index, ts), prediction = result
            dets, boxes, _crops, colours = prediction.inference
            return (video_id, frame_index), (ts, dets, boxes, colours)

        def by_frame(result):
            (video_id, frame_index, person), prediction = result
            return (video_id, frame_index), (person, prediction.inference)

        assembler = TopDownPoseEstimator(None, None, config.pose)

        def assemble(key, grouped):
            video_id, frame_index = key
            (ts, dets, boxes, colours), = grouped["meta"]
            raw = np.zeros((len(dets), NUM_KEYPOINTS, 3), np.float32)
            for person, r in grouped["raw"]:
                raw[person] = r
            poses = assembler.assemble(dets, boxes, raw, colours)
            people.inc(len(poses))
            return video_id, (frame_index, ts, poses)

        raw = (located
               | "SplitCrops" >> beam.FlatMap(split_crops)
               | "CropPoses" >> RunInference(
                   KeyedModelHandler(CropPoseModelHandler(config, self._crop_batch_size)))
               | "KeyCropsByFrame" >> beam.Map(by_frame))
        meta = located | "FrameMeta" >> beam.Map(frame_meta)
        return ({"meta": meta, "raw": raw}
                | "RegroupByFrame" >> beam.CoGroupByKey()
                | "Assemble" >> beam.MapTuple(assemble))


class TrackPlayers(beam.PTransform):
    """Per-video poses -> ``(video_id, tracked)`` with track ids filled in.

    Default: Kalman/ByteTrack tracking with whole-video association (docs/tracking.md);
    ``mode="online"`` for frame-by-frame only, an ``IoUTrackerConfig`` for the old IoU tracker.
    """

    def __init__(self, config: TrackerConfig | IoUTrackerConfig = PIPELINE_TRACKER_CONFIG, mode: str = "offline"):
        super().__init__()
        self._config = config
        self._mode = mode

    def expand(self, poses):
        config, mode = self._config, self._mode
        return (poses
                | "GroupByVideo" >> beam.GroupByKey()
                | "Track" >> beam.MapTuple(lambda vid, frames: (vid, track_frames(frames, config, mode))))


class _TagEventsFn(beam.DoFn):
    """Loads the event model once per worker (``rules``: the Law-15 rule, no model)."""

    def __init__(self, events_model: str):
        self.events_model = events_model
        self.events = Metrics.counter(NAMESPACE, "events")

    def setup(self):
        from tagging.event_model import resolve_events_model
        self._model = resolve_events_model(self.events_model)

    def process(self, element):
        video_id, frames = element
        seqs = track_sequences(frames)
        found = tag_events(seqs) if self._model is None else self._model.tag_events(seqs)
        for event in found:
            self.events.inc()
            yield rows.event_row(video_id, event)


class TagEvents(beam.PTransform):
    """Tracked poses -> ``events`` rows: the trained event model (``default``: the shipped
    one, or a ``matchtag train`` file) or the Law-15 throw-in rule (``rules``)."""

    def __init__(self, events_model: str = "default"):
        super().__init__()
        self._events_model = events_model

    def expand(self, tracked):
        return tracked | "Tag" >> beam.ParDo(_TagEventsFn(self._events_model))


class FormatTables(beam.PTransform):
    """Tracked poses -> ``poses`` and ``tracks`` rows (a dict of PCollections)."""

    def expand(self, tracked):
        def pose_rows(video_id, frames):
            for frame_index, ts, poses in frames:
                yield from rows.pose_rows(video_id, frame_index, ts, poses)

        def track_rows(video_id, frames):
            teams = teams_of_tracks(frames)
            return [rows.track_row(video_id, s, teams.get(s.track_id)) for s in summarize_tracks(frames)]

        return {"poses": tracked | "PoseRows" >> beam.FlatMapTuple(pose_rows),
                "tracks": tracked | "TrackRows" >> beam.FlatMapTuple(track_rows)}
