"""`matchtag review` without a browser: the labels store, the server's token and path rules,
a server killed in the middle of saves, and `matchtag train --labels DIR/labels`."""

from __future__ import annotations

import csv
import json
import signal
import threading
import time

import numpy as np
import pandas as pd
import pytest
from review_helpers import Server

from pipeline.cli import main
from tagging.evaluate.events import read_labels
from tagging.review.labels import LABEL_FIELDS, STRETCHES, LabelError, LabelStore


def _label(**kw):
    return {"video_id": "match-1", "event_type": "throw_in", "start_ms": 1000, "end_ms": 2000, "peak_ms": 1500,
            "track_id": 2, **kw}


# -- the store ---------------------------------------------------------------------------------------

def test_store_merges_by_id_and_refuses_stale_revisions(tmp_path):
    store = LabelStore(tmp_path / "labels")
    a = store.save([_label()], "ann")["saved"][0]
    b = store.save([_label(event_type="kick", track_id="")], "bob")["saved"][0]
    assert (a["revision"], a["reviewer"], b["track_id"]) == ("1", "ann", "")
    # tab 1 rejects a; tab 2, still on revision 1, retypes it: refused, the stored row returned
    done = store.save([{**a, "status": "rejected"}], "ann")
    assert done["saved"][0]["revision"] == "2" and not done["conflicts"]
    stale = store.save([{**a, "event_type": "jump"}], "bob")
    assert stale["saved"] == [] and stale["conflicts"][0]["status"] == "rejected"
    rows = {r["label_id"]: r for r in store.read()}
    assert rows[a["label_id"]]["event_type"] == "throw_in" and rows[a["label_id"]]["status"] == "rejected"
    assert rows[b["label_id"]]["event_type"] == "kick" and len(rows) == 2
    # matchtag train / evaluate read the same file: confirmed only by default, rejected on request
    assert list(read_labels(store.path()).event_type) == ["kick"]
    both = read_labels(store.path(), with_status=True)
    assert sorted(both.status) == ["confirmed", "rejected"]


@pytest.mark.parametrize("bad, message", [
    ({"event_type": ""}, "event_type"), ({"event_type": "a,b"}, "event_type"), ({"start_ms": "x"}, "not a number"),
    ({"end_ms": 500}, "before start_ms"), ({"peak_ms": 5000}, "outside the event"), ({"status": "maybe"}, "status"),
    ({"track_id": "seven"}, "track_id"), ({"start_ms": -5}, ">= 0")])
def test_store_refuses_bad_changes_and_writes_nothing(tmp_path, bad, message):
    store = LabelStore(tmp_path / "labels")
    store.save([_label()], "ann")
    before = store.path().read_bytes()
    with pytest.raises(LabelError, match=message):
        store.save([_label(), _label(**bad)], "ann")
    assert store.path().read_bytes() == before


def test_stretches_are_kept_apart(tmp_path):
    store = LabelStore(tmp_path / "labels")
    store.save([{"video_id": "match-1", "start_ms": 0, "end_ms": 60000}], "ann", STRETCHES)
    with pytest.raises(LabelError, match="end after"):
        store.save([{"video_id": "match-1", "start_ms": 5, "end_ms": 5}], "ann", STRETCHES)
    assert store.read() == [] and len(store.read(STRETCHES)) == 1


# -- the server --------------------------------------------------------------------------------------

@pytest.fixture
def server(tag_sample, tmp_path):
    import shutil

    root = tmp_path / "tags"
    shutil.copytree(tag_sample, root)
    srv = Server(root)
    yield srv, root
    srv.stop()


def test_server_answers_nothing_without_its_token(server):
    srv, _ = server
    for path in ("/", "/static/app.js", "/api/videos", "/api/events?video=match-1", "/media/match-1", "/nope"):
        status, body = srv.request(path, token=False)
        assert status == 403, path
        assert b"match-1" not in body and b"Rovers" not in body
    status, _ = srv.request("/api/videos", token=False, headers={"Cookie": "matchtag_review=wrong"})
    assert status == 403
    status, _ = srv.request("/api/labels", {"changes": [_label()]}, token=False)
    assert status == 403
    # the token once, then the cookie it sets
    import urllib.request

    with urllib.request.urlopen(srv.url, timeout=30) as res:
        cookie = res.headers["Set-Cookie"].split(";")[0]
        assert res.status == 200 and "HttpOnly" in res.headers["Set-Cookie"]
    status, _ = srv.request("/api/videos", token=False, headers={"Cookie": cookie})
    assert status == 200


def test_server_refuses_paths_outside_the_output_root(server, tmp_path):
    srv, root = server
    secret = root / "labels" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("not for the browser")
    for path in ("/etc/passwd", "/static/../labels/secret.txt", "/static/%2e%2e/labels/secret.txt",
                 "/media/..%2F..%2Fetc%2Fpasswd", "/media/%2Fetc%2Fpasswd", "/media/match-1/../../videos",
                 "/poses/video_id=match-1/part-00000-of-00001.parquet", "/labels/labels.csv", "/_commits",
                 "/api/poses?video=../../etc&start_ms=0&end_ms=1", "/api/events?video=%2Fetc%2Fpasswd"):
        status, body = srv.request(path)
        assert status in (400, 404), (path, status)
        assert b"not for the browser" not in body and b"root:" not in body
    # a video the videos table names, whose file is not there: nothing else is tried
    status, body = srv.request("/media/match-1")
    assert status == 404 and b"video file not found" in body
    # labels for a video the root does not have are refused
    status, _ = srv.request("/api/labels", {"changes": [_label(video_id="elsewhere")]})
    assert status == 404


def test_poses_events_and_labels_round_trip(server):
    srv, root = server
    videos = srv.get("/api/videos")
    assert {v["video_id"] for v in videos["videos"]} == {"match-1", "match-2", "broken"}
    assert "throw_in" in videos["types"] and len(videos["skeleton"]) == 16
    poses = srv.get("/api/poses?video=match-1&start_ms=600000&end_ms=601000")
    assert poses["frames"] and all(p["team"] in ("a", "b", "other", None) for f in poses["frames"] for p in f["people"])
    assert all(600000 <= f["t"] < 601000 and len(f["people"][0]["kps"]) == 51 for f in poses["frames"])
    events = srv.get("/api/events?video=match-1")
    assert len(events["candidates"]) == 8 and events["labels"] == []
    status, body = srv.request("/api/labels", {"changes": [_label(status="rejected")], "reviewer": "ann"})
    saved = json.loads(body)["saved"][0]
    assert status == 200 and saved["reviewer"] == "ann"
    status, body = srv.request("/api/labels", {"changes": [{**saved, "revision": "0", "status": "confirmed"}]})
    assert status == 409 and json.loads(body)["conflicts"][0]["status"] == "rejected"
    assert srv.get("/api/events?video=match-1")["labels"][0]["status"] == "rejected"


def test_two_tabs_saving_at_once_lose_nothing(server):
    srv, root = server
    n = 40

    def tab(name):
        for i in range(n):
            srv.request("/api/labels", {"changes": [_label(peak_ms=1000 + i, start_ms=1000, end_ms=2000,
                                                           event_type=f"type_{name}")], "reviewer": name})

    threads = [threading.Thread(target=tab, args=(t,)) for t in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = LabelStore.of_output(root).read()
    assert len(rows) == 2 * n and len({r["label_id"] for r in rows}) == 2 * n


def test_killing_the_server_mid_save_leaves_the_old_or_the_new_file(server):
    """SIGKILL the moment a save's temporary file appears (the server is writing it), in five
    rounds: labels.csv always parses whole and holds a whole number of saves (each adds
    ``batch`` rows), never part of one; the kill landing mid-write is checked, not assumed."""
    srv, root = server
    batch = 3000
    path = LabelStore.of_output(root).path()
    mid_write = 0
    for round_ in range(5):
        stop = threading.Event()

        def hammer():
            while not stop.is_set():
                try:
                    srv.request("/api/labels", {"changes": [_label(peak_ms=1000 + i % 1000) for i in range(batch)]})
                except OSError:
                    return

        worker = threading.Thread(target=hammer)
        worker.start()
        deadline = time.time() + 60
        while time.time() < deadline and not list(path.parent.glob(".labels.csv.*.tmp")):
            pass
        srv.proc.send_signal(signal.SIGKILL)
        srv.proc.wait()
        stop.set()
        worker.join()
        mid_write += bool(list(path.parent.glob(".labels.csv.*.tmp")))
        if path.exists():
            with open(path, newline="") as f:
                reader = csv.reader(f)
                header = next(reader)
                rows = list(reader)
            assert tuple(header) == LABEL_FIELDS
            assert all(len(r) == len(LABEL_FIELDS) for r in rows)
            assert len(rows) % batch == 0, f"round {round_}: {len(rows)} rows: a torn save"
            assert len(read_labels(path)) == len(rows)
        srv = Server(root)
    srv.stop()
    assert mid_write >= 3, f"only {mid_write} of 5 kills landed during a write"
    # the next save clears what a killed one left
    LabelStore.of_output(root).save([_label()], "ann")
    assert not list(path.parent.glob(".labels.csv.*.tmp"))


# -- training from reviewed labels ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def reviewed(tmp_path_factory):
    """Four synthetic videos (write_tables), their labels reviewed: throw-ins confirmed, each video
    also with a rejected candidate on a background track, and one reviewed stretch per video."""
    from tagging.events.synth import TrackSpec, generate_track, write_tables

    root = tmp_path_factory.mktemp("review_train")
    rng = np.random.default_rng(5)
    videos = {}
    for v in range(4):
        tracks = [generate_track(TrackSpec(k, float(rng.choice([0.0, 90.0, 180.0])), 10.0, bool(rng.random() < .5),
                                           float(rng.uniform(120, 300)), 25.0), rng, t0_ms=0.0)
                  for k in ["throw_in"] * 6 + [None] * 2]
        videos[f"clip{v}"] = tracks
    labels_csv = write_tables(videos, root / "tags")
    truth = pd.read_csv(labels_csv)
    store = LabelStore.of_output(root / "tags")
    changes = [{**r, "status": "confirmed", "candidate": "default:throw_in"} for r in truth.to_dict("records")]
    for v in videos:
        bg_track = 6   # write_tables numbers tracks from 0: 6 and 7 are background-only
        changes.append({"video_id": v, "event_type": "throw_in", "track_id": bg_track, "start_ms": 500,
                        "end_ms": 1500, "peak_ms": 1000, "status": "rejected", "candidate": "default:x"})
        store.save([{"video_id": v, "start_ms": 0, "end_ms": 60000}], "ann", STRETCHES)
    store.save(changes, "ann")
    return root / "tags"


def test_train_from_the_labels_folder_holds_out_videos_and_scores_both_models(reviewed, capsys):
    code = main(["train", "--labels", str(reviewed / "labels"), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    out = json.loads(captured.out)
    assert out["classifier"] == "few-shot"            # 18 throw-ins: under 50
    assert out["classes"] == ["background", "throw_in"]
    assert len(out["heldout_videos"]) == 1 and not set(out["heldout_videos"]) & set(out["train_videos"])
    assert out["hard_negatives"] == 3                  # the training videos' rejected candidates
    assert out["ap_new"]["throw_in"] >= 0.6, out
    assert out["ap_old"] == {"throw_in": 0.0}          # the run's events table is empty here
    assert (reviewed / "labels" / "models").is_dir() and out["model_path"].endswith(".skops")
    assert "held-out AP throw_in: new" in captured.err


def test_hard_negatives_and_unreviewed_time_reach_the_training_set():
    from tagging.events.model import BACKGROUND, frame_labels
    from tagging.events.training_data import review_extras

    labels = pd.DataFrame([
        {"video_id": "v", "event_type": "kick", "start_ms": 100.0, "end_ms": 300.0, "peak_ms": 200.0,
         "track_id": pd.NA, "status": "rejected"},
        {"video_id": "v", "event_type": "kick", "start_ms": 100.0, "end_ms": 300.0, "peak_ms": 200.0,
         "track_id": 4, "status": "rejected"}])
    labels["track_id"] = labels.track_id.astype("Int64")
    report = {"skipped": []}
    extra = review_extras(labels, pd.DataFrame({"video_id": ["v"], "start_ms": [0.0], "end_ms": [1000.0]}), report)
    assert extra[("v", 4)] == [(BACKGROUND, 100.0, 300.0, 200.0)]
    assert [e[:3] for e in extra[("v", None)]] == [("__ignore__", 1000.0, 1e12)]
    assert "no track_id" in report["skipped"][0]
    grid = np.arange(0, 2000, 50.0)
    y = frame_labels(grid, extra[("v", 4)] + extra[("v", None)], [BACKGROUND, "kick"], 200.0)
    assert (y[grid > 1250] == -1).all() and (y[(grid >= 100) & (grid <= 300)] == 0).all()


def test_train_button_runs_in_the_background_and_the_server_keeps_answering(reviewed):
    srv = Server(reviewed)
    try:
        status, body = srv.request("/api/train", {"classifier": "few-shot"})
        assert status == 202 and json.loads(body)["state"] == "running"
        status, _ = srv.request("/api/train", {"classifier": "few-shot"})
        assert status == 409                            # one training at a time
        slowest, state = 0.0, {}
        deadline = time.time() + 300
        while time.time() < deadline:
            t = time.time()
            assert srv.get("/api/events?video=clip0")["labels"]
            slowest = max(slowest, time.time() - t)
            state = srv.get("/api/train")
            if state["state"] != "running":
                break
            time.sleep(0.3)
        assert state["state"] == "done", state
        result = state["result"]
        assert result["classifier"] == "few-shot" and set(result["ap_new"]) == {"throw_in"}
        assert any("scoring on held-out" in p for p in state["progress"])
        assert slowest < 5.0, f"a request took {slowest:.1f} s while training"
    finally:
        srv.stop()


def test_review_refuses_a_folder_without_tables_and_bad_ports(tmp_path, capsys):
    assert main(["review", "--tags", str(tmp_path), "--no-browser"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("matchtag: error: ") and "no videos table" in err and err.count("\n") == 1
    assert main(["review", "--tags", str(tmp_path), "--port", "70000"]) == 2
    assert "--port 70000" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["review", "--tags", str(tmp_path), "--prot", "5"])
    assert exc.value.code == 2 and "did you mean --port?" in capsys.readouterr().err
