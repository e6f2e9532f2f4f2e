"""tagging/pose/detector.py pure parts: letterbox, tiles, decoders and PersonDetector with fake models."""

import numpy as np
import pytest

from tagging.core.types import Detections
from tagging.pose.detector import (
    NANODET_SIZE,
    PERSON_CLASS,
    DetectorConfig,
    PersonDetector,
    decode_centernet,
    decode_nanodet,
    letterbox,
    tile_origins,
)

# ----------------------------------------------------------------------- letterbox

@pytest.mark.parametrize("h,w,size,scale,nh,nw", [
    (100, 200, 512, 2.56, 256, 512),      # landscape, upscaled
    (1080, 1920, 512, 512 / 1920, 288, 512),
    (400, 100, 200, 0.5, 200, 50),        # portrait, downscaled
    (64, 64, 64, 1.0, 64, 64),
])
def test_letterbox_scale_and_padding(h, w, size, scale, nh, nw):
    img = np.full((h, w, 3), 200, np.uint8)
    out, s = letterbox(img, size)
    assert out.shape == (size, size, 3)
    assert out.dtype == np.uint8
    assert s == pytest.approx(scale)
    assert (out[:nh, :nw] == 200).all()            # content top-left
    assert (out[nh:, :] == 0).all()                # bottom padding
    assert (out[:, nw:] == 0).all()                # right padding


def test_letterbox_preserves_position_of_content():
    img = np.zeros((100, 200, 3), np.uint8)
    img[40:60, 100:140] = (255, 0, 0)
    out, s = letterbox(img, 400)   # scale 2
    assert s == 2.0
    assert (out[85:115, 205:275] == (255, 0, 0)).all()
    assert (out[:75] == 0).all() and (out[125:] == 0).all()


def test_letterbox_keeps_float_dtype():
    out, _ = letterbox(np.ones((10, 20, 3), np.float32), 40)
    assert out.dtype == np.float32


# ----------------------------------------------------------------------- tile_origins

def _covered(width, height, tiles):
    mask = np.zeros((height, width), bool)
    for x, y, side in tiles:
        mask[y:y + side, x:x + side] = True
    return mask


@pytest.mark.parametrize("width,height,tile_px,overlap", [
    (1920, 1080, 640, 0.25),
    (1280, 720, 512, 0.2),
    (1000, 1000, 300, 0.5),
    (641, 480, 640, 0.25),
])
def test_tile_origins_cover_frame_with_overlap(width, height, tile_px, overlap):
    tiles = tile_origins(width, height, tile_px, overlap)
    side = min(tile_px, width, height)
    assert all(s == side for _, _, s in tiles)                      # square, all same side
    assert all(0 <= x and x + s <= width and 0 <= y and y + s <= height for x, y, s in tiles)
    assert _covered(width, height, tiles).all()                     # no hole
    xs = sorted({x for x, _, _ in tiles})
    ys = sorted({y for _, y, _ in tiles})
    assert xs[0] == 0 and xs[-1] == width - side
    assert ys[0] == 0 and ys[-1] == height - side
    assert len(tiles) == len(xs) * len(ys)
    # neighbouring tiles overlap by at least ``overlap`` of a side
    for starts in (xs, ys):
        for a, b in zip(starts, starts[1:]):
            assert side - (b - a) >= overlap * side - 1e-9


def test_tile_origins_concrete_1080p():
    tiles = tile_origins(1920, 1080, 640, 0.25)
    # step 480: x needs ceil(1280/480)+1 = 4 starts, y needs ceil(440/480)+1 = 2
    assert sorted({x for x, _, _ in tiles}) == [0, 427, 853, 1280]
    assert sorted({y for _, y, _ in tiles}) == [0, 440]
    assert len(tiles) == 8


def test_tile_origins_tile_bigger_than_frame():
    assert tile_origins(300, 200, 640, 0.25) == [(0, 0, 200), (100, 0, 200)]
    assert tile_origins(200, 200, 640, 0.25) == [(0, 0, 200)]


# ----------------------------------------------------------------------- decode_centernet

def test_decode_centernet_filters_class_and_score_and_maps_back():
    raw = np.zeros((100, 6), np.float32)
    raw[0] = [100, 50, 200, 250, 0.9, 0]     # person
    raw[1] = [10, 10, 20, 20, 0.95, 1]       # bicycle
    raw[2] = [30, 30, 40, 40, 0.1, 0]        # person, too weak
    raw[3] = [300, 100, 320, 180, 0.3, 0.0000001]  # person (class id as float)
    raw[4] = [0, 0, 5, 5, 0.25, 0]           # exactly at threshold -> kept
    boxes, scores = decode_centernet(raw[None], scale=0.5, offset_xy=(10.0, 20.0), score_threshold=0.25)
    assert boxes.dtype == np.float32 and scores.dtype == np.float32
    np.testing.assert_allclose(scores, [0.9, 0.3, 0.25], rtol=1e-6)
    np.testing.assert_allclose(boxes, [[210, 120, 410, 520],
                                       [610, 220, 650, 380],
                                       [10, 20, 20, 30]])


def test_decode_centernet_nothing_kept():
    boxes, scores = decode_centernet(np.zeros((100, 6), np.float32), 1.0, (0.0, 0.0), 0.25)
    assert boxes.shape == (0, 4) and scores.shape == (0,)


# ----------------------------------------------------------------------- decode_nanodet

def _nanodet_outputs():
    """Stride 8/16/32 heads of a 416 input, all silent but one cell of the stride-16 map."""
    outs = {}
    for stride in (8, 16, 32):
        side = NANODET_SIZE // stride
        outs[stride] = (np.full((1, side * side, 80), 0.01, np.float32),
                        np.zeros((1, side * side, 44), np.float32))
    return outs


def _logits(probs):
    return np.log(np.asarray(probs, np.float64)).astype(np.float32)


def test_decode_nanodet_one_confident_cell():
    outs = _nanodet_outputs()
    cls16, box16 = outs[16]
    side = 26
    row, col = 5, 7
    cell = row * side + col
    cls16[0, cell, PERSON_CLASS] = 0.8
    cls16[0, cell, 3] = 0.99           # another class: ignored
    # softmax distributions over the 11 bins per side (left, top, right, bottom)
    p = np.full((4, 11), 1e-9)
    p[0, [2, 4]] = 0.5                  # expectation 3.0 bins
    p[1, 1] = 1.0                       # 1.0
    p[2, [0, 10]] = [0.75, 0.25]        # 2.5
    p[3, 6] = 1.0                       # 6.0
    p /= p.sum(1, keepdims=True)
    expect = (p * np.arange(11)).sum(1)
    box16[0, cell] = _logits(p).reshape(-1) + 3.0    # softmax is shift invariant
    # another cell above threshold only for a non-person class
    cls16[0, cell + 1, 5] = 0.9

    # order of outputs must not matter: box maps first, strides shuffled
    outputs = [outs[32][1], outs[8][1], box16, outs[8][0], cls16, outs[32][0]]
    scale, offset = 2.0, (100.0, 50.0)
    boxes, scores = decode_nanodet(outputs, scale, offset, score_threshold=0.5)

    cx, cy = (col + 0.5) * 16, (row + 0.5) * 16     # 120, 88
    d = expect * 16
    want = np.array([cx - d[0], cy - d[1], cx + d[2], cy + d[3]]) / scale + [100, 50, 100, 50]
    np.testing.assert_allclose(scores, [0.8], rtol=1e-6)
    np.testing.assert_allclose(boxes, [want], atol=1e-3)
    # the same numbers by hand
    np.testing.assert_allclose(boxes[0], [136, 86, 180, 142], atol=1e-3)


def test_decode_nanodet_cells_on_each_stride():
    outs = _nanodet_outputs()
    onehot = np.full(11, -50.0, np.float32)
    onehot[1] = 50.0                                  # distance = 1 bin on every side
    for stride, (row, col) in ((8, (0, 0)), (32, (12, 12))):
        side = NANODET_SIZE // stride
        cell = row * side + col
        outs[stride][0][0, cell, PERSON_CLASS] = 0.6 if stride == 8 else 0.7
        outs[stride][1][0, cell] = np.tile(onehot, 4)
    outputs = [a for pair in outs.values() for a in pair]
    boxes, scores = decode_nanodet(outputs, 1.0, (0.0, 0.0), 0.5)
    np.testing.assert_allclose(scores, [0.6, 0.7], rtol=1e-6)
    np.testing.assert_allclose(boxes, [[4 - 8, 4 - 8, 4 + 8, 4 + 8],
                                       [400 - 32, 400 - 32, 400 + 32, 400 + 32]], atol=1e-3)


def test_decode_nanodet_nothing_above_threshold():
    outputs = [a for pair in _nanodet_outputs().values() for a in pair]
    boxes, scores = decode_nanodet(outputs, 1.0, (0.0, 0.0), 0.5)
    assert boxes.shape == (0, 4) and boxes.dtype == np.float32
    assert scores.shape == (0,)


# ----------------------------------------------------------------------- PersonDetector

class FixedCenterNet:
    """Stand-in graph: returns the same [1, 100, 6] array for every call; records inputs."""

    def __init__(self, rows):
        self.raw = np.zeros((1, 100, 6), np.float32)
        if len(rows):
            self.raw[0, :len(rows)] = rows
        self.inputs = []

    def __call__(self, batch):
        self.inputs.append(batch)
        return [self.raw]


def test_person_detector_nms_containment_clipping():
    # frame 1024 x 512 -> letterbox scale 0.5: frame px = input px * 2
    frame = np.zeros((512, 1024, 3), np.uint8)
    model = FixedCenterNet([
        [100, 50, 200, 250, 0.90, 0],    # A: kept -> [200, 100, 400, 500]
        [102, 52, 202, 252, 0.80, 0],    # duplicate of A: NMS
        [110, 60, 190, 150, 0.70, 0],    # torso inside A: containment
        [600, 10, 700, 200, 0.95, 1],    # not a person
        [300, 10, 400, 200, 0.10, 0],    # below score threshold
        [450, 200, 600, 300, 0.60, 0],   # F: leaves the frame -> clipped to [900, 400, 1024, 512]
        [300, 10, 320, 13, 0.85, 0],     # 6 px tall in the frame: too small
        [-20, -10, 30, 60, 0.40, 0],     # G: negative coords -> clipped to [0, 0, 60, 120]
    ])
    det = PersonDetector(model, DetectorConfig(model="centernet"))(frame)
    assert isinstance(det, Detections)
    np.testing.assert_allclose(det.score, [0.9, 0.6, 0.4], rtol=1e-6)
    np.testing.assert_allclose(det.xyxy, [[200, 100, 400, 500],
                                          [900, 400, 1024, 512],
                                          [0, 0, 60, 120]])
    assert len(model.inputs) == 1                  # no tiles configured
    assert model.inputs[0].shape == (1, 512, 512, 3)
    assert model.inputs[0].dtype == np.float32


def test_person_detector_without_containment_keeps_torso():
    frame = np.zeros((512, 1024, 3), np.uint8)
    model = FixedCenterNet([[100, 50, 200, 250, 0.9, 0], [110, 60, 190, 150, 0.7, 0]])
    det = PersonDetector(model, DetectorConfig(containment=1.0))(frame)
    assert len(det) == 2
    det = PersonDetector(model, DetectorConfig(containment=0.8))(frame)
    assert len(det) == 1


def test_person_detector_no_people():
    det = PersonDetector(FixedCenterNet([]))(np.zeros((48, 64, 3), np.uint8))
    assert len(det) == 0 and det.xyxy.shape == (0, 4)


class BrightBlobCenterNet:
    """Stand-in graph that 'detects' the bright pixels of its input as one person."""

    def __init__(self):
        self.calls = 0

    def __call__(self, batch):
        img = batch[0].mean(-1)
        raw = np.zeros((1, 100, 6), np.float32)
        ys, xs = np.nonzero(img > 127)
        if len(xs):
            score = 0.9 if self.calls == 0 else 0.7   # the whole-frame view runs first
            raw[0, 0] = [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1, score, 0]
        self.calls += 1
        return [raw]


def test_person_detector_tiles_map_back_and_drop_tile_edge_halves():
    frame = np.zeros((100, 200, 3), np.uint8)
    frame[20:80, 80:120] = 255                 # straddles the tile edge at x = 100
    model = BrightBlobCenterNet()
    cfg = DetectorConfig(tile_px=100, tile_overlap=0.0)
    assert tile_origins(200, 100, 100, 0.0) == [(0, 0, 100), (100, 0, 100)]
    det = PersonDetector(model, cfg)(frame)
    assert model.calls == 3                     # whole frame + 2 tiles
    assert len(det) == 1                        # both halves inside the whole box
    np.testing.assert_allclose(det.xyxy[0], [80, 20, 120, 80], atol=1.0)
    assert det.score[0] == pytest.approx(0.9)


def test_person_detector_tile_finds_person_at_its_offset():
    frame = np.zeros((100, 200, 3), np.uint8)
    frame[30:70, 150:170] = 255                 # only in the right tile
    model = BrightBlobCenterNet()
    det = PersonDetector(model, DetectorConfig(tile_px=100, tile_overlap=0.0))(frame)
    # whole-frame box (0.9) and right-tile box (0.7) coincide -> one box in frame pixels
    assert len(det) == 1
    np.testing.assert_allclose(det.xyxy[0], [150, 30, 170, 70], atol=1.0)


def test_person_detector_nanodet_path():
    frame = np.zeros((208, 416, 3), np.uint8)     # letterbox scale 1.0
    frame[..., 0] = 255                           # red in RGB

    seen = []

    def model(x):
        seen.append(x)
        outs = _nanodet_outputs()
        cls32, box32 = outs[32]
        onehot = np.full(11, -50.0, np.float32)
        onehot[2] = 50.0                           # 2 bins x 32 = 64 px each side
        cls32[0, 3 * 13 + 4, PERSON_CLASS] = 0.9   # row 3, col 4: centre (144, 112)
        box32[0, 3 * 13 + 4] = np.tile(onehot, 4)
        return [a for pair in outs.values() for a in pair]

    det = PersonDetector(model, DetectorConfig(model="nanodet"))(frame)
    x = seen[0]
    assert x.shape == (1, 3, NANODET_SIZE, NANODET_SIZE)   # NCHW
    # BGR order: the red frame lands in channel 2, normalised with that channel's mean/std
    assert x[0, 2, 0, 0] == pytest.approx((255 - 123.675) / 58.395, rel=1e-5)
    assert x[0, 0, 0, 0] == pytest.approx((0 - 103.53) / 57.375, rel=1e-5)
    np.testing.assert_allclose(det.xyxy, [[80, 48, 208, 176]], atol=1e-3)
    np.testing.assert_allclose(det.score, [0.9], rtol=1e-6)
