"""One named Beam transform per stage; the logic itself lives in ``tagging``."""

from __future__ import annotations

import logging

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics
from apache_beam.ml.inference.base import KeyedModelHandler, RunInference
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.timestamp import MIN_TIMESTAMP
from apache_beam.utils.windowed_value import WindowedValue

from pipeline.decode import DecodeFrames, DecodeSettings  # noqa: F401  (stage 1)
from pipeline import spill
from pipeline.model_handler import CropPoseModelHandler, DetectModelHandler, PoseModelHandler
from pipeline.commit import write_part
from pipeline.write import WriteTables  # noqa: F401  (last stage)
from tagging.core.keypoints import NUM_KEYPOINTS
from tagging.pose.estimators import TopDownPoseEstimator
from tagging.pose.stage import PoseStageConfig
from tagging.tables import rows
from tagging.track.online import TrackerConfig
from tagging.track.positions import Positions, fill_positions, split_by_block
from tagging.track.segments import SegmentGrid, segment_view, stitch_views, track_segment
from tagging.track.sequences import PIPELINE_TRACKER_CONFIG, TrackSeq
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


class _SpillFramesFn(beam.DoFn):
    """Per-frame poses -> ``(video_id, SpillRef)``: frames are buffered per block of
    ``block_frames`` video frames (a decode range) and written as one spill file once the
    block is complete; at most ``max_buffered`` frames are held, whatever the order in
    which frames arrive (then every buffer is written, as smaller spills)."""

    def __init__(self, root: str, block_frames: int, stride: int, max_buffered: int):
        self.root, self.block_frames, self.stride, self.max_buffered = root, block_frames, stride, max_buffered

    def start_bundle(self):
        self._buffers: dict[tuple[str, int], list] = {}
        self._held = 0

    def process(self, element):
        video_id, frame = element
        key = (video_id, int(frame[0]) // self.block_frames)
        buf = self._buffers.setdefault(key, [])
        buf.append(frame)
        self._held += 1
        if len(buf) >= self.block_frames // self.stride:
            yield self._flush(key)
        elif self._held > self.max_buffered:
            yield from [self._flush(k) for k in list(self._buffers)]

    def _flush(self, key):
        frames = self._buffers.pop(key)
        self._held -= len(frames)
        return key[0], spill.write_frames(self.root, key[0], frames)

    def finish_bundle(self):
        for key in list(self._buffers):
            yield WindowedValue(self._flush(key), MIN_TIMESTAMP, [GlobalWindow()])


class _TrackSegmentFn(beam.DoFn):
    """``((video_id, k), [SpillRef])`` -> ``(video_id, (SegmentView, ids file, refs))``: one
    segment tracked from the frames its spills hold (``grid`` None: the whole video); which
    track each box is in goes to a spill file, and only a small view of the tracks (ends
    and overlaps, :func:`tagging.track.segments.segment_view`) goes on to the stitch."""

    def __init__(self, root: str, config: TrackerConfig, mode: str, grid: SegmentGrid | None, stride: int):
        self.root, self.config, self.mode, self.grid, self.stride = root, config, mode, grid, stride
        self.segments = Metrics.counter(NAMESPACE, "track_segments")

    def process(self, element):
        (video_id, k), refs = element
        # each frame with the segments it belongs to (one, or two in an overlap)
        frames, in_segs = [], []
        for ref in refs:
            for f in spill.read_frames(ref):
                segs = [k] if self.grid is None else self.grid.segments_of(float(f[1]))
                if k in segs:
                    frames.append(f)
                    in_segs.append(len(segs))
        if not frames:
            return
        ords = [int(f[0]) // self.stride for f in frames]
        tracks = track_segment(ords, [f[2].xyxy for f in frames], [f[2].box_score for f in frames], self.config,
                               self.mode, keypoints=[f[2].keypoints for f in frames],
                               colours=[f[2].appearance for f in frames], timestamps_ms=[float(f[1]) for f in frames])
        shared = [o for o, n in zip(ords, in_segs) if n > 1]
        view = segment_view(k, ords, shared, tracks, self.config.join_fit_frames)
        path = spill.write_segment_ids(self.root, video_id, k, tracks)
        self.segments.inc()
        yield video_id, (view, path, list(refs))


def _whole_strides(block_frames: int, stride: int) -> int:
    """``block_frames`` rounded up to whole strides: blocks hold whole strides, as decode
    ranges do (tagging.video.reader.plan_ranges)."""
    return -(-block_frames // stride) * stride


class TrackPlayers(beam.PTransform):
    """Poses -> ``(SpillRef, ids)``: each spilled block of frames with the global track ids
    of its people, ``ids = (ordinals, det_index, track_id)`` arrays (apply them with
    :func:`pipeline.spill.apply_ids`).

    Default: Kalman/ByteTrack tracking with whole-video association (docs/tracking.md),
    **chunk-parallel**: the frames are spilled in blocks (``block_frames`` video frames
    each, :mod:`pipeline.spill`), each time segment (``chunk_s`` long, ``overlap_s``
    shared with the next) is tracked as its own element from the spills that hold it,
    and the segments of a video are stitched in their overlaps into one global id per
    player.  Only spill references and a small view of each segment's tracks (their ends
    and overlaps) cross shuffles; which track each box is in stays in a spill file per
    segment until its blocks are labelled, so memory does not grow with the match on any
    runner.  ``chunk_s=0`` tracks each video
    in one piece; ``mode="online"`` for frame-by-frame association only.  ``stride``
    must be the decode stride: processed frames are ``frame_index // stride``.
    """

    def __init__(self, spill_root: str, config: TrackerConfig = PIPELINE_TRACKER_CONFIG, mode: str = "offline",
                 chunk_s: float = 0.0, overlap_s: float = 2.0, stride: int = 1, block_frames: int = 1500):
        super().__init__()
        self._root = spill_root
        self._config = config
        self._mode = mode
        self._grid = SegmentGrid(chunk_s * 1000.0, overlap_s * 1000.0) if chunk_s > 0 else None
        self._stride = stride
        self._block = _whole_strides(block_frames, stride)

    def expand(self, poses):
        config, mode, grid, stride = self._config, self._mode, self._grid, self._stride

        def plan(video_id, refs):
            refs = sorted(refs, key=lambda r: r.first_frame)
            if grid is None:
                yield (video_id, 0), refs
                return
            members: dict[int, list] = {}
            for ref in refs:
                first, last = grid.segments_of(ref.first_ms)[0], grid.segments_of(ref.last_ms)[-1]
                for k in range(first, last + 1):
                    members.setdefault(k, []).append(ref)
            yield from (((video_id, k), r) for k, r in sorted(members.items()))

        def stitch(video_id, segs):
            segs = sorted(segs, key=lambda s: s[0].k)
            plans, ids = stitch_views([s[0] for s in segs], config=config if mode == "offline" else None)
            refs = {r.path: r for s in segs for r in s[2]}
            for ref in sorted(refs.values(), key=lambda r: r.first_frame):
                lo, hi = ref.first_frame // stride, ref.last_frame // stride + 1
                yield ref, [(path, max(plans[v.k].own_start, lo), min(plans[v.k].own_stop, hi), ids[v.k])
                            for v, path, _ in segs if plans[v.k].own_start < hi and plans[v.k].own_stop > lo]

        block_ordinals = self._block // stride
        return (poses
                | "SpillFrames" >> beam.ParDo(_SpillFramesFn(self._root, self._block, stride, 4 * block_ordinals))
                | "GroupSpillsByVideo" >> beam.GroupByKey()
                | "PlanSegments" >> beam.FlatMapTuple(plan)
                | "SpreadSegments" >> beam.Reshuffle()
                | "TrackSegment" >> beam.ParDo(_TrackSegmentFn(self._root, config, mode, grid, stride))
                | "GroupSegmentsByVideo" >> beam.GroupByKey()
                | "Stitch" >> beam.FlatMapTuple(stitch)
                | "LabelBlocks" >> beam.MapTuple(lambda ref, parts: (ref, spill.block_ids(parts))))


class _FinishBlockFn(beam.DoFn):
    """``(SpillRef, ids)`` -> the block's ``poses`` and ``balls`` files, written at once:
    ``(video_id, ("file"|"error", table, path or message))``; and, tagged ``tracks``,
    ``((video_id, track_id), path)`` for each track with people in the block."""

    def __init__(self, output: str, run_id: str, stride: int):
        self.output, self.run_id, self.stride = output, run_id, stride

    def process(self, element):
        ref, ids = element
        video_id = ref.video_id
        frames = spill.apply_ids(ref, ids, self.stride)
        for table, make in (("poses", rows.pose_rows), ("balls", rows.ball_rows)):
            table_rows = (r for f in frames for r in make(video_id, *f))
            if table == "balls":
                table_rows = list(table_rows)
                if not table_rows:
                    continue
            try:
                # the block's first frame names the part: blocks never share frames
                yield video_id, ("file", table, write_part(self.output, self.run_id, table, video_id,
                                                           ref.first_frame, table_rows))
            except Exception as exc:  # one video's failed write must not sink the batch
                LOG.error("%s: could not write its %s table: %s", video_id, table, exc)
                yield video_id, ("error", table, f"could not write its {table} table under {self.output}: {exc}")
        path, track_ids = spill.write_track_parts(ref, frames)
        for tid in track_ids:
            yield beam.pvalue.TaggedOutput("tracks", ((video_id, tid), path))


class FinishBlocks(beam.PTransform):
    """``TrackPlayers`` output -> ``{"files": file items for the commit, "tracks":
    ((video_id, track_id), spill path) per block a track is in}``."""

    def __init__(self, output: str, run_id: str, stride: int = 1):
        super().__init__()
        self.output, self.run_id, self.stride = output, run_id, stride

    def expand(self, tracked):
        out = tracked | "WriteBlockRows" >> beam.ParDo(
            _FinishBlockFn(self.output, self.run_id, self.stride)).with_outputs("tracks", main="files")
        return {"files": out.files, "tracks": out.tracks}


def _track_seq(key, paths) -> tuple:
    _video_id, tid = key
    parts = [spill.read_track_part(p, tid) for p in sorted(set(paths))]
    frame_index, ts, score, kps, appearance, context, xyxy = (np.concatenate(a) for a in zip(*parts))
    order = np.argsort(frame_index, kind="stable")
    return key, TrackSeq(int(tid), frame_index[order], ts[order], score[order], kps[order], appearance[order],
                         context[order], xyxy[order])


class GroupByTrack(beam.PTransform):
    """``((video_id, track_id), spill path)`` -> ``((video_id, track_id), TrackSeq)``: one element
    per track, read from the blocks it is in, so no shuffle carries keypoints."""

    def expand(self, parts):
        return (parts
                | "GroupBlocksByTrack" >> beam.GroupByKey()
                | "ReadTrack" >> beam.MapTuple(_track_seq))


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


class FormatTracks(beam.PTransform):
    """``GroupByTrack`` output -> ``tracks`` rows: the track summary, with teams clustered
    per video from one colour per track (only these small rows are grouped per video)."""

    def expand(self, tracks):
        def summarise(key, seq):
            video_id, tid = key
            return video_id, (seq.summary(), track_colour(seq.appearance))

        def track_rows(video_id, tracks):
            tracks = sorted(tracks, key=lambda t: t[0].track_id)
            colours = {s.track_id: c for s, c in tracks if c is not None}
            teams = assign_teams(colours) if colours else {}
            return [rows.track_row(video_id, s, teams.get(s.track_id)) for s, _ in tracks]

        return (tracks
                | "SummariseTracks" >> beam.MapTuple(summarise)
                | "GroupTracksByVideo" >> beam.GroupByKey()
                | "TrackRows" >> beam.FlatMapTuple(track_rows))


class _WritePositionsFn(beam.DoFn):
    """``((video_id, block), [(spill path, track_id)])`` -> the block's ``positions`` file:
    ``(video_id, ("file"|"error", "positions", path or message))``."""

    def __init__(self, output: str, run_id: str, block_frames: int):
        self.output, self.run_id, self.block_frames = output, run_id, block_frames

    def process(self, element):
        (video_id, block), parts = element
        pieces = [(tid, Positions(*spill.read_track_positions(path, block))) for path, tid in sorted(parts)]
        # rows in frame order, then by track, as in the poses table
        table_rows = sorted((r for tid, pos in pieces for r in rows.position_rows(video_id, tid, pos)),
                            key=lambda r: (r["frame_index"], r["track_id"]))
        try:
            # the block's first frame names the part
            yield video_id, ("file", "positions", write_part(self.output, self.run_id, "positions", video_id,
                                                            block * self.block_frames, table_rows))
        except Exception as exc:  # one video's failed write must not sink the batch
            LOG.error("%s: could not write its positions table: %s", video_id, exc)
            yield video_id, ("error", "positions", f"could not write its positions table under {self.output}: {exc}")


def _track_positions(key, seq: TrackSeq, root: str, stride: int, block_frames: int):
    """One track -> its positions, by block, in a spill file -> ``((video_id, block), (path,
    track_id))`` per block it is in."""
    video_id, tid = key
    frames = seq.frame_index
    keep = np.ones(len(frames), bool)
    keep[1:] = np.diff(frames) > 0
    if not keep.all():  # a stitch that put one id on two boxes of a frame would be a bug
        LOG.warning("%s: track %d has %d frames with more than one box; positions keep the first",
                    video_id, tid, int((~keep).sum()))
    by_block = split_by_block(fill_positions(frames[keep], seq.timestamp_ms[keep], seq.xyxy[keep], stride),
                              block_frames)
    path = spill.write_track_positions(root, video_id, int(tid), by_block)
    for block in by_block:
        yield (video_id, block), (path, int(tid))


class TrackPositions(beam.PTransform):
    """Tracks (``GroupByTrack`` output) -> ``positions`` file items: every tracked person's
    box on every processed frame of their track, short gaps filled
    (:mod:`tagging.track.positions`).  Each track's boxes go to a spill file; only
    references cross the shuffle that gathers them into one file per block of
    ``block_frames`` video frames, so that no step holds a whole match's positions."""

    def __init__(self, spill_root: str, output: str, run_id: str, stride: int = 1, block_frames: int = 1500):
        super().__init__()
        self.root, self.output, self.run_id, self.stride = spill_root, output, run_id, stride
        self.block = _whole_strides(block_frames, stride)  # the same blocks as TrackPlayers'

    def expand(self, tracks):
        root, stride, block = self.root, self.stride, self.block
        return (tracks
                | "FillGaps" >> beam.FlatMap(lambda kv: _track_positions(kv[0], kv[1], root, stride, block))
                | "GroupPositionsByBlock" >> beam.GroupByKey()
                | "WritePositions" >> beam.ParDo(_WritePositionsFn(self.output, self.run_id, block)))
