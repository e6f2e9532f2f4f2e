"""Ball and grass on real footage (../shared/data; skipped, with the reason, when absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tagging.scene.context import feet_to_grass_edge, fit_grass
from tagging.video.reader import FrameReader

pytestmark = pytest.mark.realdata
LABELS = Path(__file__).parent / "data" / "dfl_ball" / "labels.csv"


def _frame(path, index=0):
    return next(f.image for f in FrameReader(str(path), max_frames=index + 1) if f.index == index)


def test_grass_on_the_bundesliga_shot_and_no_pitch_elsewhere(shared_data):
    video = shared_data / "video"
    dfl = _frame(video / "soccer_wide_dfl_08fd33_4.mp4")
    grass = fit_grass(dfl)
    assert grass is not None and 40 <= grass.hue <= 60 and 0.5 <= grass.share <= 0.8
    # the stands (top rows) are off the pitch, the centre circle is on it
    assert grass.mask[:60].mean() < 0.05 and grass.mask[200:300, 300:550].mean() > 0.95
    # a player mid-pitch stands well inside; someone in the stands well outside
    ctx = feet_to_grass_edge(grass, np.array([[400, 180, 410, 210], [300, 40, 306, 55]], np.float32))
    assert ctx[0, 1] > 20 and ctx[1, 1] < -20
    for name in ("basketball_240p_mmaction2.mp4", "street_crowd_openpose.avi", "walkers_intel_139s.mp4"):
        assert fit_grass(_frame(video / name)) is None, name


@pytest.mark.models
def test_ball_found_near_the_hand_labels(shared_data, models):
    """Four labelled frames (the full figure: bench/ball_detections.py + `matchtag evaluate balls`)."""
    if not LABELS.is_file():
        pytest.skip(f"{LABELS} (hand labels of the Bundesliga ball) is not in this checkout")
    import pandas as pd

    from tagging.pose.detector import DetectorConfig, PersonDetector
    from tagging.pose.models import configure_tensorflow, load_graph

    labels = pd.read_csv(LABELS)
    labels = labels[labels.visible == 1].iloc[[0, 8, 16, 24]]
    configure_tensorflow()
    detector = PersonDetector(load_graph("centernet"), DetectorConfig())
    wanted = {int(f): r for f, r in zip(labels.frame_index, labels.itertuples())}
    found = 0
    for frame in FrameReader(str(shared_data / "video" / "soccer_wide_dfl_08fd33_4.mp4"),
                             max_frames=max(wanted) + 1):
        row = wanted.get(frame.index)
        if row is None:
            continue
        _, balls = detector.detect_all(frame.image)
        centre = np.array([(row.x1 + row.x2) / 2, (row.y1 + row.y2) / 2])
        if len(balls) and (np.hypot(*((balls.xyxy[:, :2] + balls.xyxy[:, 2:]) / 2 - centre).T) <= 10).any():
            found += 1
    assert found >= 2   # 0.83 of the 30 labelled frames at the default threshold (docs/events.md)
