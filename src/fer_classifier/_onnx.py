"""Write a fitted Keras network as an ONNX file; run ONNX files with onnxruntime.

The writer walks the functional model's graph (the same walk as the PyTorch
engine) and emits one ONNX operator per Keras layer, in NCHW order after a
single transpose of the NHWC input: the layout onnxruntime's CPU kernels
prefer. Only the layers that this package's architectures use, and their
plain variants, are written; anything else raises
:class:`UnsupportedExportError` naming the layer, before a file is touched.

Writing needs the ``onnx`` package, running needs ``onnxruntime``: both come
with ``pip install "fer-classifier[onnx]"`` and are imported only here.
"""

import json

import numpy as np

from ._quiet import import_keras

__all__ = ["OnnxNetwork", "UnsupportedExportError", "keras_to_onnx", "read_onnx_metadata"]

OPSET = 17
METADATA_KEY = "fer_classifier"
INPUT_NAME = "image"
OUTPUT_NAME = "proba"

# Layers that compute nothing at inference time.
_IDENTITY_LAYERS = {"Dropout", "SpatialDropout2D", "GaussianNoise", "GaussianDropout",
                    "AlphaDropout", "ActivityRegularization"}


class UnsupportedExportError(ValueError):
    """The model holds a layer or setting that the ONNX export cannot write."""


def _import(name):
    try:
        return __import__(name)
    except ImportError as exc:
        raise ImportError(
            f"ONNX export and ONNX models need the {name!r} package: "
            f'pip install "fer-classifier[onnx]"'
        ) from exc


def _numpy(variable):
    return np.asarray(import_keras().ops.convert_to_numpy(variable), dtype=np.float32)


class _Writer:
    """Accumulates ONNX nodes and weights; tensors are tracked with their rank."""

    def __init__(self, helper, numpy_helper):
        self.helper, self.numpy_helper = helper, numpy_helper
        self.nodes, self.initializers = [], []
        self.count = 0

    def name(self, hint):
        self.count += 1
        return f"{hint}_{self.count}"

    def const(self, hint, array):
        name = self.name(hint)
        self.initializers.append(self.numpy_helper.from_array(np.asarray(array), name))
        return name

    def node(self, op, inputs, hint, **attrs):
        out = self.name(hint)
        self.nodes.append(self.helper.make_node(op, list(inputs), [out], name=out, **attrs))
        return out


def _refuse(layer, what):
    raise UnsupportedExportError(
        f"Layer {layer.name!r} ({type(layer).__name__}): {what} cannot be exported to ONNX."
    )


def _activation(w, x, name, layer):
    """Apply a Keras activation by name; returns the output tensor."""
    if name in (None, "linear"):
        return x
    simple = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "elu": "Elu",
              "selu": "Selu", "softplus": "Softplus", "softsign": "Softsign"}
    if name in simple:
        return w.node(simple[name], [x], f"{layer.name}_{name}")
    if name == "softmax":
        # Keras: the last axis, which is the channel axis: axis 1 in NCHW and in 2-D.
        return w.node("Softmax", [x], f"{layer.name}_softmax", axis=1)
    if name in ("silu", "swish"):
        return w.node("Mul", [x, w.node("Sigmoid", [x], f"{layer.name}_sigmoid")],
                      f"{layer.name}_silu")
    if name == "gelu":  # Keras's default: the exact form, 0.5 x (1 + erf(x / sqrt 2))
        erf = w.node("Erf", [w.node("Mul", [x, w.const("inv_sqrt2", np.float32(0.5 ** 0.5))],
                                    f"{layer.name}_scaled")], f"{layer.name}_erf")
        one_plus = w.node("Add", [erf, w.const("one", np.float32(1))], f"{layer.name}_1erf")
        half_x = w.node("Mul", [x, w.const("half", np.float32(0.5))], f"{layer.name}_half")
        return w.node("Mul", [half_x, one_plus], f"{layer.name}_gelu")
    if name == "relu6":
        return w.node("Clip", [x, w.const("zero", np.float32(0)), w.const("six", np.float32(6))],
                      f"{layer.name}_relu6")
    _refuse(layer, f"activation {name!r}")


def _activation_name(config):
    activation = config.get("activation")
    if isinstance(activation, dict):  # a serialised activation object
        activation = activation.get("config", {}).get("name") or activation.get("class_name")
    return activation


def _padding(layer, cfg):
    padding = cfg.get("padding", "valid")
    if padding == "same":
        return {"auto_pad": "SAME_UPPER"}  # TensorFlow puts the odd pixel at the end
    if padding == "valid":
        return {"auto_pad": "VALID"}
    _refuse(layer, f"padding={padding!r}")


def _check_channels_last(layer, cfg):
    if cfg.get("data_format", "channels_last") != "channels_last":
        _refuse(layer, f"data_format={cfg.get('data_format')!r}")


def _layer(w, layer, inputs, ranks):
    """Write one layer; returns (output tensor, its rank)."""
    kind = type(layer).__name__
    cfg = layer.get_config()
    x, rank = inputs[0], ranks[0]
    if kind in _IDENTITY_LAYERS or kind.startswith("Random"):
        return x, rank
    if kind == "Conv2D":
        _check_channels_last(layer, cfg)
        if rank != 4:
            _refuse(layer, "a convolution of a tensor that is not an image")
        kernel = _numpy(layer.kernel).transpose(3, 2, 0, 1)  # HWIO -> OIHW
        args = [x, w.const(f"{layer.name}_kernel", kernel)]
        if cfg["use_bias"]:
            args.append(w.const(f"{layer.name}_bias", _numpy(layer.bias)))
        padding = _padding(layer, cfg)
        if cfg["padding"] == "same" and max(cfg["dilation_rate"]) > 1:
            # onnxruntime has no SAME_UPPER for dilated kernels; Keras dilates only
            # with stride 1, where the padding does not depend on the image size.
            span = [(k - 1) * d for k, d in zip(cfg["kernel_size"], cfg["dilation_rate"])]
            padding = {"pads": [p // 2 for p in span] + [p - p // 2 for p in span]}
        y = w.node("Conv", args, layer.name, kernel_shape=list(cfg["kernel_size"]),
                   strides=list(cfg["strides"]), dilations=list(cfg["dilation_rate"]),
                   group=int(cfg.get("groups", 1)), **padding)
        return _activation(w, y, _activation_name(cfg), layer), 4
    if kind == "Dense":
        if rank != 2:
            _refuse(layer, "a dense layer on an image-shaped tensor (flatten or pool first)")
        bias = _numpy(layer.bias) if cfg["use_bias"] else np.zeros(
            int(cfg["units"]), np.float32)
        y = w.node("Gemm", [x, w.const(f"{layer.name}_kernel", _numpy(layer.kernel)),
                            w.const(f"{layer.name}_bias", bias)], layer.name)
        return _activation(w, y, _activation_name(cfg), layer), 2
    if kind == "BatchNormalization":
        axis = cfg["axis"]
        axis = axis[0] if isinstance(axis, (list, tuple)) and len(axis) == 1 else axis
        if axis not in (-1, rank - 1):
            _refuse(layer, f"normalising axis {cfg['axis']!r} (only the channel axis)")
        if cfg.get("renorm") or cfg.get("synchronized"):
            _refuse(layer, "renorm or synchronized batch norm")
        mean = _numpy(layer.moving_mean)
        gamma = _numpy(layer.gamma) if cfg["scale"] else np.ones_like(mean)
        beta = _numpy(layer.beta) if cfg["center"] else np.zeros_like(mean)
        args = [x] + [w.const(f"{layer.name}_{k}", v) for k, v in
                      (("gamma", gamma), ("beta", beta), ("mean", mean),
                       ("variance", _numpy(layer.moving_variance)))]
        return w.node("BatchNormalization", args, layer.name,
                      epsilon=float(cfg["epsilon"])), rank
    if kind in ("MaxPooling2D", "AveragePooling2D"):
        _check_channels_last(layer, cfg)
        op = "MaxPool" if kind.startswith("Max") else "AveragePool"
        size = list(cfg["pool_size"])
        return w.node(op, [x], layer.name, kernel_shape=size,
                      strides=list(cfg.get("strides") or size), **_padding(layer, cfg)), 4
    if kind in ("GlobalAveragePooling2D", "GlobalMaxPooling2D"):
        _check_channels_last(layer, cfg)
        op = "GlobalAveragePool" if "Average" in kind else "GlobalMaxPool"
        y = w.node(op, [x], layer.name)
        if cfg.get("keepdims"):
            return y, 4
        return w.node("Flatten", [y], f"{layer.name}_flatten", axis=1), 2
    if kind == "Flatten":
        if rank == 4:  # Keras flattens in NHWC order
            x = w.node("Transpose", [x], f"{layer.name}_nhwc", perm=[0, 2, 3, 1])
        return w.node("Flatten", [x], layer.name, axis=1), 2
    if kind == "ReLU":
        if cfg.get("max_value") is not None or cfg.get("negative_slope", 0) or cfg.get(
            "threshold", 0
        ):
            _refuse(layer, "ReLU with max_value, negative_slope or threshold")
        return w.node("Relu", [x], layer.name), rank
    if kind == "Activation":
        return _activation(w, x, _activation_name(cfg), layer), rank
    if kind == "Softmax":
        if cfg.get("axis", -1) not in (-1, rank - 1):
            _refuse(layer, f"softmax over axis {cfg.get('axis')!r} (only the last axis)")
        return _activation(w, x, "softmax", layer), rank
    if kind in ("Add", "Multiply"):
        op = "Add" if kind == "Add" else "Mul"
        y = inputs[0]
        for other in inputs[1:]:
            y = w.node(op, [y, other], layer.name)
        return y, rank
    if kind == "Concatenate":
        if cfg.get("axis", -1) not in (-1, rank - 1):
            _refuse(layer, f"concatenation on axis {cfg.get('axis')!r} (only the last axis)")
        return w.node("Concat", inputs, layer.name, axis=1), rank
    if kind == "Rescaling":
        scale, offset = cfg["scale"], cfg["offset"]
        if not all(isinstance(v, (int, float)) for v in (scale, offset)):
            _refuse(layer, "per-channel scale or offset")
        y = w.node("Mul", [x, w.const(f"{layer.name}_scale", np.float32(scale))], layer.name)
        return w.node("Add", [y, w.const(f"{layer.name}_offset", np.float32(offset))],
                      f"{layer.name}_offset"), rank
    _refuse(layer, "this layer")


def keras_to_onnx(model, image_shape, metadata):
    """The bytes of an ONNX file computing ``model`` on NHWC float images.

    Parameters
    ----------
    model : keras.Model
        A functional model with one image input and one output.
    image_shape : tuple of int
        (height, width, channels) of one image.
    metadata : dict
        JSON-compatible description stored in the file (``metadata_props``).

    Raises
    ------
    UnsupportedExportError
        If a layer or setting has no ONNX translation.
    """
    onnx = _import("onnx")
    from onnx import TensorProto, helper, numpy_helper

    from ._torch_engine import _graph_steps

    config = model.get_config()
    if "layers" not in config or "input_layers" not in config:
        raise UnsupportedExportError(
            f"Model {model.name!r} is not a functional keras.Model; only functional "
            "models can be exported to ONNX."
        )
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise UnsupportedExportError(
            f"Model {model.name!r} must have one input and one output to be exported to ONNX."
        )
    input_key, steps, output_key = _graph_steps(model)
    w = _Writer(helper, numpy_helper)
    tensors = {input_key: (w.node("Transpose", [INPUT_NAME], "nchw", perm=[0, 3, 1, 2]), 4)}
    for _, layer, inputs, out in steps:
        given = [tensors[k] for k in inputs]
        if layer is None:  # entering or leaving a nested model
            tensors[out] = given[0]
            continue
        tensors[out] = _layer(w, layer, [t for t, _ in given], [r for _, r in given])
    result, rank = tensors[output_key]
    if rank != 2:
        raise UnsupportedExportError(
            f"Model {model.name!r} must output one probability vector per image "
            "to be exported to ONNX."
        )
    w.nodes.append(helper.make_node("Identity", [result], [OUTPUT_NAME], name=OUTPUT_NAME))
    n_classes = int(model.outputs[0].shape[-1])
    graph = helper.make_graph(
        w.nodes, model.name,
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT,
                                       ["batch", *map(int, image_shape)])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", n_classes])],
        initializer=w.initializers,
    )
    proto = helper.make_model(
        graph, producer_name="fer-classifier", opset_imports=[helper.make_opsetid("", OPSET)]
    )
    proto.ir_version = 8  # readable by onnxruntime 1.14 and newer
    helper.set_model_props(proto, {METADATA_KEY: json.dumps(metadata)})
    onnx.checker.check_model(proto, full_check=True)
    return proto.SerializeToString()


def _session(data):
    ort = _import("onnxruntime")
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: no start-up lines on stderr
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def read_onnx_metadata(data, source):
    """The fer-classifier description stored in an ONNX file's bytes."""
    try:
        session = _session(data)
    except ImportError:
        raise
    except Exception as exc:  # onnxruntime raises its own exception types
        raise ValueError(f"{source} is not a valid ONNX file: {exc}") from exc
    props = session.get_modelmeta().custom_metadata_map
    if METADATA_KEY not in props:
        raise ValueError(
            f"{source} is an ONNX file, but not one written by "
            "EmotionCNNClassifier.export_onnx (it has no fer_classifier description)."
        )
    return json.loads(props[METADATA_KEY]), session


class OnnxNetwork:
    """The fitted network of an estimator read from an ONNX file.

    Stands where a Keras model stands in ``model_``: ``predict_on_batch``
    returns probabilities, ``count_params`` the parameter count. Pickles as
    the file's bytes.
    """

    def __init__(self, data, n_parameters, session=None):
        self.data = bytes(data)
        self.n_parameters = int(n_parameters)
        self._session = session if session is not None else _session(self.data)

    def predict_on_batch(self, images):
        images = np.ascontiguousarray(images, dtype=np.float32)
        return self._session.run([OUTPUT_NAME], {INPUT_NAME: images})[0]

    def count_params(self):
        return self.n_parameters

    def __getstate__(self):
        return {"data": self.data, "n_parameters": self.n_parameters}

    def __setstate__(self, state):
        self.__init__(state["data"], state["n_parameters"])

    def __repr__(self):
        return f"<OnnxNetwork: {self.n_parameters:,} parameters, {len(self.data):,} bytes>"


def with_metadata(data, metadata):
    """ONNX file bytes ``data`` with their fer-classifier description replaced."""
    onnx = _import("onnx")
    from onnx import helper

    proto = onnx.load_from_string(data)
    del proto.metadata_props[:]
    helper.set_model_props(proto, {METADATA_KEY: json.dumps(metadata)})
    return proto.SerializeToString()
