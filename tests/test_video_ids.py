"""tagging/video/reader.py: video ids, probe / FrameReader errors and decoding a synthetic clip."""

import re

import cv2
import numpy as np
import pytest

from tagging.video.ids import assign_video_ids, manifest_id_problem, reader_safe, video_id_for
from tagging.video.reader import FrameReader, VideoError, probe

SAFE = re.compile(r"^[A-Za-z0-9._-]+$")


# ----------------------------------------------------------------------- ids

@pytest.mark.parametrize("path,expected", [
    ("Match 1.mp4", "Match_1"),
    ("/data/videos/Match 1.mp4", "Match_1"),
    ("/data/videos/cup-final_2023.v2.mkv", "cup-final_2023.v2"),
    ("s3://bucket/a/b/Derby (HD) [720p].mp4", "Derby_HD_720p"),
    ("2023.mp4", "video_2023"),
    ("/x/007.avi", "video_007"),
    ("-123.mp4", "video_123"),
    ("2024-08-23.mp4", "video_2024-08-23"),
    ("nan.mp4", "video_nan"),
    (".hidden.mp4", "hidden"),
    ("..mp4", "mp4"),
    ("...", "video"),
    ("Åsa–Örebro.mov", "sa_rebro"),
    ("noext", "noext"),
    ("/some/dir/", "dir"),
])
def test_video_id_for(path, expected):
    assert video_id_for(path) == expected


@pytest.mark.parametrize("path", [
    "a b/c d.mp4", "../../etc/passwd", ".mp4", "...mp4", "12345", "  .mp4", "ü.mp4",
    "a/b/.../....mp4", "x" * 300 + ".mp4", "__init__.mp4", "-_-.mp4", "1-2.mp4",
])
def test_video_id_for_is_always_path_safe(path):
    vid = video_id_for(path)
    assert vid and SAFE.match(vid), vid
    assert not vid.startswith(".")
    assert vid not in (".", "..")
    assert not vid.isdigit() and reader_safe(vid)
    assert len(vid) <= 80 + len("video_")
    assert "/" not in vid


def test_video_id_for_max_len():
    assert video_id_for("a" * 100 + ".mp4", max_len=10) == "a" * 10


def test_a_rerun_of_the_same_path_keeps_its_id_whatever_else_is_in_the_batch():
    """Issue 13, problem 5: `run d1/same.mp4`, then `run d1/same.mp4 d2/same.mp4`."""
    first = assign_video_ids(["/d1/same.mp4"])
    assert first == {"/d1/same.mp4": "same"}
    second = assign_video_ids(["/d1/same.mp4", "/d2/same.mp4"], known=first)
    assert second["/d1/same.mp4"] == "same"                       # not stored a second time
    assert re.fullmatch(r"same-[0-9a-f]{8}", second["/d2/same.mp4"])
    third = assign_video_ids(["/d2/same.mp4"], known={**first, **second})
    assert third["/d2/same.mp4"] == second["/d2/same.mp4"]        # and d2 keeps its own


def test_new_names_in_one_batch_get_distinct_ids_in_path_order():
    paths = ["/day2/match.mp4", "/day1/match.mp4", "/day2/match.mkv", "/day1/final.mp4"]
    ids = assign_video_ids(paths)
    assert ids["/day1/final.mp4"] == "final"
    assert ids["/day1/match.mp4"] == "match"                      # first in sorted order
    assert len({ids[p] for p in paths}) == 4
    assert all(re.fullmatch(r"match-[0-9a-f]{8}", ids[p]) for p in ("/day2/match.mkv", "/day2/match.mp4"))
    assert assign_video_ids(list(reversed(paths))) == ids         # order of the arguments does not matter


def test_a_name_taken_in_the_output_or_by_a_manifest_id_is_not_reused():
    ids = assign_video_ids(["/new/match.mp4", "/x/final.mp4"], known={"/old/match.mp4": "match"},
                           reserved=["final"])
    assert ids["/new/match.mp4"].startswith("match-") and ids["/x/final.mp4"].startswith("final-")


@pytest.mark.parametrize("vid, safe", [
    ("12345", False), ("1e5", False), ("nan", False), ("inf", False), ("2024-08-23", False), ("12_30", False),
    ("m12345", True), ("bl-2024-01", True), ("video_2023", True), ("e", True),
])
def test_reader_safe_ids(vid, safe):
    assert reader_safe(vid) is safe


def test_all_digit_manifest_id_is_refused_with_a_way_out():
    """Issue 13, problem 6: `12345` would come back from pandas/DuckDB/Spark as a number."""
    problem = manifest_id_problem("12345")
    assert "number" in problem and "m12345" in problem
    assert manifest_id_problem("m12345") is None


# ----------------------------------------------------------------------- errors

def test_missing_file_raises_video_error_naming_it(tmp_path):
    path = str(tmp_path / "nope.mp4")
    with pytest.raises(VideoError, match=re.escape(path)):
        probe(path)
    with pytest.raises(VideoError, match=re.escape(path)):
        FrameReader(path)


def test_zero_byte_file_raises_video_error_naming_it(tmp_path):
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    with pytest.raises(VideoError, match=re.escape(str(path))):
        probe(str(path))
    with pytest.raises(VideoError, match=re.escape(str(path))):
        FrameReader(str(path))


def test_text_file_renamed_mp4_raises_video_error_naming_it(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("this is not a video\n" * 50)
    with pytest.raises(VideoError, match=re.escape(str(path))):
        probe(str(path))
    with pytest.raises(VideoError, match=re.escape(str(path))):
        FrameReader(str(path))


def test_directory_raises_video_error(tmp_path):
    with pytest.raises(VideoError, match=re.escape(str(tmp_path))):
        probe(str(tmp_path))


def test_video_error_is_a_runtime_error():
    assert issubclass(VideoError, RuntimeError)


# ----------------------------------------------------------------------- decoding a clip

W, H, N, FPS = 64, 48, 20, 10.0


def _colour(i):
    """BGR colour of frame i as written."""
    return (0, 255 - 10 * i, 10 * i)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("clip") / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (W, H))
    assert writer.isOpened()
    rng = np.random.default_rng(0)
    for i in range(N):
        img = np.full((H, W, 3), _colour(i), np.uint8)
        # a noisy bottom half keeps the JPEG frames big, so that cutting the file in half
        # cuts the frame data, not only the (large) AVI header
        img[H // 2:] = rng.integers(0, 256, (H - H // 2, W, 3), np.uint8)
        writer.write(img)
    writer.release()
    return path


def test_probe_clip(clip):
    info = probe(str(clip))
    assert (info.width, info.height) == (W, H)
    assert info.fps == pytest.approx(FPS)
    assert info.frame_count == N
    assert info.path == str(clip)


def test_frame_reader_all_frames(clip):
    reader = FrameReader(str(clip))
    frames = list(reader)
    assert [f.index for f in frames] == list(range(N))
    np.testing.assert_allclose([f.timestamp_ms for f in frames], np.arange(N) * 100.0, atol=1e-6)
    img = frames[5].image
    assert img.shape == (H, W, 3) and img.dtype == np.uint8
    assert img.flags["C_CONTIGUOUS"]
    # RGB: the written BGR (0, 205, 50) comes back as about (50, 205, 0)
    np.testing.assert_allclose(img[H // 4, W // 2], [50, 205, 0], atol=6)
    assert reader.frames_seen == N and reader.frames_kept == N
    assert reader.truncated is False
    assert reader.stopped_early is False


def test_frame_reader_stride(clip):
    reader = FrameReader(str(clip), stride=3)
    frames = list(reader)
    assert [f.index for f in frames] == [0, 3, 6, 9, 12, 15, 18]
    np.testing.assert_allclose([f.timestamp_ms for f in frames], [0, 300, 600, 900, 1200, 1500, 1800],
                               atol=1e-6)
    np.testing.assert_allclose(frames[2].image[H // 4, W // 2], [60, 195, 0], atol=6)   # frame 6, not 2
    assert reader.frames_seen == N            # skipped frames are still decoded / counted
    assert reader.frames_kept == 7
    assert reader.truncated is False


def test_frame_reader_max_frames_stops_early_not_truncated(clip):
    reader = FrameReader(str(clip), max_frames=4)
    frames = list(reader)
    assert [f.index for f in frames] == [0, 1, 2, 3]
    assert reader.stopped_early is True
    assert reader.frames_seen == 4
    assert reader.truncated is False


def test_frame_reader_max_frames_with_stride(clip):
    frames = list(FrameReader(str(clip), stride=5, max_frames=3))
    assert [f.index for f in frames] == [0, 5, 10]


def test_frame_reader_bad_stride(clip):
    with pytest.raises(ValueError, match="stride"):
        FrameReader(str(clip), stride=0)


def test_frame_reader_truncated_file(clip, tmp_path):
    data = clip.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[:len(data) // 2])
    info = probe(str(cut))
    assert info.frame_count == N               # the header still declares 20 frames
    reader = FrameReader(str(cut))
    frames = list(reader)
    assert 0 < len(frames) < N
    assert [f.index for f in frames] == list(range(len(frames)))
    np.testing.assert_allclose(frames[-1].image[H // 4, W // 2], _colour(len(frames) - 1)[::-1], atol=6)
    assert reader.frames_seen == len(frames)
    assert reader.truncated is True
    assert reader.stopped_early is False
