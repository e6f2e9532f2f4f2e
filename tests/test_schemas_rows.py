"""schemas/tables.py and tagging/tables/rows.py: table schemas and typed outputs -> rows."""

import numpy as np
import pyarrow as pa
import pytest

from schemas import KEYPOINT_COLUMNS, PARTITION_COLUMN, SCHEMA_VERSION, TABLE_SCHEMAS, TABLES, file_schema
from schemas.tables import CONTEXT_COLUMNS, TORSO_COLUMNS
from tagging.core.keypoints import KEYPOINT_NAMES
from tagging.core.types import Event, FramePoses
from tagging.tables.rows import event_row, pose_rows, track_row
from tagging.track.sequences import TrackSummary

# ----------------------------------------------------------------------- schemas

def test_tables_are_all_defined():
    assert set(TABLES) == set(TABLE_SCHEMAS) == {"videos", "poses", "tracks", "events", "balls", "positions"}
    assert PARTITION_COLUMN == "video_id"


@pytest.mark.parametrize("table", ["videos", "poses", "tracks", "events", "balls", "positions"])
def test_every_table_starts_with_non_null_video_id(table):
    schema = TABLE_SCHEMAS[table]
    assert schema.names[0] == "video_id"
    field = schema.field("video_id")
    assert field.type == pa.string()
    assert not field.nullable
    assert len(set(schema.names)) == len(schema.names)


@pytest.mark.parametrize("table", ["videos", "poses", "tracks", "events"])
def test_every_table_has_version_metadata(table):
    meta = TABLE_SCHEMAS[table].metadata
    assert meta[b"matchtag.schema_version"] == SCHEMA_VERSION.encode()
    assert meta[b"matchtag.table"] == table.encode()
    assert meta[b"matchtag.partitioning"] == b"hive:video_id"


@pytest.mark.parametrize("table", ["videos", "poses", "tracks", "events"])
def test_file_schema_drops_only_video_id(table):
    full = TABLE_SCHEMAS[table]
    fs = file_schema(table)
    assert "video_id" not in fs.names
    assert fs.names == full.names[1:]
    for name in fs.names:
        assert fs.field(name).equals(full.field(name))
    assert fs.metadata == full.metadata          # metadata is kept in the files
    assert "video_id" in full.names               # the logical schema is untouched


def test_file_schema_unknown_table():
    with pytest.raises(KeyError):
        file_schema("frames")


def test_poses_keypoint_columns_in_coco_order():
    assert len(KEYPOINT_COLUMNS) == 51
    assert KEYPOINT_COLUMNS[:6] == ("nose_x", "nose_y", "nose_score",
                                    "left_eye_x", "left_eye_y", "left_eye_score")
    assert KEYPOINT_COLUMNS[-3:] == ("right_ankle_x", "right_ankle_y", "right_ankle_score")
    poses = TABLE_SCHEMAS["poses"]
    kp_fields = [f for f in poses if f.name in KEYPOINT_COLUMNS]
    assert [f.name for f in kp_fields] == list(KEYPOINT_COLUMNS)
    # contiguous, after the box columns, before the scene context and the torso colour
    assert poses.names[10:61] == list(KEYPOINT_COLUMNS)
    assert poses.names[61:] == [*CONTEXT_COLUMNS, *TORSO_COLUMNS]
    assert all(poses.field(c).nullable for c in (*CONTEXT_COLUMNS, *TORSO_COLUMNS))
    assert poses.names[:10] == ["video_id", "frame_index", "timestamp_ms", "track_id", "score",
                                "box_score", "bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2"]
    assert all(f.type == pa.float32() and not f.nullable for f in kp_fields)


def test_poses_keypoint_layout_metadata():
    meta = TABLE_SCHEMAS["poses"].metadata
    assert meta[b"matchtag.keypoint_names"].decode().split(",") == list(KEYPOINT_NAMES)
    layout = meta[b"matchtag.keypoint_layout"].decode()
    assert "nose" in layout and "right_ankle" in layout and "_score" in layout
    assert layout.index("left_shoulder") < layout.index("right_shoulder") < layout.index("left_hip")
    assert b"matchtag.keypoint_layout" in file_schema("poses").metadata


# ----------------------------------------------------------------------- rows

def _frame_poses():
    kps = np.zeros((2, 17, 3), np.float32)
    kps[..., 0] = np.arange(17) + 0.5
    kps[..., 1] = np.arange(17)[None] * 2 + np.array([[0.0], [100.0]])
    kps[..., 2] = np.linspace(0.1, 0.9, 17)
    return FramePoses(xyxy=[[1, 2, 3, 4], [10.5, 20.25, 30, 40]], box_score=[0.9, 0.5],
                      keypoints=kps, score=[0.75, 0.25], track_id=[3, -1])


def test_pose_rows_columns_match_schema():
    rows = list(pose_rows("vid", 12, 480.0, _frame_poses()))
    assert len(rows) == 2
    for row in rows:
        assert list(row) == TABLE_SCHEMAS["poses"].names      # same columns, same order
        assert set(row) - {"video_id"} == set(file_schema("poses").names)
        assert row["video_id"] == "vid"


def test_pose_rows_values():
    r0, r1 = pose_rows("vid", 12, 480.0, _frame_poses())
    assert (r0["frame_index"], r0["timestamp_ms"], r0["track_id"]) == (12, 480.0, 3)
    assert r1["track_id"] == -1
    assert r0["score"] == pytest.approx(0.75) and r1["box_score"] == pytest.approx(0.5)
    assert (r1["bbox_x1"], r1["bbox_y1"], r1["bbox_x2"], r1["bbox_y2"]) == (10.5, 20.25, 30.0, 40.0)
    assert r0["nose_x"] == 0.5 and r0["nose_y"] == 0.0 and r0["nose_score"] == pytest.approx(0.1)
    assert r1["right_ankle_x"] == 16.5 and r1["right_ankle_y"] == 132.0
    assert r1["right_ankle_score"] == pytest.approx(0.9)
    assert r0["left_wrist_x"] == 9.5 and r0["left_wrist_y"] == 18.0
    # plain Python types, not numpy scalars; unknown context and torso colour are null
    unknown = (*CONTEXT_COLUMNS, *TORSO_COLUMNS)
    assert all(type(v) in (str, int, float) for k, v in r0.items() if k not in unknown)
    assert all(r0[c] is None for c in unknown)


def test_pose_rows_carry_the_torso_colour():
    poses = _frame_poses()
    poses.appearance = np.array([[120.0, 90.0, 170.0, 0.5], [np.nan, np.nan, np.nan, 0.25]], np.float32)
    r0, r1 = pose_rows("vid", 12, 480.0, poses)
    assert [r0[c] for c in TORSO_COLUMNS] == [120.0, 90.0, 170.0, 0.5]
    assert [r1[c] for c in TORSO_COLUMNS] == [None, None, None, 0.25]


def test_pose_rows_empty_frame():
    assert list(pose_rows("vid", 0, 0.0, FramePoses.empty())) == []


def test_pose_rows_round_trip_through_arrow_file_schema():
    poses = _frame_poses()
    rows = list(pose_rows("vid", 12, 480.0, poses))
    file_rows = [{k: v for k, v in r.items() if k != "video_id"} for r in rows]
    table = pa.Table.from_pylist(file_rows, schema=file_schema("poses"))
    assert table.schema.equals(file_schema("poses"), check_metadata=True)
    assert table.num_rows == 2
    back = table.to_pylist()
    assert back[0].keys() == file_rows[0].keys()
    kp_back = np.array([[r[c] for c in KEYPOINT_COLUMNS] for r in back], np.float32).reshape(2, 17, 3)
    np.testing.assert_array_equal(kp_back, poses.keypoints)
    np.testing.assert_array_equal(table.column("track_id").to_numpy(), [3, -1])
    np.testing.assert_allclose(table.column("bbox_y1").to_numpy(), [2, 20.25])
    # adding the partition column gives the full logical schema
    full = pa.Table.from_pylist(rows, schema=TABLE_SCHEMAS["poses"])
    assert full.column("video_id").to_pylist() == ["vid", "vid"]


def test_track_row_matches_schema():
    row = track_row("vid", TrackSummary(4, 0, 9, 0.0, 360.0, 10, 0.5))
    assert list(row) == TABLE_SCHEMAS["tracks"].names
    table = pa.Table.from_pylist([row], schema=TABLE_SCHEMAS["tracks"])
    assert table.to_pylist()[0]["last_ms"] == 360.0


def test_event_row_matches_schema():
    row = event_row("vid", Event("throw_in", 4, 1000.0, 1960.0, 1480.0, 0.875, "rules-law15-v1"))
    assert list(row) == TABLE_SCHEMAS["events"].names
    table = pa.Table.from_pylist([row], schema=TABLE_SCHEMAS["events"])
    got = table.to_pylist()[0]
    assert got["event_type"] == "throw_in" and got["peak_ms"] == 1480.0
    assert got["confidence"] == pytest.approx(0.875)
