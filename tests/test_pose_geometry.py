"""tagging/pose/estimators.py: crops, MoveNet coordinate mapping and the estimators with fake models."""

import numpy as np
import pytest

from tagging.core.keypoints import KP, NUM_KEYPOINTS
from tagging.core.types import Detections, FramePoses
from tagging.pose.estimators import MultiPoseEstimator, PoseConfig, TopDownPoseEstimator, extract_crop, movenet_to_frame

RED = (255, 0, 0)
GREY = (128, 128, 128)


def _frame_with_square():
    frame = np.full((100, 100, 3), GREY, np.uint8)
    frame[20:40, 40:60] = RED          # rows 20..39, cols 40..59
    return frame


# ----------------------------------------------------------------------- extract_crop

def test_extract_crop_upscaled_square_lands_where_expected():
    crop = extract_crop(_frame_with_square(), np.array([30, 10, 70, 50]), 80)   # s = 2
    assert crop.shape == (80, 80, 3) and crop.dtype == np.uint8
    # red square -> crop x (40-30)*2 .. (60-30)*2 = 20..60, y (20-10)*2 .. (40-10)*2 = 20..60
    assert (crop[22:57, 22:57] == RED).all()
    assert (crop[:18] == GREY).all() and (crop[62:] == GREY).all()
    assert (crop[:, :18] == GREY).all() and (crop[:, 62:] == GREY).all()


def test_extract_crop_downscaled():
    frame = _frame_with_square()
    crop = extract_crop(frame, np.array([0, 0, 100, 100]), 50)                  # s = 0.5
    assert crop.shape == (50, 50, 3)
    assert (crop[11:19, 21:29] == RED).all()
    assert (crop[25:] == GREY).all()


def test_extract_crop_outside_frame_is_black():
    frame = _frame_with_square()
    crop = extract_crop(frame, np.array([-50, -50, 50, 50]), 100)              # s = 1
    assert (crop[:49, :] == 0).all()                   # above the frame
    assert (crop[:, :49] == 0).all()                   # left of the frame
    assert (crop[51:68, 51:] == GREY).all()            # frame rows 1..17: above the square
    assert (crop[72:88, 92:] == RED).all()             # frame rows 22..37, cols 42..49
    crop = extract_crop(frame, np.array([80, 80, 120, 120]), 40)                # s = 1
    assert (crop[:19, :19] == GREY).all()
    assert (crop[21:, :] == 0).all() and (crop[:, 21:] == 0).all()


def test_extract_crop_entirely_outside_is_black():
    crop = extract_crop(_frame_with_square(), np.array([500, 500, 600, 600]), 32)
    assert crop.shape == (32, 32, 3)
    assert not crop.any()


# ----------------------------------------------------------------------- movenet_to_frame

def test_movenet_to_frame_swaps_yx_and_scales_by_crop_side():
    raw = np.zeros((1, 1, 17, 3), np.float32)
    raw[0, 0, :, 0] = np.linspace(0, 1, 17)            # y
    raw[0, 0, :, 1] = 0.25                             # x
    raw[0, 0, :, 2] = np.arange(17) / 20               # score
    kp = movenet_to_frame(raw, np.array([10, 20, 110, 120], np.float32))
    assert kp.shape == (17, 3)
    np.testing.assert_allclose(kp[:, 0], 10 + 25)
    np.testing.assert_allclose(kp[:, 1], 20 + np.linspace(0, 100, 17), rtol=1e-6)
    np.testing.assert_allclose(kp[:, 2], np.arange(17) / 20, rtol=1e-6)


def test_movenet_to_frame_box_leaving_frame():
    raw = np.tile(np.array([0.5, 0.5, 0.9], np.float32), (17, 1))
    kp = movenet_to_frame(raw, np.array([-40, -20, 60, 80], np.float32))
    np.testing.assert_allclose(kp[:, :2], np.tile([10, 30], (17, 1)))


# ----------------------------------------------------------------------- TopDownPoseEstimator

class FakeDetector:
    def __init__(self, xyxy, score):
        self.dets = Detections(xyxy, score)

    def __call__(self, frame):
        return self.dets


class FakeMoveNet:
    """Returns (N, 1, 17, 3) (y, x, score): the next N canned outputs per call; records inputs."""

    def __init__(self, outputs):
        self.outputs = list(outputs)
        self.inputs = []
        self.used = 0

    def __call__(self, batch):
        self.inputs.append(batch)
        out = np.stack(self.outputs[self.used:self.used + len(batch)])[:, None]
        self.used += len(batch)
        return [out]


def _movenet_raw(y, x, score):
    raw = np.zeros((17, 3), np.float32)
    raw[:, 0], raw[:, 1], raw[:, 2] = y, x, score
    return raw


def test_topdown_maps_keypoints_to_frame_and_drops_low_scores():
    frame = np.zeros((300, 400, 3), np.uint8)
    det = FakeDetector([[100, 100, 140, 200],       # crop box (scale 1.25): [57.5, 87.5, 182.5, 212.5]
                        [300, 50, 340, 90],         # second person: model gives low scores
                        [0, 0, 30, 60]], [0.9, 0.8, 0.7])
    good = _movenet_raw(np.linspace(0.1, 0.9, 17), 0.5, 0.8)
    good[KP["left_ankle"], 2] = 0.05                 # one unseen joint: not in the pose score
    low = _movenet_raw(0.5, 0.5, 0.1)                # nothing confident -> pose score 0
    third = _movenet_raw(0.0, 1.0, 0.3)
    model = FakeMoveNet([good, low, third])
    est = TopDownPoseEstimator(det, model, PoseConfig(crop_model="movenet-lightning", flip_test=False))
    poses = est(frame)

    assert isinstance(poses, FramePoses)
    assert len(model.inputs) == 1                     # all crops of the frame in one call
    assert model.inputs[0].shape == (3, 192, 192, 3) and model.inputs[0].dtype == np.int32
    assert len(poses) == 2                           # the low-score person is dropped
    np.testing.assert_allclose(poses.xyxy, [[100, 100, 140, 200], [0, 0, 30, 60]])
    np.testing.assert_allclose(poses.box_score, [0.9, 0.7], rtol=1e-6)
    np.testing.assert_allclose(poses.score, [0.8, 0.3], rtol=1e-6)
    assert poses.track_id.tolist() == [-1, -1]
    # person 0: x = 57.5 + 0.5 * 125 = 120; y = 87.5 + y_rel * 125
    np.testing.assert_allclose(poses.keypoints[0, :, 0], 120.0)
    np.testing.assert_allclose(poses.keypoints[0, :, 1], 87.5 + np.linspace(0.1, 0.9, 17) * 125,
                               rtol=1e-5)
    assert poses.keypoints[0, KP["left_ankle"], 2] == pytest.approx(0.05)
    # person 2: box [0,0,30,60] -> crop [-22.5, -7.5, 52.5, 67.5]; (y=0, x=1) -> (52.5, -7.5),
    # above the frame: clipped to its top row
    np.testing.assert_allclose(poses.keypoints[1, :, :2], np.tile([52.5, 0.0], (17, 1)))


def test_topdown_keypoints_outside_the_frame_are_clipped_to_its_edge():
    # a player at the bottom-right corner of a 768 x 432 frame: his crop box (side 1.25 x 231)
    # reaches past the frame, and the model puts a wrist in the black padding there
    frame = np.zeros((432, 768, 3), np.uint8)
    det = FakeDetector([[700, 200, 767, 431]], [0.9])
    raw = _movenet_raw(0.5, 0.5, 0.8)
    raw[KP["right_wrist"]] = (0.99, 0.98, 0.7)
    est = TopDownPoseEstimator(det, FakeMoveNet([raw]), PoseConfig(crop_model="movenet-lightning", flip_test=False))
    side = 1.25 * 231
    x1, y1 = 733.5 - side / 2, 315.5 - side / 2
    assert x1 + 0.98 * side > 768 and y1 + 0.99 * side > 432          # where the model put it
    poses = est(frame)
    np.testing.assert_allclose(poses.keypoints[0, KP["right_wrist"]], [767, 431, 0.7], rtol=1e-6)
    np.testing.assert_allclose(poses.keypoints[0, KP["nose"], :2], [733.5, 315.5], rtol=1e-6)   # inside: as is
    assert (poses.keypoints[..., 0] <= 767).all() and (poses.keypoints[..., 1] <= 431).all()


def test_topdown_crop_is_taken_around_the_person():
    frame = np.zeros((300, 400, 3), np.uint8)
    frame[100:200, 100:140] = 255                    # the "person"
    det = FakeDetector([[100, 100, 140, 200]], [0.9])
    model = FakeMoveNet([_movenet_raw(0.5, 0.5, 0.9)])
    TopDownPoseEstimator(det, model, PoseConfig(crop_model="movenet-thunder", flip_test=False))(frame)
    crop = model.inputs[0][0]
    assert crop.shape == (256, 256, 3)
    # person spans x 100..140 of the crop box [57.5, 182.5] -> 256 * (42.5 .. 82.5) / 125
    assert (crop[128, 95:160] == 255).all()
    assert (crop[128, :80] == 0).all() and (crop[128, 175:] == 0).all()
    assert (crop[30:220, 128] == 255).all()


def test_topdown_no_detections_returns_empty():
    model = FakeMoveNet([])
    poses = TopDownPoseEstimator(FakeDetector(np.zeros((0, 4)), np.zeros(0)), model)(
        np.zeros((10, 10, 3), np.uint8))
    assert len(poses) == 0 and poses.keypoints.shape == (0, 17, 3)
    assert model.inputs == []


def test_topdown_min_pose_score_is_configurable():
    det = FakeDetector([[10, 10, 50, 90]], [0.9])
    model = FakeMoveNet([_movenet_raw(0.5, 0.5, 0.3), _movenet_raw(0.5, 0.5, 0.3)])
    frame = np.zeros((100, 100, 3), np.uint8)
    assert len(TopDownPoseEstimator(det, model, PoseConfig(min_pose_score=0.29, flip_test=False))(frame)) == 1
    assert len(TopDownPoseEstimator(det, model, PoseConfig(min_pose_score=0.31, flip_test=False))(frame)) == 0


# ----------------------------------------------------------------------- MultiPoseEstimator

class FakeMultiPose:
    def __init__(self, people):
        self.raw = np.zeros((1, 6, 56), np.float32)
        if len(people):
            self.raw[0, :len(people)] = people
        self.inputs = []

    def __call__(self, batch):
        self.inputs.append(batch)
        return [self.raw]


def _person(ky, kx, kscore, box, box_score):
    """One MultiPose row: 17 x (y, x, score) then ymin, xmin, ymax, xmax, score."""
    row = np.zeros(56, np.float32)
    kps = np.zeros((17, 3), np.float32)
    kps[:, 0], kps[:, 1], kps[:, 2] = ky, kx, kscore
    row[:51] = kps.reshape(-1)
    row[51:55] = box
    row[55] = box_score
    return row


def test_multipose_maps_to_frame_pixels_and_filters():
    # 1280 x 480 -> scale 0.5 -> 640 x 240 -> padded 640 x 256
    frame = np.zeros((480, 1280, 3), np.uint8)
    frame[:, :640] = 200
    pw, ph, scale = 640, 256, 0.5
    # a person at frame (x=640, y=240): relative to the padded input x 320/640, y 120/256
    good = _person(120 / 256, 0.5, 0.9, [60 / 256, 300 / 640, 200 / 256, 340 / 640], 0.8)
    weak_box = _person(0.3, 0.3, 0.9, [0.1, 0.1, 0.5, 0.5], 0.1)      # person score too low
    weak_pose = _person(0.3, 0.6, 0.1, [0.1, 0.5, 0.5, 0.7], 0.9)     # no confident keypoint
    off_frame = _person(0.5, 0.99, 0.6, [0.5, 0.9, 1.2, 1.1], 0.5)    # box leaves the frame
    model = FakeMultiPose([good, weak_box, weak_pose, off_frame])
    poses = MultiPoseEstimator(model, PoseConfig(multipose_max_side=640))(frame)

    x = model.inputs[0]
    assert x.shape == (1, ph, pw, 3) and x.dtype == np.int32
    assert (x[0, :240, :320] == 200).all() and (x[0, :240, 322:] == 0).all()
    assert (x[0, 240:] == 0).all()                                   # padding rows

    assert len(poses) == 2
    np.testing.assert_allclose(poses.keypoints[0, :, :2], np.tile([640, 240], (17, 1)), atol=1e-3)
    np.testing.assert_allclose(poses.keypoints[0, :, 2], 0.9, rtol=1e-6)
    np.testing.assert_allclose(poses.xyxy[0], [600, 120, 680, 400], atol=1e-3)
    np.testing.assert_allclose(poses.box_score, [0.8, 0.5], rtol=1e-6)
    np.testing.assert_allclose(poses.score, [0.9, 0.6], rtol=1e-6)
    # clipped to the frame: x 0.9*640/.5 = 1152 .. 1280 (clip), y 256 .. 480 (clip)
    np.testing.assert_allclose(poses.xyxy[1], [1152, 256, 1280, 480], atol=1e-3)
    # keypoints inside the frame are kept as they are
    np.testing.assert_allclose(poses.keypoints[1, 0, :2], [0.99 * pw / scale, 0.5 * ph / scale], atol=1e-3)


def test_multipose_keypoints_in_the_padding_are_clipped_to_the_frame():
    frame = np.zeros((100, 150, 3), np.uint8)       # padded to 128 x 160: 10 columns, 28 rows of padding
    person = _person(50 / 128, 75 / 160, 0.7, [0, 0, 100 / 128, 150 / 160], 0.9)
    person[3 * KP["left_ankle"]:3 * KP["left_ankle"] + 2] = (120 / 128, 158 / 160)   # (y, x) in the padding
    poses = MultiPoseEstimator(FakeMultiPose([person]), PoseConfig(multipose_max_side=640))(frame)
    np.testing.assert_allclose(poses.keypoints[0, KP["left_ankle"]], [149, 99, 0.7], atol=1e-3)
    np.testing.assert_allclose(poses.keypoints[0, KP["nose"], :2], [75, 50], atol=1e-3)


def test_multipose_small_frame_is_not_upscaled():
    frame = np.zeros((100, 150, 3), np.uint8)       # scale 1 -> padded 128 x 160
    model = FakeMultiPose([_person(50 / 128, 75 / 160, 0.7, [0, 0, 100 / 128, 150 / 160], 0.9)])
    poses = MultiPoseEstimator(model, PoseConfig(multipose_max_side=640))(frame)
    assert model.inputs[0].shape == (1, 128, 160, 3)
    np.testing.assert_allclose(poses.keypoints[0, :, :2], np.tile([75, 50], (17, 1)), atol=1e-3)
    np.testing.assert_allclose(poses.xyxy[0], [0, 0, 150, 100], atol=1e-3)


def test_multipose_respects_max_side():
    frame = np.zeros((480, 1280, 3), np.uint8)     # max side 256 -> scale 0.2 -> 256 x 96
    model = FakeMultiPose([_person(48 / 96, 0.5, 0.9, [0, 0, 1, 1], 0.9)])
    poses = MultiPoseEstimator(model, PoseConfig(multipose_max_side=256))(frame)
    assert model.inputs[0].shape == (1, 96, 256, 3)
    np.testing.assert_allclose(poses.keypoints[0, :, :2], np.tile([640, 240], (17, 1)), atol=1e-3)
    np.testing.assert_allclose(poses.xyxy[0], [0, 0, 1280, 480], atol=1e-3)


def test_multipose_nobody():
    poses = MultiPoseEstimator(FakeMultiPose([]))(np.zeros((64, 64, 3), np.uint8))
    assert len(poses) == 0
    assert NUM_KEYPOINTS == poses.keypoints.shape[1]


def test_topdown_splits_many_crops_into_bounded_calls():
    boxes = [[10 * i, 10, 10 * i + 8, 40] for i in range(5)]
    det = FakeDetector(boxes, [0.9] * 5)
    outs = [_movenet_raw(0.5, 0.1 * i, 0.9) for i in range(5)]
    model = FakeMoveNet(outs)
    poses = TopDownPoseEstimator(det, model, PoseConfig(max_crops_per_call=2, flip_test=False))(np.zeros((60, 80, 3), np.uint8))
    assert [len(b) for b in model.inputs] == [2, 2, 1]
    # person i keeps its own output: x_rel = 0.1 i in its crop
    crop = np.asarray(boxes, np.float32)
    side = (crop[:, 3] - crop[:, 1]) * 1.25
    x0 = (crop[:, 0] + crop[:, 2]) / 2 - side / 2
    np.testing.assert_allclose(poses.keypoints[:, 0, 0], (x0 + 0.1 * np.arange(5) * side).clip(0, 79), rtol=1e-5)


# ----------------------------------------------------------------------- flip test

def test_mirror_index_swaps_sides_and_keeps_the_nose():
    from tagging.core.keypoints import MIRROR_INDEX

    assert MIRROR_INDEX[KP["nose"]] == KP["nose"]
    assert MIRROR_INDEX[KP["left_wrist"]] == KP["right_wrist"]
    assert MIRROR_INDEX[KP["right_ankle"]] == KP["left_ankle"]
    assert sorted(MIRROR_INDEX) == list(range(NUM_KEYPOINTS))


class _BrightSpotModel:
    """Puts every keypoint on the crop's brightest column (x) and row (y); left wrist
    0.1 further right than the rest, so a flip test that forgets to swap sides shows.
    Records the batch sizes it was called with."""

    def __init__(self):
        self.calls = []

    def __call__(self, crops):
        self.calls.append(len(crops))
        out = np.zeros((len(crops), 1, NUM_KEYPOINTS, 3), np.float32)
        for i, c in enumerate(crops):
            g = c.sum(axis=2)
            y, x = np.unravel_index(int(g.argmax()), g.shape)
            out[i, 0, :, 0] = y / c.shape[0]
            out[i, 0, :, 1] = x / c.shape[1]
            out[i, 0, KP["left_wrist"], 1] += 0.1
            out[i, 0, :, 2] = 0.9
        return [out]


def test_flip_test_averages_the_mirrored_crop_in_one_call():
    crops = np.zeros((3, 10, 10, 3), np.uint8)
    crops[:, 4, 2] = 255                                     # bright pixel at x = 2 / 10
    model = _BrightSpotModel()
    plain = TopDownPoseEstimator(None, model, PoseConfig(flip_test=False)).run_crops(crops)
    flipped = TopDownPoseEstimator(None, model, PoseConfig(flip_test=True)).run_crops(crops)
    assert model.calls == [3, 6]                             # mirrored crops ride in the same call
    np.testing.assert_allclose(plain[:, KP["nose"], 1], 0.2)
    # mirrored crop: spot at column 7 -> x 0.7, mapped back 0.3; mean (0.2 + 0.3) / 2
    np.testing.assert_allclose(flipped[:, KP["nose"], 1], 0.25, atol=1e-6)
    np.testing.assert_allclose(flipped[:, :, 0], plain[:, :, 0])          # rows untouched
    # the left wrist's +0.1 in the plain pass, and the mirrored pass's right wrist
    # (which gets no +0.1) mapped onto the left: (0.3 + 0.3) / 2
    np.testing.assert_allclose(flipped[:, KP["left_wrist"], 1], (0.3 + 0.3) / 2, atol=1e-6)
    np.testing.assert_allclose(flipped[:, KP["right_wrist"], 1], (0.2 + (1 - 0.8)) / 2, atol=1e-6)


def test_flip_test_only_for_people_tall_enough():
    crops = np.zeros((3, 10, 10, 3), np.uint8)
    crops[:, 4, 2] = 255
    model = _BrightSpotModel()
    est = TopDownPoseEstimator(None, model, PoseConfig(flip_test=True, flip_min_height_px=50))
    dets = Detections(np.array([[0, 0, 10, 20], [0, 0, 10, 60], [0, 0, 10, 49.9]], np.float32),
                      np.full(3, 0.9, np.float32))
    mask = est.flip_mask(dets)
    assert mask.tolist() == [False, True, False]
    out = est.run_crops(crops, mask)
    assert model.calls == [4]                                # 3 crops + 1 mirrored, one call
    np.testing.assert_allclose(out[[0, 2], KP["nose"], 1], 0.2)          # not flipped
    np.testing.assert_allclose(out[1, KP["nose"], 1], 0.25, atol=1e-6)   # flipped and averaged
    off = TopDownPoseEstimator(None, model, PoseConfig(flip_test=False, flip_min_height_px=0))
    assert not off.flip_mask(dets).any()


# ----------------------------------------------------------------- crop side by person size

class _SizedFake(FakeMoveNet):
    """FakeMoveNet that declares its crop side, as BatchedMoveNet does."""

    def __init__(self, outputs, input_size):
        super().__init__(outputs)
        self.input_size = input_size


def test_small_people_go_through_the_small_crop_model_at_its_side():
    # heights 30, 100, 40, 63.9 px: three below 64 px -> 224 px crops, one at Thunder's 256
    boxes = [[10, 10, 25, 40], [100, 0, 150, 100], [200, 10, 220, 50], [300, 0, 330, 63.9]]
    det = FakeDetector(np.asarray(boxes, np.float32), np.full(4, 0.9, np.float32))
    native = _SizedFake([_movenet_raw(0.5, 0.5, 0.9)] * 2, 256)   # the crop and its mirror
    small = _SizedFake([_movenet_raw(0.5, 0.1 * (i + 1), 0.9) for i in range(3)], 224)
    config = PoseConfig(small_crop_px=224, small_person_height_px=64, flip_test=True, flip_min_height_px=64)
    est = TopDownPoseEstimator(det, native, config, small)
    frame = np.zeros((120, 400, 3), np.uint8)
    dets, _boxes, crops, *_ = est.detect(frame)
    assert est.crop_sides(dets).tolist() == [224, 256, 224, 224]
    assert [c.shape for c in crops] == [(224, 224, 3), (256, 256, 3), (224, 224, 3), (224, 224, 3)]
    raw = est.run_crops(crops, est.flip_mask(dets))
    # one call per side; the tall person's mirrored crop rides with it (flip from 64 px)
    assert [b.shape for b in small.inputs] == [(3, 224, 224, 3)]
    assert [b.shape for b in native.inputs] == [(2, 256, 256, 3)]
    # each person keeps its own output, in detection order
    np.testing.assert_allclose(raw[[0, 2, 3], 0, 1], [0.1, 0.2, 0.3], atol=1e-6)
    np.testing.assert_allclose(raw[1, 0, 1], 0.5, atol=1e-6)


def test_without_a_small_model_every_crop_is_native():
    det = FakeDetector(np.array([[10, 10, 25, 40]], np.float32), np.full(1, 0.9, np.float32))
    model = _SizedFake([_movenet_raw(0.5, 0.5, 0.9)], 256)
    est = TopDownPoseEstimator(det, model, PoseConfig(small_crop_px=224))
    dets, _boxes, crops, *_ = est.detect(np.zeros((60, 60, 3), np.uint8))
    assert est.crop_sides(dets).tolist() == [256]
    assert isinstance(crops, np.ndarray) and crops.shape == (1, 256, 256, 3)


def test_small_crop_model_of_the_wrong_side_is_refused():
    with pytest.raises(ValueError, match="takes 192 px crops"):
        TopDownPoseEstimator(None, _SizedFake([], 256), PoseConfig(small_crop_px=224), _SizedFake([], 192))


def test_stage_config_names_small_crops_and_checks_their_side():
    from tagging.pose.stage import PoseStageConfig

    assert PoseStageConfig().model_id.endswith("movenet-thunder+crop224px<64px+flip64px")
    assert "crop" not in PoseStageConfig(pose=PoseConfig(small_crop_px=0)).model_id
    # Lightning's own side is 192 px: a 224 px "small" side saves nothing, so it is off
    assert PoseStageConfig(pose=PoseConfig(crop_model="movenet-lightning")).pose.small_crop_px == 0
    assert PoseStageConfig(backend="posenet").pose.small_crop_px == 0
    with pytest.raises(ValueError, match="multiple of 32"):
        PoseStageConfig(pose=PoseConfig(small_crop_px=200))
