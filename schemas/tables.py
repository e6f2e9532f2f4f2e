"""pyarrow schemas of every table matchtag writes: the single source of truth.

Every table is hive-partitioned by ``video_id`` (``DIR/<table>/video_id=<id>/``).
The partition column is not stored inside the Parquet files (as Hive and Spark
do); readers restore it from the directory name.  Which files of a partition are
committed is said by ``DIR/_commits/video_id=<id>.json`` (see docs/reliability.md).
``TABLE_SCHEMAS`` hold the full logical schema (``video_id`` first);
:func:`file_schema` gives the schema of the files on disk.

Schema metadata carries ``matchtag.schema_version`` and, for ``poses``, the
keypoint layout.
"""

from __future__ import annotations

import pyarrow as pa

# COCO-17 keypoints, in the order of the poses table's columns. Defined here because
# the column names are part of the schema; tagging.core.keypoints builds on them.
KEYPOINT_NAMES: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)

# 2: the balls table; the poses table's context columns.
# 3: the poses table's torso colour columns (per-row teams).
# 4: the positions table (every tracked player's box on every frame, gaps filled).
SCHEMA_VERSION = "4"
PARTITION_COLUMN = "video_id"
TABLES = ("videos", "poses", "tracks", "events", "balls", "positions")
# Tables added after schema version 1: an output root written before them has no files of
# them, and reads as if they were empty.
TABLES_ADDED = {"balls": "2", "positions": "4"}

VIDEO_STATUSES = ("ok", "partial", "failed")
MANIFEST_METADATA_COLUMNS = ("competition", "season", "match_date", "home", "away")

# Per-person scene context in the poses table: the ball near the hands and the feet
# against the grass edge (defined in tagging.core.types, which takes the names from here).
CONTEXT_COLUMNS: tuple[str, ...] = ("ball_known", "ball_dx", "ball_dy", "ball_score",
                                    "pitch", "feet_grass_px", "feet_grass_h")

# Per-person torso colour in the poses table (tagging.track.teams.torso_colours): median
# CIELAB of the torso on OpenCV's 8-bit scale (L* 0..255, a*/b* offset by 128) and the
# share of the box that is pitch (0..1).  Each row's team is read from them
# (tagging.tables.queries.pose_teams).
TORSO_COLUMNS: tuple[str, ...] = ("torso_l", "torso_a", "torso_b", "torso_pitch_share")

KEYPOINT_COLUMNS: tuple[str, ...] = tuple(
    f"{name}_{part}" for name in KEYPOINT_NAMES for part in ("x", "y", "score"))

# Keypoints are clipped to the frame by the pose stage (tagging.pose.estimators.clip_to_frame):
# a limb the model placed past the edge (in a crop's padding) is moved onto the edge and
# keeps its score, so 0 <= x <= width - 1 and 0 <= y <= height - 1 always hold.
_KEYPOINT_LAYOUT = (
    "wide: for each COCO-17 keypoint in order (" + ", ".join(KEYPOINT_NAMES) + ") three "
    "float32 columns <name>_x, <name>_y (frame pixels, origin top-left, clipped to the frame: "
    "0 <= x <= width-1, 0 <= y <= height-1) and <name>_score (0..1)")


def _required(type_: pa.DataType, *names: str) -> list[pa.Field]:
    """Non-nullable fields of one type."""
    return [pa.field(n, type_, nullable=False) for n in names]


def _frame_key() -> list[pa.Field]:
    """The columns that place a row of a per-frame table: video, frame (0-based) and time."""
    return [pa.field("video_id", pa.string(), nullable=False),
            pa.field("frame_index", pa.int64(), nullable=False),
            pa.field("timestamp_ms", pa.float64(), nullable=False)]


def _meta(table: str, **extra: str) -> dict[bytes, bytes]:
    meta = {"matchtag.table": table, "matchtag.schema_version": SCHEMA_VERSION,
            "matchtag.partitioning": f"hive:{PARTITION_COLUMN}", **extra}
    return {k.encode(): v.encode() for k, v in meta.items()}


VIDEOS = pa.schema([
    pa.field("video_id", pa.string(), nullable=False),
    pa.field("path", pa.string(), nullable=False),
    pa.field("sha256", pa.string()),
    pa.field("fps", pa.float64()),
    pa.field("frame_count", pa.int64()),      # frames decoded (before --stride)
    pa.field("width", pa.int32()),
    pa.field("height", pa.int32()),
    pa.field("duration_ms", pa.float64()),
    pa.field("status", pa.string(), nullable=False),  # ok | partial | failed
    pa.field("error", pa.string()),
    pa.field("frames_processed", pa.int64()),  # frames that went through pose inference
    pa.field("pose_backend", pa.string()),
    pa.field("pipeline_version", pa.string()),
    # Everything that changes the tags (versions, models, stride, ...) as canonical
    # JSON: --skip-existing skips a video whose sha256 and tagging_config both match.
    pa.field("tagging_config", pa.string()),
    pa.field("run_id", pa.string()),
    pa.field("tagged_at", pa.timestamp("ms", tz="UTC")),
    # Match metadata, from a --manifest (null otherwise); match_date as given there,
    # ideally ISO 8601.
    *[pa.field(c, pa.string()) for c in MANIFEST_METADATA_COLUMNS],
], metadata=_meta("videos"))

POSES = pa.schema([
    *_frame_key(),
    pa.field("track_id", pa.int64(), nullable=False),   # -1: not tracked
    pa.field("score", pa.float32(), nullable=False),    # pose score, one per person
    pa.field("box_score", pa.float32(), nullable=False),
    *_required(pa.float32(), "bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2", *KEYPOINT_COLUMNS),
    # Scene context of the person (tagging.core.types.CONTEXT_COLUMNS; null = unknown, and
    # always null in output written before schema version 2).
    *[pa.field(c, pa.float32()) for c in CONTEXT_COLUMNS],
    # Torso colour (TORSO_COLUMNS; null = too few usable pixels, and always null in output
    # written before schema version 3).
    *[pa.field(c, pa.float32()) for c in TORSO_COLUMNS],
], metadata=_meta("poses", **{"matchtag.keypoint_layout": _KEYPOINT_LAYOUT,
                              "matchtag.keypoint_names": ",".join(KEYPOINT_NAMES)}))

TRACKS = pa.schema([
    pa.field("video_id", pa.string(), nullable=False),
    pa.field("track_id", pa.int64(), nullable=False),
    *_required(pa.int64(), "first_frame", "last_frame"),
    *_required(pa.float64(), "first_ms", "last_ms"),
    pa.field("frame_count", pa.int64(), nullable=False),  # frames with a pose
    pa.field("mean_score", pa.float32(), nullable=False),
    # "a" / "b" by jersey colour (clustered per video), "other" (referees, staff,
    # people off the pitch), null when the track had too few usable torso colours.
    pa.field("team", pa.string()),
], metadata=_meta("tracks"))

EVENTS = pa.schema([
    pa.field("video_id", pa.string(), nullable=False),
    pa.field("event_type", pa.string(), nullable=False),
    pa.field("track_id", pa.int64(), nullable=False),
    *_required(pa.float64(), "start_ms", "end_ms", "peak_ms"),
    pa.field("confidence", pa.float32(), nullable=False),
    pa.field("model", pa.string(), nullable=False),
], metadata=_meta("events"))

# The detector's ball boxes (COCO "sports ball", found in the same model calls as the
# people): one row per ball kept, frames without a ball have no row.  A run with
# --pose replay has no detector output: its balls are those of the --poses-from run's
# balls table when it has one, none otherwise (the videos row's pose_backend says replay).
BALLS = pa.schema([
    *_frame_key(),
    *_required(pa.float32(), "x1", "y1", "x2", "y2"),   # frame pixels
    pa.field("score", pa.float32(), nullable=False),
], metadata=_meta("balls"))

# Where every tracked person is on every processed frame of their track: the box of
# their detection (``observed``; the same box as their ``poses`` row), or, in a gap of
# at most the tracker's fill limit (1.2 s) between two of their detections, a box
# linearly interpolated between the two (``observed`` false; no pose, no keypoints).
# Longer gaps have no rows.  The continuous trajectory for distances, speeds and
# heat maps; the ``poses`` table stays one row per detected person.
POSITIONS = pa.schema([
    *_frame_key(),
    pa.field("track_id", pa.int64(), nullable=False),
    *_required(pa.float32(), "bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2"),   # frame pixels
    pa.field("observed", pa.bool_(), nullable=False),
], metadata=_meta("positions"))

TABLE_SCHEMAS: dict[str, pa.Schema] = {"videos": VIDEOS, "poses": POSES, "tracks": TRACKS, "events": EVENTS,
                                       "balls": BALLS, "positions": POSITIONS}

# One row per `matchtag run`, partitioned by run_id (DIR/runs/run_id=<id>/), written by
# the launcher when the pipeline ends.
RUNS = pa.schema([
    pa.field("run_id", pa.string(), nullable=False),
    pa.field("started_at", pa.timestamp("ms", tz="UTC"), nullable=False),
    pa.field("ended_at", pa.timestamp("ms", tz="UTC"), nullable=False),
    pa.field("state", pa.string(), nullable=False),          # Beam's final state, e.g. DONE
    pa.field("runner", pa.string()),
    pa.field("matchtag_version", pa.string()),
    pa.field("beam_version", pa.string()),
    pa.field("tensorflow_version", pa.string()),
    pa.field("tagging_config", pa.string()),
    pa.field("options_json", pa.string()),                   # all pipeline options
    pa.field("videos_total", pa.int64()),
    pa.field("videos_ok", pa.int64()),
    pa.field("videos_partial", pa.int64()),
    pa.field("videos_failed", pa.int64()),
    pa.field("videos_skipped", pa.int64()),
    pa.field("frames_decoded", pa.int64()),
    pa.field("people_detected", pa.int64()),
    pa.field("events", pa.int64()),
    pa.field("failures", pa.list_(pa.string())),             # "video_id: error"
], metadata={b"matchtag.table": b"runs", b"matchtag.schema_version": SCHEMA_VERSION.encode(),
             b"matchtag.partitioning": b"hive:run_id"})


def file_schema(table: str) -> pa.Schema:
    """Schema of the Parquet files of ``table``: the logical schema minus ``video_id``."""
    schema = TABLE_SCHEMAS[table]
    return schema.remove(schema.get_field_index(PARTITION_COLUMN))
