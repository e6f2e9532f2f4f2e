"""pipeline.spill and SpillFrames: blocks of frames on disk instead of in shuffles."""

import os

import numpy as np

from pipeline import spill
from pipeline.transforms import _SpillFramesFn
from tagging.core.keypoints import NUM_KEYPOINTS
from tagging.core.types import FramePoses


def _frame(f, n=2):
    boxes = np.array([[10 * i, 0, 10 * i + 8, 20] for i in range(n)], np.float32) + f
    kps = np.random.default_rng(f).random((n, NUM_KEYPOINTS, 3)).astype(np.float32)
    return f, f * 40.0, FramePoses(boxes, np.full(n, 0.9), kps, np.full(n, 0.7))


def test_frames_round_trip_and_ids_apply_by_ordinal(tmp_path):
    frames = [_frame(f) for f in (6, 0, 3)]          # any order in, frame order out
    ref = spill.write_frames(str(tmp_path), "v", frames)
    assert (ref.first_frame, ref.last_frame, ref.frames, ref.first_ms, ref.last_ms) == (0, 6, 3, 0.0, 240.0)
    back = spill.read_frames(ref)
    assert [f for f, _, _ in back] == [0, 3, 6]
    np.testing.assert_array_equal(back[2][2].keypoints, frames[0][2].keypoints)
    # stride 3: ordinals 0, 1, 2; ids of ordinal 5 (not in the block) are ignored
    ids = (np.array([2, 0, 5, 2]), np.array([1, 0, 0, 0]), np.array([7, 4, 9, 8]))
    tracked = spill.apply_ids(ref, ids, stride=3)
    assert [p.track_id.tolist() for _, _, p in tracked] == [[4, -1], [-1, -1], [8, 7]]


def test_track_parts_hold_each_tracks_people(tmp_path):
    frames = [_frame(f) for f in range(3)]
    for i, (_, _, p) in enumerate(frames):
        p.track_id = np.array([5, 6 if i != 1 else -1])
    ref = spill.write_frames(str(tmp_path), "v", frames)
    path, tids = spill.write_track_parts(ref, frames)
    assert tids == [5, 6]
    f5 = spill.read_track_part(path, 5)
    f6 = spill.read_track_part(path, 6)
    assert f5[0].tolist() == [0, 1, 2] and f6[0].tolist() == [0, 2]
    np.testing.assert_array_equal(f6[3][1], frames[2][2].keypoints[1])
    assert f5[3].shape == (3, NUM_KEYPOINTS, 3) and f5[4].shape == (3, 4)


def _run_fn(fn, elements):
    fn.start_bundle()
    out = [o for e in elements for o in fn.process(e)]
    out += [w.value for w in fn.finish_bundle()]
    return out


def test_blocks_are_written_when_complete_and_buffers_stay_bounded(tmp_path):
    # blocks of 10 video frames at stride 2: 5 frames each; frames arrive block by block
    fn = _SpillFramesFn(str(tmp_path), block_frames=10, stride=2, max_buffered=20)
    out = _run_fn(fn, [("v", _frame(f)) for f in range(0, 30, 2)])
    assert [(r.first_frame, r.frames) for _, r in out] == [(0, 5), (10, 5), (20, 5)]
    # shuffled over many blocks: never more than max_buffered frames held, every frame spilled once
    order = np.random.default_rng(0).permutation(200)
    fn = _SpillFramesFn(str(tmp_path / "b"), block_frames=50, stride=1, max_buffered=30)
    fn.start_bundle()
    refs, held = [], []
    for f in order:
        refs += [r for _, r in fn.process(("v", _frame(int(f), 1)))]
        held.append(fn._held)
    refs += [w.value[1] for w in fn.finish_bundle()]
    assert max(held) <= 31
    assert sorted(f for r in refs for f, _, _ in spill.read_frames(r)) == list(range(200))


def test_remove_spill_removes_the_run_folder_once_empty(tmp_path):
    root = spill.spill_root(str(tmp_path), "run1")
    spill.write_frames(root, "a", [_frame(0)])
    spill.write_frames(root, "b", [_frame(0)])
    spill.remove_spill(spill.spill_video_dir(str(tmp_path), "run1", "a"))
    assert os.listdir(root) == ["b"]
    spill.remove_spill(spill.spill_video_dir(str(tmp_path), "run1", "b"))
    assert not os.path.exists(os.path.join(tmp_path, spill.SPILL_DIR))
