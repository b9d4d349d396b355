"""CNN architectures for :class:`~fer_classifier.EmotionCNNClassifier`.

An architecture is a plain function that returns an *uncompiled* functional
``keras.Model``::

    def my_cnn(input_shape, num_classes, *, conv_dropout, dense_dropout):
        ...
        return keras.Model(inputs, outputs, name="my_cnn")

It is called with the shape of one image, e.g. ``(48, 48, 1)``, the number of
classes, and the estimator's dropout rates. Register it with
:func:`register_architecture` to refer to it by name, or pass the function
itself as ``EmotionCNNClassifier(architecture=my_cnn)``. Only ``keras.layers``
and ``keras.ops`` are used, so models run on the TensorFlow, JAX and PyTorch
backends alike.
"""

from numbers import Integral, Real

from ._quiet import import_keras

__all__ = [
    "available_architectures",
    "get_architecture",
    "register_architecture",
    "resnet_cnn",
    "seed_cnn",
    "vgg_cnn",
    "vgg_medium_cnn",
    "vgg_small_cnn",
    "vgg_wide_cnn",
]

_REGISTRY = {}


def _check_args(input_shape, num_classes, conv_dropout, dense_dropout):
    if len(tuple(input_shape)) != 3 or any(int(d) < 1 for d in input_shape):
        raise ValueError(
            f"input_shape must be (height, width, channels) with positive sizes. "
            f"Received: input_shape={input_shape}"
        )
    if int(num_classes) < 2:
        raise ValueError(f"num_classes must be at least 2. Received: num_classes={num_classes}")
    for name, rate in (("conv_dropout", conv_dropout), ("dense_dropout", dense_dropout)):
        if not isinstance(rate, Real) or not 0.0 <= rate < 1.0:
            raise ValueError(f"{name} must be a float in [0, 1). Received: {name}={rate!r}")


def _check_widths(widths, **counts):
    """``widths`` as a tuple of positive ints; each of ``counts`` a positive int."""
    widths = tuple(widths)
    if not widths or any(not isinstance(w, Integral) or w < 1 for w in widths):
        raise ValueError(
            f"widths must be a non-empty sequence of positive integers. Received: widths={widths}"
        )
    for name, value in counts.items():
        if not isinstance(value, Integral) or value < 1:
            raise ValueError(f"{name} must be a positive integer. Received: {name}={value!r}")
    return widths


def seed_cnn(input_shape=(48, 48, 1), num_classes=7, *, conv_dropout=0.25, dense_dropout=0.5):
    """The reference research CNN (62.6% on an 80/20 split of FER2013).

    Two convolution blocks and one dense block with batch normalisation::

        Conv2D(32, 3x3, relu) + BN + MaxPool(2x2) + Dropout      48 -> 46 -> 23
        Conv2D(64, 3x3, relu, same) + BN
        Conv2D(64, 3x3, relu, same) + BN + MaxPool(2x2) + Dropout 23 -> 11
        Flatten (7744) + Dense(128, relu) + BN + Dropout
        Dense(num_classes, softmax)

    For 48x48x1 input and 7 classes it has 1,049,159 parameters, 576 of them
    non-trainable (the batch-norm moving statistics).

    Parameters
    ----------
    input_shape : tuple of int, default=(48, 48, 1)
        Shape of one image, channels last. At least 10x10.
    num_classes : int, default=7
        Number of output classes.
    conv_dropout : float, default=0.25
        Dropout rate after each convolution block.
    dense_dropout : float, default=0.5
        Dropout rate after the dense layer.

    Returns
    -------
    model : keras.Model
        Uncompiled functional model named ``"seed"``.
    """
    keras = import_keras()
    from keras import layers

    _check_args(input_shape, num_classes, conv_dropout, dense_dropout)
    if min(input_shape[:2]) < 10:
        raise ValueError(
            f"The seed architecture needs images of at least 10x10 pixels. "
            f"Received: input_shape={tuple(input_shape)}"
        )
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = layers.Conv2D(32, 3, activation="relu", name="block1_conv")(inputs)
    x = layers.BatchNormalization(name="block1_bn")(x)
    x = layers.MaxPooling2D(2, name="block1_pool")(x)
    x = layers.Dropout(conv_dropout, name="block1_dropout")(x)
    x = layers.Conv2D(64, 3, padding="same", activation="relu", name="block2_conv1")(x)
    x = layers.BatchNormalization(name="block2_bn1")(x)
    x = layers.Conv2D(64, 3, padding="same", activation="relu", name="block2_conv2")(x)
    x = layers.BatchNormalization(name="block2_bn2")(x)
    x = layers.MaxPooling2D(2, name="block2_pool")(x)
    x = layers.Dropout(conv_dropout, name="block2_dropout")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(128, activation="relu", name="dense")(x)
    x = layers.BatchNormalization(name="dense_bn")(x)
    x = layers.Dropout(dense_dropout, name="dense_dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="seed")


def vgg_cnn(
    input_shape=(48, 48, 1),
    num_classes=7,
    *,
    conv_dropout=0.1,
    dense_dropout=0.4,
    widths=(32, 64, 128, 256),
    convs_per_block=2,
    name="vgg",
):
    """A VGG-style CNN with batch normalisation and global average pooling.

    Each block is ``convs_per_block`` times (3x3 convolution without bias +
    batch norm + ReLU), then 2x2 max pooling (except after the last block)
    and dropout. The head is global average pooling, a dense ReLU layer of
    ``2 * widths[-1]`` units, dropout and the softmax layer. For 48x48 input,
    four blocks see 48, 24, 12 and 6 pixel maps.

    The registry holds four sizes of it:

    - ``"vgg_small"``: widths (16, 32, 64, 128), 0.33 M parameters, about 30
      M multiply-adds per face (as cheap as ``"seed"``).
    - ``"vgg_medium"``: widths (16, 32, 96, 192), 0.70 M parameters, about
      47 M multiply-adds per face.
    - ``"vgg"``: widths (32, 64, 128, 256), 1.3 M parameters, about 120 M
      multiply-adds per face.
    - ``"vgg_wide"``: widths (48, 96, 192, 320), 2.3 M parameters, about 250
      M multiply-adds per face.

    Parameters
    ----------
    input_shape : tuple of int, default=(48, 48, 1)
        Shape of one image, channels last. Each side must be at least
        ``2 ** (len(widths) - 1)``.
    num_classes : int, default=7
        Number of output classes.
    conv_dropout : float, default=0.1
        Dropout rate after each block.
    dense_dropout : float, default=0.4
        Dropout rate before the softmax layer.
    widths : tuple of int, default=(32, 64, 128, 256)
        Filters of the convolutions of each block.
    convs_per_block : int, default=2
        Convolutions per block.
    name : str, default="vgg"
        Name of the returned model.

    Returns
    -------
    model : keras.Model
        Uncompiled functional model.
    """
    keras = import_keras()
    from keras import layers

    _check_args(input_shape, num_classes, conv_dropout, dense_dropout)
    widths = _check_widths(widths, convs_per_block=convs_per_block)
    smallest = 2 ** (len(widths) - 1)
    if min(input_shape[:2]) < smallest:
        raise ValueError(
            f"{len(widths)} blocks need images of at least {smallest}x{smallest} pixels. "
            f"Received: input_shape={tuple(input_shape)}"
        )
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = inputs
    for b, width in enumerate(widths, start=1):
        for c in range(1, convs_per_block + 1):
            x = layers.Conv2D(
                width, 3, padding="same", use_bias=False, name=f"block{b}_conv{c}"
            )(x)
            x = layers.BatchNormalization(name=f"block{b}_bn{c}")(x)
            x = layers.ReLU(name=f"block{b}_relu{c}")(x)
        if b < len(widths):
            x = layers.MaxPooling2D(2, name=f"block{b}_pool")(x)
        x = layers.Dropout(conv_dropout, name=f"block{b}_dropout")(x)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = layers.Dense(2 * widths[-1], activation="relu", name="dense")(x)
    x = layers.Dropout(dense_dropout, name="dense_dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)


def vgg_small_cnn(input_shape=(48, 48, 1), num_classes=7, *, conv_dropout=0.1, dense_dropout=0.4):
    """:func:`vgg_cnn` with widths (16, 32, 64, 128): 0.33 M parameters."""
    return vgg_cnn(
        input_shape,
        num_classes,
        conv_dropout=conv_dropout,
        dense_dropout=dense_dropout,
        widths=(16, 32, 64, 128),
        name="vgg_small",
    )


def vgg_medium_cnn(input_shape=(48, 48, 1), num_classes=7, *, conv_dropout=0.1, dense_dropout=0.4):
    """:func:`vgg_cnn` with widths (16, 32, 96, 192): 0.70 M parameters.

    About 47 M multiply-adds per face. The first two blocks, which see the
    large 48x48 and 24x24 maps and cost the most memory traffic on a CPU, stay
    as narrow as ``"vgg_small"``'s; the capacity is added where the maps are
    small. Sized to predict about as fast as ``fer``'s Keras model on a laptop
    CPU (many times faster for one face).
    """
    return vgg_cnn(
        input_shape,
        num_classes,
        conv_dropout=conv_dropout,
        dense_dropout=dense_dropout,
        widths=(16, 32, 96, 192),
        name="vgg_medium",
    )


def vgg_wide_cnn(input_shape=(48, 48, 1), num_classes=7, *, conv_dropout=0.1, dense_dropout=0.4):
    """:func:`vgg_cnn` with widths (48, 96, 192, 320): 2.3 M parameters.

    About 250 M multiply-adds per face, twice ``"vgg"``; the widths are
    multiples of 16 (the AVX-512 vector length in float32) and the last one is
    kept at 320 so that the saved model stays under 10 MB.
    """
    return vgg_cnn(
        input_shape,
        num_classes,
        conv_dropout=conv_dropout,
        dense_dropout=dense_dropout,
        widths=(48, 96, 192, 320),
        name="vgg_wide",
    )


def resnet_cnn(
    input_shape=(48, 48, 1),
    num_classes=7,
    *,
    conv_dropout=0.1,
    dense_dropout=0.4,
    stem_width=32,
    widths=(64, 128, 192),
    blocks_per_stage=2,
    name="resnet",
):
    """A ResNet-style CNN: residual basic blocks, batch norm, global average pooling.

    A 3x3 stem convolution at full resolution, with batch norm and ReLU, is
    followed by 2x2 max pooling (48x48 maps cost a CPU the most memory
    traffic per multiply-add). Then each stage is ``blocks_per_stage`` basic
    blocks: two 3x3 convolutions
    without bias, each with batch norm, the first followed by ReLU, whose sum
    with the block's input goes through a ReLU. The first block of every stage
    but the first halves the map with a stride-2 convolution; where a block
    changes the width or the map size, its shortcut is a (strided) 1x1
    convolution with batch norm. Dropout follows each stage;
    the head is global average pooling, dropout and the softmax layer.

    Registered as ``"resnet"``: stem 32, stages of widths (64, 128, 192) on
    24, 12 and 6 pixel maps, two blocks a stage, 1.9 M parameters and about
    200 M multiply-adds per face, less than ``"vgg_wide"``. Its skip
    connections make it a different kind of network from the VGG family,
    which is what an ensemble member needs.

    Parameters
    ----------
    input_shape : tuple of int, default=(48, 48, 1)
        Shape of one image, channels last. Each side must be at least
        ``2 ** len(widths)``.
    num_classes : int, default=7
        Number of output classes.
    conv_dropout : float, default=0.1
        Dropout rate after each stage.
    dense_dropout : float, default=0.4
        Dropout rate before the softmax layer.
    stem_width : int, default=32
        Filters of the stem convolution.
    widths : tuple of int, default=(64, 128, 192)
        Filters of each stage.
    blocks_per_stage : int, default=2
        Residual blocks per stage.
    name : str, default="resnet"
        Name of the returned model.

    Returns
    -------
    model : keras.Model
        Uncompiled functional model.

    Examples
    --------
    >>> from fer_classifier.architectures import resnet_cnn
    >>> model = resnet_cnn(stem_width=8, widths=(8, 16), blocks_per_stage=1)
    >>> model.output_shape
    (None, 7)
    """
    keras = import_keras()
    from keras import layers

    _check_args(input_shape, num_classes, conv_dropout, dense_dropout)
    widths = _check_widths(widths, stem_width=stem_width, blocks_per_stage=blocks_per_stage)
    smallest = 2 ** len(widths)
    if min(input_shape[:2]) < smallest:
        raise ValueError(
            f"A stem and {len(widths)} stages need images of at least {smallest}x{smallest} pixels. "
            f"Received: input_shape={tuple(input_shape)}"
        )

    def conv_bn(x, width, stride, size, prefix):
        x = layers.Conv2D(width, size, strides=stride, padding="same", use_bias=False,
                          name=f"{prefix}_conv")(x)
        return layers.BatchNormalization(name=f"{prefix}_bn")(x)

    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = layers.ReLU(name="stem_relu")(conv_bn(inputs, stem_width, 1, 3, "stem"))
    x = layers.MaxPooling2D(2, name="stem_pool")(x)
    for s, width in enumerate(widths, start=1):
        for b in range(1, blocks_per_stage + 1):
            prefix = f"stage{s}_block{b}"
            stride = 2 if s > 1 and b == 1 else 1
            shortcut = x
            if stride != 1 or x.shape[-1] != width:
                shortcut = conv_bn(x, width, stride, 1, f"{prefix}_shortcut")
            y = layers.ReLU(name=f"{prefix}_relu1")(conv_bn(x, width, stride, 3, f"{prefix}_1"))
            y = conv_bn(y, width, 1, 3, f"{prefix}_2")
            x = layers.Add(name=f"{prefix}_add")([shortcut, y])
            x = layers.ReLU(name=f"{prefix}_relu2")(x)
        x = layers.Dropout(conv_dropout, name=f"stage{s}_dropout")(x)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = layers.Dropout(dense_dropout, name="dense_dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)


def register_architecture(name, builder, *, overwrite=False):
    """Make an architecture available by name.

    Parameters
    ----------
    name : str
        The name to use as ``EmotionCNNClassifier(architecture=name)``.
    builder : callable
        ``builder(input_shape, num_classes, *, conv_dropout, dense_dropout)``
        returning an uncompiled ``keras.Model``.
    overwrite : bool, default=False
        Replace an existing registration of ``name``.

    Raises
    ------
    ValueError
        If ``name`` is taken and ``overwrite`` is False, or ``builder`` is
        not callable.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string. Received: name={name!r}")
    if not callable(builder):
        raise ValueError(f"builder must be callable. Received: builder={builder!r}")
    if name in _REGISTRY and not overwrite:
        raise ValueError(
            f"An architecture named {name!r} is already registered; pass "
            f"overwrite=True to replace it. Received: name={name!r}"
        )
    _REGISTRY[name] = builder


def available_architectures():
    """Return the registered architecture names, sorted.

    Returns
    -------
    names : list of str
    """
    return sorted(_REGISTRY)


def get_architecture(name):
    """Return the builder registered under ``name``.

    Raises
    ------
    ValueError
        If no architecture has that name; the message lists the known ones.
    """
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"Unknown architecture {name!r}; available: "
            f"{', '.join(available_architectures())}, or pass a callable. "
            f"Received: architecture={name!r}"
        ) from None


register_architecture("seed", seed_cnn)
register_architecture("vgg", vgg_cnn)
register_architecture("vgg_small", vgg_small_cnn)
register_architecture("vgg_medium", vgg_medium_cnn)
register_architecture("vgg_wide", vgg_wide_cnn)
register_architecture("resnet", resnet_cnn)
