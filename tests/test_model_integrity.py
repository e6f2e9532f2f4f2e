"""Cached models are verified against the sha256 recorded at conversion (issue 13, problem 3).

Every test works on a private copy of the cache (``MATCHTAG_CACHE_DIR``), never on the
shared one: bytes are flipped in the copy and put back afterwards.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import tagging.pose.models as M

REPO = Path(__file__).resolve().parent.parent
DEFAULT_RUN_MODELS = ("centernet", "movenet-thunder")   # what `matchtag run` loads by default


@pytest.fixture(scope="module")
def cache_copy(tmp_path_factory, models):
    """A copy of the converted models, as a cache directory of its own."""
    root = tmp_path_factory.mktemp("cache")
    src = M.models_dir()
    dst = root / src.relative_to(M.cache_dir())
    dst.mkdir(parents=True)
    for name in M.MODELS:
        for ext in (".pb", ".json"):
            shutil.copyfile(src / f"{name}{ext}", dst / f"{name}{ext}")
    return root


@pytest.fixture
def cache(cache_copy, monkeypatch):
    monkeypatch.setenv("MATCHTAG_CACHE_DIR", str(cache_copy))
    monkeypatch.setattr(M, "_VERIFIED", {})
    return cache_copy


def flip_byte(path: Path, offset: int) -> bytes:
    """XOR one byte of ``path`` at ``offset``; returns the original byte."""
    with open(path, "r+b") as fh:
        fh.seek(offset)
        old = fh.read(1)
        fh.seek(offset)
        fh.write(bytes([old[0] ^ 0x5A]))
    return old


def restore_byte(path: Path, offset: int, old: bytes) -> None:
    with open(path, "r+b") as fh:
        fh.seek(offset)
        fh.write(old)


def offsets(size: int, seed: int, n_random: int) -> list[int]:
    rng = random.Random(seed)
    return sorted({0, size // 2, size - 1, *(rng.randrange(size) for _ in range(n_random))})


def assert_one_line_refusal(message: str, path: Path) -> None:
    assert "\n" not in message
    assert str(path) in message or path.name in message
    assert "matchtag models fetch" in message


def test_intact_models_verify(cache):
    M.verify_models(list(M.MODELS))


@pytest.mark.parametrize("name", list(M.MODELS))
def test_one_changed_byte_in_a_model_is_refused(cache, name):
    pb = M.model_path(name)
    # The default run's models: start, middle, end and seeded random places; others: start, middle, end.
    places = offsets(pb.stat().st_size, seed=13, n_random=3 if name in DEFAULT_RUN_MODELS else 0)
    for offset in places:
        old = flip_byte(pb, offset)
        try:
            with pytest.raises(M.ModelIntegrityError) as err:
                M.verify_model(name)
            assert_one_line_refusal(str(err.value), pb)
            assert "does not match" in str(err.value)
        finally:
            restore_byte(pb, offset, old)
    M.verify_model(name)   # put back: accepted again (the check is not sticky)


@pytest.mark.parametrize("damage, expected", [
    ("delete", "missing"),
    ("garble", "not valid JSON"),
    ("not-an-object", "damaged"),
    ("pb_sha256", "does not match"),
    ("name", "name not as expected"),
    ("converter_version", "converter_version not as expected"),
])
def test_damaged_model_record_is_refused(cache, damage, expected):
    pb = M.model_path("movenet-lightning")
    meta = pb.with_suffix(".json")
    original = meta.read_bytes()
    try:
        if damage == "delete":
            meta.unlink()
        elif damage == "garble":
            meta.write_bytes(original[: len(original) // 2])
        elif damage == "not-an-object":
            meta.write_text("[1, 2]")
        else:
            record = json.loads(original)
            value = record[damage]
            record[damage] = ("0" if value[0] != "0" else "1") + value[1:]
            meta.write_text(json.dumps(record))
        with pytest.raises(M.ModelIntegrityError, match=expected) as err:
            M.verify_model("movenet-lightning")
        assert_one_line_refusal(str(err.value), meta if damage != "pb_sha256" else pb)
    finally:
        meta.write_bytes(original)


def test_workers_refuse_a_damaged_model_when_loading(cache):
    """The worker side (load_graph, used by the RunInference handlers) checks too, before TF runs."""
    pb = M.model_path("posenet")
    old = flip_byte(pb, 1234)
    try:
        with pytest.raises(M.ModelIntegrityError, match="posenet.pb"):
            M.load_graph("posenet")
    finally:
        restore_byte(pb, 1234, old)


def test_unreadable_model_is_refused(cache):
    pb = M.model_path("nanodet")
    moved = pb.with_suffix(".moved")
    pb.rename(moved)
    pb.mkdir()   # a directory where the graph should be: cannot be read (works as root too)
    try:
        with pytest.raises(M.ModelIntegrityError) as err:
            M.verify_model("nanodet")
        assert_one_line_refusal(str(err.value), pb)
    finally:
        pb.rmdir()
        moved.rename(pb)


@pytest.mark.parametrize("name", DEFAULT_RUN_MODELS)
def test_run_refuses_a_damaged_default_model_before_any_video(cache, name, tmp_path, astronaut_clip):
    """`matchtag run` with the default models: exit 2, one line on stderr, nothing written."""
    pb = M.model_path(name)
    offset = pb.stat().st_size // 3
    old = flip_byte(pb, offset)
    out = tmp_path / "tags"
    try:
        env = dict(os.environ, MATCHTAG_CACHE_DIR=str(cache), PYTHONPATH=str(REPO))
        proc = subprocess.run([sys.executable, "-m", "pipeline.cli", "run", str(astronaut_clip),
                               "--output", str(out), "--max-frames", "1"],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    finally:
        restore_byte(pb, offset, old)
    assert proc.returncode == 2, proc.stderr[-2000:]
    # Beam's own import-time warnings (apitools) are the quiet-logs work's (branch h11cli);
    # ours is exactly one line, and no traceback.
    lines = [line for line in proc.stderr.splitlines() if line.startswith("matchtag:")]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert lines[0].startswith("matchtag: error: ") and f"{name}.pb" in lines[0]
    assert "matchtag models fetch --force" in lines[0]
    assert not (out / "videos").exists()
