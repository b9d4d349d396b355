"""ONNX export (export_onnx) and prediction with onnxruntime (load("model.onnx"))."""

import pickle
import sys

import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from sklearn.base import clone  # noqa: E402

from fer_classifier import EmotionCNNClassifier  # noqa: E402
from fer_classifier import _onnx  # noqa: E402
from fer_classifier.architectures import available_architectures, get_architecture  # noqa: E402
from fer_classifier.estimator import read_model_info  # noqa: E402

from conftest import make_faces, tiny_cnn  # noqa: E402

TOLERANCE = 1e-5  # largest difference allowed between Keras's and onnxruntime's probabilities


def _every_layer_net(input_shape, num_classes, *, conv_dropout=0.1, dense_dropout=0.1):
    """Each layer kind and option the export writes, on odd sizes where padding is uneven."""
    import keras
    from keras import layers

    inner_in = keras.Input(shape=(None, None, 6))
    inner = keras.Model(inner_in, layers.Conv2D(6, 3, padding="same", dilation_rate=2,
                                                activation="relu6", name="dilated")(inner_in),
                        name="nested")
    inputs = keras.Input(shape=input_shape, name="image")
    x = layers.Rescaling(2.0, offset=-1.0, name="rescale")(inputs)
    x = layers.Conv2D(6, 3, strides=2, padding="same", activation="silu", name="c1")(x)
    y = layers.Conv2D(6, 3, padding="same", use_bias=False, name="c2")(x)
    y = layers.BatchNormalization(name="bn", center=False)(y)
    x = layers.Add(name="add")([x, layers.Activation("tanh", name="tanh")(y)])
    x = inner(x)
    z = layers.Conv2D(3, 1, activation="gelu", name="c3")(x)
    x = layers.Multiply(name="mul")([x, layers.Activation("sigmoid", name="gate")(x)])
    x = layers.Concatenate(name="cat")([x, z])
    x = layers.SpatialDropout2D(conv_dropout, name="sdrop")(x)
    x = layers.AveragePooling2D(3, strides=2, padding="same", name="avg")(x)
    x = layers.MaxPooling2D(2, padding="same", name="max")(x)
    x = layers.ReLU(name="relu")(x)
    a = layers.GlobalMaxPooling2D(name="gmax")(x)
    k = layers.Flatten(name="flat_keep")(layers.GlobalAveragePooling2D(keepdims=True)(x))
    b = layers.Flatten(name="flat")(x)
    x = layers.Concatenate(name="cat2")([a, k, b])
    x = layers.Dense(8, activation="elu", name="dense")(x)
    x = layers.BatchNormalization(name="bn1d", scale=False)(x)
    x = layers.Dropout(dense_dropout, name="drop")(x)
    x = layers.Dense(num_classes, name="logits")(x)
    outputs = layers.Softmax(name="softmax")(x)
    return keras.Model(inputs, outputs, name="every_layer")


def _randomise_batchnorm(model, seed=0):
    """Non-trivial moving statistics, so that a wrong normalisation shows."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if type(layer).__name__ == "BatchNormalization":
            n = layer.moving_mean.shape[0]
            layer.moving_mean.assign(rng.normal(0, 0.5, n).astype("float32"))
            layer.moving_variance.assign(rng.uniform(0.5, 2.0, n).astype("float32"))


def _onnx_proba(model, images):
    data = _onnx.keras_to_onnx(model, model.input_shape[1:], {"test": True})
    return _onnx.OnnxNetwork(data, model.count_params()).predict_on_batch(images)


@pytest.mark.parametrize("name", [*available_architectures(), "every_layer", "tiny"])
def test_the_onnx_file_computes_what_keras_computes(name):
    if name == "every_layer":
        model = _every_layer_net((23, 23, 1), 5)
    elif name == "tiny":
        model = tiny_cnn((23, 23, 1), 5, conv_dropout=0.0, dense_dropout=0.0)
    else:
        model = get_architecture(name)((24, 24, 1), 7, conv_dropout=0.1, dense_dropout=0.2)
    _randomise_batchnorm(model)
    images = np.random.default_rng(0).random((6, *model.input_shape[1:]), dtype=np.float32)
    images -= 0.5  # negative values: a zero-padded max pool would differ
    expected = np.asarray(model(images, training=False))
    got = _onnx_proba(model, images)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=TOLERANCE)


@pytest.fixture(scope="module")
def fitted():
    X, y = make_faces(60, size=24)
    labels = np.array(["calm", "glad", "sore"])[y]  # string classes travel in the file
    # float32 predictions: an ONNX file computes in float32 on every CPU.
    return EmotionCNNClassifier(
        tiny_cnn, epochs=2, batch_size=16, validation_fraction=0, random_state=0,
        predict_precision="float32",
    ).fit(X, labels), X


def test_export_and_load_predict_as_the_estimator_does(fitted, tmp_path):
    clf, X = fitted
    path = clf.export_onnx(tmp_path / "model.onnx", metadata={"note": "exported"})
    loaded = EmotionCNNClassifier.load(path)
    assert isinstance(loaded.model_, _onnx.OnnxNetwork)
    params = clf.get_params()
    assert loaded.get_params() == {**params, "architecture": "conftest.tiny_cnn"}
    np.testing.assert_array_equal(loaded.classes_, clf.classes_)
    assert loaded.metadata_ == {"note": "exported"}
    assert loaded.n_features_in_ == clf.n_features_in_
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X), atol=TOLERANCE)
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
    assert loaded.score(X, clf.predict(X)) == 1.0
    # Test-time augmentation and more faces than one batch run through the same file.
    loaded.set_params(tta=True, batch_size=8)
    clf_tta = clone(clf).set_params(tta=True)
    clf_tta.__dict__.update({k: v for k, v in clf.__dict__.items() if k.endswith("_")})
    np.testing.assert_allclose(loaded.predict_proba(X), clf_tta.predict_proba(X),
                               atol=TOLERANCE)
    info = read_model_info(path)
    assert info["classes"] == ["calm", "glad", "sore"]
    assert info["n_parameters"] == clf.model_.count_params()


def test_the_loaded_estimator_pickles_clones_refits_but_does_not_save(fitted, tmp_path):
    clf, X = fitted
    loaded = EmotionCNNClassifier.load(clf.export_onnx(tmp_path / "model.onnx"))
    again = pickle.loads(pickle.dumps(loaded))
    np.testing.assert_array_equal(again.predict_proba(X), loaded.predict_proba(X))
    with pytest.raises(ValueError, match="runs an ONNX file"):
        loaded.save(tmp_path / "model.zip")
    assert not (tmp_path / "model.zip").exists()
    # Re-exported with new metadata: same network, new description.
    second = EmotionCNNClassifier.load(loaded.export_onnx(tmp_path / "b.onnx",
                                                          metadata={"v": 2}))
    assert second.metadata_ == {"v": 2}
    np.testing.assert_array_equal(second.predict_proba(X), loaded.predict_proba(X))
    # A callable architecture is recorded by name: give it back to refit.
    refit = clone(loaded).set_params(architecture=tiny_cnn).fit(*make_faces(30, size=24))
    assert not isinstance(refit.model_, _onnx.OnnxNetwork)


def test_the_pretrained_model_exports_within_tolerance(tmp_path):
    clf = EmotionCNNClassifier.pretrained().set_params(predict_precision="float32")
    loaded = EmotionCNNClassifier.load(clf.export_onnx(tmp_path / "fer2013.onnx"))
    X = np.random.default_rng(0).integers(0, 256, (40, 48, 48), dtype=np.uint8)
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X), atol=TOLERANCE)
    assert loaded.metadata_ == clf.metadata_


def _norm_net(input_shape, num_classes, *, conv_dropout, dense_dropout):
    import keras
    from keras import layers

    inputs = keras.Input(shape=input_shape)
    x = layers.LayerNormalization(name="my_norm")(layers.Flatten()(inputs))
    return keras.Model(inputs, layers.Dense(num_classes, activation="softmax")(x))


def test_export_refuses_what_it_cannot_write_and_writes_nothing(tmp_path):
    X, y = make_faces(30, size=12)
    clf = EmotionCNNClassifier(_norm_net, epochs=1, validation_fraction=0,
                               random_state=0).fit(X, y)
    target = tmp_path / "model.onnx"
    target.write_bytes(b"previous")
    with pytest.raises(ValueError, match=r"'my_norm' \(LayerNormalization\)"):
        clf.export_onnx(target)
    assert target.read_bytes() == b"previous"
    assert list(tmp_path.iterdir()) == [target]


@pytest.mark.parametrize("activation", ["softplus", "hard_sigmoid"])
def test_export_names_an_activation_it_cannot_write_or_writes_it_right(activation):
    import keras
    from keras import layers

    inputs = keras.Input((6, 6, 1))
    x = layers.Dense(4, activation=activation, name="act")(layers.Flatten()(inputs))
    model = keras.Model(inputs, layers.Softmax()(x))
    images = np.random.default_rng(1).random((3, 6, 6, 1), dtype=np.float32)
    if activation == "softplus":
        np.testing.assert_allclose(_onnx_proba(model, images), model.predict(images, verbose=0),
                                   atol=TOLERANCE)
    else:
        with pytest.raises(_onnx.UnsupportedExportError, match="'act'.*'hard_sigmoid'"):
            _onnx_proba(model, images)


def test_unfitted_estimator_cannot_export(tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        EmotionCNNClassifier().export_onnx(tmp_path / "m.onnx")


def test_bad_onnx_files_are_named(tmp_path, fitted):
    with pytest.raises(FileNotFoundError, match="missing.onnx"):
        EmotionCNNClassifier.load(tmp_path / "missing.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not an onnx file")
    with pytest.raises(ValueError, match="junk.onnx is not a valid ONNX file"):
        EmotionCNNClassifier.load(junk)
    # A valid ONNX file that fer-classifier did not write.
    import onnx

    clf, _ = fitted
    proto = onnx.load_from_string(_onnx.keras_to_onnx(clf.model_, clf.image_shape_, {}))
    del proto.metadata_props[:]
    foreign = tmp_path / "foreign.onnx"
    foreign.write_bytes(proto.SerializeToString())
    with pytest.raises(ValueError, match="foreign.onnx is an ONNX file, but not one written"):
        read_model_info(foreign)
    # Our description's key, but not our format; then a format from a newer version.
    data = proto.SerializeToString()
    other = tmp_path / "other.onnx"
    other.write_bytes(_onnx.with_metadata(data, {"format": "something-else"}))
    with pytest.raises(ValueError, match="other.onnx is not a fer-classifier model file"):
        EmotionCNNClassifier.load(other)
    meta = read_model_info(clf.export_onnx(tmp_path / "newer.onnx"))
    (tmp_path / "newer.onnx").write_bytes(
        _onnx.with_metadata(data, {**meta, "format_version": meta["format_version"] + 1}))
    with pytest.raises(ValueError, match="newer.onnx was written by a newer fer-classifier"):
        EmotionCNNClassifier.load(tmp_path / "newer.onnx")


def test_a_missing_runtime_names_the_extra(monkeypatch, fitted, tmp_path):
    clf, _ = fitted
    path = clf.export_onnx(tmp_path / "model.onnx")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ImportError, match=r"fer-classifier\[onnx\]"):
        EmotionCNNClassifier.load(path)
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r"fer-classifier\[onnx\]"):
        clf.export_onnx(tmp_path / "other.onnx")
    assert not (tmp_path / "other.onnx").exists()
