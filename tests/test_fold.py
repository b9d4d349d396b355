"""The prediction twin of a model: batch norm folded, bfloat16 convolutions."""

import gc
import weakref

import numpy as np
import pytest

from fer_classifier._fold import cpu_has_bf16, prediction_model
from fer_classifier._quiet import import_keras
from fer_classifier.architectures import resnet_cnn, seed_cnn, vgg_cnn

keras = import_keras()

needs_bf16 = pytest.mark.skipif(
    not cpu_has_bf16(),
    reason="bfloat16 convolutions need AVX-512 BF16 or AMX (oneDNN refuses them elsewhere)",
)


def trained_statistics(model, seed=0):
    """Give every batch norm non-trivial statistics and affine weights."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            size = layer.gamma.shape[0]
            layer.gamma.assign(rng.uniform(0.5, 2.0, size))
            layer.beta.assign(rng.normal(0, 0.5, size))
            layer.moving_mean.assign(rng.normal(0, 0.5, size))
            layer.moving_variance.assign(rng.uniform(0.2, 3.0, size))
    return model


@pytest.fixture(scope="module")
def vgg():
    model = vgg_cnn((24, 24, 1), 5, conv_dropout=0.1, dense_dropout=0.1, widths=(8, 16))
    return trained_statistics(model)


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(1).random((12, 24, 24, 1)).astype("float32")


def test_float32_twin_folds_each_batch_norm_and_predicts_the_same(vgg, images):
    twin = prediction_model(vgg)
    assert twin is not vgg
    assert not [l for l in twin.layers if isinstance(l, keras.layers.BatchNormalization)]
    assert sum(isinstance(l, keras.layers.BatchNormalization) for l in vgg.layers) == 4
    expected = vgg(images, training=False).numpy()
    np.testing.assert_allclose(twin(images, training=False).numpy(), expected, atol=1e-5)
    assert prediction_model(vgg) is twin  # cached


def test_twin_follows_the_models_weights(images):
    model = trained_statistics(
        vgg_cnn((24, 24, 1), 5, conv_dropout=0.0, dense_dropout=0.0, widths=(8, 16))
    )
    twin = prediction_model(model)
    before = twin(images, training=False).numpy()
    trained_statistics(model, seed=7)  # as if trained further
    model.get_layer("block1_conv1").kernel.assign(
        model.get_layer("block1_conv1").kernel.numpy() * 1.5
    )
    after = twin(images, training=False).numpy()
    assert np.abs(after - before).max() > 1e-3
    np.testing.assert_allclose(after, model(images, training=False).numpy(), atol=1e-5)


@needs_bf16
def test_bfloat16_twin_is_close_but_not_float32(vgg, images):
    twin = prediction_model(vgg, bfloat16=True)
    assert twin is not prediction_model(vgg)
    expected = vgg(images, training=False).numpy()
    got = twin(images, training=False).numpy()
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=0.05)
    assert np.abs(got - expected).max() > 1e-6  # the products did run in bfloat16
    np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=1e-5)


def test_convolution_with_its_own_activation_is_not_folded(images):
    # seed_cnn's batch norms follow a ReLU: folding them would change the function.
    model = trained_statistics(seed_cnn((24, 24, 1), 3, conv_dropout=0.0, dense_dropout=0.0))
    assert prediction_model(model) is model
    assert prediction_model(model, bfloat16=True) is not model  # convolutions in bfloat16
    bns = prediction_model(model, bfloat16=True).layers
    assert sum(isinstance(l, keras.layers.BatchNormalization) for l in bns) == 4


def test_conv_read_by_two_layers_keeps_its_batch_norm(images):
    inputs = keras.Input((24, 24, 1))
    conv = keras.layers.Conv2D(4, 3, use_bias=False, name="conv")(inputs)
    bn = keras.layers.BatchNormalization(name="bn")(conv)
    merged = keras.layers.Concatenate()([bn, conv])  # the raw conv output is read too
    outputs = keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(merged))
    model = trained_statistics(keras.Model(inputs, outputs))
    assert prediction_model(model) is model
    bns = prediction_model(model, bfloat16=True).layers
    assert sum(isinstance(l, keras.layers.BatchNormalization) for l in bns) == 1


def test_resnet_twin_folds_every_batch_norm_shortcuts_included(images):
    model = trained_statistics(resnet_cnn((24, 24, 1), 3, stem_width=4, widths=(8, 16)))
    twin = prediction_model(model)
    assert sum(isinstance(l, keras.layers.BatchNormalization) for l in model.layers) == 11
    assert not [l for l in twin.layers if isinstance(l, keras.layers.BatchNormalization)]
    np.testing.assert_allclose(
        twin(images, training=False).numpy(), model(images, training=False).numpy(), atol=1e-5
    )


@needs_bf16
@pytest.mark.parametrize("architecture", ["seed", "vgg"])
def test_bfloat16_twin_is_close_for_each_architecture(architecture, images):
    build = seed_cnn if architecture == "seed" else vgg_cnn
    model = trained_statistics(build((24, 24, 1), 3, conv_dropout=0.0, dense_dropout=0.0))
    twin = prediction_model(model, bfloat16=True)
    np.testing.assert_allclose(
        twin(images, training=False).numpy(), model(images, training=False).numpy(), atol=0.05
    )


def test_sequential_models_are_folded(images):
    model = trained_statistics(keras.Sequential([
        keras.Input((24, 24, 1)),
        keras.layers.Conv2D(4, 3, use_bias=True, name="conv"),
        keras.layers.BatchNormalization(name="bn"),
        keras.layers.ReLU(),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(3, activation="softmax"),
    ]))
    twin = prediction_model(model)
    assert [type(l).__name__ for l in twin.layers][:2] == ["_FastConv2D", "_FoldedAway"]
    np.testing.assert_allclose(
        twin(images, training=False).numpy(), model(images, training=False).numpy(), atol=1e-5
    )


def test_nested_models_get_their_own_twins(vgg, images):
    inputs = keras.Input((24, 24, 1))
    average = keras.layers.Average()([vgg(inputs), vgg(inputs)])
    outer = keras.Model(inputs, average)
    twin = prediction_model(outer)
    assert prediction_model(vgg) in twin.layers
    np.testing.assert_allclose(
        twin(images, training=False).numpy(), outer(images, training=False).numpy(), atol=1e-5
    )


def test_models_without_convolutions_are_returned_as_they_are():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    assert prediction_model(model) is model
    assert prediction_model(model, bfloat16=True) is model


def test_the_cache_does_not_keep_models_alive():
    model = trained_statistics(
        vgg_cnn((24, 24, 1), 5, conv_dropout=0.0, dense_dropout=0.0, widths=(8, 16))
    )
    prediction_model(model)
    prediction_model(model, bfloat16=True)
    ref = weakref.ref(model)
    del model
    gc.collect()
    assert ref() is None


def test_cpu_has_bf16_matches_the_cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            flags = next(line for line in f if line.startswith("flags")).split()
    except (OSError, StopIteration):
        pytest.skip("no /proc/cpuinfo flags on this system")
    assert cpu_has_bf16() == ("avx512_bf16" in flags or "amx_bf16" in flags)
