"""Video files: probing and frame decoding with OpenCV (FFmpeg backend).

Frames come out as RGB uint8 arrays with their index in the file and the
container's presentation timestamp in milliseconds.
"""

from __future__ import annotations

import errno
import math
import os
import stat
from dataclasses import dataclass
from typing import Iterator

import cv2
import numpy as np


class VideoError(RuntimeError):
    """A video cannot be opened or decoded.  The message names the file."""


@dataclass(frozen=True)
class VideoInfo:
    """What the container declares about a video."""

    path: str
    fps: float
    frame_count: int      # as declared by the container; 0 when unknown or impossible; may be wrong
    width: int
    height: int


@dataclass
class Frame:
    """One decoded frame: ``image`` is RGB uint8 (H, W, 3)."""

    index: int
    timestamp_ms: float
    image: np.ndarray


# Leading bytes of still-image formats FFmpeg would open as a one-frame "video".
_IMAGE_MAGIC = ((b"\xff\xd8\xff", "JPEG"), (b"\x89PNG\r\n\x1a\n", "PNG"), (b"GIF87a", "GIF"),
                (b"GIF89a", "GIF"), (b"BM", "BMP"), (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"))


def _image_format(head: bytes) -> str | None:
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    return next((name for magic, name in _IMAGE_MAGIC if head.startswith(magic)), None)


def _check_file(path: str) -> os.stat_result:
    """The file's stat, or :class:`VideoError` saying in words why it cannot be a video."""
    try:
        st = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise VideoError(f"{path}: symlink loop") from None
        if os.path.islink(path):
            raise VideoError(f"{path}: broken symlink (its target {os.readlink(path)} does not exist)") from None
        if exc.errno == errno.ENOENT:
            raise VideoError(f"{path}: no such file") from None
        raise VideoError(f"{path}: cannot read it ({exc.strerror})") from None
    if stat.S_ISDIR(st.st_mode):
        raise VideoError(f"{path}: is a directory, not a video")
    if not stat.S_ISREG(st.st_mode):
        # A FIFO or device would block or never end in the decoder.
        raise VideoError(f"{path}: not a regular file (a pipe, socket or device)")
    if st.st_size == 0:
        raise VideoError(f"{path}: empty file (0 bytes)")
    if not os.access(path, os.R_OK):
        raise VideoError(f"{path}: cannot read it (permission denied)")
    return st


def _open(path: str) -> cv2.VideoCapture:
    _check_file(path)
    cap = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
    if not cap.isOpened():
        raise VideoError(f"{path}: not a readable video (FFmpeg cannot open it)")
    return cap


def _count(value: float) -> int:
    """A container's declared count as an int; 0 when absent, negative or not finite."""
    return int(value) if math.isfinite(value) and value > 0 else 0


def probe(path: str) -> VideoInfo:
    """Read the container's metadata; raises :class:`VideoError` for unusable files.

    A declared frame count that cannot be true (more frames than the file has bytes,
    or FFmpeg's "unknown" INT64_MIN) is reported as 0, unknown: the reader then reads
    to the end instead of planning millions of ranges.
    """
    st = _check_file(path)
    with open(path, "rb") as fh:
        image = _image_format(fh.read(16))
    cap = _open(path)
    try:
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        declared = _count(float(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0.0))
        info = VideoInfo(path=path, fps=fps if math.isfinite(fps) and fps > 0 else 0.0,
                         frame_count=declared if declared <= st.st_size else 0,
                         width=_count(float(cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0)),
                         height=_count(float(cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)))
        # FFmpeg opens a still image as a one-frame stream; a second frame means it is
        # really a video (e.g. a raw Motion-JPEG stream, which starts like a JPEG).
        still = image is not None and cap.grab() and not cap.grab()
    finally:
        cap.release()
    if still:
        raise VideoError(f"{path}: a still image ({image}), not a video")
    if info.width <= 0 or info.height <= 0:
        raise VideoError(f"{path}: no video stream")
    return info


class FrameReader:
    """Iterate the frames of one video, or of one frame range of it.

    - ``stride``: keep every Nth frame counted from the start of the file (others are
      grabbed but not converted), so ranges of one video keep the same frames as a
      single pass would.
    - ``max_frames``: stop after this many *kept* frames.
    - ``start_frame`` / ``stop_frame``: decode only frames ``[start, stop)``; the reader
      seeks to ``start`` (FFmpeg seeks to the previous keyframe and decodes forward;
      the position is checked, and if the seek lands wrong it decodes from the start).

    After iteration, ``frames_seen`` is how many frames the decoder delivered in the
    range and ``truncated`` says whether it stopped well short of where the range (or
    the container's declared length) says it should end: a damaged or cut file.  The
    frames before the damage are still yielded.
    """

    def __init__(self, path: str, stride: int = 1, max_frames: int | None = None,
                 start_frame: int = 0, stop_frame: int | None = None):
        if stride < 1:
            raise ValueError("stride must be >= 1")
        if start_frame < 0 or (stop_frame is not None and stop_frame < start_frame):
            raise ValueError(f"bad frame range [{start_frame}, {stop_frame})")
        self.path = path
        self.info = probe(path)
        self.stride = stride
        self.max_frames = max_frames
        self.start_frame = start_frame
        self.stop_frame = stop_frame
        self.frames_seen = 0
        self.frames_kept = 0
        self.last_index = start_frame - 1
        self.stopped_early = False  # max_frames or stop_frame reached

    @property
    def expected_end(self) -> int | None:
        """Frame index (exclusive) this read should reach, or None if unknown."""
        declared = self.info.frame_count
        if self.stop_frame is not None and (declared <= 0 or self.stop_frame <= declared):
            return self.stop_frame
        return declared if declared > 0 else None

    @property
    def truncated(self) -> bool:
        end = self.expected_end
        if self.stopped_early or end is None:
            return False
        reached = self.start_frame + self.frames_seen
        if self.stop_frame is not None and end == self.stop_frame and end < self.info.frame_count:
            return reached < end  # a range inside the file must be read whole
        # Containers' frame counts are estimates; allow 1% + 2 frames of slack.
        return reached < end - max(2, int(0.01 * end))

    def _seek(self, cap: cv2.VideoCapture) -> bool:
        if self.start_frame == 0:
            return True
        cap.set(cv2.CAP_PROP_POS_FRAMES, self.start_frame)
        if int(round(cap.get(cv2.CAP_PROP_POS_FRAMES))) == self.start_frame:
            return True
        # Seek refused or inexact (some containers): decode forward from frame 0.
        cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
        for _ in range(self.start_frame):
            if not cap.grab():
                return False
        return True

    def __iter__(self) -> Iterator[Frame]:
        cap = _open(self.path)
        fps = self.info.fps
        try:
            if not self._seek(cap):
                return
            index = self.start_frame
            while True:
                if self.max_frames is not None and self.frames_kept >= self.max_frames:
                    self.stopped_early = True
                    break
                if self.stop_frame is not None and index >= self.stop_frame:
                    self.stopped_early = True
                    break
                if not cap.grab():
                    break
                self.frames_seen += 1
                self.last_index = index
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


def plan_ranges(declared_frames: int, range_frames: int, stride: int = 1,
                limit_frame: int | None = None) -> list[tuple[int, int | None]]:
    """Split a video into ``[start, stop)`` frame ranges that can be decoded in parallel.

    Starts are multiples of ``stride`` (so every range keeps the frames one pass would).
    The last range is open-ended (``stop=None``) so frames beyond a container's
    under-declared length are not lost; ``limit_frame`` (from ``--max-frames``) closes it.
    """
    if range_frames < 1:
        raise ValueError("range_frames must be >= 1")
    step = -(-range_frames // stride) * stride  # round up to a multiple of stride
    end = declared_frames if declared_frames > 0 else None
    if limit_frame is not None:
        end = limit_frame if end is None else min(end, limit_frame)
    if end is None:
        return [(0, None)]
    starts = list(range(0, max(end, 1), step))
    ranges: list[tuple[int, int | None]] = [(a, a + step) for a in starts]
    last_start = starts[-1]
    ranges[-1] = (last_start, limit_frame)
    return ranges


def frames_at(path: str, indices, max_gap: int = 50) -> Iterator[Frame]:
    """The frames at ``indices`` (any order; yielded in frame order, once each).

    Indices closer than ``max_gap`` frames are read in one forward pass; for each farther
    one the reader seeks again, so a few frames of a long match cost a few seeks, not a
    decode of the whole file.
    """
    wanted = sorted(set(int(i) for i in indices))
    i = 0
    while i < len(wanted):
        j = i
        while j + 1 < len(wanted) and wanted[j + 1] - wanted[j] <= max_gap:
            j += 1
        keep = set(wanted[i:j + 1])
        for frame in FrameReader(path, start_frame=wanted[i], stop_frame=wanted[j] + 1):
            if frame.index in keep:
                yield frame
        i = j + 1
