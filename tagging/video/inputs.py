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
from dataclasses import dataclass, field
from typing import Callable, Optional

from schemas.tables import MANIFEST_METADATA_COLUMNS
from tagging.video.ids import VideoIdError, assign_video_ids, manifest_id_problem

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
    """Expand globs (local, or remote through ``match_uri``).

    A local path that exists is taken literally, even with glob characters in its name
    (``m[1].mp4`` is that file, not ``m1.mp4``).  A pattern matching nothing is kept as
    given, so that it shows up as a failed video naming the missing file.
    """
    paths: list[str] = []
    for pattern in patterns:
        if is_uri(pattern):
            found = match_uri(pattern) if match_uri is not None else []
        else:
            local = os.path.expanduser(pattern)
            literal = os.path.lexists(local)
            found = sorted(glob.glob(local)) if glob.has_magic(local) and not literal else [local]
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
    entries = _manifest_rows(path, text)
    if not entries:
        raise ManifestError(f"manifest {path}: no rows")
    return entries


def _manifest_rows(path: str, text: str) -> list[tuple[str, str | None, dict]]:
    reader = csv.reader(io.StringIO(text), strict=True)
    try:
        return _manifest_entries(path, reader)
    except csv.Error as exc:  # a stray or unclosed quote, a field over the csv module's limit
        raise ManifestError(f"manifest {path}, line {reader.line_num}: not valid CSV ({exc})") from None


def _manifest_entries(path: str, reader) -> list[tuple[str, str | None, dict]]:
    header = [name.strip() for name in next(reader, [])]
    if "path" not in header:
        raise ManifestError(f"manifest {path}: needs a header row with a 'path' column")
    named = [name for name in header if name]
    duplicate = next((name for name in named if named.count(name) > 1), None)
    if duplicate is not None:
        raise ManifestError(f"manifest {path}: column {duplicate!r} appears twice in the header")
    base = os.path.dirname(os.path.abspath(path)) if not is_uri(path) else path.rsplit("/", 1)[0]
    entries = []
    for fields in reader:
        line = reader.line_num
        if not any(f.strip() for f in fields):
            continue  # blank lines, or a row of empty cells from a spreadsheet
        if len(fields) > len(header):
            raise ManifestError(f"manifest {path}, line {line}: {len(fields)} fields but the header has "
                                f"{len(header)} (an unquoted comma in a value?)")
        row = {name: value.strip() for name, value in zip(header, fields) if name}
        video = row.get("path", "")
        if not video:
            raise ManifestError(f"manifest {path}, line {line}: empty 'path'")
        if "\x00" in video:
            raise ManifestError(f"manifest {path}, line {line}: the path holds a NUL byte")
        if not is_uri(video) and not os.path.isabs(os.path.expanduser(video)):
            video = os.path.join(base, video) if not is_uri(base) else f"{base}/{video}"
        video_id = row.get("video_id") or None
        problem = manifest_id_problem(video_id) if video_id is not None else None
        if problem:
            raise ManifestError(f"manifest {path}, line {line}: video_id {video_id!r} {problem}")
        entries.append((video, video_id, {k: row[k] for k in MANIFEST_METADATA_COLUMNS if row.get(k)}))
    return entries


def video_jobs(inputs: list[str], manifest: str | None = None, match_uri: Optional[MatchUri] = None,
               open_uri: Optional[OpenUri] = None, known_ids: Optional[dict] = None) -> list[VideoJob]:
    """Inputs and manifest rows -> jobs with path-safe video ids, sorted by id.

    ``known_ids``: path -> video_id already stored in the output (see
    :func:`tagging.video.ids.assign_video_ids`), so a path keeps its id across batches.
    """
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
            stored = (known_ids or {}).get(paths[0])
            if stored is not None and stored != video_id:
                # Taking the new id would store the same file twice in one output.
                raise ManifestError(f"manifest row {pattern!r}: this output already holds the file as "
                                    f"video_id {stored!r}, not {video_id!r}; use {stored!r}, or remove its "
                                    "partitions first to rename it")
            explicit[paths[0]] = video_id
        for p in paths:
            meta.setdefault(p, {}).update(metadata)
            if p not in derived_paths:
                derived_paths.append(p)
    try:
        derived = assign_video_ids([p for p in derived_paths if p not in explicit], known_ids,
                                   reserved=explicit.values())
    except VideoIdError as exc:
        raise ManifestError(str(exc)) from None
    for path, vid in list(explicit.items()) + list(derived.items()):
        if vid in jobs:
            raise ManifestError(f"two inputs get video_id {vid!r}: {jobs[vid].path} and {path}; "
                                "give one of them a video_id in a manifest")
        jobs[vid] = VideoJob(vid, path, meta.get(path, {}))
    return sorted(jobs.values(), key=lambda j: j.video_id)
