"""Inputs taken literally, manifests strict, ids stable, --output checked (issue 13, problems 5-8).

Each test here failed on the code before issue 13 (checked against main).
"""

from __future__ import annotations

import os
import re

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.cli import main as cli
from pipeline.main import jobs_for, stored_video_ids
from pipeline.options import UsageError, parse_run_args
from tagging.video.inputs import expand_inputs, video_jobs
from tagging.video.reader import VideoError, probe

# --- problem 8: inputs silently taken as something else -----------------------------------

def test_an_existing_path_is_never_expanded_as_a_glob(tmp_path):
    (tmp_path / "m[1].mp4").write_bytes(b"x")
    (tmp_path / "m1.mp4").write_bytes(b"y")
    assert expand_inputs([str(tmp_path / "m[1].mp4")]) == [str(tmp_path / "m[1].mp4")]
    # a glob that is not a file still expands
    assert expand_inputs([str(tmp_path / "m?.mp4")]) == [str(tmp_path / "m1.mp4")]
    # and so does a manifest row
    (tmp_path / "m.csv").write_text("path\nm[1].mp4\n")
    assert [j.path for j in video_jobs([], str(tmp_path / "m.csv"))] == [str(tmp_path / "m[1].mp4")]


@pytest.mark.parametrize("ext, fmt", [(".jpg", "JPEG"), (".png", "PNG")])
def test_a_still_image_named_mp4_is_not_a_video(tmp_path, astronaut, ext, fmt):
    import cv2

    image = tmp_path / f"photo{ext}"
    cv2.imwrite(str(image), astronaut[..., ::-1])
    renamed = tmp_path / "photo.mp4"
    renamed.write_bytes(image.read_bytes())
    with pytest.raises(VideoError, match=re.escape(f"{renamed}: a still image ({fmt}), not a video")):
        probe(str(renamed))


def test_a_symlink_loop_says_so(tmp_path):
    a, b = tmp_path / "a.mp4", tmp_path / "b.mp4"
    a.symlink_to(b)
    b.symlink_to(a)
    with pytest.raises(VideoError, match=re.escape(f"{a}: symlink loop")):
        probe(str(a))


def test_a_broken_symlink_and_a_fifo_say_what_they_are(tmp_path):
    link = tmp_path / "gone.mp4"
    link.symlink_to(tmp_path / "nowhere.mp4")
    with pytest.raises(VideoError, match="broken symlink"):
        probe(str(link))
    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    with pytest.raises(VideoError, match="not a regular file"):   # would block FFmpeg forever
        probe(str(fifo))


def test_a_huge_declared_frame_count_is_treated_as_unknown(tmp_path, astronaut):
    """A header claiming more frames than the file has bytes would plan millions of ranges."""
    from conftest import astronaut_clip_frames, write_clip

    from tagging.video.reader import plan_ranges

    clip = write_clip(tmp_path / "c.avi", astronaut_clip_frames(astronaut, 3))
    data = bytearray(clip.read_bytes())
    # AVI main header: dwTotalFrames at offset 48 of the 'avih' chunk's data
    at = data.index(b"avih") + 8 + 16
    data[at:at + 4] = (2**31 - 1).to_bytes(4, "little")
    strh = data.index(b"strh") + 8 + 32      # stream header dwLength
    data[strh:strh + 4] = (2**31 - 1).to_bytes(4, "little")
    bad = tmp_path / "huge.avi"
    bad.write_bytes(bytes(data))
    info = probe(str(bad))
    assert info.frame_count == 0
    assert plan_ranges(info.frame_count, 1500) == [(0, None)]


# --- problem 7 (manifests) and 8 (path,path): the parser's cases are in tests/test_batch.py -----

def test_malformed_manifest_run_exits_2_with_one_line(tmp_path, capsys):
    m = tmp_path / "m.csv"
    m.write_text("path,video_id\na.mp4,m1,extra\n")
    assert cli(["run", "--manifest", str(m), "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"matchtag: error: manifest {m}, line 2: 3 fields but the header has 2 "
                   "(an unquoted comma in a value?)"]


# --- problem 7: --output unusable --------------------------------------------------------

def _read_only_dir(tmp_path):
    if os.geteuid() != 0:
        d = tmp_path / "ro"
        d.mkdir()
        d.chmod(0o555)
        return d
    # root writes through permission bits; /sys is read-only even for root in containers
    try:
        open("/sys/.matchtag-probe", "w").close()
    except OSError:
        return "/sys"
    os.unlink("/sys/.matchtag-probe")
    pytest.skip("running as root and /sys is writable here: no read-only folder to test with")


@pytest.mark.parametrize("kind", ["file", "under-a-file", "read-only"])
def test_unusable_output_is_one_line_and_exit_2(tmp_path, capsys, kind):
    (tmp_path / "a-file").write_text("x")
    output = {"file": tmp_path / "a-file", "under-a-file": tmp_path / "a-file" / "tags",
              "read-only": _read_only_dir(tmp_path) if kind == "read-only" else None}[kind]
    assert cli(["run", str(tmp_path / "v.mp4"), "--output", str(output)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"matchtag: error: --output {output}: "), err
    assert (tmp_path / "a-file").read_text() == "x"


# --- problem 5: the same file gets two ids ------------------------------------------------

def _commit_fake_videos_row(out, video_id, path):
    """A committed ``videos`` row (and empty other tables) for ``path``, as a run leaves it."""
    from schemas.tables import TABLES, file_schema
    from tagging.tables.store import CommitRecord, commit_local

    files = {}
    for table in TABLES:
        part = out / table / f"video_id={video_id}"
        part.mkdir(parents=True)
        rows = [{"path": path, "status": "ok"}] if table == "videos" else []
        pq.write_table(pa.Table.from_pylist(rows, schema=file_schema(table)), part / "part-0.parquet")
        files[table] = [f"{table}/video_id={video_id}/part-0.parquet"]
    commit_local(out, CommitRecord(video_id, "fake-run", files, status="ok"))


def test_a_path_keeps_its_stored_id_when_batch_mates_share_its_name(tmp_path):
    for d in ("d1", "d2"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "same.mp4").write_bytes(b"x")
    out = tmp_path / "tags"
    d1, d2 = str(tmp_path / "d1" / "same.mp4"), str(tmp_path / "d2" / "same.mp4")
    _, opts = parse_run_args([d1, "--output", str(out)])
    assert [(j.video_id, j.path) for j in jobs_for(opts)] == [("same", d1)]
    _commit_fake_videos_row(out, "same", d1)              # as the first run commits it
    _, opts = parse_run_args([d1, d2, "--output", str(out)])
    ids = {j.path: j.video_id for j in jobs_for(opts)}
    assert ids[d1] == "same" and re.fullmatch(r"same-[0-9a-f]{8}", ids[d2])
    assert stored_video_ids(str(out)) == {d1: "same"}


def test_a_manifest_id_cannot_store_a_stored_file_a_second_time(tmp_path):
    clip = tmp_path / "final.mp4"
    clip.write_bytes(b"x")
    out = tmp_path / "tags"
    _commit_fake_videos_row(out, "final", str(clip))
    (tmp_path / "m.csv").write_text("path,video_id\nfinal.mp4,cup-final\n")
    _, opts = parse_run_args(["--manifest", str(tmp_path / "m.csv"), "--output", str(out)])
    with pytest.raises(UsageError, match="already holds the file as video_id 'final', not 'cup-final'"):
        jobs_for(opts)
    (tmp_path / "m.csv").write_text("path,video_id\nfinal.mp4,final\n")
    assert [j.video_id for j in jobs_for(opts)] == ["final"]
