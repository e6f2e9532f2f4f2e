"""tagging/evaluate/tracking.py: MOT ground truth, the seeded noise protocol, metric wrappers."""

import json

import numpy as np
import pytest

from tagging.evaluate import tracking as me
from tagging.evaluate.tracking import MotFormatError, MotSequence, NoiseProtocol, TrackerOutput


def _seq(n_frames=2000, n_ids=10, name="toy", w=1280, h=720):
    frame = np.repeat(np.arange(1, n_frames + 1), n_ids)
    tid = np.tile(np.arange(1, n_ids + 1), n_frames)
    x = 50.0 + 100 * tid + 0.5 * frame % 300
    y = 200.0 + 10 * tid
    xyxy = np.stack([x, y, x + 50, y + 120], axis=1)
    return MotSequence(name, n_frames, w, h, 25.0, frame, tid, xyxy)


def _write_seq(root, name, rows, length=4, header="[Sequence]"):
    d = root / name
    (d / "gt").mkdir(parents=True)
    (d / "seqinfo.ini").write_text(f"{header}\nname={name}\nframeRate=25\nseqLength={length}\n"
                                   "imWidth=1280\nimHeight=720\n")
    (d / "gt" / "gt.txt").write_text("\n".join(", ".join(map(str, r)) for r in rows) + "\n")
    return d


# ----------------------------------------------------------------------- reading

def test_load_sequence_reads_mot_and_drops_ignored_rows(tmp_path):
    d = _write_seq(tmp_path, "s1", [[2, 7, 10, 20, 30, 40, 1, 1, 1], [1, 3, 0, 0, 5, 5, 1, 1, 1],
                                    [1, 4, 0, 0, 5, 5, 0, 1, 1]])
    seq = me.load_sequence(d)
    assert (seq.name, seq.frame_count, seq.width_px, seq.height_px) == ("s1", 4, 1280, 720)
    np.testing.assert_array_equal(seq.frame, [1, 2])
    np.testing.assert_array_equal(seq.track_id, [3, 7])
    np.testing.assert_allclose(seq.xyxy[1], [10, 20, 40, 60])


def test_bad_ground_truth_names_the_file(tmp_path):
    with pytest.raises(MotFormatError, match="seqinfo.ini: missing"):
        me.load_sequence(tmp_path)
    d = _write_seq(tmp_path, "s2", [[9, 1, 0, 0, 5, 5, 1, 1, 1]])
    with pytest.raises(MotFormatError, match=r"gt.txt: frame numbers must be in 1..4"):
        me.load_sequence(d)
    d = _write_seq(tmp_path, "s3", [[1, 1, 0, 0, 5, 5]], header="[Other]")
    with pytest.raises(MotFormatError, match="seqinfo.ini: needs"):
        me.load_sequence(d)
    with pytest.raises(MotFormatError, match="no sequence"):
        me.find_sequences(tmp_path, ["nope"])
    with pytest.raises(MotFormatError, match="not a directory"):
        me.find_sequences(tmp_path / "missing")


def test_sport_from_players_on_screen():
    assert me.sport_of(_seq(5, 10)) == "basketball"
    assert me.sport_of(_seq(5, 12)) == "volleyball"
    assert me.sport_of(_seq(5, 18)) == "football"


# ----------------------------------------------------------------------- noise protocol

def test_noise_is_deterministic_per_seed_and_sequence():
    seq = _seq(200)
    a, b = me.simulate_detections(seq, 0), me.simulate_detections(seq, 0)
    c = me.simulate_detections(seq, 1)
    assert all(np.array_equal(x, y) for x, y in zip(a.xyxy, b.xyxy))
    assert not all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a.xyxy, c.xyxy))
    other = me.simulate_detections(_seq(200, name="other"), 0)
    assert not all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a.xyxy, other.xyxy))


def test_noise_rates_follow_the_protocol():
    seq = _seq(3000)
    p = NoiseProtocol()
    d = me.simulate_detections(seq, 0)
    gt_id = np.concatenate(d.gt_id)
    score = np.concatenate(d.score)
    boxes = np.concatenate(d.xyxy)
    true = gt_id >= 0
    n_gt = len(seq.frame)
    assert 1 - true.sum() / n_gt == pytest.approx(p.miss_prob, abs=0.01)
    assert (~true).sum() / seq.frame_count == pytest.approx(p.false_positives_per_frame, abs=0.05)
    low = score[true] < 0.5
    assert low.mean() == pytest.approx(p.low_score_share, abs=0.01)
    assert score[true].min() >= 0.1 and score[true].max() <= 1.0
    assert score[~true].min() >= 0.1 and score[~true].max() <= 0.6
    # jitter and size noise against the source box (same id, same frame)
    frames = np.concatenate([np.full(len(g), i + 1) for i, g in enumerate(d.gt_id)])
    src = {(f, i): k for k, (f, i) in enumerate(zip(seq.frame.tolist(), seq.track_id.tolist()))}
    idx = np.array([src[(f, i)] for f, i in zip(frames[true].tolist(), gt_id[true].tolist())])
    g = seq.xyxy[idx]
    gw, gh = g[:, 2] - g[:, 0], g[:, 3] - g[:, 1]
    bw, bh = boxes[true, 2] - boxes[true, 0], boxes[true, 3] - boxes[true, 1]
    dx = ((boxes[true, 0] + boxes[true, 2]) - (g[:, 0] + g[:, 2])) / 2 / gw
    dy = ((boxes[true, 1] + boxes[true, 3]) - (g[:, 1] + g[:, 3])) / 2 / gh
    assert dx.std() == pytest.approx(p.centre_jitter, rel=0.05)
    assert dy.std() == pytest.approx(p.centre_jitter, rel=0.05)
    assert np.log(bw / gw).std() == pytest.approx(p.log_size_sigma, rel=0.05)
    assert np.log(bh / gh).std() == pytest.approx(p.log_size_sigma, rel=0.05)
    # false positives: inside the image, with ground-truth sizes
    fp = boxes[~true]
    assert fp[:, 0].min() >= 0 and fp[:, 2].max() <= seq.width_px and fp[:, 3].max() <= seq.height_px
    assert set(np.round(fp[:, 3] - fp[:, 1], 6)) <= set(np.round(gh, 6)) | {120.0}


# ----------------------------------------------------------------------- metrics

def _toy_gt():
    box = np.array([[0, 0, 10, 20]] * 4, float)
    return MotSequence("toy", 4, 100, 100, 25.0, np.arange(1, 5), np.ones(4, np.int64), box)


def _score(seq, out):
    acc, hota = me.sequence_scores(seq, out)
    return me.combine({seq.name: acc}, {seq.name: hota})


def test_metrics_on_a_switch():
    """One player, perfect boxes, the id changes halfway: IDF1 0.5, one switch,
    MOTA 1 - 1/4, DetA 1, AssA 0.5, HOTA sqrt(0.5) (worked by hand from the definitions)."""
    seq = _toy_gt()
    m = _score(seq, TrackerOutput(np.arange(1, 5), np.array([1, 1, 2, 2]), seq.xyxy.copy()))
    assert m["IDF1"] == pytest.approx(0.5)
    assert m["id_switches"] == 1
    assert m["MOTA"] == pytest.approx(0.75)
    assert m["DetA"] == pytest.approx(1.0)
    assert m["AssA"] == pytest.approx(0.5)
    assert m["HOTA"] == pytest.approx(np.sqrt(0.5))


def test_metrics_on_a_miss():
    """Perfect identity, one frame missed: IDF1 6/7, DetA = AssA = HOTA = 3/4, MOTA 3/4."""
    seq = _toy_gt()
    m = _score(seq, TrackerOutput(np.arange(1, 4), np.ones(3, np.int64), seq.xyxy[:3].copy()))
    assert m["IDF1"] == pytest.approx(6 / 7)
    assert m["id_switches"] == 0
    assert m["MOTA"] == pytest.approx(0.75)
    assert m["HOTA"] == pytest.approx(0.75)


def test_metrics_localisation_matters_for_hota_not_for_mota():
    """Boxes shifted to IoU 0.6: matched at alpha <= 0.6 only, so HOTA drops; MOTA (IoU >= 0.5) doesn't."""
    seq = _toy_gt()
    shifted = seq.xyxy + [2.5, 0, 2.5, 0]                        # IoU = 7.5/12.5 = 0.6
    m = _score(seq, TrackerOutput(np.arange(1, 5), np.ones(4, np.int64), shifted))
    assert m["MOTA"] == pytest.approx(1.0)
    assert m["HOTA"] == pytest.approx(np.sqrt(12 / 19) * np.sqrt(12 / 19), abs=1e-6)   # 12 of 19 alphas <= 0.6


def test_evaluate_trackers_perfect_identities_ceiling(tmp_path):
    """Perfect ids on the raw noisy boxes: precision 1, no switches, recall ~ 1 - miss rate."""
    rows = [[f, i, 100 * i, 100, 40, 100, 1, 1, 1] for f in range(1, 201) for i in range(1, 6)]
    _write_seq(tmp_path, "s", rows, length=200)

    def oracle(dets, seq):
        ids = [np.where(g >= 0, g, -1) for g in dets.gt_id]
        return TrackerOutput.from_frame_ids(dets, ids)

    r = me.evaluate_trackers(tmp_path, {"oracle": oracle})["oracle"]["overall"]
    assert r["precision"] == 1.0 and r["id_switches"] == 0
    assert r["recall"] == pytest.approx(0.85, abs=0.03)
    json.dumps(r)


def test_cli_tracking_json(tmp_path, capsys):
    from pipeline.cli import main

    rows = [[f, i, 150 * i + 2 * f, 100, 40, 100, 1, 1, 1] for f in range(1, 61) for i in range(1, 6)]
    _write_seq(tmp_path, "seq_a", rows, length=60)
    assert main(["evaluate", "tracking", "--gt", str(tmp_path), "--json", "--mode", "online"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["mode"] == "online" and out["noise_seed"] == 0
    for key in ("HOTA", "IDF1", "MOTA", "id_switches"):
        assert key in out["overall"]
    assert list(out["per_sport"]) == ["basketball"]
    assert main(["evaluate", "tracking", "--gt", str(tmp_path / "nope")]) == 2
    assert "not a directory" in capsys.readouterr().err
