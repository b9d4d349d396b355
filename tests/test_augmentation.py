import numpy as np
import pytest

from fer_classifier.augmentation import AUGMENTATIONS, augmentation_layers


def _apply(layers, x, training):
    for layer in layers:
        x = layer(x, training=training)
    return np.asarray(x)


@pytest.fixture
def images():
    return np.random.default_rng(0).random((16, 48, 48, 1)).astype("float32")


@pytest.mark.parametrize("preset", AUGMENTATIONS)
def test_presets_change_training_images_only(preset, images):
    layers = augmentation_layers(preset, seed=3)
    np.testing.assert_array_equal(_apply(layers, images, training=False), images)
    out = _apply(layers, images, training=True)
    assert out.shape == images.shape
    assert not np.allclose(out, images)
    assert out.min() >= 0.0 and out.max() <= 1.0


def test_flip_preset_only_mirrors(images):
    out = _apply(augmentation_layers("flip", seed=1), images, training=True)
    mirrored = images[:, :, ::-1]
    same = np.all(np.isclose(out, images), axis=(1, 2, 3))
    flipped = np.all(np.isclose(out, mirrored), axis=(1, 2, 3))
    assert np.all(same | flipped) and same.any() and flipped.any()


def test_presets_grow_stronger():
    names = [[l.name for l in augmentation_layers(p)] for p in AUGMENTATIONS]
    assert names[0] == ["aug_flip"]
    assert set(names[0]) < set(names[1]) < set(names[2])
    strong = {l.name: l for l in augmentation_layers("strong")}
    standard = {l.name: l for l in augmentation_layers("standard")}
    assert strong["aug_shift"].height_factor > standard["aug_shift"].height_factor


def test_same_seed_same_changes(images):
    a = _apply(augmentation_layers("standard", seed=5), images, training=True)
    b = _apply(augmentation_layers("standard", seed=5), images, training=True)
    np.testing.assert_array_equal(a, b)


def test_unknown_preset():
    with pytest.raises(ValueError, match="flip, standard, strong or None. Received: augmentation='big'"):
        augmentation_layers("big")
