"""``matchtag sql``: DuckDB views over the tables, output formats, errors (exit 2, one line)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.commands import sql
from tagging.tables import load_events, load_poses, load_videos

REPO = Path(__file__).resolve().parents[1]
duckdb = pytest.importorskip("duckdb", reason="duckdb comes with the dev extra: pip install -e '.[dev]'")


def test_json_on_stdout_only_from_the_command_line(tag_sample):
    query = ("SELECT e.video_id, e.peak_ms, t.team, v.home FROM events e JOIN tracks t USING (video_id, track_id) "
             "JOIN videos v USING (video_id) WHERE e.event_type = 'throw_in' ORDER BY 1, 2")
    proc = subprocess.run([sys.executable, "-m", "pipeline.cli", "sql", query, "--tags", str(tag_sample), "--json"],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    events = load_events(tag_sample, event_type="throw_in")
    assert [(r["video_id"], r["peak_ms"]) for r in rows] == list(zip(events.video_id, events.peak_ms))
    assert {r["team"] for r in rows} == {"a", "b"} and rows[0]["home"] == "Rovers" and rows[-1]["home"] is None


def test_views_match_the_loader(tag_sample, capsys):
    assert sql.main(["SELECT video_id, count(*) AS n, max(nose_x) AS x FROM poses GROUP BY 1 ORDER BY 1",
                     "--tags", str(tag_sample), "--csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    poses = load_poses(tag_sample)
    want = poses.groupby("video_id").agg(n=("nose_x", "size"), x=("nose_x", "max"))
    assert [r["video_id"] for r in rows] == list(want.index) == ["match-1", "match-2"]
    assert [int(r["n"]) for r in rows] == want.n.tolist()
    assert [float(r["x"]) for r in rows] == pytest.approx(want.x.tolist())


def test_columns_types_and_lists(tag_sample, capsys):
    assert sql.main(["SELECT * FROM videos ORDER BY video_id", "--tags", str(tag_sample), "--json"]) == 0
    videos = json.loads(capsys.readouterr().out)
    assert list(videos[0])[0] == "video_id" and list(videos[0]) == list(load_videos(tag_sample).columns)
    assert videos[0]["frame_count"] is None and videos[1]["frame_count"] == 142500
    assert sql.main(["SELECT run_id, failures FROM runs ORDER BY started_at", "--tags", str(tag_sample), "--csv"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0] == ["run_id", "failures"] and json.loads(rows[2][1]) == ["broken: /matches/broken.mp4: not a video"]
    assert sql.main(["SELECT count(*) AS n FROM events WHERE event_type = 'throw_in'", "--tags", str(tag_sample)]) == 0
    assert capsys.readouterr().out.split() == ["n", "7"]


def test_errors_are_one_line_with_exit_2(tag_sample, tmp_path, capsys):
    assert sql.main(["SELECT * FROM goals", "--tags", str(tag_sample)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("matchtag: error: ") and "goals" in err[0]
    assert sql.main(["SELECT 1", "--tags", str(tmp_path)]) == 2
    assert "no tables there" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        sql.main(["SELECT 1", "--tags", str(tag_sample), "--jsn"])
    assert exc.value.code == 2 and "--jsn" in capsys.readouterr().err


def test_without_duckdb_it_says_how_to_install_it(tag_sample, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "duckdb", None)          # import duckdb now raises ImportError
    assert sql.main(["SELECT 1", "--tags", str(tag_sample)]) == 2
    err = capsys.readouterr().err
    assert "pip install -e '.[sql]'" in err and len(err.strip().splitlines()) == 1
