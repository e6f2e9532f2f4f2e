"""tagging/track/teams.py: torso colour and jersey-colour clustering."""

import numpy as np
import pytest

from tagging.track.teams import (assign_teams, classify_colours, colour_per_track, row_teams, team_model,
                                 torso_colours)

PITCH = (40, 120, 40)
KIT_A, KIT_B, REF, LIME = (220, 30, 30), (240, 240, 240), (55, 55, 60), (170, 230, 60)


def _frame(people, h=200, w=400):
    """A pitch with people drawn as solid torso-coloured boxes (shirt top half, dark shorts)."""
    img = np.zeros((h, w, 3), np.uint8)
    img[:150] = PITCH
    img[150:] = (90, 90, 100)                        # stands / bench area below the pitch
    boxes = []
    for (x, y), kit in people:
        img[y:y + 20, x:x + 10] = kit
        img[y + 20:y + 30, x:x + 10] = (30, 30, 30)
        boxes.append([x - 3, y - 4, x + 13, y + 30])
    return img, np.array(boxes, np.float32)


def test_torso_colour_keeps_a_lime_kit_on_a_green_pitch():
    img, boxes = _frame([((50, 50), KIT_A), ((150, 50), LIME), ((250, 160), REF)])
    cols = torso_colours(img, boxes)
    assert cols.shape == (3, 4)
    assert not np.isnan(cols[:2, :3]).any()
    assert abs(cols[0, 1] - cols[1, 1]) > 20              # red and lime differ on the a* axis
    assert cols[0, 3] > 0.25 and cols[2, 3] < 0.1         # pitch share: on it / off it


def test_torso_colour_edge_cases():
    img, _ = _frame([])
    assert torso_colours(img, np.zeros((0, 4))).shape == (0, 4)
    out = torso_colours(img, np.array([[-50, -50, -40, -40]], np.float32))   # outside the frame
    assert np.isnan(out).all()
    with pytest.raises(ValueError, match="RGB"):
        torso_colours(img[..., 0], np.zeros((1, 4)))


def test_two_teams_separate_and_referee_and_bench_are_other():
    rng = np.random.default_rng(0)
    people = [((20 + 35 * i, 30 + (i % 3) * 30), KIT_A if i % 2 else KIT_B) for i in range(10)]
    people += [((380, 60), REF), ((200, 165), REF)]       # a referee on the pitch, staff on the bench
    img, boxes = _frame(people)
    by_track = {}
    for _ in range(4):                                    # a few frames with sensor noise
        noisy = np.clip(img.astype(int) + rng.integers(-6, 7, img.shape), 0, 255).astype(np.uint8)
        for tid, c in enumerate(torso_colours(noisy, boxes)):
            by_track.setdefault(tid, []).append(c)
    teams = assign_teams(colour_per_track(by_track))
    a_side = {teams[i] for i in range(10) if i % 2}
    b_side = {teams[i] for i in range(10) if not i % 2}
    assert len(a_side) == 1 and len(b_side) == 1 and a_side != b_side
    assert a_side | b_side == {"a", "b"}
    assert teams[10] == "other" and teams[11] == "other"


def test_track_colours_needs_enough_frames():
    row = np.array([100, 120, 130, 0.8], np.float32)
    nan = np.full(4, np.nan, np.float32)
    got = colour_per_track({1: [row, row, row], 2: [row, nan, nan]})
    assert sorted(got) == [1]
    np.testing.assert_allclose(got[1], row)
    assert assign_teams({}) == {}
    assert assign_teams({5: row}) == {5: None}


def test_dark_staff_on_the_grass_do_not_merge_the_kits_and_one_kit_in_two_lights_stays_one():
    # per-track colours (L*, a*, b*, pitch share) as on a wide shot: white kit half in sun,
    # half in shade; lime kit; five dark-coated coaches standing on the grass strip by
    # the touchline (they pass the pitch test) and a referee
    rng = np.random.default_rng(1)
    rows = {}
    for i in range(10):
        light = 230 if i < 5 else 190
        rows[i] = np.array([light + rng.normal(0, 3), 119 + rng.normal(0, 1), 131 + rng.normal(0, 1), 0.5])
    for i in range(10, 20):
        rows[i] = np.array([205 + rng.normal(0, 8), 100 + rng.normal(0, 2), 157 + rng.normal(0, 2), 0.55])
    for i in range(20, 25):
        rows[i] = np.array([38 + rng.normal(0, 3), 126 + rng.normal(0, 1), 127 + rng.normal(0, 1), 0.3])
    rows[25] = np.array([60.0, 113.0, 144.0, 0.6])
    teams = assign_teams(rows)
    white = {teams[i] for i in range(10)}
    lime = {teams[i] for i in range(10, 20)}
    assert len(white) == 1 and len(lime) == 1 and white | lime == {"a", "b"}
    assert all(teams[i] == "other" for i in range(20, 26)), teams


def _video(kit_of, frames, seed=1):
    """Per-row torso colours of synthetic frames: ``kit_of(person, frame)`` -> RGB kit.
    Ten people stand in a row on the pitch; returns (rows, 4) colours, person, frame."""
    rng = np.random.default_rng(seed)
    colours, person, frame = [], [], []
    for f in range(frames):
        people = [((20 + 35 * i, 30 + (i % 3) * 30), kit_of(i, f)) for i in range(10)]
        img, boxes = _frame(people)
        img = np.clip(img.astype(int) + rng.integers(-6, 7, img.shape), 0, 255).astype(np.uint8)
        colours.append(torso_colours(img, boxes))
        person += list(range(10))
        frame += [f] * 10
    return np.concatenate(colours), np.array(person), np.array(frame)


def test_row_teams_follow_a_track_that_changes_kit_and_give_untracked_rows_their_own():
    # people 0-3 kit A, 4-7 kit B, 8 the referee; person 9 is one track over a kit-A
    # player for frames 0-34 and a kit-B player for frames 35-59 (an identity swap)
    def kit_of(i, f):
        return REF if i == 8 else KIT_A if i < 4 or (i == 9 and f < 35) else KIT_B

    colours, person, frame = _video(kit_of, 60)
    track_id = person.copy()
    untracked = (person < 8) & (frame % 10 == 0)          # the tracker missed these rows
    track_id[untracked] = -1
    per_track = colour_per_track({t: list(colours[track_id == t]) for t in range(10)})
    tracks = assign_teams(per_track)
    team_a, team_b = tracks[0], tracks[4]
    assert {team_a, team_b} == {"a", "b"} and tracks[8] == "other" and tracks[9] == team_a
    rows = row_teams(track_id, frame * 40.0, colours, tracks)
    want = np.array([{KIT_A: team_a, KIT_B: team_b, REF: "other"}[kit_of(p, f)] for p, f in zip(person, frame)],
                    object)
    assert (rows == want).all(), list(zip(track_id[rows != want], frame[rows != want], rows[rows != want]))
    # the untracked rows are not just copied from anywhere: they hold both kits
    assert set(rows[untracked]) == {team_a, team_b}


def test_row_teams_keep_the_track_team_through_a_lone_odd_colour_and_without_two_kits():
    def kit_of(i, f):
        return REF if i == 8 else KIT_A if i < 4 or i == 9 else KIT_B

    colours, person, frame = _video(kit_of, 30)
    tracks = assign_teams(colour_per_track({t: list(colours[person == t]) for t in range(10)}))
    odd = (person == 9) & (frame == 15)
    colours[odd, :3] = colours[(person == 4) & (frame == 15), :3]    # one frame reads as kit B
    rows = row_teams(person, frame * 40.0, colours, tracks)
    assert rows[odd][0] == tracks[9]
    assert (rows[person == 8] == "other").all()                      # the referee's track stays other
    # no kit model (every track one team, or no colours): rows carry their track's team
    same = row_teams(person, frame * 40.0, colours, {t: "a" for t in range(10)})
    assert (same == "a").all()
    blind = row_teams(np.r_[person, -1], np.r_[frame, 0] * 40.0,
                      np.full((len(person) + 1, 4), np.nan, np.float32), tracks)
    assert blind[-1] is None and (blind[:-1] == np.array([tracks[p] for p in person], object)).all()


def test_classify_colours_calls_far_and_off_pitch_colours_other():
    colours, person, _ = _video(lambda i, f: KIT_A if i < 5 else KIT_B, 5)
    teams = np.where(person < 5, "a", "b").astype(object)
    model = team_model(colours, teams)
    ref = np.array([[40.0, 128.0, 128.0, 0.8]])                     # black shirt on the grass
    kit_a_on_bench = np.concatenate([np.median(colours[person < 5, :3], axis=0), [0.05]])[None]
    got = classify_colours(np.concatenate([colours[:10], ref, kit_a_on_bench, np.full((1, 4), np.nan)]), model)
    assert list(got[:10]) == list(teams[:10])
    assert list(got[10:]) == ["other", "other", None]
    assert team_model(colours, np.where(person < 5, "a", None)) is None   # one kit only: no model


def test_pose_teams_reads_the_torso_columns_and_falls_back_to_track_teams():
    import pandas as pd

    from schemas.tables import TORSO_COLUMNS
    from tagging.tables.queries import pose_teams

    def kit_of(i, f):
        return REF if i == 8 else KIT_A if i < 4 or i == 9 else KIT_B

    colours, person, frame = _video(kit_of, 6)
    track_id = np.where(frame == 0, -1, person)
    tracks = pd.DataFrame({"track_id": range(10), "team": ["a"] * 4 + ["b"] * 4 + ["other", "a"]})
    poses = pd.DataFrame({"track_id": track_id, "timestamp_ms": frame * 40.0,
                          **{c: colours[:, i] for i, c in enumerate(TORSO_COLUMNS)}}, index=np.arange(len(frame)) + 100)
    got = pose_teams(poses, tracks)
    assert list(got.index) == list(poses.index)
    want = [{KIT_A: "a", KIT_B: "b", REF: "other"}[kit_of(p, f)] for p, f in zip(person, frame)]
    assert list(got) == want
    # output written before schema version 3 has no torso columns: track teams, none untracked
    old = pose_teams(poses[["track_id", "timestamp_ms"]], tracks)
    assert list(old[frame == 0]) == [None] * 10 and list(old[frame > 0]) == [want[i] for i in np.nonzero(frame > 0)[0]]
