"""A faster twin of a Keras model for prediction: batch norm folded, bfloat16 optional.

At inference a ``BatchNormalization`` layer is a fixed per-channel affine map,
so a bias-free, linear ``Conv2D`` followed by one is the same function as a
single convolution with a rescaled kernel and a bias. Keras runs the batch norm
as separate element-wise passes over the whole feature map; the folded form
lets TensorFlow's oneDNN path fuse convolution, bias and ReLU (about 15% more
faces per second for ``vgg_medium`` on 2 cores). With ``bfloat16=True`` the
convolutions also multiply in bfloat16 (float32 sums, float32 between layers),
which CPUs with AVX-512 BF16 or AMX do about twice as fast.

:func:`prediction_model` returns a second functional model that shares every
layer and variable with the original, except each Conv2D (with the batch norm
folded into it, where there is one), which becomes a :class:`_FastConv2D`
computing its kernel from the *live* variables at each call. So there is
nothing to keep in sync: the original model can be trained further, or have its
weights set, and its twin follows. The twin is for prediction only
(``training=False``) and is never saved.
"""

import functools
import importlib.util
import weakref

from ._keras_graph import tensor_histories
from ._quiet import import_keras

__all__ = ["cpu_has_bf16", "prediction_model"]

_CACHE = weakref.WeakKeyDictionary()


@functools.cache
def cpu_has_bf16():
    """Whether this CPU multiplies bfloat16 natively (AVX-512 BF16 or AMX).

    Read from ``/proc/cpuinfo`` on Linux, so that predicting needs no PyTorch
    import; elsewhere asked of PyTorch where it is installed, else False.
    """
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    if importlib.util.find_spec("torch") is None:
        return False
    from ._torch_engine import bf16_supported

    return bf16_supported()


def _references(obj):
    """Names of the layers whose output tensors a config node ``obj`` refers to."""
    return [name for name, _, _ in tensor_histories(obj)]


def _conv_bn_links(model):
    """``[(conv layer, batch-norm layer)]`` where the batch norm is the conv's only reader.

    Read from a functional model's config (as the torch engine reads it), or
    from a ``Sequential`` model's order. Empty for other models.
    """
    keras = import_keras()
    if isinstance(model, keras.Sequential):
        return list(zip(model.layers, model.layers[1:]))
    try:
        config = model.get_config()
    except NotImplementedError:  # a subclassed model: its graph is its code
        return []
    if "layers" not in config or "output_layers" not in config:
        return []
    specs = {spec["name"]: spec for spec in config["layers"]}
    readers = {}
    for spec in config["layers"]:
        for node in spec["inbound_nodes"]:
            for name in _references(node):
                readers.setdefault(name, []).append(spec["name"])
    for name in _references(config["output_layers"]):
        readers.setdefault(name, []).append(None)
    links = []
    for spec in config["layers"]:
        if len(spec["inbound_nodes"]) != 1:
            continue
        sources = _references(spec["inbound_nodes"][0])
        if (
            len(sources) == 1
            and sources[0] in specs
            and len(specs[sources[0]]["inbound_nodes"]) == 1
            and readers.get(sources[0]) == [spec["name"]]
        ):
            links.append((model.get_layer(sources[0]), model.get_layer(spec["name"])))
    return links


def _convolutions(model):
    """``{conv layer: batch-norm layer or None}`` for the Conv2D layers to replace.

    A Conv2D maps to the batch norm folded into it (its only reader, when the
    convolution is linear), else to None.
    """
    keras = import_keras()
    if not isinstance(model, keras.Model):
        return {}
    convs = {
        layer: None
        for layer in model.layers
        if type(layer) is keras.layers.Conv2D
        and layer.groups == 1
        and not getattr(layer, "lora_enabled", False)
    }
    for conv, bn in _conv_bn_links(model):
        if conv not in convs or type(bn) is not keras.layers.BatchNormalization:
            continue
        cfg = bn.get_config()
        if (
            conv.get_config().get("activation") == "linear"
            and conv.data_format == "channels_last"
            and cfg["axis"] in (-1, [-1], 3, [3])
            and not cfg.get("renorm")
            and not cfg.get("synchronized")
        ):
            convs[conv] = bn
    return convs


@functools.cache
def _fast_classes():
    keras = import_keras()
    from keras import ops

    class _FastConv2D(keras.layers.Layer):
        """``conv`` (then ``bn``, folded in) as one convolution, from their own variables."""

        def __init__(self, conv, bn, bfloat16, **kwargs):
            super().__init__(name=f"{conv.name}_fast", dtype=conv.dtype_policy, **kwargs)
            self.conv, self.bn, self.bfloat16 = conv, bn, bfloat16

        def call(self, inputs):
            conv, bn = self.conv, self.bn
            kernel = ops.cast(conv.kernel, "float32")
            shift = ops.cast(conv.bias, "float32") if conv.use_bias else None
            if bn is not None:
                scale = ops.rsqrt(ops.cast(bn.moving_variance, "float32") + bn.epsilon)
                if bn.scale:
                    scale = scale * ops.cast(bn.gamma, "float32")
                kernel = kernel * scale
                offset = -ops.cast(bn.moving_mean, "float32") * scale
                if bn.center:
                    offset = offset + ops.cast(bn.beta, "float32")
                shift = offset if shift is None else offset + shift * scale
            dtype = "bfloat16" if self.bfloat16 else inputs.dtype
            outputs = ops.conv(
                ops.cast(inputs, dtype),
                ops.cast(kernel, dtype),
                strides=conv.strides,
                padding=conv.padding,
                data_format=conv.data_format,
                dilation_rate=conv.dilation_rate,
            )
            outputs = ops.cast(outputs, inputs.dtype)
            if shift is not None:
                shift = ops.cast(shift, outputs.dtype)
                if conv.data_format == "channels_first":
                    shift = ops.reshape(shift, (-1, 1, 1))
                outputs = outputs + shift
            return outputs if conv.activation is None else conv.activation(outputs)

        def compute_output_shape(self, input_shape):
            return self.conv.compute_output_shape(input_shape)

    class _FoldedAway(keras.layers.Layer):
        """Where the folded batch norm was: passes its input on (mask included)."""

        def call(self, inputs, mask=None):
            return inputs

        def compute_output_shape(self, input_shape):
            return input_shape

    return _FastConv2D, _FoldedAway


def prediction_model(model, *, bfloat16=False):
    """A twin of ``model`` for prediction: batch norms folded, bfloat16 if asked.

    Returns ``model`` itself when there is nothing to change (no Conv2D, or a
    model that is not functional). Cached per model (weakly) and per
    ``bfloat16``; the twin shares the model's variables.
    """
    keras = import_keras()
    twins = _CACHE.setdefault(model, {})
    if bfloat16 not in twins:
        twin = None
        convs = _convolutions(model)
        if not bfloat16:  # float32: only the pairs change
            convs = {conv: bn for conv, bn in convs.items() if bn is not None}
        nested = {}  # members of an ensemble, say: each gets its own twin
        for layer in getattr(model, "layers", []):
            if isinstance(layer, keras.Model):
                inner = prediction_model(layer, bfloat16=bfloat16)
                if inner is not layer:
                    nested[layer] = inner
        if convs or nested:
            fast_conv, folded_away = _fast_classes()
            bns = {id(bn) for bn in convs.values() if bn is not None}

            def clone(layer):
                if layer in convs:
                    return fast_conv(layer, convs[layer], bfloat16)
                if id(layer) in bns:
                    return folded_away(name=f"{layer.name}_folded", dtype=layer.dtype_policy)
                return nested.get(layer, layer)  # shared, with its variables

            twin = keras.models.clone_model(model, clone_function=clone)
        # None when nothing changes: a value that held ``model`` itself would
        # keep the weakly keyed entry alive for ever.
        twins[bfloat16] = twin
    twin = twins[bfloat16]
    return model if twin is None else twin
