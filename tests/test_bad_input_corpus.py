"""A corpus of bad inputs, run as ONE batch with one good clip through `matchtag run`.

Every bad input must get a ``failed`` (or ``partial``) ``videos`` row whose error names
the file, the good clip must land ``ok``, and the batch must end normally (exit 1: some
videos failed) with its ``runs`` row.  One input is not bad data but a lying header (a
frame count the file cannot hold): it must be read to its real end, not planned as
millions of ranges.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from conftest import astronaut_clip_frames, write_clip
from test_decoder_fuzz import write_h264

from tagging.tables.store import table_dataset

REPO = Path(__file__).resolve().parent.parent
FAST = ["--crop-model", "movenet-lightning", "--tile-px", "0", "--flip-test", "off", "--runner", "FnApiRunner",
        "--track-chunk-s", "0", "--progress", "off"]


def _frames(astronaut, n=6):
    return [cv2.resize(f, (320, 240), interpolation=cv2.INTER_AREA) for f in astronaut_clip_frames(astronaut, n)]


def _audio_only(path: Path) -> Path:
    av = pytest.importorskip("av")
    with av.open(str(path), "w", format="wav") as container:
        stream = container.add_stream("pcm_s16le", rate=8000)
        samples = (np.sin(np.arange(8000) / 8000 * 2 * np.pi * 440) * 8000).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = 8000
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def _zero_frames(path: Path) -> Path:
    """An MP4 with a video stream and no frames in it."""
    av = pytest.importorskip("av")
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
    return path


def _huge_declared(avi: bytes) -> bytes:
    """The AVI with its total-frames and stream-length fields set to 2**31-1."""
    data = bytearray(avi)
    for tag, offset in ((b"avih", 8 + 16), (b"strh", 8 + 32)):
        at = data.index(tag) + offset
        data[at:at + 4] = (2**31 - 1).to_bytes(4, "little")
    return bytes(data)


def build_corpus(root: Path, astronaut) -> tuple[Path, dict[str, Path], Path]:
    """(good clip, {kind: bad input}, the lying-header clip)."""
    frames = _frames(astronaut)
    good = write_clip(root / "good.avi", frames)
    avi = good.read_bytes()
    mp4 = write_h264(root / "h264.mp4", frames).read_bytes()
    (root / "h264.mp4").unlink()
    rng = np.random.default_rng(13)
    bad: dict[str, Path] = {}

    def put(kind: str, name: str, data: bytes | str) -> None:
        path = root / name
        path.write_bytes(data) if isinstance(data, bytes) else path.write_text(data)
        bad[kind] = path

    put("empty file", "empty.mp4", b"")
    put("truncated AVI (half)", "cut_half.avi", avi[: len(avi) // 2])
    put("header only (first 512 bytes)", "header_only.avi", avi[:512])
    put("truncated MP4 (no moov box)", "cut.mp4", mp4[: len(mp4) * 3 // 4] if mp4.find(b"moov") > len(mp4) // 2
        else mp4[: mp4.find(b"moov") - 4])
    put("random bytes", "random.mp4", rng.integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    put("text file", "notes.mp4", "this is not a video\n" * 100)
    middle = bytearray(avi)
    a, b = len(avi) // 3, 2 * len(avi) // 3
    middle[a:b] = rng.integers(0, 256, b - a, dtype=np.uint8).tobytes()
    put("corrupted middle", "corrupt_middle.avi", bytes(middle))
    zeroed = bytearray(avi)
    zeroed[len(avi) // 10:] = bytes(len(avi) - len(avi) // 10)
    put("frames zeroed", "zeroed.avi", bytes(zeroed))
    put("gzip of a video", "zipped.mp4", gzip.compress(avi))
    ok, jpg = cv2.imencode(".jpg", astronaut[..., ::-1])
    put("JPEG named .mp4", "photo.mp4", jpg.tobytes())
    ok, png = cv2.imencode(".png", astronaut[..., ::-1])
    put("PNG named .mp4", "drawing.mp4", png.tobytes())
    bad["audio only"] = _audio_only(root / "audio_only.wav")
    bad["zero video frames"] = _zero_frames(root / "zero_frames.mp4")
    bad["missing file"] = root / "missing.mp4"
    (root / "folder.mp4").mkdir()
    bad["directory"] = root / "folder.mp4"
    (root / "loop_a.mp4").symlink_to(root / "loop_b.mp4")
    (root / "loop_b.mp4").symlink_to(root / "loop_a.mp4")
    bad["symlink loop"] = root / "loop_a.mp4"
    (root / "dangling.mp4").symlink_to(root / "gone.mp4")
    bad["broken symlink"] = root / "dangling.mp4"
    os.mkfifo(root / "pipe.mp4")
    bad["named pipe (would block the decoder)"] = root / "pipe.mp4"
    bad["character device"] = Path("/dev/zero")
    (root / "a-file").write_text("x")
    bad["path through a file"] = root / "a-file" / "video.mp4"
    # glob characters: the literal file is broken, its glob twin (not in the batch) is a good clip
    put("glob characters in the name", "m[1].mp4", avi[:300])
    (root / "m1.mp4").write_bytes(avi)
    if os.geteuid() != 0:
        put("unreadable (chmod 000)", "locked.avi", avi)
        bad["unreadable (chmod 000)"].chmod(0)
    lying = root / "huge_declared.avi"
    lying.write_bytes(_huge_declared(avi))
    return good, bad, lying


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory, astronaut, models):
    root = tmp_path_factory.mktemp("corpus")
    good, bad, lying = build_corpus(root, astronaut)
    out = root / "tags"
    inputs = [str(good), str(lying), *map(str, bad.values())]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-m", "pipeline.cli", "run", *inputs, "--output", str(out), *FAST],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    return proc, out, good, bad, lying


def test_the_batch_ends_normally_with_a_runs_row(corpus_run):
    proc, out, *_ = corpus_run
    assert proc.returncode == 1, proc.stderr[-3000:]         # some videos failed; nothing crashed
    runs = pd.read_parquet(out / "runs")
    assert len(runs) == 1 and runs.state[0] == "DONE"


def test_every_bad_input_fails_alone_naming_its_file(corpus_run):
    proc, out, good, bad, lying = corpus_run
    videos = table_dataset(out, "videos").to_table().to_pandas()
    by_path = {row.path: row for row in videos.itertuples()}
    assert len(videos) == len(bad) + 2 and videos.video_id.is_unique
    assert by_path[str(good)].status == "ok" and by_path[str(good)].frames_processed == 6
    lied = by_path[str(lying)]
    assert lied.status == "ok" and lied.frame_count == 6        # read to its real end
    wrong = {}
    for kind, path in bad.items():
        row = by_path.get(os.path.abspath(path))
        if row is None or row.status not in ("failed", "partial") or str(path) not in (row.error or ""):
            wrong[kind] = None if row is None else (row.status, row.error)
    print(f"bad-input corpus: {len(bad)} kinds in one batch with a good clip; "
          f"{len(bad) - len(wrong)} failed or partial naming the file; batch crashed: "
          f"{'no' if proc.returncode == 1 else 'yes'}")
    assert wrong == {}
    assert len(bad) >= 20
    assert str(Path(bad["glob characters in the name"]).parent / "m1.mp4") not in by_path


def test_rows_say_what_was_wrong(corpus_run):
    _, out, _, bad, _ = corpus_run
    videos = table_dataset(out, "videos").to_table().to_pandas().set_index("path")
    error = {kind: videos.loc[os.path.abspath(p), "error"] for kind, p in bad.items()}
    assert error["symlink loop"].endswith("symlink loop")
    assert "broken symlink" in error["broken symlink"]
    assert "still image (JPEG)" in error["JPEG named .mp4"] and "still image (PNG)" in error["PNG named .mp4"]
    assert "empty file" in error["empty file"]
    assert "not a regular file" in error["named pipe (would block the decoder)"]
    assert "directory" in error["directory"]
    assert "no such file" in error["missing file"]
    assert pd.notna(videos.loc[os.path.abspath(bad["truncated AVI (half)"]), "sha256"])
