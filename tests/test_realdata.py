"""Real footage from ../shared/data/video (skipped, with the reason, when it is absent).

Frame limits keep these quick; `matchtag run` on the whole files is in the README's
evaluation section and the closing notes.
"""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.cli import main
from schemas.tables import KEYPOINT_COLUMNS
from tagging.tables.queries import coverage, read_table
from tagging.video.reader import FrameReader, probe

pytestmark = [pytest.mark.realdata, pytest.mark.models]
RUNNER = ["--runner", "FnApiRunner"]
VIDEOS = ["soccer_wide_dfl_08fd33_4.mp4", "street_crowd_openpose.avi", "walkers_intel_139s.mp4",
          "basketball_240p_mmaction2.mp4", "ntu_single_person_1080p.avi"]


@pytest.mark.parametrize("name", VIDEOS)
def test_real_videos_decode_with_container_timestamps(shared_data, name):
    path = str(shared_data / "video" / name)
    info = probe(path)
    assert info.width > 0 and info.fps > 0
    frames = []
    for frame in FrameReader(path, max_frames=4):
        frames.append(frame)
    assert [f.index for f in frames] == [0, 1, 2, 3]
    ts = np.array([f.timestamp_ms for f in frames])
    # Container time, not frame_index / fps: some files start at a non-zero pts.
    assert 0 <= ts[0] < 1000 and np.allclose(np.diff(ts), 1000 / info.fps, atol=1.5)
    assert frames[0].image.shape == (info.height, info.width, 3)


def test_street_crowd_people_per_frame(shared_data, models, tmp_path):
    out = tmp_path / "tags"
    assert main(["run", str(shared_data / "video" / "street_crowd_openpose.avi"), "--output", str(out),
                 "--max-frames", "10", *RUNNER]) == 0
    cov = coverage(out).iloc[0]
    assert cov.frames == 10
    assert cov.frames_with_poses >= 0.95
    assert cov.people_per_frame_mean >= 8  # about 15 people are visible
    assert not read_table(out, "tracks").empty


def test_soccer_wide_shot_finds_many_players(shared_data, models, tmp_path):
    out = tmp_path / "tags"
    assert main(["run", str(shared_data / "video" / "soccer_wide_dfl_08fd33_4.mp4"), "--output", str(out),
                 "--max-frames", "6", *RUNNER]) == 0
    cov = coverage(out).iloc[0]
    assert cov.frames_with_poses == 1.0
    assert cov.people_per_frame_median >= 12
    assert cov.events.get("throw_in", 0) == 0  # the clip has no throw-in
    teams = read_table(out, "tracks")["team"].value_counts()
    assert teams.get("a", 0) >= 3 and teams.get("b", 0) >= 3, teams  # two kits, both tracked
    # players run off the sides of a wide shot: their keypoints stay on the frame (clipped)
    video = read_table(out, "videos").iloc[0]
    poses = read_table(out, "poses")
    xs = poses[[c for c in KEYPOINT_COLUMNS if c.endswith("_x")]].to_numpy()
    ys = poses[[c for c in KEYPOINT_COLUMNS if c.endswith("_y")]].to_numpy()
    assert xs.min() >= 0 and xs.max() <= video.width - 1, (xs.min(), xs.max(), video.width)
    assert ys.min() >= 0 and ys.max() <= video.height - 1, (ys.min(), ys.max(), video.height)


def test_three_real_videos_and_an_empty_file(shared_data, models, tmp_path):
    empty = tmp_path / "broken.mp4"
    empty.write_bytes(b"")
    inputs = [str(shared_data / "video" / n) for n in VIDEOS[2:]] + [str(empty)]
    out = tmp_path / "tags"
    assert main(["run", *inputs, "--output", str(out), "--max-frames", "2", "--stride", "5", *RUNNER]) == 1
    videos = read_table(out, "videos").set_index("video_id")
    assert (videos["status"] == "ok").sum() == 3
    assert videos.loc["broken", "status"] == "failed"
    assert "broken.mp4: empty file" in videos.loc["broken", "error"]
    poses = read_table(out, "poses")
    # (the walkers clip starts on an empty corridor)
    assert set(poses["video_id"]) >= {"basketball_240p_mmaction2", "ntu_single_person_1080p"}
    assert set(poses["frame_index"]) <= {0, 5}
