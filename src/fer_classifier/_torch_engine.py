"""Train a Keras functional model with PyTorch: bfloat16 autocast, channels_last.

Keras stays the one model definition. :func:`to_torch` reads a functional
``keras.Model``'s graph (its ``get_config()``) and builds an equivalent
``torch.nn.Module`` holding copies of its weights; :func:`train` trains that
module with PyTorch's oneDNN kernels (bfloat16 on CPUs with AVX-512 BF16 or
AMX), and the module's ``copy_to_keras()`` writes the trained weights back
into the Keras model, which then saves, loads under ``safe_mode``, pickles
and predicts exactly as one trained by ``model.fit``.

Only the layers that architectures of this package use are translated (see
``_LAYER_BUILDERS``); any other layer raises :class:`UnsupportedModelError`,
which names it.
"""

import math
import time

import numpy as np

from ._keras_graph import tensor_histories

__all__ = [
    "UnsupportedModelError", "make_teacher", "teacher_view_bank", "to_torch", "train",
    "torch_available",
]


class UnsupportedModelError(ValueError):
    """The Keras model holds a layer or setting the PyTorch engine cannot translate."""


def torch_available():
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def _activation_fn(name, layer_name):
    import torch.nn.functional as F

    table = {
        "linear": None,
        "relu": F.relu,
        "relu6": F.relu6,
        "elu": F.elu,
        "selu": F.selu,
        "gelu": F.gelu,  # Keras: approximate=False
        "silu": F.silu,
        "swish": F.silu,
        "sigmoid": F.sigmoid,
        "tanh": F.tanh,
        "softmax": lambda x: F.softmax(x, dim=1),
    }
    if name not in table:
        raise UnsupportedModelError(
            f"Layer {layer_name!r}: activation {name!r} has no PyTorch translation; "
            f"use engine='keras'."
        )
    return table[name]


def _activation_name(config):
    act = config.get("activation", "linear")
    if isinstance(act, dict):  # a serialised keras.activations function
        act = act.get("config", {}).get("name", act.get("class_name"))
    return act or "linear"


def _same_padding(size, kernel, stride, dilation):
    """TensorFlow's 'same' padding (before, after) for one spatial axis."""
    effective = (kernel - 1) * dilation + 1
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def _build_modules():
    """Module classes, defined lazily so that importing this file needs no torch."""
    import torch
    from torch import nn
    import torch.nn.functional as F

    class Conv(nn.Module):
        def __init__(self, layer):
            super().__init__()
            cfg = layer.get_config()
            if cfg.get("data_format", "channels_last") != "channels_last":
                raise UnsupportedModelError(f"Layer {layer.name!r}: only channels_last.")
            kernel = layer.kernel.shape  # (kh, kw, in/groups, out)
            self.kernel_size = tuple(cfg["kernel_size"])
            self.strides = tuple(cfg["strides"])
            self.dilation = tuple(cfg["dilation_rate"])
            self.padding = cfg["padding"]
            self.conv = nn.Conv2d(
                int(kernel[2]) * cfg.get("groups", 1),
                int(kernel[3]),
                self.kernel_size,
                stride=self.strides,
                dilation=self.dilation,
                groups=cfg.get("groups", 1),
                bias=cfg["use_bias"],
            )
            self.act = _activation_fn(_activation_name(cfg), layer.name)
            self.layer = layer

        def forward(self, x):
            if self.padding == "same":
                pads = [
                    _same_padding(x.shape[2 + a], self.kernel_size[a], self.strides[a],
                                  self.dilation[a])
                    for a in (0, 1)
                ]
                (top, bottom), (left, right) = pads
                if top == bottom and left == right:
                    x = F.conv2d(x, self.conv.weight, self.conv.bias, self.strides,
                                 (top, left), self.dilation, self.conv.groups)
                else:
                    x = self.conv(F.pad(x, (left, right, top, bottom)))
            else:
                x = self.conv(x)
            return x if self.act is None else self.act(x)

        def load_from_keras(self):
            w = np.asarray(self.layer.kernel.numpy() if hasattr(self.layer.kernel, "numpy")
                           else self.layer.kernel)
            self.conv.weight.data = torch.from_numpy(
                np.ascontiguousarray(w.transpose(3, 2, 0, 1))
            ).float()
            if self.conv.bias is not None:
                self.conv.bias.data = torch.from_numpy(np.asarray(self.layer.bias)).float()

        def keras_weights(self):
            w = [self.conv.weight.detach().float().numpy().transpose(2, 3, 1, 0)]
            if self.conv.bias is not None:
                w.append(self.conv.bias.detach().float().numpy())
            return w

    class Dense(nn.Module):
        def __init__(self, layer):
            super().__init__()
            cfg = layer.get_config()
            kernel = layer.kernel.shape
            self.linear = nn.Linear(int(kernel[0]), int(kernel[1]), bias=cfg["use_bias"])
            self.act_name = _activation_name(cfg)
            self.act = _activation_fn(self.act_name, layer.name)
            self.layer = layer

        def forward(self, x):
            if x.dim() != 2:
                raise UnsupportedModelError(
                    f"Layer {self.layer.name!r}: Dense on a {x.dim()}-D tensor."
                )
            x = self.linear(x)
            return x if self.act is None else self.act(x)

        def load_from_keras(self):
            self.linear.weight.data = torch.from_numpy(
                np.ascontiguousarray(np.asarray(self.layer.kernel).T)
            ).float()
            if self.linear.bias is not None:
                self.linear.bias.data = torch.from_numpy(np.asarray(self.layer.bias)).float()

        def keras_weights(self):
            w = [self.linear.weight.detach().float().numpy().T]
            if self.linear.bias is not None:
                w.append(self.linear.bias.detach().float().numpy())
            return w

    class BatchNorm(nn.Module):
        def __init__(self, layer):
            super().__init__()
            cfg = layer.get_config()
            axis = cfg["axis"]
            axis = axis[0] if isinstance(axis, (list, tuple)) and len(axis) == 1 else axis
            rank = len(layer.input.shape) if hasattr(layer, "input") else None
            if axis not in (-1, (rank - 1) if rank else -1):
                raise UnsupportedModelError(
                    f"Layer {layer.name!r}: batch normalisation over axis {axis}; "
                    f"only the channel (last) axis is supported."
                )
            if cfg.get("renorm") or cfg.get("synchronized"):
                raise UnsupportedModelError(f"Layer {layer.name!r}: renorm/synchronized.")
            n = int(layer.moving_mean.shape[0])
            self.scale, self.center = cfg["scale"], cfg["center"]
            # Keras: moving = momentum * moving + (1 - momentum) * batch.
            self.bn = nn.BatchNorm2d(
                n, eps=cfg["epsilon"], momentum=1.0 - cfg["momentum"], affine=True
            )
            if not self.scale:
                self.bn.weight.requires_grad_(False)
            if not self.center:
                self.bn.bias.requires_grad_(False)
            self.layer = layer

        def forward(self, x):
            if x.dim() == 2:
                return self.bn(x[:, :, None, None])[:, :, 0, 0]
            return self.bn(x)

        def load_from_keras(self):
            layer, bn = self.layer, self.bn
            bn.weight.data = (
                torch.from_numpy(np.asarray(layer.gamma)).float()
                if self.scale else torch.ones(bn.num_features)
            )
            bn.bias.data = (
                torch.from_numpy(np.asarray(layer.beta)).float()
                if self.center else torch.zeros(bn.num_features)
            )
            bn.running_mean.copy_(torch.from_numpy(np.asarray(layer.moving_mean)).float())
            bn.running_var.copy_(torch.from_numpy(np.asarray(layer.moving_variance)).float())

        def keras_weights(self):
            w = []
            if self.scale:
                w.append(self.bn.weight.detach().float().numpy())
            if self.center:
                w.append(self.bn.bias.detach().float().numpy())
            w += [self.bn.running_mean.float().numpy(), self.bn.running_var.float().numpy()]
            return w

    class Pool(nn.Module):
        def __init__(self, layer, kind):
            super().__init__()
            cfg = layer.get_config()
            self.same = cfg.get("padding", "valid") == "same"
            self.kind = kind
            self.size = tuple(cfg["pool_size"])
            self.strides = tuple(cfg.get("strides") or cfg["pool_size"])
            cls = nn.MaxPool2d if kind == "max" else nn.AvgPool2d
            self.pool = cls(self.size, self.strides)

        def forward(self, x):
            if self.same:
                # TensorFlow's "same": ceil(n / stride) outputs, padding split with the
                # larger half after; padded cells never win a max and are not averaged.
                pads = []
                for n, k, s in zip(reversed(x.shape[2:]), reversed(self.size),
                                   reversed(self.strides)):
                    total = max((-(-n // s) - 1) * s + k - n, 0)
                    pads += [total // 2, total - total // 2]
                if any(pads):
                    if self.kind == "max":
                        return self.pool(F.pad(x, pads, value=float("-inf")))
                    total = self.pool(F.pad(x, pads))
                    count = self.pool(F.pad(torch.ones_like(x[:1, :1]), pads))
                    return total / count
            return self.pool(x)

    class GlobalPool(nn.Module):
        def __init__(self, layer, kind):
            super().__init__()
            cfg = layer.get_config()
            self.keepdims = cfg.get("keepdims", False)
            self.kind = kind

        def forward(self, x):
            x = x.mean(dim=(2, 3), keepdim=True) if self.kind == "avg" else x.amax(
                dim=(2, 3), keepdim=True)
            if self.keepdims:
                return x.permute(0, 2, 3, 1)  # Keras keeps (n, 1, 1, c)
            return x.flatten(1)

    class Flatten(nn.Module):
        def forward(self, x):
            # Keras flattens channels-last tensors: (h, w, c) order.
            return x.permute(0, 2, 3, 1).flatten(1) if x.dim() == 4 else x.flatten(1)

    class Act(nn.Module):
        def __init__(self, fn):
            super().__init__()
            self.fn = fn

        def forward(self, x):
            return x if self.fn is None else self.fn(x)

    class Merge(nn.Module):
        def __init__(self, kind, axis=None):
            super().__init__()
            self.kind, self.axis = kind, axis

        def forward(self, *xs):
            if self.kind == "add":
                out = xs[0]
                for x in xs[1:]:
                    out = out + x
                return out
            if self.kind == "multiply":
                out = xs[0]
                for x in xs[1:]:
                    out = out * x
                return out
            axis = self.axis
            if xs[0].dim() == 4 and axis in (-1, 3):
                axis = 1
            return torch.cat(xs, dim=axis)

    class Rescale(nn.Module):
        def __init__(self, layer):
            super().__init__()
            cfg = layer.get_config()
            self.scale, self.offset = float(cfg["scale"]), float(cfg["offset"])

        def forward(self, x):
            return x * self.scale + self.offset

    class Dropout(nn.Module):
        """Inverted dropout, as ``nn.Dropout``, with masks from 16-bit random lanes.

        ``nn.Dropout`` draws one random number per element, which on a CPU
        costs more than the convolution it follows in bfloat16 (its
        ``bernoulli_`` took a tenth of a training step). Here one 64-bit draw
        makes four 16-bit lanes, each kept with probability ``1 - rate`` (to
        1/65536), from the same global generator that ``nn.Dropout`` uses.
        """

        def __init__(self, rate):
            super().__init__()
            self.rate = float(rate)
            self.threshold = round(self.rate * 65536) - 32768  # int16 lanes below it drop

        def forward(self, x):
            if not self.training or self.rate == 0.0:
                return x
            n = x.numel()
            bits = torch.empty((n + 3) // 4, dtype=torch.int64).random_(-(2**63), 2**63 - 1)
            keep = bits.view(torch.int16)[:n] >= self.threshold
            if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last):
                n_, c, h, w = x.shape
                keep = keep.view(n_, h, w, c).permute(0, 3, 1, 2)  # the same memory order
            else:
                keep = keep.view(x.shape)
            return torch.where(keep, x * (1.0 / (1.0 - self.rate)), 0.0)

    return {
        "Conv": Conv, "Dense": Dense, "BatchNorm": BatchNorm, "Pool": Pool,
        "GlobalPool": GlobalPool, "Flatten": Flatten, "Act": Act, "Merge": Merge,
        "Rescale": Rescale, "Dropout": Dropout,
    }


def _module_for(layer, M):
    """The torch module standing for one Keras layer (None: identity in training)."""
    from torch import nn

    kind = type(layer).__name__
    cfg = layer.get_config()
    if kind == "Conv2D":
        return M["Conv"](layer)
    if kind == "Dense":
        return M["Dense"](layer)
    if kind == "BatchNormalization":
        return M["BatchNorm"](layer)
    if kind in ("MaxPooling2D", "AveragePooling2D"):
        return M["Pool"](layer, "max" if kind.startswith("Max") else "avg")
    if kind in ("GlobalAveragePooling2D", "GlobalMaxPooling2D"):
        return M["GlobalPool"](layer, "avg" if "Average" in kind else "max")
    if kind == "Flatten":
        return M["Flatten"]()
    if kind == "Dropout":
        if cfg.get("noise_shape") is not None:
            raise UnsupportedModelError(f"Layer {layer.name!r}: Dropout with noise_shape.")
        return M["Dropout"](cfg["rate"])
    if kind == "SpatialDropout2D":
        return nn.Dropout2d(cfg["rate"])
    if kind == "ReLU":
        if cfg.get("max_value") is not None or cfg.get("negative_slope", 0) or cfg.get(
            "threshold", 0
        ):
            raise UnsupportedModelError(f"Layer {layer.name!r}: ReLU with options.")
        return M["Act"](_activation_fn("relu", layer.name))
    if kind == "Activation":
        return M["Act"](_activation_fn(_activation_name(cfg), layer.name))
    if kind == "Softmax":
        return M["Act"](_activation_fn("softmax", layer.name))
    if kind == "Add":
        return M["Merge"]("add")
    if kind == "Multiply":
        return M["Merge"]("multiply")
    if kind == "Concatenate":
        return M["Merge"]("concat", cfg.get("axis", -1))
    if kind == "Rescaling":
        return M["Rescale"](layer)
    if kind.startswith("Random"):
        # Keras augmentation layers: the engine augments with its own cheap ops.
        return None
    raise UnsupportedModelError(
        f"Layer {layer.name!r} ({kind}) has no PyTorch translation; use engine='keras'."
    )


def _graph_steps(model, prefix=""):
    """Flatten a functional model (nested ones included) into steps.

    Returns ``(input_key, steps, output_key)``; each step is
    ``(name, layer, input_keys, output_key)`` and keys name tensors as
    ``"layer_name:node:index"`` strings.
    """
    config = model.get_config()
    if "layers" not in config or "input_layers" not in config:
        raise UnsupportedModelError(
            f"Model {model.name!r} is not a functional keras.Model; use engine='keras'."
        )
    ins, outs = config["input_layers"], config["output_layers"]
    # One tensor is written as [name, node, index]; several as a list of those.
    ins = [ins] if ins and isinstance(ins[0], str) else ins
    outs = [outs] if outs and isinstance(outs[0], str) else outs
    if len(ins) != 1 or len(outs) != 1:
        raise UnsupportedModelError(
            f"Model {model.name!r} must have one input and one output for engine='torch'."
        )

    def key(history):
        name, node, index = history
        return f"{prefix}{name}:{node}:{index}"

    def tensor_keys(obj):
        return [key(history) for history in tensor_histories(obj)]

    steps = []
    input_key, output_key = key(ins[0]), key(outs[0])
    for spec in config["layers"]:
        if spec["class_name"] == "InputLayer":
            continue
        layer = model.get_layer(spec["name"])
        for node_index, node in enumerate(spec["inbound_nodes"]):
            inputs = tensor_keys(node.get("args", [])) + tensor_keys(node.get("kwargs", {}))
            out = f"{prefix}{spec['name']}:{node_index}:0"
            if hasattr(layer, "get_config") and "layers" in layer.get_config() and hasattr(
                layer, "get_layer"
            ):
                inner_prefix = f"{prefix}{spec['name']}/"
                inner_in, inner_steps, inner_out = _graph_steps(layer, inner_prefix)
                steps.append((f"{inner_prefix}input", None, inputs, inner_in))
                steps += inner_steps
                steps.append((out, None, [inner_out], out))
            else:
                steps.append((spec["name"], layer, inputs, out))
    return input_key, steps, output_key


def to_torch(model):
    """Build a ``torch.nn.Module`` computing ``model``'s logits, with its weights.

    The module takes NCHW float tensors and returns the pre-softmax logits of
    the output layer (the Keras model must end in a softmax). Its
    ``copy_to_keras()`` writes the trained weights back into ``model``, and
    ``load_from_keras()`` reads ``model``'s weights again.

    Raises
    ------
    UnsupportedModelError
        If a layer or setting has no translation.
    """
    import torch
    from torch import nn

    M = _build_modules()
    input_key, steps, output_key = _graph_steps(model)

    class Graph(nn.Module):
        def __init__(self):
            super().__init__()
            self.keras_model = [model]  # a list hides it from nn.Module's registry
            self.layers = nn.ModuleDict()
            self.plan = []
            for name, layer, inputs, out in steps:
                module = None if layer is None else _module_for(layer, M)
                safe = name.replace(".", "_").replace("/", "__")
                if module is not None:
                    self.layers[safe] = module
                self.plan.append((safe if module is not None else None, inputs, out))
            self._check_output()
            self.load_from_keras()

        def _check_output(self):
            last_name, _, last_out = self.plan[-1]
            # Follow pass-through steps back to the layer producing the output.
            module = self.layers[last_name] if last_name else None
            if isinstance(module, M["Dense"]) and module.act_name == "softmax":
                module.act = None
                return
            if isinstance(module, M["Act"]) and module.fn is not None:
                module.fn = None  # an Activation("softmax") / Softmax layer
                return
            raise UnsupportedModelError(
                f"Model {model.name!r} must end in a softmax layer for engine='torch'."
            )

        def forward(self, x):
            values = {input_key: x}
            for name, inputs, out in self.plan:
                args = [values[k] for k in inputs]
                values[out] = self.layers[name](*args) if name is not None else args[0]
            return values[output_key]

        @torch.no_grad()
        def load_from_keras(self):
            for module in self.layers.values():
                if hasattr(module, "load_from_keras"):
                    module.load_from_keras()

        @torch.no_grad()
        def copy_to_keras(self):
            for module in self.layers.values():
                if hasattr(module, "keras_weights"):
                    module.layer.set_weights(module.keras_weights())

    return Graph()


# ------------------------------------------------------------------ augmentation
AUGMENT_SETTINGS = {
    # preset: (max shift fraction, max rotation degrees, max zoom, erase (p, max area), contrast)
    "flip": (0.0, 0.0, 0.0, None, 0.0),
    "standard": (0.10, 10.0, 0.10, (0.5, 0.12), 0.0),
    "strong": (0.15, 15.0, 0.15, (0.5, 0.20), 0.3),
}


def augment(x, preset, generator):
    """Randomly mirror, shift/rotate/zoom (one affine resampling), erase and contrast.

    ``x`` is an (n, c, h, w) float tensor in [0, 1]; returns a new tensor.
    One ``grid_sample`` per batch costs little next to the network.
    """
    import torch
    import torch.nn.functional as F

    shift, degrees, zoom, erase, contrast = AUGMENT_SETTINGS[preset]
    n, _, h, w = x.shape

    def uniform(low, high, *shape):
        return torch.rand(*shape, generator=generator) * (high - low) + low

    flip = torch.rand(n, generator=generator) < 0.5
    if shift or degrees or zoom:
        angle = uniform(-degrees, degrees, n) * (math.pi / 180.0)
        scale = 1.0 / uniform(1.0 - zoom, 1.0 + zoom, n)
        tx, ty = uniform(-2 * shift, 2 * shift, n), uniform(-2 * shift, 2 * shift, n)
        sign = torch.where(flip, -1.0, 1.0)
        cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
        theta = torch.stack(
            [torch.stack([cos * sign, -sin, tx], 1), torch.stack([sin * sign, cos, ty], 1)], 1
        )
        grid = F.affine_grid(theta, x.shape, align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection",
                          align_corners=False)
    else:
        x = torch.where(flip[:, None, None, None], x.flip(3), x)
    if contrast:
        factor = uniform(1.0 - contrast, 1.0 + contrast, n)[:, None, None, None]
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = ((x - mean) * factor + mean).clamp(0.0, 1.0)
    if erase is not None:
        p, max_area = erase
        area = uniform(0.02, max_area, n) * h * w
        ratio = torch.exp(uniform(math.log(0.3), math.log(3.3), n))
        eh = torch.sqrt(area * ratio).clamp(1, h).long()
        ew = torch.sqrt(area / ratio).clamp(1, w).long()
        top = (torch.rand(n, generator=generator) * (h - eh + 1)).long()
        left = (torch.rand(n, generator=generator) * (w - ew + 1)).long()
        rows = torch.arange(h)[None, :]
        cols = torch.arange(w)[None, :]
        mask_r = (rows >= top[:, None]) & (rows < (top + eh)[:, None])
        mask_c = (cols >= left[:, None]) & (cols < (left + ew)[:, None])
        mask = mask_r[:, :, None] & mask_c[:, None, :]
        mask &= (torch.rand(n, generator=generator) < p)[:, None, None]
        x = torch.where(mask[:, None], 0.5, x)
    return x


def mix(x, targets, mixup_alpha, cutmix_alpha, rng):
    """Mix each image of a batch with another one of it, and its targets alike.

    Each image is paired with the image at a random permutation of the batch
    and keeps a share ``lam`` of itself, drawn per image from Beta(alpha,
    alpha) and taken as ``max(lam, 1 - lam)`` (a pair mixed the other way
    round is the same mixture), so that an image's own label always has the
    larger share. Mixup blends the two images' pixels; CutMix pastes a random
    rectangle of the partner covering about ``1 - lam`` of the face, and the
    share follows the rectangle's exact area after clipping at the borders.
    With both alphas above 0, each image gets one of the two, with even odds.
    ``rng`` is a NumPy generator.

    Returns ``(mixed images, mixed targets, partner indices, own shares)``.
    """
    import torch

    n, _, h, w = x.shape
    perm = torch.from_numpy(rng.permutation(n))

    def share(alpha):
        if not alpha:
            return torch.ones(n)
        lam = torch.from_numpy(rng.beta(alpha, alpha, n).astype(np.float32))
        return torch.maximum(lam, 1.0 - lam)

    if cutmix_alpha and mixup_alpha:
        use_cutmix = torch.from_numpy(rng.random(n) < 0.5)
    else:
        use_cutmix = torch.full((n,), bool(cutmix_alpha))
    lam_mixup, lam_cut = share(mixup_alpha), share(cutmix_alpha)
    partner = x[perm]
    # CutMix: a box of sides sqrt(1 - lam) of the image's, centred anywhere, clipped.
    side = torch.sqrt(1.0 - lam_cut)
    cy = torch.from_numpy(rng.random(n).astype(np.float32)) * h
    cx = torch.from_numpy(rng.random(n).astype(np.float32)) * w
    box_h, box_w = (side * h).floor(), (side * w).floor()  # never more than 1 - lam
    top, left = (cy - box_h / 2).floor(), (cx - box_w / 2).floor()
    top, bottom = top.clamp(0, h), (top + box_h).clamp(0, h)
    left, right = left.clamp(0, w), (left + box_w).clamp(0, w)
    rows, cols = torch.arange(h)[None, :], torch.arange(w)[None, :]
    box = (((rows >= top[:, None]) & (rows < bottom[:, None]))[:, :, None]
           & ((cols >= left[:, None]) & (cols < right[:, None]))[:, None, :])
    box &= use_cutmix[:, None, None]
    cut_share = 1.0 - box.sum(dim=(1, 2)).float() / (h * w)
    lam = torch.where(use_cutmix, cut_share, lam_mixup)
    blend = lam[:, None, None, None] * x + (1.0 - lam[:, None, None, None]) * partner
    mixed = torch.where(use_cutmix[:, None, None, None],
                        torch.where(box[:, None], partner, x), blend)
    mixed_targets = lam[:, None] * targets + (1.0 - lam[:, None]) * targets[perm]
    return mixed, mixed_targets, perm, lam


# ---------------------------------------------------------------------- training
def _param_groups(graph, weight_decay):
    """Decay the kernels of convolutions and dense layers, not biases or norms."""
    decay, no_decay = [], []
    for name, param in graph.named_parameters():
        if not param.requires_grad:
            continue
        (decay if name.endswith(".weight") and param.dim() > 1 else no_decay).append(param)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def make_optimizer(graph, name, learning_rate, weight_decay):
    """The PyTorch counterpart of the Keras optimizer ``name``, Keras's defaults.

    Keras decays weights the decoupled way for every optimizer (``w -= lr *
    weight_decay * w`` before the update); torch's AdamW does the same, its
    other optimizers add ``weight_decay * w`` to the gradient instead. Those get
    no torch weight decay and a ``"keras_weight_decay"`` entry per parameter
    group, which :func:`decay_weights` applies before each step.
    """
    import torch

    wd = 0.0 if weight_decay is None else float(weight_decay)
    if name == "adamw" and weight_decay is None:
        wd = 0.004  # Keras AdamW's default
    groups = _param_groups(graph, wd)
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=learning_rate, eps=1e-7)
    for group in groups:
        group["keras_weight_decay"] = group.pop("weight_decay")
    if name == "adam":
        return torch.optim.Adam(groups, lr=learning_rate, eps=1e-7)
    if name == "nadam":
        # Keras's momentum schedule is beta_1 * (1 - 0.5 * 0.96 ** step)
        return torch.optim.NAdam(groups, lr=learning_rate, eps=1e-7, momentum_decay=1.0)
    if name == "rmsprop":
        return torch.optim.RMSprop(groups, lr=learning_rate, alpha=0.9, eps=1e-7)
    if name == "sgd":
        return torch.optim.SGD(groups, lr=learning_rate)
    if name == "sgd_nesterov":
        return torch.optim.SGD(groups, lr=learning_rate, momentum=0.9, nesterov=True)
    raise ValueError(f"Unknown optimizer {name!r}.")


def decay_weights(optimizer):
    """Shrink each parameter by ``lr * keras_weight_decay`` of its group, as Keras does."""
    import torch

    with torch.no_grad():
        for group in optimizer.param_groups:
            decay = group.get("keras_weight_decay", 0.0)
            if decay:
                for param in group["params"]:
                    param.mul_(1.0 - group["lr"] * decay)


def sharpness_aware_gradients(graph, optimizer, loss_fn, rho):
    """Replace the gradients by those at the worst weights within ``rho`` (SAM).

    Sharpness-aware minimization (Foret et al., ICLR 2021): with the
    gradient ``g`` of the batch's loss already in ``.grad``, move the weights
    by ``rho * g / ||g||`` (the steepest ascent within an L2 ball of radius
    ``rho``), compute ``loss_fn()``'s gradients there, and move the weights
    back: the optimizer's next step follows those gradients, which favours
    flat minima. Batch-norm running statistics are left as the first pass
    set them. Costs a second forward and backward pass per step.
    """
    import torch

    params = [p for group in optimizer.param_groups for p in group["params"]
              if p.grad is not None]
    with torch.no_grad():
        norm = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in params]))
        scale = rho / (norm + 1e-12)
        shifts = [p.grad * scale for p in params]
        for p, shift in zip(params, shifts):
            p.add_(shift)
    norms = [m for m in graph.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    try:
        for m in norms:
            m.momentum = 0.0  # running = (1 - 0) * running + 0 * batch
        optimizer.zero_grad(set_to_none=True)
        loss_fn().backward()
    finally:
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        with torch.no_grad():
            for p, shift in zip(params, shifts):
                p.sub_(shift)


def learning_rate_at(step, total, peak, schedule, steps_per_epoch):
    """Learning rate before gradient step ``step`` (counting from 0)."""
    if schedule == "constant":
        return peak
    warmup = min(steps_per_epoch, total // 10)
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(total - warmup, 1)
    return 0.5 * peak * (1.0 + math.cos(math.pi * min(progress, 1.0)))


def bf16_supported():
    """Whether this CPU has bfloat16 matrix instructions (AVX-512 BF16 or AMX)."""
    try:
        import torch

        return bool(torch.backends.mkldnn.is_available()) and bool(
            torch.ops.mkldnn._is_mkldnn_bf16_supported()
        )
    except Exception:  # pragma: no cover - depends on the torch build
        return False


def recalibrate_batchnorm(graph, images, *, batch_size=256):
    """Set every batch norm's statistics to their average over ``images``.

    One pass in float32, in order, without augmentation or dropout, with the
    final weights: the statistics then describe the network as it predicts,
    instead of an exponential average over the changing weights of the last
    few hundred training steps (which, after a short training, is still
    mostly its initial mean 0 and variance 1).
    """
    import torch

    norms = [m.bn for m in graph.layers.values() if hasattr(m, "bn")]
    if not norms or len(images) < 2:
        return
    saved = [bn.momentum for bn in norms]
    graph.eval()
    for bn in norms:
        bn.reset_running_stats()
        bn.momentum = None  # a cumulative average over the batches
        bn.train()
    try:
        with torch.no_grad():
            # Equal-sized batches, so that none holds a single image.
            for batch in np.array_split(images, math.ceil(len(images) / batch_size)):
                graph(_as_tensor(batch))
    finally:
        for bn, momentum in zip(norms, saved):
            bn.momentum = momentum
        graph.eval()


def evaluate(graph, images, targets, *, batch_size=512, bf16=False):
    """Mean soft-target cross-entropy and accuracy of ``graph`` (eval mode)."""
    import torch
    import torch.nn.functional as F

    graph.eval()
    loss_sum, correct = 0.0, 0
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        for start in range(0, len(images), batch_size):
            xb = _as_tensor(images[start:start + batch_size])
            tb = torch.from_numpy(targets[start:start + batch_size])
            logits = graph(xb).float()
            loss_sum += float(-(tb * F.log_softmax(logits, 1)).sum())
            correct += int((logits.argmax(1) == tb.argmax(1)).sum())
    return loss_sum / len(images), correct / len(images)


def predict_logits(graph, images, *, batch_size=512, bf16=False):
    import torch

    graph.eval()
    out = []
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        for start in range(0, len(images), batch_size):
            out.append(graph(_as_tensor(images[start:start + batch_size])).float().numpy())
    return np.concatenate(out)


def make_teacher(graphs, weights=None):
    """A function ``(batch, bf16) -> probabilities``: the graphs' softmax outputs averaged.

    ``graphs`` are :func:`to_torch` modules of fitted networks; they run in
    eval mode (no dropout, batch norm statistics fixed) and without gradients.
    ``weights`` (summing to 1) weigh their probabilities; equal by default.
    """
    import torch
    import torch.nn.functional as F

    graphs = list(graphs)
    weights = [1.0 / len(graphs)] * len(graphs) if weights is None else list(weights)
    for graph in graphs:
        graph.to(memory_format=torch.channels_last)
        graph.eval()
        graph.requires_grad_(False)

    def teacher(xb, bf16=False):
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            return sum(w * F.softmax(graph(xb).float(), 1) for graph, w in zip(graphs, weights))

    return teacher


def teacher_view_bank(images, teacher, views, augmentation, seed, *, bf16=False,
                      batch_size=512, on_view=None):
    """Augmented views of each face and the teacher's probabilities for each.

    Makes ``views`` augmented copies of every image of ``images`` (n, h, w, c)
    with the ``augmentation`` preset, from a generator of their own seeded by
    ``seed`` (the training streams are untouched), rounded to 8 bits as the
    faces are stored; the teacher (see :func:`make_teacher`) then scores each
    view and its mirror image. ``on_view(done, views)`` runs after each view.

    Returns ``(bank, proba)``: ``bank`` a uint8 tensor (views, n, c, h, w)
    and ``proba`` a float32 tensor (views, 2, n, n_classes), index 1 of the
    second axis for the mirrored view.
    """
    import torch

    all_x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)).permute(0, 3, 1, 2)
    gen = torch.Generator().manual_seed(0 if seed is None else int(seed) + 1)
    bank = torch.empty((views, *all_x.shape), dtype=torch.uint8)
    proba = None
    for v in range(views):
        for start in range(0, len(all_x), batch_size):
            xb = augment(all_x[start:start + batch_size], augmentation, gen)
            xb = (xb * 255.0).round_().clamp_(0, 255).to(torch.uint8)
            bank[v, start:start + batch_size] = xb
            xb = (xb.float() / 255.0).contiguous(memory_format=torch.channels_last)
            for side, view in enumerate((xb, xb.flip(3))):
                p = teacher(view, bf16)
                if proba is None:
                    proba = torch.empty((views, 2, len(all_x), p.shape[1]), dtype=torch.float32)
                proba[v, side, start:start + batch_size] = p
        if on_view is not None:
            on_view(v + 1, views)
    return bank, proba


def _as_tensor(images):
    """(n, h, w, c) float32 NumPy images -> NCHW channels_last torch tensor."""
    import torch

    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)).permute(0, 3, 1, 2)
    return x.contiguous(memory_format=torch.channels_last)


def train(
    graph,
    images,
    targets,
    *,
    epochs,
    batch_size,
    optimizer,
    learning_rate,
    weight_decay=None,
    lr_schedule="constant",
    label_smoothing=0.0,
    class_weights=None,
    augmentation=None,
    validation=None,
    bf16=True,
    seed=None,
    initial_epoch=0,
    state=None,
    on_batch_end=None,
    on_epoch_end=None,
    stop=None,
    teacher=None,
    teacher_weight=0.0,
    mixup_alpha=0.0,
    cutmix_alpha=0.0,
    teacher_bank=None,
    sam_rho=0.0,
):
    """Train ``graph`` on ``images`` (n, h, w, c) and target distributions ``targets``.

    ``targets`` are rows of class probabilities (one-hot or soft labels).
    ``class_weights`` (array of n_classes) weight each sample's loss by its
    hard label, as Keras's ``class_weight`` does. ``state`` is a dict with
    ``"optimizer"`` and ``"rng"`` saved by an earlier call, to resume.
    ``on_epoch_end(epoch, logs, optimizer, rng_state)`` runs after each
    epoch; ``stop()`` returning True ends training after an epoch.
    ``teacher`` (see :func:`make_teacher`) maps each augmented batch to
    probabilities; the batch's targets then become ``(1 - teacher_weight)`` x
    ``targets`` + ``teacher_weight`` x those: the student and the teacher see
    the same view of each face ("consistent" distillation).
    ``mixup_alpha`` and ``cutmix_alpha`` above 0 mix each augmented batch
    (see :func:`mix`) before the teacher sees it; class weights and the
    reported accuracy follow each image's own label (its larger share).
    ``teacher_bank`` (from :func:`teacher_view_bank` on the same ``images``)
    replaces augmentation and ``teacher``: each face is drawn as one of its
    stored views, mirrored or not at random, and its targets are mixed with
    the teacher's probabilities for that view (before any mixing).
    ``sam_rho`` above 0 takes each step with sharpness-aware gradients (see
    :func:`sharpness_aware_gradients`), at twice the cost per step.

    Returns the history (dict of per-epoch lists).
    """
    import torch
    import torch.nn.functional as F

    n = len(images)
    steps = math.ceil(n / batch_size)
    total = epochs * steps
    opt = make_optimizer(graph, optimizer, learning_rate, weight_decay)
    gen = torch.Generator().manual_seed(0 if seed is None else int(seed))
    rng = np.random.default_rng(seed)
    if state is not None:
        opt.load_state_dict(state["optimizer"])
        gen.set_state(state["rng"]["torch"])
        rng.bit_generator.state = state["rng"]["numpy"]
        if state["rng"].get("global") is not None:  # dropout draws from it
            torch.set_rng_state(state["rng"]["global"])
    graph.to(memory_format=torch.channels_last)
    all_x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)).permute(0, 3, 1, 2)
    all_t = torch.from_numpy(np.ascontiguousarray(targets, dtype=np.float32))
    n_classes = all_t.shape[1]
    weights = None if class_weights is None else torch.as_tensor(class_weights,
                                                                 dtype=torch.float32)
    history = {}
    for epoch in range(initial_epoch, epochs):
        graph.train()
        start = time.perf_counter()
        order = torch.from_numpy(rng.permutation(n))
        loss_sum = torch.zeros(())
        correct = torch.zeros((), dtype=torch.long)
        for b in range(steps):
            idx = order[b * batch_size:(b + 1) * batch_size]
            xb, tb = all_x[idx], all_t[idx]
            if teacher_bank is not None:
                bank, bank_proba = teacher_bank
                view = torch.randint(bank.shape[0], (len(idx),), generator=gen)
                side = torch.randint(2, (len(idx),), generator=gen)
                xb = bank[view, idx].float() / 255.0
                xb = torch.where((side == 1)[:, None, None, None], xb.flip(3), xb)
                tb = (1.0 - teacher_weight) * tb + teacher_weight * bank_proba[view, side, idx]
            elif augmentation is not None:
                xb = augment(xb, augmentation, gen)
            xb = xb.contiguous(memory_format=torch.channels_last)
            lr = learning_rate_at(epoch * steps + b, total, learning_rate, lr_schedule, steps)
            for group in opt.param_groups:
                group["lr"] = lr
            labels = tb.argmax(1)
            if mixup_alpha or cutmix_alpha:
                xb, tb, partner, own = mix(xb, tb, mixup_alpha, cutmix_alpha, rng)
                xb = xb.contiguous(memory_format=torch.channels_last)
            if teacher is not None and teacher_bank is None:
                tb = (1.0 - teacher_weight) * tb + teacher_weight * teacher(xb, bf16)
            smooth = tb * (1.0 - label_smoothing) + label_smoothing / n_classes
            sample_weights = None
            if weights is not None:
                sample_weights = weights[labels]
                if mixup_alpha or cutmix_alpha:
                    sample_weights = own * sample_weights + (1.0 - own) * weights[labels[partner]]

            def batch_loss(xb=xb, smooth=smooth, sample_weights=sample_weights):
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                    logits = graph(xb)
                logp = F.log_softmax(logits.float(), 1)
                per_sample = -(smooth * logp).sum(1)
                if sample_weights is not None:
                    per_sample = per_sample * sample_weights
                return logp, per_sample

            logp, per_sample = batch_loss()
            opt.zero_grad(set_to_none=True)
            per_sample.mean().backward()
            if sam_rho:
                sharpness_aware_gradients(graph, opt, lambda: batch_loss()[1].mean(), sam_rho)
            decay_weights(opt)
            opt.step()
            with torch.no_grad():
                loss_sum += per_sample.detach().sum()
                correct += (logp.argmax(1) == labels).sum()
            if on_batch_end is not None:
                on_batch_end(epoch, b + 1, steps)
        logs = {"loss": float(loss_sum) / n, "accuracy": float(correct) / n}
        if validation is not None:
            logs["val_loss"], logs["val_accuracy"] = evaluate(
                graph, validation[0], validation[1], bf16=bf16
            )
        logs["seconds"] = time.perf_counter() - start
        logs["learning_rate"] = lr
        for key, value in logs.items():
            history.setdefault(key, []).append(value)
        if on_epoch_end is not None:
            on_epoch_end(epoch, logs, opt, {"torch": gen.get_state(),
                                            "numpy": rng.bit_generator.state,
                                            "global": torch.get_rng_state()})
        if stop is not None and stop():
            break
    return history
