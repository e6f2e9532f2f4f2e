"""tagging/events/model.py and event_eval.py: peaks, NMS, skops files, AP, labels."""

import zipfile

import numpy as np
import pandas as pd
import pytest

from tagging.evaluate.events import LabelsError, average_precision, confusion_table, evaluate_events, read_labels
from tagging.events import model as em
from tagging.events.model import (
    BACKGROUND,
    EventModelError,
    TrainConfig,
    build_training_set,
    load_event_model,
    pick_peaks,
    train_model,
)
from tagging.events.synth import EVENT_TYPES, generate_dataset

# the fixtures train tiny models on purpose (a few iterations): not converging is expected
pytestmark = pytest.mark.filterwarnings("ignore:Stochastic Optimizer:sklearn.exceptions.ConvergenceWarning")

# ---------------------------------------------------------------- peak picking

def test_peaks_above_threshold_with_nms():
    t = np.arange(100) * 50.0
    s = np.zeros(100)
    s[20], s[24], s[60] = 0.9, 0.8, 0.7     # 20 and 24 are 200 ms apart: one event
    s[80] = 0.3                             # below threshold
    out = pick_peaks(t, s, threshold=0.5, nms_ms=1000, smooth_steps=1, plateau_steps=0)
    assert [(p, c) for p, _, _, c in out] == [(1000.0, 0.9), (3000.0, 0.7)]
    out = pick_peaks(t, s, threshold=0.5, nms_ms=100, smooth_steps=1, plateau_steps=0)
    assert [p for p, *_ in out] == [1000.0, 1200.0, 3000.0]


def test_peak_extent_and_plateau_centre():
    t = np.arange(40) * 50.0
    s = np.zeros(40)
    s[10:17] = [0.3, 0.6, 0.99, 1.0, 1.0, 0.99, 0.6]   # saturated plateau 12..15
    (peak, start, end, conf), = pick_peaks(t, s, 0.5, 1000, smooth_steps=1)
    assert start == 11 * 50.0 and end == 16 * 50.0      # while >= min(threshold, peak / 2) = 0.5
    assert 12 * 50.0 < peak < 15 * 50.0 and conf == 1.0
    assert pick_peaks(t[:0], s[:0], 0.5, 1000) == []


# ---------------------------------------------------------------- model files

class Payload:
    """Stands in for anything an attacker might put in a model file."""

@pytest.fixture(scope="module")
def small_model():
    tracks = [(s.timestamps_ms, s.keypoints, s.events) for s in generate_dataset(1, 6, 6)]
    classes = [BACKGROUND, *EVENT_TYPES]
    X, y = build_training_set(tracks, classes, train_config=TrainConfig(hidden_layers=(16,), max_iter=30))
    return train_model(X, y, classes, "test-model", train_config=TrainConfig(hidden_layers=(16,), max_iter=30))


def test_save_load_round_trip(small_model, tmp_path):
    path = small_model.save(tmp_path / "m.skops")
    m = load_event_model(path)
    assert m.classes == small_model.classes and m.name == small_model.name
    assert m.feature_version == em.FEATURE_VERSION
    assert {"scikit-learn", "numpy", "skops", "matchtag"} <= set(m.versions)
    tr = generate_dataset(9, 1, 0)[0]
    np.testing.assert_allclose(m.score_track(tr.timestamps_ms, tr.keypoints)[1],
                               small_model.score_track(tr.timestamps_ms, tr.keypoints)[1])
    tf, proba = m.score_grid(tr.timestamps_ms, tr.keypoints, max_rows=7)   # chunked: the same curve (to float32 rounding)
    np.testing.assert_allclose(proba, small_model.score_track(tr.timestamps_ms, tr.keypoints)[1], atol=1e-6)
    assert tf.X.shape[0] == 0 and len(tf.grid_ms) == len(proba)
    with zipfile.ZipFile(path) as z:   # skops archive, no pickle inside
        assert "schema.json" in z.namelist()
        assert not any(n.endswith((".pkl", ".pickle")) for n in z.namelist())


def test_other_feature_version_is_refused(small_model, tmp_path, monkeypatch):
    path = small_model.save(tmp_path / "old.skops")
    monkeypatch.setattr(em, "FEATURE_VERSION", "events-features-999")
    with pytest.raises(EventModelError, match=r"old\.skops.*events-features-2.*events-features-999"):
        load_event_model(path)


def test_tampered_files_are_refused(small_model, tmp_path):
    path = small_model.save(tmp_path / "m.skops")
    data = bytearray(path.read_bytes())
    data[len(data) // 2: len(data) // 2 + 64] = b"\x00" * 64
    bad = tmp_path / "corrupt.skops"
    bad.write_bytes(bytes(data))
    with pytest.raises(EventModelError, match="corrupt.skops"):
        load_event_model(bad)
    # a valid skops file carrying a type no event model contains (code to run on load)
    import skops.io as sio
    foreign = tmp_path / "foreign.skops"
    sio.dump({"format": em.FORMAT, "pipeline": Payload(), "feature_version": em.FEATURE_VERSION}, foreign)
    with pytest.raises(EventModelError, match="foreign.skops.*refusing.*Payload"):
        load_event_model(foreign)
    # right types, wrong content
    partial = tmp_path / "partial.skops"
    sio.dump({"format": em.FORMAT, "feature_version": em.FEATURE_VERSION}, partial)
    with pytest.raises(EventModelError, match="partial.skops.*missing pipeline"):
        load_event_model(partial)
    with pytest.raises(EventModelError, match="not found"):
        load_event_model(tmp_path / "missing.skops")


def test_shipped_default_model_loads_and_is_small():
    assert em.DEFAULT_MODEL_PATH.stat().st_size < 1_000_000
    m = em.resolve_events_model("default")
    assert set(EVENT_TYPES) <= set(m.classes) and m.name.startswith("matchtag-events-default")
    assert em.resolve_events_model("rules").name == "rules-law15-v2"


# ---------------------------------------------------------------- AP and labels

def _df(rows, cols):
    return pd.DataFrame(rows, columns=cols)


def test_average_precision_toy_case():
    gt = _df([("v", 1000.0), ("v", 5000.0)], ["video_id", "peak_ms"])
    pred = _df([("v", 1100.0, 0.9), ("v", 3000.0, 0.8), ("v", 5200.0, 0.7)], ["video_id", "peak_ms", "confidence"])
    # TP, FP, TP: precision 1, 1/2, 2/3 at recall 0.5, 0.5, 1 -> AP = 0.5*1 + 0.5*2/3
    assert average_precision(gt, pred, 0.25) == pytest.approx(0.5 + 1 / 3)
    # at 0.15 s the third is 200 ms off: only one TP
    assert average_precision(gt, pred, 0.15) == pytest.approx(0.5)
    # one prediction cannot match two labels; other videos never match
    pred2 = _df([("v", 1000.0, 0.9), ("w", 5000.0, 0.95)], ["video_id", "peak_ms", "confidence"])
    assert average_precision(gt, pred2, 0.3) == pytest.approx(0.25)


def test_track_ids_restrict_matching_and_confusion():
    labels = _df([("v", "throw_in", 900.0, 1100.0, 1000.0, 1)],
                 ["video_id", "event_type", "start_ms", "end_ms", "peak_ms", "track_id"])
    labels["track_id"] = labels.track_id.astype("Int64")
    ev = _df([("v", "throw_in", 2, 1000.0, 0.9), ("v", "kick", 1, 1050.0, 0.8), ("v", "jump", 1, 9000.0, 0.7)],
             ["video_id", "event_type", "track_id", "peak_ms", "confidence"])
    r = evaluate_events(labels, ev, ["throw_in"])
    assert r["classes"]["throw_in"]["ap"] == 0.0
    conf = confusion_table(labels, ev, ["throw_in"])
    assert conf["throw_in"]["kick"] == 1 and conf["background"]["jump"] == 1


def test_read_labels_checks_and_defaults(tmp_path):
    p = tmp_path / "l.csv"
    p.write_text("video_id,event_type,start_ms,end_ms\n007,throw_in,1000,2000\n")
    df = read_labels(p)
    assert df.video_id[0] == "007" and df.peak_ms[0] == 1500.0 and pd.isna(df.track_id[0])
    p.write_text("video_id,event_type,start_ms\nv,throw_in,1000\n")
    with pytest.raises(LabelsError, match="l.csv.*end_ms"):
        read_labels(p)
    p.write_text("video_id,event_type,start_ms,end_ms\nv,throw_in,2000,1000\n")
    with pytest.raises(LabelsError, match="line 2"):
        read_labels(p)
