"""Atomic per-video commits (docs/reliability.md): readers see one run per video, after kill -9
at any mutating call and under concurrent commits; a full disk fails only its video."""

from __future__ import annotations

import errno
import json
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
from pathlib import Path

import crash_run
import numpy as np
import pandas as pd
import pytest
from commit_helpers import SEED_RUN, commit_synthetic, mixed_videos, run_forked, synthetic_pose_rows
from conftest import astronaut_clip_frames, write_clip

from pipeline.cli import main
from pipeline.commit import LOCKS_DIR, RunLock, collect_garbage, run_is_live, write_part
from schemas.tables import TABLES
from tagging.tables.queries import read_table, read_tables
from tagging.tables.store import COMMITS_DIR, read_commit, table_dataset

RUNNER = ["--runner", "FnApiRunner"]


# --- the commit itself --------------------------------------------------------------------

def test_readers_see_only_the_committed_run(tmp_path):
    commit_synthetic(tmp_path, SEED_RUN, "v", synthetic_pose_rows("v", 3))
    # another run has written all its files but not committed: invisible to readers
    other = "20200102T000000Z-other0"
    with RunLock(str(tmp_path), other):
        for t in TABLES:
            write_part(str(tmp_path), other, t, "v", 0, synthetic_pose_rows("v", 5) if t == "poses" else [])
        assert len(read_table(tmp_path, "poses")) == 6
        assert read_table(tmp_path, "videos").run_id.tolist() == [SEED_RUN]
        assert mixed_videos(tmp_path) == []
        # the run is live: a clean-up by a third party keeps its files
        assert collect_garbage(str(tmp_path)) == []
    # over (lock released): its uncommitted files are garbage
    removed = collect_garbage(str(tmp_path))
    assert len(removed) == len(TABLES) and all(other in r for r in removed)
    assert len(pd.read_parquet(tmp_path / "poses")) == 6  # the plain pandas read is right again


def test_all_digit_video_id_reads_as_string(tmp_path):
    commit_synthetic(tmp_path, SEED_RUN, "12345", synthetic_pose_rows("12345", 2))
    df = read_table(tmp_path, "poses", "12345")
    assert len(df) == 4 and df.video_id.tolist() == ["12345"] * 4


def test_table_dataset_names_a_missing_output(tmp_path):
    with pytest.raises(FileNotFoundError, match="no poses table there"):
        table_dataset(tmp_path / "nothing", "poses")


def test_recommit_removes_superseded_files_of_finished_runs(tmp_path):
    commit_synthetic(tmp_path, SEED_RUN, "v", synthetic_pose_rows("v", 3))
    new = "20200103T000000Z-newer0"
    with RunLock(str(tmp_path), new):
        commit_synthetic(tmp_path, new, "v", synthetic_pose_rows("v", 4), tracks=2)
    names = sorted(p.name for p in (tmp_path / "poses" / "video_id=v").iterdir())
    assert names == [f"{new}-00000.parquet"]
    assert read_commit(tmp_path, "v").run_id == new and len(read_table(tmp_path, "tracks")) == 2


def test_lock_of_a_dead_process_is_not_live(tmp_path):
    run = "20200104T000000Z-dead00"
    code = run_forked(lambda: (RunLock(str(tmp_path), run).__enter__(), os._exit(0)))
    assert code == 0 and (tmp_path / LOCKS_DIR / f"{run}.lock").exists()
    assert not run_is_live(str(tmp_path), run)
    with RunLock(str(tmp_path), "20200104T000001Z-next00"):  # the next run removes the dead lock
        assert not (tmp_path / LOCKS_DIR / f"{run}.lock").exists()


# --- concurrency: two runs commit the same video at the same instant, 300 times -----------

def _racer(root, who, rounds, barrier, errors):
    sizes = {0: (3, 1), 1: (5, 2)}[who]
    for i in range(rounds):
        run = f"20200105T{i:06d}Z-race{who}{i:04d}"
        try:
            with RunLock(root, run):
                files_rows = synthetic_pose_rows("v", sizes[0])
                barrier.wait()
                commit_synthetic(root, run, "v", files_rows, tracks=sizes[1])
                barrier.wait()
        except Exception as exc:  # counted: the figure is "0 unhandled exceptions"
            errors.put(f"{who}/{i}: {type(exc).__name__}: {exc}")
            barrier.abort()
            return


def _reader(root, stop, result):
    mixed = reads = 0
    failures = []
    while not stop.is_set():
        try:
            t = read_tables(root)
        except Exception as exc:
            failures.append(f"{type(exc).__name__}: {exc}")
            continue
        reads += 1
        if len(t["videos"]) != 1:
            continue  # before the first commit
        run = t["videos"].run_id.iloc[0]
        expected = {"0": (6, 1), "1": (10, 2)}[run.split("-race", 1)[1][0]]
        if (len(t["poses"]), len(t["tracks"])) != expected or t["events"].model.tolist() != [run]:
            mixed += 1
    result.put({"reads": reads, "mixed": mixed, "failures": failures[:5], "n_failures": len(failures)})


def test_two_runs_commit_the_same_video_300_times(tmp_path):
    ctx = mp.get_context("fork")
    root, rounds = str(tmp_path), 300
    barrier, errors, result, stop = ctx.Barrier(2), ctx.Queue(), ctx.Queue(), ctx.Event()
    racers = [ctx.Process(target=_racer, args=(root, w, rounds, barrier, errors)) for w in (0, 1)]
    reader = ctx.Process(target=_reader, args=(root, stop, result))
    for p in (*racers, reader):
        p.start()
    for p in racers:
        p.join(600)
    stop.set()
    seen = result.get(timeout=60)
    reader.join(60)
    errs = []
    while not errors.empty():
        errs.append(errors.get())
    print(f"race: {rounds} rounds x 2 committers, {seen['reads']} concurrent reads, "
          f"{seen['mixed']} mixed, {len(errs)} commit exceptions, {seen['n_failures']} read failures")
    assert errs == [] and [p.exitcode for p in racers] == [0, 0]
    # A reader never sees a mix.  Only when the same video is recommitted back to back
    # faster than a read (never so in real runs) can a read give up, loudly, naming a file.
    assert seen["mixed"] == 0 and seen["reads"] > 0, seen
    assert all(f.startswith("FileNotFoundError") for f in seen["failures"]), seen
    assert mixed_videos(root) == []
    # The loser's files may outlive the last round (each side may clean up while the other
    # is still live); the next run removes them.  Then only the winner's files remain.
    with RunLock(root, "20200106T000000Z-next00"):
        pass
    assert len(list((tmp_path / "poses" / "video_id=v").iterdir())) == 1
    assert not (tmp_path / LOCKS_DIR).exists()
    assert [p.name for p in (tmp_path / COMMITS_DIR).iterdir()] == ["video_id=v.json"]


# --- runs: seeded output, killed at each mutating call, full disk ---------------------------

@pytest.fixture(scope="module")
def replay_setup(tmp_path_factory, astronaut):
    """Two real-pixel clips, hand-made poses to replay (no pose model), an earlier output
    (``--max-frames 3``) and a clean output of the run under test."""
    root = tmp_path_factory.mktemp("commit")
    frames = astronaut_clip_frames(astronaut, 6)
    clips = [str(write_clip(root / f"v{i}.avi", frames)) for i in range(2)]
    src = root / "poses_src"
    for i in range(2):
        commit_synthetic(src, SEED_RUN, f"v{i}", synthetic_pose_rows(f"v{i}", 6))
    args = [*clips, "--pose", "replay", "--poses-from", str(src), "--range-frames", "4", *RUNNER]
    seeded, clean = root / "seeded", root / "clean"
    assert main(["run", *args, "--output", str(seeded), "--max-frames", "3"]) == 0
    assert main(["run", *args, "--output", str(clean)]) == 0
    return {"root": root, "args": args, "seeded": seeded, "clean": clean}


def _rows(out) -> dict[str, pd.DataFrame]:
    t = read_tables(out)
    t["videos"] = t["videos"].drop(columns=["run_id", "tagged_at"])
    return {k: v.sort_values(list(v.columns[:3])).reset_index(drop=True) for k, v in t.items()}


def _sweep(setup, dest: Path, points: list[int], seeded: bool = True) -> dict[int, int]:
    """Run tests/crash_run.py --sweep: one process, a forked run per kill point."""
    dest.mkdir(exist_ok=True)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.run([sys.executable, str(Path(__file__).parent / "crash_run.py"), "--sweep",
                           str(setup["seeded"]) if seeded else "-", str(dest), ",".join(map(str, points)),
                           "run", *setup["args"]], env=env, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {int(k): v for k, v in json.loads(proc.stdout.strip().splitlines()[-1]).items()}


def kill_points(total: int, n: int = 22) -> list[int]:
    """``n`` points spread evenly over calls 1..total, first and last included."""
    return sorted({int(round(x)) for x in np.linspace(1, total, n)})


def check_killed_output(out: Path) -> str:
    """No video mixes runs; each shows the seeded version ("old", 3 frames) or the new one."""
    assert mixed_videos(out) == [], f"{out.name}: mixed videos"
    frames = read_table(out, "videos").set_index("video_id").frames_processed
    assert set(frames) <= {3, 6}, frames
    return "/".join("new" if frames[v] == 6 else "old" for v in sorted(frames.index))


def test_kill_at_spread_points_then_rerun_equals_clean_run(replay_setup, tmp_path):
    assert _sweep(replay_setup, tmp_path, [0]) == {0: 0}
    total = int((tmp_path / "k0.count").read_text())
    points = kill_points(total)
    assert len(points) >= 20, total
    codes = _sweep(replay_setup, tmp_path, points)
    assert codes == {p: 137 for p in points}, codes
    clean = _rows(replay_setup["clean"])
    seen = {}
    for point in points:
        out = tmp_path / f"k{point}"
        seen[point] = check_killed_output(out)
        assert main(["run", *replay_setup["args"], "--output", str(out)]) == 0
        after = _rows(out)
        for t in TABLES:
            pd.testing.assert_frame_equal(after[t], clean[t], obj=f"{t} after a rerun (killed at {point})")
        left = {p.name for p in out.iterdir()} - {*TABLES, "runs", COMMITS_DIR}
        assert not left, f"point {point}: {left} left behind"
    print(f"kill test: {total} mutating calls per run, killed at {len(points)} points: {seen}")
    assert any("old" in v for v in seen.values()) and any("new" in v for v in seen.values())


def test_rerun_with_skip_existing_repairs_a_missing_file(replay_setup, tmp_path):
    out = tmp_path / "o"
    shutil.copytree(replay_setup["clean"], out)
    record = read_commit(out, "v0")
    os.unlink(out / record.files["tracks"][0])  # damage from outside
    assert main(["run", *replay_setup["args"], "--output", str(out), "--skip-existing"]) == 0
    runs = pd.read_parquet(out / "runs").sort_values("started_at")
    assert (runs.iloc[-1].videos_ok, runs.iloc[-1].videos_skipped) == (1, 1)
    assert read_commit(out, "v0").run_id != record.run_id and mixed_videos(out) == []


def test_full_disk_fails_only_the_video_it_hits(replay_setup, tmp_path, monkeypatch):
    import pipeline.transforms

    out = tmp_path / "o"
    shutil.copytree(replay_setup["seeded"], out)
    before = read_tables(out)
    real = pipeline.transforms.write_part   # poses files are written per block, after tracking

    def no_space(output, run_id, table, video_id, part, rows):
        if video_id == "v1" and table == "poses":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), f"{output}/poses/video_id=v1")
        return real(output, run_id, table, video_id, part, rows)

    monkeypatch.setattr(pipeline.transforms, "write_part", no_space)
    assert main(["run", *replay_setup["args"], "--output", str(out)]) == 1
    after = read_tables(out)
    v = after["videos"].set_index("video_id")
    assert v.loc["v0", "frames_processed"] == 6  # tagged anew
    # v1 keeps what was committed before, untouched
    for t in TABLES:
        pd.testing.assert_frame_equal(after[t][after[t].video_id == "v1"].reset_index(drop=True),
                                      before[t][before[t].video_id == "v1"].reset_index(drop=True))
    run = pd.read_parquet(out / "runs").sort_values("started_at").iloc[-1]
    assert (run.videos_total, run.videos_ok, run.videos_failed) == (2, 1, 1)
    assert len(run.failures) == 1 and run.failures[0].startswith("v1: could not write its poses table")
    assert "No space left on device" in run.failures[0]
    # nothing of the failed write is left: no staging, notes, locks or stray files
    assert {p.name for p in out.iterdir()} == {*TABLES, "runs", COMMITS_DIR}
    assert len(list((out / "poses" / "video_id=v1").iterdir())) == 1


def test_crash_run_counts_every_mutating_call(tmp_path):
    state = run_forked(lambda: _count_in_child(tmp_path))
    assert state == 0
    assert json.loads((tmp_path / "n").read_text()) == 4


def _count_in_child(tmp_path):
    state = crash_run.install(str(tmp_path / "o"), 10 ** 9)
    os.makedirs(tmp_path / "o" / "a")                      # mkdir of o/a (o itself is not under o/)
    with open(tmp_path / "o" / "a" / "f", "w") as fh:      # open for writing
        fh.write("x")
    os.replace(tmp_path / "o" / "a" / "f", tmp_path / "o" / "a" / "g")
    os.unlink(tmp_path / "o" / "a" / "g")
    (tmp_path / "n").write_text(json.dumps(state["count"]))
    return 0


# --- dry run: what a run would do, and a graph that does not grow with the manifest --------

def test_dry_run_prints_only_json_and_a_constant_graph(replay_setup, tmp_path, capsys):
    clips = [a for a in replay_setup["args"] if a.endswith(".avi")]
    args = [a for a in replay_setup["args"] if not a.endswith(".avi")]
    assert main(["run", *clips, "--output", str(replay_setup["clean"]), "--skip-existing", "--dry-run",
                 *args]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert (plan["to_tag"], plan["to_skip"], plan["inputs_hashed"]) == ([], ["v0", "v1"], 2)
    sizes = {}
    for n in (1, 2, 40):
        folder = tmp_path / f"m{n}"
        folder.mkdir()
        for i in range(n):
            os.symlink(clips[0], folder / f"match-{i:03d}.avi")
        assert main(["run", str(folder / "*.avi"), "--output", str(tmp_path / "o"), "--dry-run", *args]) == 0
        plan = json.loads(capsys.readouterr().out)
        assert len(plan["to_tag"]) == n and plan["to_skip"] == []
        sizes[n] = plan["transforms"]
    assert len(set(sizes.values())) == 1, sizes
    assert not (tmp_path / "o").exists()  # nothing written
