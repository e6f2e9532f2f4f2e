"""One named Beam transform per stage; the logic itself lives in ``tagging``."""

from __future__ import annotations

import logging

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics
from apache_beam.ml.inference.base import KeyedModelHandler, RunInference

from pipeline.decode import DecodeFrames, DecodeSettings  # noqa: F401  (stage 1)
from pipeline.model_handler import CropPoseModelHandler, DetectModelHandler, PoseModelHandler
from pipeline.write import WriteTables  # noqa: F401  (last stage)
from tagging.core.keypoints import NUM_KEYPOINTS
from tagging.pose.estimators import TopDownPoseEstimator
from tagging.pose.stage import PoseStageConfig
from tagging.tables import rows
from tagging.track.online import TrackerConfig
from tagging.track.segments import SegmentGrid, ids_by_ordinal, stitch_segments, track_segment
from tagging.track.sequences import (
    PIPELINE_TRACKER_CONFIG,
    IoUTrackerConfig,
    TrackSeq,
    track_frames,
    track_observations,
)
from tagging.track.teams import assign_teams, track_colour

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

        assembler = TopDownPoseEstimator(None, None, config.pose)

        def split_crops(result):
            (video_id, frame_index, _ts), prediction = result
            dets, _boxes, crops, _colours, _frame_hw, _scene = prediction.inference
            for person, (crop, flip) in enumerate(zip(crops, assembler.flip_mask(dets))):
                yield (video_id, frame_index, person), (crop, bool(flip))

        def frame_meta(result):
            (video_id, frame_index, ts), prediction = result
            dets, boxes, _crops, colours, frame_hw, scene = prediction.inference
            return (video_id, frame_index), (ts, dets, boxes, colours, frame_hw, scene)

        def by_frame(result):
            (video_id, frame_index, person), prediction = result
            return (video_id, frame_index), (person, prediction.inference)

        def assemble(key, grouped):
            video_id, frame_index = key
            (ts, dets, boxes, colours, frame_hw, scene), = grouped["meta"]
            raw = np.zeros((len(dets), NUM_KEYPOINTS, 3), np.float32)
            for person, r in grouped["raw"]:
                raw[person] = r
            poses = assembler.assemble(dets, boxes, raw, frame_hw, colours, scene)
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
    """Poses -> the same ``(video_id, (frame_index, timestamp_ms, FramePoses))`` elements,
    one per frame, with track ids filled in.

    Default: Kalman/ByteTrack tracking with whole-video association (docs/tracking.md),
    **chunk-parallel**: each frame's boxes go to the time segments holding it
    (``chunk_s`` long, ``overlap_s`` shared with the next), every segment is tracked as
    its own element (in parallel on any runner), the segments of a video are stitched
    in their overlaps into one global id per player, and the ids are joined back onto
    the poses.  Boxes, scores, keypoints and torso colours travel to the tracking step
    (the offline joins use them); only boxes to the stitching step.
    ``chunk_s=0`` tracks each video in one piece; ``mode="online"`` for frame-by-frame
    association only; an ``IoUTrackerConfig`` for the old IoU tracker (never chunked).
    ``stride`` must be the decode stride: processed frames are ``frame_index // stride``.
    """

    def __init__(self, config: TrackerConfig | IoUTrackerConfig = PIPELINE_TRACKER_CONFIG, mode: str = "offline",
                 chunk_s: float = 0.0, overlap_s: float = 2.0, stride: int = 1):
        super().__init__()
        self._config = config
        self._mode = mode
        self._grid = SegmentGrid(chunk_s * 1000.0, overlap_s * 1000.0) if chunk_s > 0 else None
        self._stride = stride

    def expand(self, poses):
        config, mode, grid, stride = self._config, self._mode, self._grid, self._stride
        if grid is None or isinstance(config, IoUTrackerConfig):
            return (poses
                    | "GroupByVideo" >> beam.GroupByKey()
                    | "Track" >> beam.FlatMapTuple(
                        lambda vid, frames: ((vid, f) for f in track_frames(frames, config, mode))))
        segments = Metrics.counter(NAMESPACE, "track_segments")

        def to_segments(video_id, frame):
            frame_index, ts, p = frame
            for k in grid.segments_of(float(ts)):
                yield (video_id, k), (int(frame_index) // stride, p.xyxy, p.box_score, p.keypoints, p.appearance,
                                      float(ts))

        def track_one(key, frames):
            video_id, k = key
            frames = list(frames)
            ords = [f[0] for f in frames]
            tracks = track_segment(ords, [f[1] for f in frames], [f[2] for f in frames], config, mode,
                                   keypoints=[f[3] for f in frames], colours=[f[4] for f in frames],
                                   timestamps_ms=[f[5] for f in frames])
            segments.inc()
            return video_id, (k, min(ords), max(ords), tracks)

        def stitch(video_id, segs):
            tracks = stitch_segments(list(segs), config=config if mode == "offline" else None)
            for ordinal, pairs in ids_by_ordinal(tracks).items():
                yield (video_id, ordinal * stride), pairs

        def apply_ids(key, grouped):
            video_id, frame_index = key
            for ts, p in grouped["poses"]:  # exactly one per frame
                ids = np.full(len(p), -1, np.int64)
                for pairs in grouped["ids"]:
                    for det, tid in pairs:
                        ids[det] = tid
                p.track_id = ids
                yield video_id, (frame_index, ts, p)

        ids = (poses
               | "KeyBySegment" >> beam.FlatMapTuple(to_segments)
               | "GroupBySegment" >> beam.GroupByKey()
               | "TrackSegment" >> beam.MapTuple(track_one)
               | "GroupSegmentsByVideo" >> beam.GroupByKey()
               | "Stitch" >> beam.FlatMapTuple(stitch))
        keyed = poses | "KeyPosesByFrame" >> beam.MapTuple(lambda vid, f: ((vid, int(f[0])), (f[1], f[2])))
        return ({"poses": keyed, "ids": ids}
                | "JoinIds" >> beam.CoGroupByKey()
                | "ApplyIds" >> beam.FlatMapTuple(apply_ids))


class GroupByTrack(beam.PTransform):
    """Tracked frames -> ``((video_id, track_id), TrackSeq)``: one element per track, so
    no step after tracking holds a whole video (a 90-minute match is ~135,000 frames)."""

    def expand(self, tracked):
        def observations(video_id, frame):
            for tid, obs in track_observations(*frame):
                yield (video_id, tid), obs

        return (tracked
                | "KeyByTrack" >> beam.FlatMapTuple(observations)
                | "GroupObservations" >> beam.GroupByKey()
                | "ToTrackSeq" >> beam.MapTuple(lambda key, obs: (key, TrackSeq.from_observations(key[1], obs))))


class _TagEventsFn(beam.DoFn):
    """Loads the event model once per worker (``rules``: the Law-15 rule, no model)."""

    def __init__(self, events_model: str):
        self.events_model = events_model
        self.events = Metrics.counter(NAMESPACE, "events")

    def setup(self):
        from tagging.events.model import resolve_events_model
        self._model = resolve_events_model(self.events_model)

    def process(self, element):
        (video_id, _tid), seq = element
        seqs = {seq.track_id: (seq.timestamp_ms, seq.keypoints, seq.context)}
        found = self._model.tag_events(seqs)
        for event in found:
            self.events.inc()
            yield rows.event_row(video_id, event)


class TagEvents(beam.PTransform):
    """Tracks (``GroupByTrack`` output) -> ``events`` rows, one track at a time: the trained
    event model (``default``: the shipped one, or a ``matchtag train`` file) or the Law-15
    throw-in rule (``rules``).  Both look at one player's keypoints at a time."""

    def __init__(self, events_model: str = "default"):
        super().__init__()
        self._events_model = events_model

    def expand(self, tracks):
        return tracks | "Tag" >> beam.ParDo(_TagEventsFn(self._events_model))


class FormatTables(beam.PTransform):
    """``{"frames": tracked frames, "tracks": GroupByTrack output}`` -> ``poses``, ``balls`` and
    ``tracks`` rows (a dict of PCollections).  Teams are clustered per video from one colour per track."""

    def expand(self, inputs):
        def pose_rows(video_id, frame):
            return rows.pose_rows(video_id, *frame)

        def summarise(key, seq):
            video_id, tid = key
            return video_id, (seq.summary(), track_colour(seq.appearance))

        def track_rows(video_id, tracks):
            tracks = sorted(tracks, key=lambda t: t[0].track_id)
            colours = {s.track_id: c for s, c in tracks if c is not None}
            teams = assign_teams(colours) if colours else {}
            return [rows.track_row(video_id, s, teams.get(s.track_id)) for s, _ in tracks]

        def ball_rows(video_id, frame):
            return rows.ball_rows(video_id, *frame)

        return {"poses": inputs["frames"] | "PoseRows" >> beam.FlatMapTuple(pose_rows),
                "balls": inputs["frames"] | "BallRows" >> beam.FlatMapTuple(ball_rows),
                "tracks": (inputs["tracks"]
                           | "SummariseTracks" >> beam.MapTuple(summarise)
                           | "GroupTracksByVideo" >> beam.GroupByKey()
                           | "TrackRows" >> beam.FlatMapTuple(track_rows))}
