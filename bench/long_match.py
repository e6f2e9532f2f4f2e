"""Everything after pose on a synthetic 90-minute match, against a 9-minute cut.

    python bench/long_match.py [--minutes 9 90] [--workdir DIR] [--json]

**The match is synthetic**: no real full-match footage is available offline.  For each
length it builds

- a poses table as an earlier run would have written it: 22 players (two kits), a
  referee, two assistant referees on the touchlines and four people on the bench side,
  at 25 fps, moving with smooth random velocities on a 105 x 68 m pitch seen by a camera
  that pans with the play, so players leave and re-enter the picture; perspective makes
  far players 30 px tall and near ones 60 px; keypoints follow a running stick figure;
- a small video (640 x 360, MJPG) of the same scene: grass and each person's kit as
  coloured boxes, so that torso colours, and with them teams, can be computed;

then runs ``matchtag run VIDEO --pose replay --poses-from SYNTH`` in a fresh process
(decode, stored poses, tracking in 60-s segments, stitching, teams, events, writing) and
reports its wall time and peak RSS (the process tree's maximum resident set).  Time
should grow linearly with the length and memory stay flat.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

FPS = 25.0
W, H = 640, 360
PITCH_M = (105.0, 68.0)
VIEW_M = 40.0                                 # metres of pitch across the picture
KITS = {"a": (220, 40, 40), "b": (245, 245, 245), "ref": (20, 20, 20), "staff": (40, 60, 160)}
GRASS = (60, 140, 60)
# Stick figure in box units (x from the left, y from the top), COCO-17 order, standing.
_TEMPLATE = np.array([
    [0.50, 0.06], [0.53, 0.04], [0.47, 0.04], [0.56, 0.06], [0.44, 0.06],      # head
    [0.68, 0.22], [0.32, 0.22], [0.75, 0.38], [0.25, 0.38], [0.78, 0.52], [0.22, 0.52],  # arms
    [0.62, 0.52], [0.38, 0.52], [0.64, 0.75], [0.36, 0.75], [0.65, 0.98], [0.35, 0.98],  # legs
], np.float32)


class _People:
    """Positions (metres) and velocities of everyone, stepped frame by frame."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        n_play = 22
        self.kit = ["a"] * 11 + ["b"] * 11 + ["ref", "ref", "ref"] + ["staff"] * 4
        self.pos = np.concatenate([
            rng.uniform([5, 5], [PITCH_M[0] - 5, PITCH_M[1] - 5], (n_play + 1, 2)),   # players + referee
            [[PITCH_M[0] * 0.25, -1.0], [PITCH_M[0] * 0.75, PITCH_M[1] + 1.0]],          # assistants, on the lines
            np.stack([np.linspace(40, 65, 4), np.full(4, PITCH_M[1] + 4.0)], 1)]).astype(np.float64)
        self.vel = np.zeros_like(self.pos)
        self.mobile = np.array([True] * (n_play + 1) + [False] * 6)
        self.ball = np.array(PITCH_M) / 2

    def step(self) -> None:
        dt = 1 / FPS
        self.ball += self.rng.normal(0, 0.35, 2)
        self.ball = np.clip(self.ball, [0, 0], PITCH_M)
        # players drift towards the ball with noise (Ornstein-Uhlenbeck velocities, <= 8 m/s)
        pull = 0.08 * (self.ball - self.pos)
        self.vel += dt * (-0.6 * self.vel + pull) + self.rng.normal(0, 0.45, self.vel.shape) * np.sqrt(dt)
        speed = np.linalg.norm(self.vel, axis=1, keepdims=True)
        self.vel *= np.minimum(1.0, 8.0 / np.maximum(speed, 1e-6))
        self.vel[~self.mobile] *= 0.0
        # assistants follow the play along their touchline
        self.pos[23, 0] += dt * np.clip(self.ball[0] - self.pos[23, 0], -6, 6)
        self.pos[24, 0] += dt * np.clip(self.ball[0] - self.pos[24, 0], -6, 6)
        self.pos += dt * self.vel
        self.pos[:23] = np.clip(self.pos[:23], [0, 0], PITCH_M)


def _project(pos: np.ndarray, cam_x: float) -> tuple[np.ndarray, np.ndarray]:
    """Pitch metres -> feet (x, y) pixels and person height pixels (far side 30 px, near 60)."""
    depth = np.clip((pos[:, 1] + 6) / (PITCH_M[1] + 12), 0, 1)       # 0 far touchline .. 1 near
    scale = W / VIEW_M * (0.6 + 0.5 * depth)
    x = W / 2 + (pos[:, 0] - cam_x) * scale
    y = 40 + depth * (H - 50)
    return np.stack([x, y], 1), 30 + 30 * depth


def write_match(minutes: float, out: Path, seed: int = 0) -> tuple[Path, Path, int]:
    """Write ``out/match_<m>min.avi`` and ``out/synth/poses/...``; returns (video, tags dir, rows)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from schemas.tables import KEYPOINT_COLUMNS, file_schema

    rng = np.random.default_rng(seed)
    n_frames = int(round(minutes * 60 * FPS))
    video_id = f"match_{minutes:g}min"
    video = out / f"{video_id}.avi"
    tags = out / "synth"
    part = tags / "poses" / f"video_id={video_id}"
    part.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (W, H))
    schema = file_schema("poses")
    pw = pq.ParquetWriter(str(part / "part-0.parquet"), schema)
    people = _People(rng)
    cam_x = PITCH_M[0] / 2
    buf: list[dict] = []
    rows = 0
    phase = rng.uniform(0, 2 * np.pi, len(people.kit))
    for f in range(n_frames):
        people.step()
        cam_x += 0.05 * (people.ball[0] - cam_x)
        feet, height = _project(people.pos, cam_x)
        frame = np.full((H, W, 3), GRASS[::-1], np.uint8)
        speed = np.linalg.norm(people.vel, axis=1)
        phase += 2 * np.pi * (0.5 + 0.35 * speed) / FPS
        order = np.argsort(feet[:, 1])                       # far people drawn first
        for i in order:
            h = height[i]
            w = 0.4 * h
            x1, y1 = feet[i, 0] - w / 2, feet[i, 1] - h
            if x1 + w < 0 or x1 > W:
                continue
            kit = KITS[people.kit[i]]
            cv2.rectangle(frame, (int(x1 + 0.2 * w), int(y1 + 0.2 * h)), (int(x1 + 0.8 * w), int(y1 + 0.55 * h)),
                          kit[::-1], -1)
            kp = _TEMPLATE.copy()
            swing = 0.12 * min(speed[i] / 6, 1) * np.sin(phase[i])
            kp[[13, 15], 0] += swing
            kp[[14, 16], 0] -= swing
            kp[[9], 0] -= swing
            kp[[10], 0] += swing
            kp = kp * [w, h] + [x1, y1] + rng.normal(0, 0.6, kp.shape)
            r = {"frame_index": f, "timestamp_ms": f * 1000 / FPS, "track_id": -1,
                 "score": np.float32(0.6 + 0.2 * rng.random()), "box_score": np.float32(0.5 + 0.4 * rng.random()),
                 "bbox_x1": x1, "bbox_y1": y1, "bbox_x2": x1 + w, "bbox_y2": y1 + h}
            flat = np.concatenate([kp, np.full((17, 1), 0.7)], 1).reshape(-1)
            r.update(zip(KEYPOINT_COLUMNS, flat.tolist()))
            buf.append(r)
        writer.write(frame)
        if len(buf) >= 50_000 or f == n_frames - 1:
            pw.write_table(pa.Table.from_pylist(buf, schema=schema))
            rows += len(buf)
            buf = []
    pw.close()
    writer.release()
    # commit the synthetic poses as a run would, so that readers (replay) see them
    from tagging.tables.store import CommitRecord, commit_local

    files = {t: [] for t in ("videos", "poses", "tracks", "events")}
    files["poses"] = [f"poses/video_id={video_id}/part-0.parquet"]
    commit_local(tags, CommitRecord(video_id, "synthetic", files, status="ok"))
    return video, tags, rows


_CHILD = (
    "import resource, subprocess, sys, json, time\n"
    "t = time.time(); p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)\n"
    "print(json.dumps({'rc': p.returncode, 'wall_s': time.time() - t, 'stderr_tail': p.stderr[-400:],"
    " 'peak_rss_mb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))\n"
)


def replay(video: Path, tags: Path, out: Path) -> dict:
    cmd = [sys.executable, "-m", "pipeline.cli", "run", str(video), "--pose", "replay", "--poses-from", str(tags),
           "--output", str(out), "--progress", "off"]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    res = subprocess.run([sys.executable, "-c", _CHILD, *cmd], capture_output=True, text=True, check=True, env=env)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, nargs="+", default=[9.0, 90.0])
    ap.add_argument("--workdir", help="keep the synthetic inputs and outputs here (default: a temp dir)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="matchtag-longmatch-"))
    results = []
    for m in args.minutes:
        t = time.perf_counter()
        video, tags, rows = write_match(m, work / f"{m:g}min")
        made = time.perf_counter() - t
        r = replay(video, tags, work / f"{m:g}min" / "out")
        from tagging.tables.queries import read_table

        out = work / f"{m:g}min" / "out"
        tracks = read_table(out, "tracks")
        res = {"minutes": m, "frames": int(m * 60 * FPS), "pose_rows": rows, "synth_s": round(made, 1),
               "exit_code": r["rc"], "wall_s": round(r["wall_s"], 1), "peak_rss_mb": round(r["peak_rss_mb"], 1),
               "tracks": len(tracks), "teams": tracks.team.value_counts(dropna=False).to_dict()}
        if r["rc"] != 0:
            res["stderr_tail"] = r["stderr_tail"]
        results.append(res)
        print(json.dumps(res, default=str), file=sys.stderr, flush=True)
    summary = {"runs": results, "workdir": str(work)}
    if len(results) >= 2:
        a, b = results[0], results[-1]
        summary["time_ratio"] = round(b["wall_s"] / a["wall_s"], 2)
        summary["length_ratio"] = round(b["minutes"] / a["minutes"], 2)
        summary["peak_rss_ratio"] = round(b["peak_rss_mb"] / a["peak_rss_mb"], 2)
    print(json.dumps(summary, indent=None if not args.json else 1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
