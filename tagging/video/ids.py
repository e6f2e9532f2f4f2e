"""Video ids: path-component-safe, never numeric-looking, unique within a batch."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

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
