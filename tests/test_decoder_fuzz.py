"""Byte-mutation fuzz of the decoder (tagging/video/reader: probe + FrameReader).

Two short real-pixel clips (the astronaut, sliding: an MJPG AVI as OpenCV writes it and
an H.264 MP4 as PyAV writes it) are mutated with a seeded RNG: flipped bytes, random
spans, zeroed spans, cuts, duplicated, deleted and inserted chunks, and header-sized
fields set to huge values.  Every case must end in frames or a ``VideoError`` naming the
file: no other exception, no crash of the process, no hang.  The cases run in a child
process (tests/fuzz_decode.py), each with a time limit, so a crash or hang is recorded
as one finding and the rest still run.
"""

from __future__ import annotations

import json
import os
import random
import selectors
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import astronaut_clip_frames, write_clip

REPO = Path(__file__).resolve().parent.parent
CHILD = REPO / "tests" / "fuzz_decode.py"
SEED = 13
CASES_PER_CLIP = 100
CASE_TIMEOUT_S = 20.0


def small_frames(astronaut, n: int = 10) -> list[np.ndarray]:
    return [cv2.resize(f, (160, 120), interpolation=cv2.INTER_AREA) for f in astronaut_clip_frames(astronaut, n)]


def write_h264(path: Path, frames: list[np.ndarray], fps: int = 10) -> Path:
    av = pytest.importorskip("av")
    with av.open(str(path), "w") as container:
        try:
            stream = container.add_stream("libx264", rate=fps)
        except Exception:  # a PyAV build without x264: MPEG-4 Part 2 still exercises the MP4 demuxer
            stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def mutate(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    """One seeded mutation of ``data``: (what was done, new bytes)."""
    b = bytearray(data)
    n = len(b)
    kind = rng.choice(["flip", "span", "zero", "cut", "dup", "delete", "insert", "huge", "header"])
    a = rng.randrange(n)
    length = rng.randint(1, max(1, n // 20))
    if kind == "flip":
        for _ in range(rng.randint(1, 16)):
            i = rng.randrange(n)
            b[i] ^= 1 << rng.randrange(8)
    elif kind == "span":
        b[a:a + length] = bytes(rng.randrange(256) for _ in range(len(b[a:a + length])))
    elif kind == "zero":
        b[a:a + length] = bytes(len(b[a:a + length]))
    elif kind == "cut":
        b = b[:a]
    elif kind == "dup":
        b[a:a] = b[a:a + length]
    elif kind == "delete":
        del b[a:a + length]
    elif kind == "insert":
        b[a:a] = bytes(rng.randrange(256) for _ in range(length))
    elif kind == "huge":   # a size, count or dimension field set to a huge value
        i = rng.randrange(max(1, n - 4))
        b[i:i + 4] = rng.choice([b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff", b"\x00\x00\x00\x80"])
    else:                  # flips in the first 512 bytes, where the container headers are
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(min(n, 512))
            b[i] = rng.randrange(256)
    return f"{kind}@{a}", bytes(b)


def run_cases(files: list[str]) -> dict[str, dict]:
    """Decode every file in child processes; a crash or hang ends only the case it hit."""
    results: dict[str, dict] = {}
    remaining = list(files)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    while remaining:
        proc = subprocess.Popen([sys.executable, str(CHILD), *remaining], cwd=REPO, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        while remaining:
            if not sel.select(timeout=CASE_TIMEOUT_S):
                proc.kill()
                results[remaining.pop(0)] = {"outcome": "hang"}
                break
            line = proc.stdout.readline()
            if not line:   # the child died inside this case
                proc.wait()
                results[remaining.pop(0)] = {"outcome": "crash", "returncode": proc.returncode}
                break
            result = json.loads(line)
            assert result["file"] == remaining[0]
            results[remaining.pop(0)] = result
        sel.close()
        proc.stdout.close()
        proc.wait()
    return results


@pytest.fixture(scope="module")
def fuzz_results(tmp_path_factory, astronaut):
    root = tmp_path_factory.mktemp("fuzz")
    frames = small_frames(astronaut)
    clips = [write_clip(root / "clip.avi", frames), write_h264(root / "clip.mp4", frames)]
    rng = random.Random(SEED)
    files, kinds = [], {}
    for clip in clips:
        data = clip.read_bytes()
        for i in range(CASES_PER_CLIP):
            kind, mutated = mutate(data, rng)
            case = root / f"case{i:03d}-{clip.name}"
            case.write_bytes(mutated)
            files.append(str(case))
            kinds[str(case)] = kind
    return clips, run_cases([str(c) for c in clips] + files), kinds


def test_unmutated_clips_decode_whole(fuzz_results):
    clips, results, _ = fuzz_results
    for clip in clips:
        assert results[str(clip)]["outcome"] == "frames" and results[str(clip)]["frames"] == 10, results[str(clip)]


def test_every_mutated_clip_ends_in_frames_or_an_error_naming_it(fuzz_results):
    clips, results, kinds = fuzz_results
    cases = {f: r for f, r in results.items() if f in kinds}
    findings = {f"{Path(f).name} ({kinds[f]})": r for f, r in cases.items()
                if r["outcome"] not in ("frames", "error") or (r["outcome"] == "error" and f not in r["error"])}
    outcomes = {o: sum(r["outcome"] == o for r in cases.values()) for o in ("frames", "error")}
    print(f"decoder fuzz: {len(cases)} cases (seed {SEED}), {outcomes['frames']} decoded to frames, "
          f"{outcomes['error']} refused with a VideoError, {len(findings)} crashes/hangs/other exceptions")
    assert len(cases) == 2 * CASES_PER_CLIP
    assert findings == {}
