"""`matchtag train` -> `matchtag evaluate events` / `matchtag run --events-model` from tables."""

import json

import numpy as np
import pandas as pd
import pytest

from pipeline.cli import main
from tagging.events.synth import TrackSpec, generate_track, write_tables


def _videos(seed, n_videos, kinds):
    rng = np.random.default_rng(seed)
    out = {}
    for v in range(n_videos):
        tracks = []
        for k in kinds:
            spec = TrackSpec(k, float(rng.choice([0.0, 90.0, 180.0])), 10.0, bool(rng.random() < 0.5),
                             float(rng.uniform(120, 300)), 25.0)
            tracks.append(generate_track(spec, rng))
        out[f"match{v:02d}"] = tracks
    return out


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    kinds = ["throw_in", "celebration", None]
    # 20 labelled videos (60 tracks): with the 63 scene-context features (events-features-2),
    # whose synthetic values vary at random from track to track, 10 videos were too few for
    # celebration (AP 0.4, throw-in 0.6)
    train_labels = write_tables(_videos(1, 20, kinds), root / "train_tags")
    test_labels = write_tables(_videos(2, 5, kinds), root / "test_tags")
    model = root / "analyst.skops"
    code = main(["train", "--labels", str(train_labels), "--tags", str(root / "train_tags"), "--out", str(model)])
    return {"code": code, "model": model, "root": root, "test_labels": test_labels}


def test_train_then_evaluate_recovers_the_labelled_events(trained, capsys):
    assert trained["code"] == 0 and trained["model"].is_file()
    capsys.readouterr()
    code = main(["evaluate", "events", "--labels", str(trained["test_labels"]),
                 "--tags", str(trained["root"] / "test_tags"), "--events-model", str(trained["model"]), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert set(out["ap"]) == {"throw_in", "celebration"}
    print(out["ap"])
    assert out["ap"]["throw_in"] >= 0.7 and out["mAP"] >= 0.65, out["ap"]
    assert out["events_from"].startswith("analyst-")


def test_labels_without_track_id_use_the_only_track(tmp_path):
    from tagging.evaluate.events import read_labels
    from tagging.events.training_data import labelled_tracks, read_sequences

    tr = generate_track(TrackSpec("kick", 90.0, 0.0, False, 200.0, 25.0), np.random.default_rng(0))
    labels_path = write_tables({"solo": [tr]}, tmp_path / "tags")
    df = pd.read_csv(labels_path).drop(columns=["track_id", "peak_ms"])
    df.to_csv(tmp_path / "l.csv", index=False)
    tracks, report = labelled_tracks(read_labels(tmp_path / "l.csv"), read_sequences(tmp_path / "tags"))
    assert report["used"] == 1 and tracks[0][2][0][0] == "kick"


def test_train_and_evaluate_refuse_bad_input(tmp_path, capsys):
    bad = tmp_path / "labels.csv"
    bad.write_text("video_id,start_ms\nx,1\n")
    assert main(["train", "--labels", str(bad), "--tags", str(tmp_path), "--out", str(tmp_path / "m.skops")]) == 2
    assert "labels.csv: missing column(s) event_type, end_ms" in capsys.readouterr().err
    good = tmp_path / "good.csv"
    good.write_text("video_id,event_type,start_ms,end_ms\nx,throw_in,1,2\n")
    assert main(["train", "--labels", str(good), "--tags", str(tmp_path / "none"), "--out", str(tmp_path / "m")]) == 2
    assert "no poses table" in capsys.readouterr().err


def test_run_refuses_a_bad_events_model_before_reading_video(tmp_path, capsys):
    fake = tmp_path / "model.skops"
    fake.write_bytes(b"not a zip")
    code = main(["run", str(tmp_path / "x.mp4"), "--output", str(tmp_path / "o"), "--events-model", str(fake)])
    assert code == 2
    assert "model.skops: not a readable skops model file" in capsys.readouterr().err


@pytest.mark.models
def test_run_with_a_trained_model(trained, astronaut_clip, models, tmp_path):
    out = tmp_path / "tags"
    code = main(["run", str(astronaut_clip), "--output", str(out), "--events-model", str(trained["model"]),
                 "--runner", "FnApiRunner"])
    assert code == 0
    from tagging.events.model import load_event_model
    from tagging.events.training_data import read_sequences, tag_sequences
    from tagging.tables.queries import read_table

    assert len(read_table(out, "poses")) == 8
    model = load_event_model(trained["model"])
    # the run used this model, recorded by name in the config that --skip-existing compares
    config = json.loads(read_table(out, "videos").tagging_config.iloc[0])
    assert config["options"]["events_model"].endswith("=" + model.name)
    # and its events table is exactly what the model tags on the run's own poses
    events = read_table(out, "events")
    expected = tag_sequences(read_sequences(out), model)
    cols = ["event_type", "track_id", "peak_ms", "model"]
    assert (events[cols].sort_values(cols).reset_index(drop=True).astype(str)
            .equals(expected[cols].sort_values(cols).reset_index(drop=True).astype(str)))
