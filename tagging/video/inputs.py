"""What to tag: input paths, globs and manifest CSVs -> :class:`VideoJob` with stable ids.

Beam-free.  Remote URIs (``gs://``, ``s3://``) are listed and read through functions
the caller passes in (the pipeline passes Beam's FileSystems), so this module works
the same for local files and object stores.
"""

from __future__ import annotations

import csv
import glob
import io
import os
import re
from dataclasses import dataclass, field
from typing import Callable, Optional

from schemas.tables import MANIFEST_METADATA_COLUMNS
from tagging.video.ids import unique_video_ids

# A manifest's own video_id: a safe path component that readers never take for a number
# is enforced by the writer; here only the characters and length.
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")

# match_uri(pattern) -> paths matching a remote glob; open_uri(path) -> bytes of a remote file.
MatchUri = Callable[[str], list]
OpenUri = Callable[[str], bytes]


class ManifestError(ValueError):
    """A manifest or the list of inputs cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class VideoJob:
    """One input: its id, where it is, and match metadata (from a manifest)."""

    video_id: str
    path: str
    metadata: dict = field(default_factory=dict, hash=False, compare=False)


def is_uri(path: str) -> bool:
    return "://" in path


def expand_inputs(patterns: list[str], match_uri: Optional[MatchUri] = None) -> list[str]:
    """Expand globs (local, or remote through ``match_uri``).  A pattern matching nothing
    is kept as given, so that it shows up as a failed video naming the missing file."""
    paths: list[str] = []
    for pattern in patterns:
        if is_uri(pattern):
            found = match_uri(pattern) if match_uri is not None else []
        elif glob.has_magic(pattern):
            found = sorted(glob.glob(os.path.expanduser(pattern)))
        else:
            found = [os.path.abspath(os.path.expanduser(pattern))]
        for p in found or [pattern]:
            if not is_uri(p):
                p = os.path.abspath(p)
            if p not in paths:
                paths.append(p)
    return paths


def read_manifest(path: str, open_uri: Optional[OpenUri] = None) -> list[tuple[str, str | None, dict]]:
    """Rows of a manifest CSV: ``(path_or_glob, video_id or None, metadata)``.

    Columns: ``path`` (required), ``video_id`` and the match metadata columns
    (competition, season, match_date, home, away) optional.  Relative paths are
    relative to the manifest's folder.
    """
    try:
        if is_uri(path):
            if open_uri is None:
                raise OSError("no reader for remote manifests")
            text = open_uri(path).decode("utf-8-sig")
        else:
            with open(path, encoding="utf-8-sig") as fh:
                text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"manifest {path}: cannot read it ({exc})") from exc
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "path" not in [f.strip() for f in reader.fieldnames]:
        raise ManifestError(f"manifest {path}: needs a header row with a 'path' column")
    base = os.path.dirname(os.path.abspath(path)) if not is_uri(path) else path.rsplit("/", 1)[0]
    entries = []
    for line, raw in enumerate(reader, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in raw.items()}
        video = row.get("path", "")
        if not video:
            raise ManifestError(f"manifest {path}, line {line}: empty 'path'")
        if not is_uri(video) and not os.path.isabs(os.path.expanduser(video)):
            video = os.path.join(base, video) if not is_uri(base) else f"{base}/{video}"
        video_id = row.get("video_id") or None
        if video_id is not None and not _SAFE_ID.match(video_id):
            raise ManifestError(f"manifest {path}, line {line}: video_id {video_id!r} must be 1-100 characters "
                                "of A-Z a-z 0-9 . _ - and start with a letter or digit")
        entries.append((video, video_id, {k: row[k] for k in MANIFEST_METADATA_COLUMNS if row.get(k)}))
    if not entries:
        raise ManifestError(f"manifest {path}: no rows")
    return entries


def video_jobs(inputs: list[str], manifest: str | None = None, match_uri: Optional[MatchUri] = None,
               open_uri: Optional[OpenUri] = None) -> list[VideoJob]:
    """Inputs and manifest rows -> jobs with unique, path-safe video ids, sorted by id."""
    entries: list[tuple[str, str | None, dict]] = [(p, None, {}) for p in inputs or []]
    if manifest:
        entries += read_manifest(manifest, open_uri)
    jobs: dict[str, VideoJob] = {}
    explicit: dict[str, str] = {}
    derived_paths: list[str] = []
    meta: dict[str, dict] = {}
    for pattern, video_id, metadata in entries:
        paths = expand_inputs([pattern], match_uri)
        if video_id is not None:
            if len(paths) != 1:
                raise ManifestError(f"manifest row {pattern!r} has video_id {video_id!r} but matches "
                                    f"{len(paths)} files")
            if video_id in explicit.values() and explicit.get(paths[0]) != video_id:
                raise ManifestError(f"manifest: video_id {video_id!r} is given to two different files")
            explicit[paths[0]] = video_id
        for p in paths:
            meta.setdefault(p, {}).update(metadata)
            if p not in explicit and p not in derived_paths:
                derived_paths.append(p)
    derived = unique_video_ids([p for p in derived_paths if p not in explicit])
    for path, vid in list(explicit.items()) + list(derived.items()):
        if vid in jobs:
            raise ManifestError(f"two inputs get video_id {vid!r}: {jobs[vid].path} and {path}; "
                                "give one of them a video_id in a manifest")
        jobs[vid] = VideoJob(vid, path, meta.get(path, {}))
    return sorted(jobs.values(), key=lambda j: j.video_id)
