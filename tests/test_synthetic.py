import numpy as np
import pytest

from fer_classifier import EMOTIONS, EmotionCNNClassifier, make_synthetic_faces


def test_shapes_balance_and_usage():
    faces = make_synthetic_faces(71, random_state=0)
    assert faces.images.shape == (71, 48, 48) and faces.images.dtype == np.uint8
    assert faces.data.shape == (71, 2304)
    np.testing.assert_array_equal(faces.data, faces.images.reshape(71, -1))
    counts = np.bincount(faces.target, minlength=7)
    assert counts.max() - counts.min() <= 1
    assert faces.target_names == list(EMOTIONS)
    assert set(faces.usage) == {"Training", "PublicTest"}
    assert (faces.usage == "PublicTest").sum() == 14


def test_reproducible_with_random_state():
    a = make_synthetic_faces(20, random_state=3)
    b = make_synthetic_faces(20, random_state=3)
    c = make_synthetic_faces(20, random_state=4)
    np.testing.assert_array_equal(a.images, b.images)
    assert not np.array_equal(a.images, c.images)


def test_expressions_differ_where_the_mouth_is():
    # Happy (3) mouths curve down in the image (a smile), Sad (4) curve up:
    # the mean Happy face is darker below the mouth line than the Sad one.
    faces = make_synthetic_faces(700, random_state=0)
    happy = faces.images[faces.target == 3].astype(float).mean(axis=0)
    sad = faces.images[faces.target == 4].astype(float).mean(axis=0)
    below, above = slice(36, 39), slice(31, 34)
    assert happy[below, 18:30].mean() < sad[below, 18:30].mean()
    assert happy[above, 18:30].mean() > sad[above, 18:30].mean()


def test_other_sizes():
    assert make_synthetic_faces(7, image_size=64, random_state=0).images.shape == (7, 64, 64)


@pytest.mark.parametrize("kwargs", [{"n_samples": 0}, {"n_samples": 2.5}, {"image_size": 16}])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError, match="Received"):
        make_synthetic_faces(**kwargs)


def small_cnn(input_shape, num_classes, *, conv_dropout, dense_dropout):
    import keras
    from keras import layers

    inputs = keras.Input(shape=tuple(input_shape))
    x = layers.Conv2D(8, 3, activation="relu")(inputs)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(16, 3, activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    return keras.Model(inputs, layers.Dense(num_classes, activation="softmax")(x))


def test_a_cnn_learns_them():
    faces = make_synthetic_faces(560, random_state=1)
    train = faces.usage == "Training"
    clf = EmotionCNNClassifier(
        small_cnn, epochs=10, batch_size=16, learning_rate=0.003, conv_dropout=0.0,
        dense_dropout=0.0, validation_fraction=0.0, random_state=0,
    ).fit(faces.images[train], faces.target[train])
    assert clf.score(faces.images[~train], faces.target[~train]) > 0.6  # chance: 1/7
