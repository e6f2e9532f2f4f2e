"""tagging/tfjs_convert.read_weights on tiny hand-made TF.js weight manifests (numpy only)."""

import numpy as np
import pytest

from tagging.pose.tfjs_convert import ConversionError, read_weights

W32 = np.arange(6, dtype=np.float32).reshape(2, 3) / 4 - 0.5
W16 = np.array([0.1, -2.5, 1000.0], np.float32)       # float16-quantized: not exact
I32 = np.array([[7, -3]], np.int32)
SCALAR = np.array(42, np.int32)


def _manifest(tmp_path, blob, split_at=None):
    """Write ``blob`` as one or two shards; return the model.json dict."""
    if split_at is None:
        (tmp_path / "group1-shard1of1.bin").write_bytes(blob)
        paths = ["group1-shard1of1.bin"]
    else:
        (tmp_path / "group1-shard1of2.bin").write_bytes(blob[:split_at])
        (tmp_path / "group1-shard2of2.bin").write_bytes(blob[split_at:])
        paths = ["group1-shard1of2.bin", "group1-shard2of2.bin"]
    return {"weightsManifest": [{"paths": paths, "weights": [
        {"name": "conv/w16", "shape": [3], "dtype": "float32",
         "quantization": {"dtype": "float16", "original_dtype": "float32"}},
        {"name": "conv/w32", "shape": [2, 3], "dtype": "float32"},   # starts at an odd offset (6)
        {"name": "shape/i32", "shape": [1, 2], "dtype": "int32"},
        {"name": "axis", "shape": [], "dtype": "int32"},
    ]}]}


def _blob():
    return (W16.astype(np.float16).tobytes() + W32.tobytes() + I32.tobytes() + SCALAR.tobytes())


@pytest.mark.parametrize("split_at", [None, 7, 30])
def test_read_weights_dtypes_shapes_values(tmp_path, split_at):
    weights = read_weights(_manifest(tmp_path, _blob(), split_at), tmp_path)
    assert sorted(weights) == ["axis", "conv/w16", "conv/w32", "shape/i32"]

    w32 = weights["conv/w32"]
    assert w32.dtype == np.float32 and w32.shape == (2, 3)
    np.testing.assert_array_equal(w32, W32)

    w16 = weights["conv/w16"]
    assert w16.dtype == np.float32 and w16.shape == (3,)          # dequantized to float32
    np.testing.assert_array_equal(w16, W16.astype(np.float16).astype(np.float32))
    np.testing.assert_allclose(w16, W16, rtol=1e-3)

    i32 = weights["shape/i32"]
    assert i32.dtype == np.int32 and i32.shape == (1, 2)
    np.testing.assert_array_equal(i32, I32)

    axis = weights["axis"]
    assert axis.shape == () and axis.dtype == np.int32 and int(axis) == 42


def test_read_weights_arrays_are_writable_copies(tmp_path):
    weights = read_weights(_manifest(tmp_path, _blob()), tmp_path)
    weights["conv/w32"][0, 0] = 99.0       # frombuffer views would be read-only
    assert weights["conv/w32"][0, 0] == 99.0


def test_read_weights_uint8_affine_quantization(tmp_path):
    raw = np.array([0, 1, 255, 128], np.uint8)
    (tmp_path / "q.bin").write_bytes(raw.tobytes())
    manifest = {"weightsManifest": [{"paths": ["q.bin"], "weights": [
        {"name": "q", "shape": [2, 2], "dtype": "float32",
         "quantization": {"dtype": "uint8", "scale": 0.5, "min": -1.0, "original_dtype": "float32"}},
    ]}]}
    q = read_weights(manifest, tmp_path)["q"]
    assert q.dtype == np.float32 and q.shape == (2, 2)
    np.testing.assert_allclose(q, [[-1.0, -0.5], [126.5, 63.0]])


def test_read_weights_several_groups(tmp_path):
    (tmp_path / "a.bin").write_bytes(np.array([1.5], np.float32).tobytes())
    (tmp_path / "b.bin").write_bytes(np.array([2, 3], np.int32).tobytes())
    manifest = {"weightsManifest": [
        {"paths": ["a.bin"], "weights": [{"name": "a", "shape": [1], "dtype": "float32"}]},
        {"paths": ["b.bin"], "weights": [{"name": "b", "shape": [2], "dtype": "int32"}]},
    ]}
    w = read_weights(manifest, tmp_path)
    np.testing.assert_array_equal(w["a"], [1.5])
    np.testing.assert_array_equal(w["b"], [2, 3])


def test_read_weights_shard_too_short(tmp_path):
    blob = _blob()
    manifest = _manifest(tmp_path, blob[:-3])
    with pytest.raises(ConversionError, match="axis.*ends early"):
        read_weights(manifest, tmp_path)


def test_read_weights_shard_too_short_mid_weight(tmp_path):
    manifest = _manifest(tmp_path, _blob()[:10])       # inside conv/w32
    with pytest.raises(ConversionError, match="conv/w32"):
        read_weights(manifest, tmp_path)


def test_read_weights_extra_bytes(tmp_path):
    manifest = _manifest(tmp_path, _blob() + b"\0\0\0\0")
    with pytest.raises(ConversionError, match="4 unread bytes"):
        read_weights(manifest, tmp_path)


def test_read_weights_unsupported_dtype(tmp_path):
    (tmp_path / "c.bin").write_bytes(b"\0" * 16)
    manifest = {"weightsManifest": [{"paths": ["c.bin"], "weights": [
        {"name": "c", "shape": [2], "dtype": "complex64"}]}]}
    with pytest.raises(ConversionError, match="c: unsupported dtype complex64"):
        read_weights(manifest, tmp_path)


def test_read_weights_missing_shard(tmp_path):
    manifest = {"weightsManifest": [{"paths": ["missing.bin"], "weights": []}]}
    with pytest.raises(OSError):
        read_weights(manifest, tmp_path)


def test_conversion_error_is_value_error():
    assert issubclass(ConversionError, ValueError)
