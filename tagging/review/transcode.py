"""Videos the browser can play: the original file when it already is H.264 in mp4 (4:2:0),
else an H.264 copy made once into a cache, one frame at a time (bounded memory).

The copy keeps every decoded frame at its source time, shifted so that it starts at 0; its
sidecar ``.json`` records the shift (``offset_ms``: the first frame's source time), so that
the player's time plus the offset is the ``timestamp_ms`` of the tables.  An odd width or
height is padded by one pixel on the right or bottom (browsers decode only 4:2:0 H.264,
which needs even sizes); pixel coordinates are unchanged.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import numpy as np

from tagging.draw.render import encode_rgb, open_h264_encoder
from tagging.video.reader import FrameReader, probe

CACHE_VERSION = "1"
_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def browser_plays(path: str | Path) -> bool:
    """Whether Chromium/Firefox play ``path`` as it is: an mp4/mov container holding H.264 in 4:2:0."""
    import av

    try:
        with av.open(str(path)) as container:
            if "mp4" not in container.format.name:
                return False
            stream = container.streams.video[0]
            return stream.codec_context.name == "h264" and stream.codec_context.pix_fmt == "yuv420p"
    except (av.FFmpegError, IndexError, OSError):
        return False


def _lock(key: str) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(key, threading.Lock())


def cached_h264(src: str | Path, cache_dir: str | Path, key: str, crf: int = 23) -> tuple[Path, float]:
    """``(mp4 path, offset_ms)`` of the browser copy of ``src`` in ``cache_dir``, named by ``key``
    (the video's sha256: a changed file gets a new copy); made on first call, written to a
    temporary file and renamed into place, so a killed transcode leaves no half file behind."""
    cache_dir = Path(cache_dir)
    out = cache_dir / f"{key}-v{CACHE_VERSION}.mp4"
    meta = out.with_suffix(".json")
    with _lock(str(out)):
        if out.is_file() and meta.is_file():
            return out, float(json.loads(meta.read_text())["offset_ms"])
        cache_dir.mkdir(parents=True, exist_ok=True)
        info = probe(str(src))
        width, height = info.width + info.width % 2, info.height + info.height % 2
        tmp = out.with_name(f".{out.name}.{os.getpid()}.partial.mp4")
        container, stream = open_h264_encoder(str(tmp), width, height, info.fps, crf)
        t0, last_pts = None, None
        try:
            for frame in FrameReader(str(src)):
                image = frame.image
                if image.shape[:2] != (height, width):
                    image = np.pad(image, ((0, height - image.shape[0]), (0, width - image.shape[1]), (0, 0)),
                                   mode="edge")
                t0 = frame.timestamp_ms if t0 is None else t0
                last_pts = encode_rgb(container, stream, np.ascontiguousarray(image), frame.timestamp_ms - t0,
                                      last_pts)
            for packet in stream.encode():
                container.mux(packet)
            container.close()
        except BaseException:
            container.close()
            tmp.unlink(missing_ok=True)
            raise
        if t0 is None:
            tmp.unlink(missing_ok=True)
            raise ValueError(f"{src}: no frame could be decoded")
        meta.write_text(json.dumps({"source": str(src), "offset_ms": t0}))
        os.replace(tmp, out)
        return out, float(t0)
