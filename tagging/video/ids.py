"""Video ids: path-component-safe, never read back as a number or date, stable per output.

The rule (README, "Where video_id comes from"):

1. a manifest's ``video_id`` wins;
2. a path the output already holds keeps the id it was stored under (the output's
   ``videos`` table is the registry), so a rerun lands on the same id whatever else is
   in the batch;
3. a new path gets its file name (:func:`video_id_for`), unless that name is already
   another file's in the output, or an earlier path (in sorted order) of the same batch
   takes it; then it gets ``<name>-<8 hex of sha256(path)>``.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Iterable, Mapping

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_LETTER = re.compile(r"[A-Za-z]")
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class VideoIdError(ValueError):
    """Two files cannot get distinct ids; the message names both."""


def reader_safe(video_id: str) -> bool:
    """True when hive readers keep ``video_id`` a string.

    pandas/pyarrow, DuckDB and Spark infer a partition value's type from the directory
    name: ``12345`` becomes an integer, ``1e5`` or ``nan`` a float, ``2024-08-23`` a date
    (DuckDB, Spark).  An id with a letter that is not a float literal stays a string.
    """
    if not _LETTER.search(video_id):
        return False
    try:
        float(video_id)
    except ValueError:
        return True
    return False


def manifest_id_problem(video_id: str) -> str | None:
    """Why a manifest's ``video_id`` cannot be used, or None."""
    if not _SAFE_ID.match(video_id):
        return "must be 1-100 characters of A-Z a-z 0-9 . _ - and start with a letter or digit"
    if not reader_safe(video_id):
        return ("looks like a number or a date, which pandas, DuckDB and Spark would read back as one; "
                f"give it a letter, e.g. 'm{video_id}'")
    return None


def video_id_for(path: str, max_len: int = 80) -> str:
    """A path-component-safe id from a video's file name (``Match 1.mp4`` -> ``Match_1``).

    Only ``[A-Za-z0-9._-]`` survive; the id never starts with a dot, is never empty
    and is always :func:`reader_safe` (``2023.mp4`` -> ``video_2023``).  It says nothing
    about uniqueness: see :func:`assign_video_ids`.
    """
    stem = Path(str(path).rstrip("/")).name
    stem = stem.rsplit(".", 1)[0] if "." in stem.lstrip(".") else stem
    slug = _UNSAFE.sub("_", stem).strip("._-")[:max_len] or "video"
    return slug if reader_safe(slug) else f"video_{slug}"


def path_hash(path: str) -> str:
    """8 hex digits of sha256 of the path as given (absolute for local files)."""
    return hashlib.sha256(path.encode("utf-8", "surrogateescape")).hexdigest()[:8]


def assign_video_ids(paths: Iterable[str], known: Mapping[str, str] | None = None,
                     reserved: Iterable[str] = ()) -> dict[str, str]:
    """Ids for ``paths`` (absolute paths or URIs) following the module's rule.

    ``known``: path -> id already stored in the output (its ``videos`` table).
    ``reserved``: ids taken by other inputs of this batch (manifest ids).
    Raises :class:`VideoIdError` when a hashed id is still taken (two paths whose
    sha256 prefixes collide under one name): a manifest id settles it.
    """
    known = dict(known or {})
    taken: dict[str, str] = {vid: p for p, vid in known.items()}
    for vid in reserved:
        taken.setdefault(vid, "")
    out: dict[str, str] = {}
    for path in sorted(set(paths)):
        if path in known:
            out[path] = known[path]
            continue
        vid = video_id_for(path)
        if vid in taken:
            vid = f"{vid}-{path_hash(path)}"
            if vid in taken:
                raise VideoIdError(f"{path} and {taken[vid] or 'a manifest row'} both get video_id {vid!r}; "
                                   "give one of them a video_id in a manifest")
        taken[vid] = path
        out[path] = vid
    return out
