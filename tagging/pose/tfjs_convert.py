"""Convert a TF.js graph model (``model.json`` + ``.bin`` shards) into a frozen TF GraphDef.

TF.js graph models store a GraphDef as JSON (``modelTopology``) with every Const
node's value stripped out into binary weight shards, optionally quantised to
float16.  TF.js also fuses ops with kernel names that only exist in TF's Grappler
(``_FusedConv2D``, ``FusedDepthwiseConv2dNative``, ``_FusedMatMul``); plain TF
cannot always execute those from an imported graph (no kernel on some devices and
no gradient), so they are split back into Conv2D / DepthwiseConv2dNative / MatMul
+ BiasAdd + activation.  The *last* node of each split keeps the original name so
every downstream reference and every output name stays valid.

Device fields are cleared so that TF places ops on a GPU when one is present.

This module imports TensorFlow lazily: only :func:`convert` needs it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

# TF.js weight dtypes -> numpy
_DTYPES = {
    "float32": np.float32,
    "int32": np.int32,
    "bool": np.bool_,
    "float16": np.float16,
    "uint8": np.uint8,
    "uint16": np.uint16,
}

# Activations TF.js may fuse after the bias add, mapped to TF op names.
_ACTIVATIONS = {
    b"Relu": "Relu",
    b"Relu6": "Relu6",
    b"Elu": "Elu",
    b"Sigmoid": "Sigmoid",
    b"Tanh": "Tanh",
    b"LeakyRelu": "LeakyRelu",
}


class ConversionError(ValueError):
    """The TF.js model cannot be converted (unknown op variant, bad weights)."""


def read_weights(model_json: dict, model_dir: Path) -> dict[str, np.ndarray]:
    """Decode all weight shards of a TF.js model into float32/int32 arrays by name."""
    weights: dict[str, np.ndarray] = {}
    for group in model_json["weightsManifest"]:
        buf = b"".join((model_dir / p).read_bytes() for p in group["paths"])
        offset = 0
        for spec in group["weights"]:
            shape = [int(d) for d in spec["shape"]]
            count = int(np.prod(shape)) if shape else 1
            quant = spec.get("quantization")
            stored = quant["dtype"] if quant else spec["dtype"]
            if stored not in _DTYPES:
                raise ConversionError(f"weight {spec['name']}: unsupported dtype {stored}")
            np_dtype = np.dtype(_DTYPES[stored])
            nbytes = count * np_dtype.itemsize
            if offset + nbytes > len(buf):
                raise ConversionError(f"weight {spec['name']}: shard data ends early")
            raw = np.frombuffer(buf, dtype=np_dtype, count=count, offset=offset)
            offset += nbytes
            if quant and stored == "float16":
                arr = raw.astype(np.float32)
            elif quant:  # affine uint8/uint16 quantisation
                arr = raw.astype(np.float32) * float(quant["scale"]) + float(quant["min"])
            else:
                arr = raw.copy()
            target = _DTYPES[quant["original_dtype"] if quant else spec["dtype"]]
            weights[spec["name"]] = arr.astype(target).reshape(shape)
        if offset != len(buf):
            raise ConversionError(f"weight shards {group['paths']}: {len(buf) - offset} unread bytes")
    return weights


def _split_fused(node) -> list:
    """Return replacement NodeDefs for one fused node (last one keeps node.name)."""
    from tensorflow.core.framework import node_def_pb2

    fused_ops = list(node.attr["fused_ops"].list.s)
    data_inputs = [i for i in node.input if not i.startswith("^")]
    control_inputs = [i for i in node.input if i.startswith("^")]
    if not fused_ops or fused_ops[0] != b"BiasAdd" or len(fused_ops) > 2:
        raise ConversionError(f"node {node.name}: unsupported fused_ops {fused_ops}")
    if len(data_inputs) != 3:
        raise ConversionError(f"node {node.name}: expected 3 inputs, got {len(data_inputs)}")
    activation = None
    if len(fused_ops) == 2:
        if fused_ops[1] not in _ACTIVATIONS:
            raise ConversionError(f"node {node.name}: unsupported activation {fused_ops[1]}")
        activation = _ACTIVATIONS[fused_ops[1]]

    base = {
        "_FusedConv2D": ("Conv2D", ("T", "strides", "padding", "explicit_paddings",
                                    "data_format", "dilations", "use_cudnn_on_gpu")),
        "FusedDepthwiseConv2dNative": ("DepthwiseConv2dNative", ("T", "strides", "padding",
                                                                 "explicit_paddings",
                                                                 "data_format", "dilations")),
        "_FusedMatMul": ("MatMul", ("T", "transpose_a", "transpose_b")),
    }[node.op]
    op, keep_attrs = base

    names = [node.name + "/_unfused_op", node.name + "/_unfused_bias", node.name]
    if activation is None:
        names = [node.name + "/_unfused_op", node.name]

    core = node_def_pb2.NodeDef(name=names[0], op=op)
    core.input.extend(data_inputs[:2] + control_inputs)
    for key in keep_attrs:
        if key in node.attr:
            core.attr[key].CopyFrom(node.attr[key])

    bias = node_def_pb2.NodeDef(name=names[1], op="BiasAdd")
    bias.input.extend([core.name, data_inputs[2]])
    bias.attr["T"].CopyFrom(node.attr["T"])
    if op != "MatMul" and "data_format" in node.attr:
        bias.attr["data_format"].CopyFrom(node.attr["data_format"])
    out = [core, bias]

    if activation is not None:
        act = node_def_pb2.NodeDef(name=names[2], op=activation)
        act.input.append(bias.name)
        act.attr["T"].CopyFrom(node.attr["T"])
        if activation == "LeakyRelu" and "leakyrelu_alpha" in node.attr:
            act.attr["alpha"].f = node.attr["leakyrelu_alpha"].f
        out.append(act)
    return out


def convert(model_json_path: Path):
    """Convert ``model.json`` (weights beside it) into a frozen ``GraphDef``.

    Returns ``(graph_def, signature)`` where signature is the TF.js signature dict
    (input and output tensor names).
    """
    from google.protobuf import json_format

    from tagging.pose.tf_quiet import import_tensorflow

    tf, _ = import_tensorflow()

    model_json_path = Path(model_json_path)
    try:
        model_json = json.loads(model_json_path.read_text())
        topology = model_json["modelTopology"]
    except (OSError, ValueError, KeyError) as exc:
        raise ConversionError(f"{model_json_path}: not a TF.js graph model ({exc})") from exc
    weights = read_weights(model_json, model_json_path.parent)

    src = tf.compat.v1.GraphDef()
    json_format.ParseDict({k: v for k, v in topology.items() if k in ("node", "library", "versions")},
                          src, ignore_unknown_fields=True)

    dst = tf.compat.v1.GraphDef()
    dst.versions.CopyFrom(src.versions)
    if not dst.versions.producer:
        dst.versions.producer = 808  # TF.js converter omits it for some models
    dst.library.CopyFrom(src.library)
    for node in src.node:
        if node.op == "Const":
            if node.name not in weights:
                raise ConversionError(f"{model_json_path}: no weight for Const {node.name}")
            value = weights.pop(node.name)
            declared = node.attr["dtype"].type
            if declared:
                # TF.js stores int64 constants as int32; restore the graph's dtype.
                value = value.astype(tf.dtypes.as_dtype(declared).as_numpy_dtype)
            node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value))
            node.attr["dtype"].type = tf.as_dtype(value.dtype).as_datatype_enum
            new_nodes = [node]
        elif node.op in ("_FusedConv2D", "FusedDepthwiseConv2dNative", "_FusedMatMul"):
            new_nodes = _split_fused(node)
        else:
            new_nodes = [node]
        for n in new_nodes:
            n.device = ""
            dst.node.append(n)
    if weights:
        raise ConversionError(f"{model_json_path}: weights without a Const node: {sorted(weights)[:3]}")
    return dst, model_json.get("signature", {})


# --- MoveNet single-pose: make the backbone batchable -------------------------------------
#
# As shipped, MoveNet single-pose takes exactly one crop: its input side unstacks the
# batch to resize each image (a no-op at the native size) and its post-processing
# gathers with hard-coded batch index 0.  Rewiring the normalisation (``sub``) to read
# the int->float ``Cast`` directly, and declaring the placeholder's batch as -1, makes
# the backbone and heads run on N crops in one call; the heads' raw tensors are
# fetched and decoded in numpy (tagging.pose.movenet), exactly as the graph's own tail does.
MOVENET_PREFIX = "StatefulPartitionedCall/"
MOVENET_HEADS = {
    "heatmaps": MOVENET_PREFIX + "Sigmoid:0",
    "centre": MOVENET_PREFIX + "Sigmoid_1:0",
    "regression": MOVENET_PREFIX + "kpt_regress_0/conv2d_6/BiasAdd:0",
    "offsets": MOVENET_PREFIX + "kpt_offset_0/conv2d_7/BiasAdd:0",
}
# Constants of the graph's own decoding tail, read back by the numpy decoder so its
# arithmetic matches the graph bit for bit (they are float16-rounded in the package:
# e.g. the 1/48 output scale is stored as 0.02082825).
MOVENET_DECODE_CONSTANTS = {
    "centre_weight": "ConstantFolding/StatefulPartitionedCall/truediv_2_recip",
    "distance_bias": MOVENET_PREFIX + "add_5/y",
    "grid_y": MOVENET_PREFIX + "strided_slice_3",
    "grid_x": MOVENET_PREFIX + "strided_slice_4",
    "output_scale": MOVENET_PREFIX + "Reshape_13",
}


def make_movenet_batchable(graph_def):
    """Rewire a converted MoveNet single-pose GraphDef in place for batch -1 input."""
    nodes = {n.name: n for n in graph_def.node}
    sub = nodes.get(MOVENET_PREFIX + "sub")
    cast = nodes.get(MOVENET_PREFIX + "Cast")
    placeholder = nodes.get("input")
    if sub is None or cast is None or placeholder is None or list(cast.input) != ["input"]:
        raise ConversionError("not a MoveNet single-pose graph (no input -> Cast -> ... -> sub)")
    missing = [t for t in list(MOVENET_HEADS.values()) + list(MOVENET_DECODE_CONSTANTS.values())
               if t.split(":")[0] not in nodes]
    if missing:
        raise ConversionError(f"MoveNet graph lacks {missing}")
    sub.input[0] = cast.name
    placeholder.attr["shape"].shape.dim[0].size = -1
    return graph_def


# The backbone is fully convolutional except for its FPN's three upsampling steps, whose
# output sizes were folded into constants for the native input side (e.g. 16, 32, 64 for
# Thunder's 256 px).  Scaling those constants makes the same weights run on smaller crops.
MOVENET_UPSAMPLE_SIZES = tuple(
    MOVENET_PREFIX + f"center_net_mobile_net_v2fpn_feature_extractor/model_1/{layer}/mul"
    for layer in ("up_sampling2d", "up_sampling2d_1", "up_sampling2d_2"))
MOVENET_STRIDE = 32  # the backbone's coarsest stride: input sides must be multiples of it


def set_movenet_input_size(graph_def, size: int):
    """Make a (batchable) MoveNet single-pose GraphDef take ``size`` x ``size`` crops, in place.

    ``size`` must be a multiple of 32; the heads then come out at ``size / 4`` cells a side.
    Only the placeholder's shape and the upsampling sizes change: same weights, same ops.
    The graph's own decoding tail is dropped (its constants are sized for the native grid,
    and the heads are decoded in numpy anyway); the decoding constants stay, unconnected.
    """
    from tensorflow.python.framework import tensor_util

    if size <= 0 or size % MOVENET_STRIDE:
        raise ConversionError(f"MoveNet input side must be a positive multiple of {MOVENET_STRIDE}; got {size}")
    nodes = {n.name: n for n in graph_def.node}
    placeholder = nodes.get("input")
    missing = [n for n in MOVENET_UPSAMPLE_SIZES if n not in nodes or nodes[n].op != "Const"]
    if placeholder is None or missing:
        raise ConversionError(f"not a MoveNet single-pose graph (lacks {missing or ['input']})")
    dims = placeholder.attr["shape"].shape.dim
    native = dims[1].size
    for name in MOVENET_UPSAMPLE_SIZES:
        value = nodes[name].attr["value"]
        old = tensor_util.MakeNdarray(value.tensor)
        value.tensor.CopyFrom(tensor_util.make_tensor_proto((old * size) // native, dtype=old.dtype))
    dims[1].size = dims[2].size = size
    needed = {t.split(":")[0] for t in list(MOVENET_HEADS.values()) + list(MOVENET_DECODE_CONSTANTS.values())}
    todo = list(needed)
    while todo:
        for src in nodes[todo.pop()].input:
            src = src.lstrip("^").split(":")[0]
            if src not in needed:
                needed.add(src)
                todo.append(src)
    kept = []
    for n in graph_def.node:
        if n.name in needed:
            kept.append(type(n)())
            kept[-1].CopyFrom(n)
    del graph_def.node[:]
    graph_def.node.extend(kept)
    return graph_def


def make_batch_dynamic(graph_def, placeholder_name: str):
    """Declare batch -1 on a placeholder (graphs without batch-specific ops, e.g. PoseNet)."""
    for n in graph_def.node:
        if n.name == placeholder_name and n.op == "Placeholder":
            n.attr["shape"].shape.dim[0].size = -1
            return graph_def
    raise ConversionError(f"no placeholder {placeholder_name!r}")
