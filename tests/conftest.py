"""Shared fixtures: small synthetic FER2013-like data and a tiny CNN."""

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

REAL_DATA = Path(
    os.environ.get(
        "FER2013_TEST_DATA",
        Path(__file__).resolve().parents[2] / "shared/data/fer2013/fer2013.csv.gz",
    )
)

requires_real_data = pytest.mark.skipif(
    not REAL_DATA.is_file(), reason=f"real FER2013 file not found at {REAL_DATA}"
)


def tiny_cnn(input_shape, num_classes, *, conv_dropout, dense_dropout):
    """A few hundred parameters: fast enough for many fits in the test suite."""
    import keras
    from keras import layers

    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = layers.MaxPooling2D(4, padding="same", name="pool")(inputs)
    x = layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(x)
    x = layers.Dropout(conv_dropout, name="conv_dropout")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(dense_dropout, name="dense_dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="tiny")


def make_faces(n=120, size=48, n_classes=3, seed=0):
    """Images whose class is a bright horizontal band at a class-specific height.

    Returns uint8 images (n, size, size) and integer labels 0..n_classes-1.
    """
    rng = np.random.default_rng(seed)
    y = np.arange(n) % n_classes
    rng.shuffle(y)
    X = rng.integers(0, 80, size=(n, size, size)).astype(np.uint8)
    band = size // n_classes
    for k in range(n_classes):
        X[y == k, k * band : (k + 1) * band, :] += 150
    return X, y


@pytest.fixture
def faces():
    return make_faces()


def pixel_string(img):
    return " ".join(str(int(v)) for v in np.asarray(img).ravel())


def write_fer_csv(path, images, labels, usages, compress=False):
    """Write a Kaggle-format FER2013 CSV (optionally gzipped)."""
    import pandas as pd

    frame = pd.DataFrame(
        {"emotion": labels, "pixels": [pixel_string(im) for im in images], "Usage": usages}
    )
    frame.to_csv(path, index=False, compression="gzip" if compress else None)
    return path


@pytest.fixture
def fer_csv(tmp_path):
    """A 21-row FER2013 CSV: all 7 emotions, Training/PublicTest/PrivateTest."""
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(21, 48, 48), dtype=np.uint8)
    labels = np.arange(21) % 7
    usages = ["Training"] * 14 + ["PublicTest"] * 4 + ["PrivateTest"] * 3
    path = write_fer_csv(tmp_path / "fer2013.csv", images, labels, usages)
    return path, images, labels, np.array(usages)
