"""Typed queries over the output of ``matchtag run``: each table as a pandas DataFrame,
filtered and projected by pyarrow before a row reaches pandas (docs/querying.md).

Every read goes through :func:`tagging.tables.store.table_dataset`. Filters become pyarrow
dataset filters: ``video_id`` selects partitions (the other videos' files are never
opened), the other filters skip row groups by their statistics, and ``columns`` reads only
those columns. A question about one match, one team or one half never reads a season.

The frames have the same types whatever the data holds:

- ``video_id`` (``run_id`` for ``runs``) is the first column, a plain string;
- strings are pandas' ``str`` dtype; integer columns are pandas' nullable integers
  (``Int64``, ``Int32`` for ``width``/``height``), so a failed video's null
  ``frame_count`` is ``<NA>`` in an integer column, not a float;
- floats keep their width (keypoints are float32); timestamps are UTC datetimes;
  ``runs.failures`` holds Python lists;
- times: ``times="ms"`` (default) keeps every ``<name>_ms`` column as float milliseconds,
  as stored; ``times="timedelta"`` turns each into ``<name>`` of dtype ``timedelta64``
  (``timestamp_ms`` -> ``timestamp``, ``peak_ms`` -> ``peak``, ``duration_ms`` -> ``duration``).

Time ranges are half-open, ``[start, end)``. ``start``/``end`` take a ``pd.Timedelta``, a
string (``"47min30s"``, ``"47:30"`` as mm:ss, ``"1:02:30"``) or a number of seconds;
``start_ms``/``end_ms`` take milliseconds. They are compared with the table's own time:
``timestamp_ms`` (poses), ``peak_ms`` (events) and the span ``first_ms``..``last_ms``
(tracks: those on screen at some moment of the range).

``team`` is a property of a track ("a"/"b" by jersey colour within one video, "other").
For ``poses`` and ``events`` it is resolved through the ``tracks`` table, reading only
``video_id``, ``track_id`` and ``team`` there, and becomes a ``(video_id, track_id)``
filter on the bigger table.
"""

from __future__ import annotations

import datetime as dt
import difflib
from typing import Iterable, Union

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

from schemas.tables import KEYPOINT_COLUMNS, MANIFEST_METADATA_COLUMNS, PARTITION_COLUMN
from tagging.core.keypoints import NUM_KEYPOINTS
from tagging.tables.store import RUNS_PARTITION_COLUMN, read_consistent, table_dataset

TimeLike = Union[pd.Timedelta, dt.timedelta, str, float, int, None]
Ids = Union[str, int, Iterable, None]

TIMES = ("ms", "timedelta")
# Row order of each table: by video, then by time (or id).
_ORDER = {"videos": (PARTITION_COLUMN,), "poses": (PARTITION_COLUMN, "frame_index", "track_id"),
          "tracks": (PARTITION_COLUMN, "track_id"), "events": (PARTITION_COLUMN, "peak_ms", "track_id"),
          "balls": (PARTITION_COLUMN, "frame_index", "score"),
          "positions": (PARTITION_COLUMN, "frame_index", "track_id"),
          "runs": ("started_at", RUNS_PARTITION_COLUMN)}
# Column compared with the range's start, and column compared with its end.
_TIME_SPAN = {"poses": ("timestamp_ms", "timestamp_ms"), "balls": ("timestamp_ms", "timestamp_ms"),
              "positions": ("timestamp_ms", "timestamp_ms"),
              "events": ("peak_ms", "peak_ms"),
              "tracks": ("last_ms", "first_ms")}
_NULLABLE_INTS = {pa.int8(): pd.Int8Dtype(), pa.int16(): pd.Int16Dtype(), pa.int32(): pd.Int32Dtype(),
                  pa.int64(): pd.Int64Dtype()}
MATCH_COLUMNS = MANIFEST_METADATA_COLUMNS


# -- filters ---------------------------------------------------------------------------------

def _values(value: Ids, cast) -> list | None:
    """One value or many as a list (``None``: no filter)."""
    if value is None:
        return None
    if isinstance(value, (str, bytes, int, np.integer)):
        return [cast(value)]
    return [cast(v) for v in value]


# A filter that matches no row (and prunes every file): an empty id list.
_NOTHING = ds.scalar(False)


def _match(column: str, values: list | None) -> ds.Expression | None:
    if values is None:
        return None
    if not values:
        return _NOTHING
    if len(values) == 1:
        return ds.field(column) == values[0]
    return ds.field(column).isin(values)


def _all(*parts: ds.Expression | None) -> ds.Expression | None:
    out = None
    for p in parts:
        if p is not None:
            out = p if out is None else out & p
    return out


def _any(parts: list[ds.Expression]) -> ds.Expression:
    """OR of ``parts``; matches nothing when there are none."""
    if not parts:
        return _NOTHING
    out = parts[0]
    for p in parts[1:]:
        out = out | p
    return out


def _ms(value: TimeLike, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return float(value) * 1000.0
    if isinstance(value, str):
        text = value.strip()
        try:
            # pandas reads a bare "45" as 45 ns; here it is seconds, as a number is
            return float(text) * 1000.0
        except ValueError:
            pass
        # "47:30" is minutes and seconds (pandas wants hours first)
        value = f"0:{text}" if text.count(":") == 1 else text
    try:
        return pd.Timedelta(value).total_seconds() * 1000.0
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name}={value!r} is not a time: give seconds, a string such as '47min', "
                         "or a pandas Timedelta") from exc


def time_range_ms(start: TimeLike = None, end: TimeLike = None, start_ms: float | None = None,
                  end_ms: float | None = None) -> tuple[float | None, float | None]:
    """``(lo, hi)`` milliseconds of a half-open range from either spelling (``None``: open)."""
    if start is not None and start_ms is not None:
        raise ValueError("give start or start_ms, not both")
    if end is not None and end_ms is not None:
        raise ValueError("give end or end_ms, not both")
    lo = _ms(start, "start") if start is not None else (None if start_ms is None else float(start_ms))
    hi = _ms(end, "end") if end is not None else (None if end_ms is None else float(end_ms))
    if lo is not None and hi is not None and hi < lo:
        raise ValueError(f"the time range ends ({hi:g} ms) before it starts ({lo:g} ms)")
    return lo, hi


def _time_filter(table: str, lo: float | None, hi: float | None) -> ds.Expression | None:
    if lo is None and hi is None:
        return None
    if table not in _TIME_SPAN:
        raise ValueError(f"the {table} table has no time to filter on")
    after, before = _TIME_SPAN[table]
    return _all(None if lo is None else ds.field(after) >= lo, None if hi is None else ds.field(before) < hi)


def _tracks_of(rows: pd.DataFrame, also=None) -> ds.Expression:
    """A filter selecting the ``(video_id, track_id)`` pairs of ``rows``: one term per video,
    and'ed with ``also(that video's rows)`` when given."""
    terms = []
    for vid, group in rows.groupby(PARTITION_COLUMN, sort=True):
        term = (ds.field(PARTITION_COLUMN) == str(vid)) & ds.field("track_id").isin(
            sorted({int(t) for t in group["track_id"]}))
        terms.append(term if also is None else term & also(group))
    return _any(terms)


def _team_tracks(root, videos: list | None, teams: list | None, track_ids: list | None) -> ds.Expression:
    """A ``(video_id, track_id)`` filter selecting the tracks of ``teams``, read from the
    ``tracks`` table (three columns, only the selected videos' partitions)."""
    found = table_dataset(root, "tracks").to_table(
        columns=[PARTITION_COLUMN, "track_id"],
        filter=_all(_match(PARTITION_COLUMN, videos), _match("team", teams), _match("track_id", track_ids)))
    return _tracks_of(found.to_pandas())


def _row_filter(root, table: str, video_id: Ids = None, track_id: Ids = None, team: Ids = None,
                lo: float | None = None, hi: float | None = None, **equal: Ids) -> ds.Expression | None:
    videos = _values(video_id, str)
    tracks = _values(track_id, int)
    teams = _values(team, str)
    if teams is not None and table != "tracks":
        who = _team_tracks(root, videos, teams, tracks)
    else:
        who = _all(_match("track_id", tracks), _match("team", teams))
    return _all(_match(PARTITION_COLUMN, videos), who, _time_filter(table, lo, hi),
                *(_match(col, _values(v, str)) for col, v in equal.items()))


# -- reading ---------------------------------------------------------------------------------

def _projection(schema: pa.Schema, table: str, columns: Iterable[str] | None) -> list[str]:
    """Stored column names to read, the partition column first; ``<name>`` is accepted for a
    ``<name>_ms`` column (the ``times="timedelta"`` spelling)."""
    key = RUNS_PARTITION_COLUMN if table == "runs" else PARTITION_COLUMN
    names = [n for n in schema.names if n != key]
    if columns is None:
        return [key, *names]
    if isinstance(columns, str):
        raise TypeError(f"columns must be a list of names, not the string {columns!r}")
    picked = [key]
    for name in columns:
        stored = name if name in schema.names else f"{name}_ms"
        if stored not in schema.names:
            close = difflib.get_close_matches(name, schema.names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"the {table} table has no column {name!r}{hint}")
        if stored not in picked:
            picked.append(stored)
    return picked




def _check_times(times: str) -> None:
    if times not in TIMES:
        raise ValueError(f"times={times!r}: one of {', '.join(TIMES)}")


def with_times(df: pd.DataFrame, times: str) -> pd.DataFrame:
    """``times="timedelta"``: each ``<name>_ms`` column (float ms) becomes ``<name>`` as a
    ``timedelta64``, in place of the original; ``times="ms"``: ``df`` unchanged."""
    _check_times(times)
    if times == "ms":
        return df
    ms = [c for c in df.columns if c.endswith("_ms")]
    out = df.copy(deep=False)
    for c in ms:
        out[c] = pd.to_timedelta(out[c], unit="ms")
    return out.rename(columns={c: c[:-3] for c in ms})


def to_frame(table: pa.Table, times: str = "ms") -> pd.DataFrame:
    """An Arrow table read from the tag tables as a DataFrame with this module's types."""
    _check_times(times)
    lists = [f.name for f in table.schema if pa.types.is_list(f.type)]
    as_lists = {name: [v or [] for v in table.column(name).to_pylist()] for name in lists}
    df = table.to_pandas(types_mapper=_NULLABLE_INTS.get, split_blocks=True)
    for name, values in as_lists.items():
        df[name] = pd.Series(values, index=df.index, dtype=object)
    return with_times(df, times)


def _read(root, table: str, filter: ds.Expression | None, columns=None, times: str = "ms") -> pd.DataFrame:
    _check_times(times)
    def read(records):
        dataset = table_dataset(root, table, records)
        wanted = _projection(dataset.schema, table, columns)
        # The order keys are read even when not asked for (they are small), so that the row
        # order is the documented one whatever the projection.
        return wanted, dataset.to_table(columns=wanted + [k for k in _ORDER[table] if k not in wanted],
                                        filter=filter)

    wanted, found = read_consistent(root, read)
    if found.num_rows > 1:
        found = found.sort_by([(k, "ascending") for k in _ORDER[table]])
    return to_frame(found.select(wanted), times)


def load_table(root, table: str, video_id: Ids = None, *, columns: Iterable[str] | None = None,
               times: str = "ms") -> pd.DataFrame:
    """Any table by name (``videos``, ``poses``, ``tracks``, ``events``, ``balls``, ``positions``, ``runs``), filtered by
    video only (not ``runs``): the common ground of the ``load_*`` functions."""
    if table == "runs" and video_id is not None:
        raise ValueError("the runs table is not partitioned by video: give no video_id")
    where = None if video_id is None else _match(PARTITION_COLUMN, _values(video_id, str))
    return _read(root, table, where, columns, times)


def load_videos(root, video_id: Ids = None, *, status: Ids = None, columns: Iterable[str] | None = None,
                times: str = "ms") -> pd.DataFrame:
    """``videos`` rows (one per input): ``video_id`` one id or many, ``status`` "ok", "partial"
    and/or "failed". Match metadata (home, away, competition, ...) is null without a manifest."""
    return _read(root, "videos", _row_filter(root, "videos", video_id, status=status), columns, times)


def load_poses(root, video_id: Ids = None, *, track_id: Ids = None, team: Ids = None, start: TimeLike = None,
               end: TimeLike = None, start_ms: float | None = None, end_ms: float | None = None,
               columns: Iterable[str] | None = None, times: str = "ms") -> pd.DataFrame:
    """``poses`` rows (one per person per processed frame), ordered by video, frame, track.

    Keypoints are the wide ``<name>_x/_y/_score`` float32 columns (frame pixels);
    :func:`tagging.tables.queries.keypoints_array` turns rows into an (N, 17, 3) array.
    """
    lo, hi = time_range_ms(start, end, start_ms, end_ms)
    return _read(root, "poses", _row_filter(root, "poses", video_id, track_id, team, lo, hi), columns, times)


def load_balls(root, video_id: Ids = None, *, start: TimeLike = None, end: TimeLike = None,
               start_ms: float | None = None, end_ms: float | None = None, min_score: float | None = None,
               columns: Iterable[str] | None = None, times: str = "ms") -> pd.DataFrame:
    """``balls`` rows (one per ball box the detector kept; frames without a ball have none),
    ordered by video and frame.  Boxes ``x1, y1, x2, y2`` are frame pixels; ``min_score``
    keeps the surer ones.  Empty for videos tagged with ``--pose replay`` from a run without
    balls, and for output roots written before the table existed (schema version 1)."""
    lo, hi = time_range_ms(start, end, start_ms, end_ms)
    where = _all(_row_filter(root, "balls", video_id, lo=lo, hi=hi),
                 None if min_score is None else ds.field("score") >= float(min_score))
    return _read(root, "balls", where, columns, times)


def load_positions(root, video_id: Ids = None, *, track_id: Ids = None, team: Ids = None,
                   start: TimeLike = None, end: TimeLike = None, start_ms: float | None = None,
                   end_ms: float | None = None, observed: bool | None = None,
                   columns: Iterable[str] | None = None, times: str = "ms") -> pd.DataFrame:
    """``positions`` rows (each tracked person's box on every processed frame of their track,
    gaps up to 1.2 s filled: tagging/track/positions.py), ordered by video, frame, track.
    ``observed=True`` keeps the detected boxes only, ``False`` the filled ones.  Empty for
    output roots written before the table existed (schema version < 4)."""
    lo, hi = time_range_ms(start, end, start_ms, end_ms)
    where = _all(_row_filter(root, "positions", video_id, track_id, team, lo, hi),
                 None if observed is None else ds.field("observed") == bool(observed))
    return _read(root, "positions", where, columns, times)


def load_tracks(root, video_id: Ids = None, *, track_id: Ids = None, team: Ids = None, start: TimeLike = None,
                end: TimeLike = None, start_ms: float | None = None, end_ms: float | None = None,
                columns: Iterable[str] | None = None, times: str = "ms") -> pd.DataFrame:
    """``tracks`` rows (one per player track); a time range keeps the tracks on screen in it."""
    lo, hi = time_range_ms(start, end, start_ms, end_ms)
    return _read(root, "tracks", _row_filter(root, "tracks", video_id, track_id, team, lo, hi), columns, times)


def load_events(root, video_id: Ids = None, *, event_type: Ids = None, track_id: Ids = None, team: Ids = None,
                start: TimeLike = None, end: TimeLike = None, start_ms: float | None = None,
                end_ms: float | None = None, columns: Iterable[str] | None = None,
                times: str = "ms") -> pd.DataFrame:
    """``events`` rows, ordered by video and peak time; a time range is on ``peak_ms``."""
    lo, hi = time_range_ms(start, end, start_ms, end_ms)
    where = _row_filter(root, "events", video_id, track_id, team, lo, hi, event_type=event_type)
    return _read(root, "events", where, columns, times)


def load_runs(root, *, columns: Iterable[str] | None = None) -> pd.DataFrame:
    """``runs`` rows (one per ``matchtag run``), oldest first; ``failures`` as lists of
    ``"video_id: error"`` strings (empty when every video was tagged)."""
    return _read(root, "runs", None, columns)


# -- joined questions ------------------------------------------------------------------------

def track_keypoints(root, video_id: str, track_id: int, *, start: TimeLike = None, end: TimeLike = None,
                    start_ms: float | None = None, end_ms: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One track's poses: ``(timestamps_ms (T,) float64, keypoints (T, 17, 3) float32)`` with
    (x_px, y_px, score) per keypoint, in time order. Raises ``LookupError`` when the track has
    no pose (in the range)."""
    if not isinstance(video_id, str):
        raise TypeError(f"video_id must be one id (a string), not {video_id!r}")
    lo, hi = time_range_ms(start, end, start_ms, end_ms)
    poses = load_poses(root, video_id, track_id=int(track_id), start_ms=lo, end_ms=hi,
                       columns=["timestamp_ms", *KEYPOINT_COLUMNS])
    if poses.empty:
        within = "" if lo is None and hi is None else " in that time range"
        raise LookupError(f"{root}: no poses of track {int(track_id)} in video {video_id!r}{within}")
    keypoints = poses[list(KEYPOINT_COLUMNS)].to_numpy(np.float32).reshape(-1, NUM_KEYPOINTS, 3)
    return poses["timestamp_ms"].to_numpy(np.float64), keypoints


def events_with_team(root, video_id: Ids = None, *, event_type: Ids = None, track_id: Ids = None,
                     team: Ids = None, start: TimeLike = None, end: TimeLike = None,
                     start_ms: float | None = None, end_ms: float | None = None,
                     times: str = "ms") -> pd.DataFrame:
    """:func:`load_events` (same filters) plus the player's ``team`` (after ``track_id``) and
    the match metadata of the video (``competition, season, match_date, home, away``).

    ``team`` is "a"/"b" by jersey colour, clustered per video: which of them is the home side
    is not known to the tables (docs/querying.md shows how to map them).
    """
    events = load_events(root, video_id, event_type=event_type, track_id=track_id, team=team, start=start,
                         end=end, start_ms=start_ms, end_ms=end_ms)
    _check_times(times)
    vids = sorted(set(events[PARTITION_COLUMN]))
    teams = _read(root, "tracks", _tracks_of(events), ["track_id", "team"])
    match = _read(root, "videos", _match(PARTITION_COLUMN, vids), list(MATCH_COLUMNS))
    out = events.merge(teams, on=[PARTITION_COLUMN, "track_id"], how="left", validate="many_to_one")
    out = out.merge(match, on=PARTITION_COLUMN, how="left", validate="many_to_one")
    cols = list(events.columns)
    cols.insert(cols.index("track_id") + 1, "team")
    return with_times(out[cols + list(MATCH_COLUMNS)], times)


def events_with_poses(root, video_id: Ids = None, *, event_type: Ids = None, track_id: Ids = None,
                      team: Ids = None, start: TimeLike = None, end: TimeLike = None,
                      start_ms: float | None = None, end_ms: float | None = None,
                      window_ms: float | tuple[float, float] = 1000.0,
                      pose_columns: Iterable[str] | None = None, times: str = "ms") -> pd.DataFrame:
    """Each event of :func:`events_with_team` (same filters) joined to the poses of its own
    track from ``window_ms`` before its peak to ``window_ms`` after it (or ``(before, after)``).

    One row per event and pose frame, in time order: ``event`` (0, 1, ... numbers the events,
    in the order :func:`events_with_team` gives them), the event's columns, ``offset_ms``
    (pose time minus peak time, ms) and the pose columns (all, or ``pose_columns``). An event
    whose track has no pose in its window keeps one row, with null pose columns.
    """
    _check_times(times)
    before, after = (window_ms, window_ms) if np.isscalar(window_ms) else window_ms
    if before < 0 or after < 0:
        raise ValueError(f"window_ms={window_ms!r}: the window cannot be negative")
    events = events_with_team(root, video_id, event_type=event_type, track_id=track_id, team=team, start=start,
                              end=end, start_ms=start_ms, end_ms=end_ms)
    events.insert(1, "event", pd.array(np.arange(len(events)), dtype="Int64"))
    keys = [PARTITION_COLUMN, "track_id"]
    # Per video: only the events' tracks, only between the first window's start and the
    # last window's end; the exact per-event windows are cut in pandas below.
    where = _tracks_of(events, lambda group: (ds.field("timestamp_ms") >= float(group.peak_ms.min()) - before)
                       & (ds.field("timestamp_ms") <= float(group.peak_ms.max()) + after))
    wanted = None if pose_columns is None else ["track_id", "timestamp_ms", *pose_columns]
    poses = _read(root, "poses", where, wanted)
    near = events[["event", *keys, "peak_ms"]].merge(poses, on=keys, how="inner")
    near = near[(near.timestamp_ms >= near.peak_ms - before) & (near.timestamp_ms <= near.peak_ms + after)]
    near.insert(near.columns.get_loc("peak_ms"), "offset_ms", near.timestamp_ms - near.peak_ms)
    near = near.drop(columns=[*keys, "peak_ms"])
    out = events.merge(near, on="event", how="left").sort_values(["event", "offset_ms"], kind="stable")
    return with_times(out.reset_index(drop=True), times)
