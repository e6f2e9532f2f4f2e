"""Video files: ids, probing and frame decoding with OpenCV (FFmpeg backend).

Frames come out as RGB uint8 arrays with their index in the file and the
container's presentation timestamp in milliseconds.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np


class VideoError(RuntimeError):
    """A video cannot be opened or decoded.  The message names the file."""


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def video_id_for(path: str, max_len: int = 80) -> str:
    """A path-component-safe id from a video's file name (``Match 1.mp4`` -> ``Match_1``).

    Only ``[A-Za-z0-9._-]`` survive; the id never starts with a dot, is never empty
    and never looks like a number (``2023.mp4`` -> ``video_2023``).
    Callers that may see two files with the same name disambiguate with
    :func:`unique_video_ids`.
    """
    stem = Path(str(path).rstrip("/")).name
    stem = stem.rsplit(".", 1)[0] if "." in stem.lstrip(".") else stem
    slug = _UNSAFE.sub("_", stem).strip("._-")[:max_len] or "video"
    # Hive readers infer a numeric-looking partition value (2023, 1.5) as a number,
    # which would make video_id an int for some videos and a string for others.
    try:
        float(slug)
    except ValueError:
        return slug
    return f"video_{slug}"


def unique_video_ids(paths: list[str]) -> dict[str, str]:
    """Map each path to an id, adding a short hash of the path where names collide."""
    ids = {p: video_id_for(p) for p in paths}
    counts: dict[str, int] = {}
    for v in ids.values():
        counts[v] = counts.get(v, 0) + 1
    return {p: (v if counts[v] == 1 else f"{v}-{hashlib.sha1(p.encode()).hexdigest()[:8]}")
            for p, v in ids.items()}


@dataclass(frozen=True)
class VideoInfo:
    """What the container declares about a video."""

    path: str
    fps: float
    frame_count: int      # as declared by the container; may be 0 or wrong
    width: int
    height: int


@dataclass
class Frame:
    """One decoded frame: ``image`` is RGB uint8 (H, W, 3)."""

    index: int
    timestamp_ms: float
    image: np.ndarray


def _open(path: str) -> cv2.VideoCapture:
    if not os.path.exists(path):
        raise VideoError(f"{path}: no such file")
    if os.path.isdir(path):
        raise VideoError(f"{path}: is a directory, not a video")
    if os.path.getsize(path) == 0:
        raise VideoError(f"{path}: empty file (0 bytes)")
    cap = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
    if not cap.isOpened():
        raise VideoError(f"{path}: not a readable video (FFmpeg cannot open it)")
    return cap


def probe(path: str) -> VideoInfo:
    """Read the container's metadata; raises :class:`VideoError` for unusable files."""
    cap = _open(path)
    try:
        info = VideoInfo(path=path, fps=float(cap.get(cv2.CAP_PROP_FPS) or 0.0),
                         frame_count=int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0),
                         width=int(cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0),
                         height=int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0))
    finally:
        cap.release()
    if info.width <= 0 or info.height <= 0:
        raise VideoError(f"{path}: no video stream")
    return info


class FrameReader:
    """Iterate the frames of one video.

    ``stride``: keep every Nth frame (others are grabbed but not converted).
    ``max_frames``: stop after this many *kept* frames.
    After iteration, ``frames_seen`` is how many frames the decoder delivered and
    ``truncated`` says whether it stopped well short of the declared length (a
    damaged or cut file): the frames before the damage are still yielded.
    """

    def __init__(self, path: str, stride: int = 1, max_frames: int | None = None):
        if stride < 1:
            raise ValueError("stride must be >= 1")
        self.path = path
        self.info = probe(path)
        self.stride = stride
        self.max_frames = max_frames
        self.frames_seen = 0
        self.frames_kept = 0
        self.stopped_early = False  # max_frames reached

    @property
    def truncated(self) -> bool:
        declared = self.info.frame_count
        if self.stopped_early or declared <= 0:
            return False
        # Containers' frame counts are estimates; allow 1% + 2 frames of slack.
        return self.frames_seen < declared - max(2, int(0.01 * declared))

    def __iter__(self) -> Iterator[Frame]:
        cap = _open(self.path)
        fps = self.info.fps
        try:
            index = 0
            while True:
                if self.max_frames is not None and self.frames_kept >= self.max_frames:
                    self.stopped_early = True
                    break
                if not cap.grab():
                    break
                self.frames_seen += 1
                if index % self.stride == 0:
                    ts = float(cap.get(cv2.CAP_PROP_POS_MSEC))
                    if index > 0 and ts <= 0 and fps > 0:  # backend gave no pts
                        ts = index * 1000.0 / fps
                    ts = round(ts, 3)  # FFmpeg's pts * time_base leaves float noise (300.00000000000006)
                    ok, bgr = cap.retrieve()
                    if not ok or bgr is None:
                        break
                    self.frames_kept += 1
                    yield Frame(index=index, timestamp_ms=ts, image=np.ascontiguousarray(bgr[..., ::-1]))
                index += 1
        finally:
            cap.release()


def file_sha256(path: str, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()
