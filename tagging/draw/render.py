"""The overlay video of ``matchtag render``: a video's tags drawn on its own frames, as H.264.

Everything is streamed: frames are decoded one at a time (:class:`FrameReader`), poses
are read from the ``poses`` table one block of frames at a time (filtered on
``video_id`` and ``frame_index``, so row groups outside the block are skipped), and each
frame is encoded as soon as it is drawn.  Memory is bounded by one block of poses and
the encoder's look-ahead, whatever the length of the video.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from schemas.tables import PARTITION_COLUMN
from tagging.core.hashing import sha256_file
from tagging.core.keypoints import NUM_KEYPOINTS
from tagging.core.types import FramePoses
from tagging.draw.frame import draw_overlay
from tagging.tables.queries import poses_by_frame
from tagging.tables.store import table_dataset
from tagging.video.reader import FrameReader, VideoError, probe

# Output timestamps are in 1/90000 s (the MPEG clock): exact for 25, 50 and 30000/1001 fps,
# where milliseconds would round every frame's duration.
TIME_BASE = Fraction(1, 90000)


class RenderError(ValueError):
    """The video or its tables cannot be rendered.  The message names the file."""


@dataclass
class RenderResult:
    """What was written: ``frames`` frames of ``width`` x ``height`` pixels, source frames
    ``first_frame``..``last_frame`` (inclusive); ``truncated`` when the source stopped early."""

    out: str
    video_id: str
    frames: int
    width: int
    height: int
    first_frame: int
    last_frame: int
    events: int
    truncated: bool


def find_video(tags_dir: str | Path, video_path: str, video_id: str | None = None) -> dict:
    """The ``videos`` row of ``video_path`` in ``tags_dir``, as a dict.

    Matched by the file's sha256 (so a moved or copied file is found; among identical
    copies, the row with this path wins); ``video_id`` skips the matching.  Raises
    :class:`RenderError` when nothing (or more than one video) matches, or when the file
    at a tagged path has changed since.
    """
    videos = table_dataset(tags_dir, "videos").to_table(
        columns=[PARTITION_COLUMN, "path", "sha256", "fps", "frame_count", "status"]).to_pylist()
    if video_id is not None:
        rows = [v for v in videos if v[PARTITION_COLUMN] == video_id]
        if not rows:
            raise RenderError(f"{tags_dir}: no video '{video_id}' in the videos table "
                              f"(it has: {', '.join(sorted(v[PARTITION_COLUMN] for v in videos)) or 'none'})")
        return rows[0]
    if not os.path.isfile(video_path):
        raise RenderError(f"{video_path}: no such file")
    digest = sha256_file(video_path)
    absolute = os.path.abspath(video_path)
    same_bytes = [v for v in videos if v["sha256"] == digest]
    # The same bytes tagged under several ids (copies in one batch): the one at this path.
    rows = [v for v in same_bytes if v["path"] and os.path.abspath(v["path"]) == absolute] or same_bytes
    ids = sorted({v[PARTITION_COLUMN] for v in rows})
    if not ids:
        at_path = [v[PARTITION_COLUMN] for v in videos if v["path"] and os.path.abspath(v["path"]) == absolute]
        if at_path:
            raise RenderError(f"{video_path}: has changed since it was tagged as '{at_path[0]}' (sha256 differs); "
                              "give --video-id to draw its tags anyway")
        raise RenderError(f"{video_path}: not in the videos table of {tags_dir} (no row with this content "
                          "sha256); give --video-id to choose its tables")
    if len(ids) > 1:
        raise RenderError(f"{video_path}: matches several videos in {tags_dir} ({', '.join(ids)}); "
                          "give --video-id")
    return rows[0]


def frame_range(fps: float, start_s: float | None, end_s: float | None) -> tuple[int, int | None]:
    """``[start, stop)`` frame indices for a window in seconds from the first frame
    (frame = round(seconds x fps)); ``stop`` is None for "to the end"."""
    if (start_s is not None and start_s < 0) or (end_s is not None and end_s < 0):
        raise ValueError("--start and --end are seconds from the start of the video, >= 0")
    if start_s is not None and end_s is not None and end_s <= start_s:
        raise ValueError(f"--end ({end_s} s) must be after --start ({start_s} s)")
    if (start_s or end_s) and fps <= 0:
        raise ValueError("the video declares no frame rate: --start and --end cannot be used")
    start = round(start_s * fps) if start_s else 0
    stop = round(end_s * fps) if end_s is not None else None
    return start, stop


def _teams(tags_dir: str | Path, video_id: str) -> dict[int, str | None]:
    tracks = table_dataset(tags_dir, "tracks").to_table(
        columns=["track_id", "team"], filter=pc.field(PARTITION_COLUMN) == video_id).to_pylist()
    return {int(t["track_id"]): t["team"] for t in tracks}


def _events(tags_dir: str | Path, video_id: str) -> pd.DataFrame:
    return table_dataset(tags_dir, "events").to_table(
        columns=["event_type", "track_id", "start_ms", "end_ms", "peak_ms", "confidence"],
        filter=pc.field(PARTITION_COLUMN) == video_id).to_pandas().sort_values("start_ms")


def open_h264_encoder(path: str, width: int, height: int, fps: float, crf: int):
    """An mp4 container and its libx264 stream (time base :data:`TIME_BASE`)."""
    import av

    container = av.open(path, "w", format="mp4")
    stream = container.add_stream("libx264", rate=Fraction(fps or 25).limit_denominator(1001000))
    stream.width, stream.height = width, height
    # 4:2:0 needs even sizes; an odd-sized source keeps its size in 4:4:4 (High 4:4:4 profile)
    # rather than being cropped or scaled.
    stream.pix_fmt = "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"
    stream.codec_context.time_base = TIME_BASE
    stream.options = {"crf": str(crf), "preset": "veryfast"}
    return container, stream


def encode_rgb(container, stream, image: np.ndarray, clip_ms: float, last_pts: int | None) -> int:
    """Encode one (H, W, 3) uint8 RGB frame at ``clip_ms`` (ms from the clip's start); returns its pts."""
    import av

    out = av.VideoFrame.from_ndarray(image, format="rgb24")
    # A container's glitched timestamp (repeated or going back) must not stop the
    # encoder, which needs increasing pts: nudge it one tick past the previous frame.
    pts = round(clip_ms * TIME_BASE.denominator / 1000)
    pts = pts if last_pts is None else max(pts, last_pts + 1)
    out.pts, out.time_base = pts, TIME_BASE
    for packet in stream.encode(out):
        container.mux(packet)
    return pts


def render_overlay(video_path: str, tags_dir: str | Path, out_path: str | Path, *,
                   video_id: str | None = None, start_s: float | None = None, end_s: float | None = None,
                   crf: int = 20, block_frames: int = 250,
                   progress: Callable[[int], None] | None = None) -> RenderResult:
    """Write ``out_path`` (H.264 mp4): the frames of ``video_path`` in ``[start_s, end_s)``
    with their tags drawn (:func:`tagging.draw.frame.draw_overlay`).

    The output has one frame per source frame of the window, the source's size and frame
    rate, and the source's frame intervals (timestamps shifted so the clip starts at 0; the
    source time is drawn on each frame).  It is written to a temporary file beside
    ``out_path`` and moved into place when complete, so a failed render leaves any earlier
    file untouched.
    """
    row = find_video(tags_dir, video_path, video_id)
    vid = row[PARTITION_COLUMN]
    try:
        info = probe(video_path)
    except VideoError as exc:
        raise RenderError(str(exc)) from exc
    try:
        start, stop = frame_range(info.fps, start_s, end_s)
    except ValueError as exc:
        raise RenderError(f"{video_path}: {exc}") from exc
    if info.frame_count > 0 and start >= info.frame_count:
        raise RenderError(f"{video_path}: --start is past the end of the video ({info.frame_count} frames)")
    teams = _teams(tags_dir, vid)
    events = _events(tags_dir, vid)
    reader = FrameReader(video_path, start_frame=start, stop_frame=stop)
    # The tables never hold frames past the ones decoded when tagging (videos.frame_count).
    known_end = max(int(row["frame_count"] or 0), info.frame_count)
    poses = poses_by_frame(tags_dir, vid, start, known_end if stop is None else stop, block_frames)
    next_poses = next(poses, None)
    empty = FramePoses(np.zeros((0, 4)), np.zeros(0), np.zeros((0, NUM_KEYPOINTS, 3)), np.zeros(0))
    out_path = str(out_path)
    tmp = f"{out_path}.partial-{os.getpid()}.mp4"
    container, stream = open_h264_encoder(tmp, info.width, info.height, info.fps, crf)
    written, first, last, shown, t0, last_pts = 0, None, None, set(), None, None
    try:
        for frame in reader:
            while next_poses is not None and next_poses[0] < frame.index:
                next_poses = next(poses, None)
            here = next_poses[1] if next_poses is not None and next_poses[0] == frame.index else empty
            ts = frame.timestamp_ms
            now = events[(events.start_ms <= ts) & (events.end_ms >= ts)]
            shown.update(now.index)
            image = draw_overlay(frame.image, here, teams, now.to_dict("records"),
                                 caption=f"{vid}  frame {frame.index}  {ts / 1000:.3f} s")
            t0 = ts if t0 is None else t0
            last_pts = encode_rgb(container, stream, image, ts - t0, last_pts)
            written += 1
            first = frame.index if first is None else first
            last = frame.index
            if progress is not None:
                progress(written)
        for packet in stream.encode():
            container.mux(packet)
        container.close()
    except BaseException:
        container.close()
        Path(tmp).unlink(missing_ok=True)
        raise
    if written == 0:
        Path(tmp).unlink(missing_ok=True)
        raise RenderError(f"{video_path}: no frames decoded in the chosen range")
    os.replace(tmp, out_path)
    return RenderResult(out=out_path, video_id=vid, frames=written, width=info.width, height=info.height,
                        first_frame=first, last_frame=last, events=len(shown), truncated=reader.truncated)
