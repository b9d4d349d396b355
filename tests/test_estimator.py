import pickle
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from conftest import REAL_DATA, make_faces, pixel_string, requires_real_data, tiny_cnn
from sklearn.base import clone, is_classifier
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from fer_classifier import EmotionCNNClassifier, PixelStringTransformer
from fer_classifier._fold import cpu_has_bf16
from fer_classifier.estimator import read_model_info


def tiny(**params):
    base = dict(
        architecture=tiny_cnn, engine="keras", epochs=8, batch_size=16, learning_rate=0.02,
        conv_dropout=0.0, dense_dropout=0.0, validation_fraction=0.0, random_state=0,
        # float32: tests compare with Keras's own float32 outputs; bfloat16 is
        # tested apart (test_predict_precision_...) and by the scikit-learn checks.
        predict_precision="float32",
    )
    base.update(params)
    return EmotionCNNClassifier(**base)


@pytest.fixture(scope="module")
def fitted():
    X, y = make_faces(120)
    return tiny().fit(X, y), X, y


def test_init_stores_parameters_only():
    clf = EmotionCNNClassifier(architecture="does-not-exist", learning_rate=-1)
    assert clf.get_params()["architecture"] == "does-not-exist"
    assert not any(k.endswith("_") for k in vars(clf))
    assert is_classifier(clf)
    with pytest.raises(ValueError, match="learning_rate"):
        clf.fit(*make_faces(10))


def test_defaults_follow_the_research():
    p = EmotionCNNClassifier().get_params()
    assert (p["architecture"], p["optimizer"], p["learning_rate"], p["batch_size"]) == (
        "seed", "adam", 1e-3, 100,
    )
    assert (p["conv_dropout"], p["dense_dropout"]) == (0.25, 0.5)


def test_learns_separable_faces(fitted):
    clf, X, y = fitted
    X_new, y_new = make_faces(60, seed=1)
    assert clf.score(X_new, y_new) >= 0.9
    assert clf.classes_.tolist() == [0, 1, 2]
    assert clf.n_features_in_ == 2304 and clf.image_shape_ == (48, 48, 1)
    assert set(clf.history_) == {"loss", "accuracy"} and clf.n_iter_ == 8
    assert len(clf.history_["loss"]) == 8
    assert clf.history_["loss"][-1] < clf.history_["loss"][0]


def test_all_input_layouts_and_dtypes_agree(fitted):
    clf, X, _ = fitted
    reference = clf.predict_proba(X)
    for variant in (X.reshape(len(X), -1), X[..., None], X.astype(np.float32) / 255.0,
                    X.reshape(len(X), -1).tolist()):
        np.testing.assert_allclose(clf.predict_proba(variant), reference, atol=1e-6)


def test_predict_proba_rows_sum_to_one_and_match_predict(fitted):
    clf, X, _ = fitted
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 3) and proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=1)])


@pytest.mark.parametrize("graph", ["tf_function", "keras_predict"])
def test_more_images_than_one_batch_agree_with_small_batches(fitted, graph, monkeypatch):
    """Above 256 images predict_proba goes in batches (model.predict off TensorFlow)."""
    import fer_classifier.estimator as estimator_module

    clf, X, _ = fitted
    if graph == "keras_predict":  # the path of the other Keras backends
        monkeypatch.setattr(estimator_module, "_tf_forward", lambda *args: None)
    rng = np.random.default_rng(0)
    many = X[rng.integers(0, len(X), 600)]
    whole = clf.predict_proba(many)
    parts = np.concatenate([clf.predict_proba(many[i:i + 50]) for i in range(0, 600, 50)])
    np.testing.assert_allclose(whole, parts, atol=1e-6)
    np.testing.assert_allclose(whole[:len(X)], clf.predict_proba(many[:len(X)]), atol=1e-6)


def test_string_labels_come_back_as_strings():
    X, y = make_faces(90)
    names = np.array(["Angry", "Happy", "Sad"])[y]
    clf = tiny().fit(X, names)
    assert clf.classes_.tolist() == ["Angry", "Happy", "Sad"]
    pred = clf.predict(X)
    assert pred.dtype.kind == "U" and set(pred) <= {"Angry", "Happy", "Sad"}
    assert (pred == names).mean() >= 0.9
    # columns follow classes_: the "Sad" column is highest for "Sad" faces
    proba = clf.predict_proba(X)
    assert proba[names == "Sad"].argmax(axis=1).tolist().count(2) >= 0.9 * (names == "Sad").sum()


def test_labels_not_starting_at_zero():
    X, y = make_faces(90)
    clf = tiny().fit(X, y + 3)  # e.g. only Happy, Sad, Surprise present
    assert clf.classes_.tolist() == [3, 4, 5]
    pred = clf.predict(X)
    assert set(pred) == {3, 4, 5}  # not a model that always answers one class
    assert (pred == y + 3).mean() >= 0.9


def test_same_random_state_same_model_and_global_state_restored():
    X, y = make_faces(60)
    np.random.seed(123)
    expected_next = np.random.rand()
    np.random.seed(123)
    a = tiny(epochs=3, dense_dropout=0.3).fit(X, y).predict_proba(X)
    assert np.random.rand() == expected_next  # fit left the caller's RNG alone
    b = tiny(epochs=3, dense_dropout=0.3).fit(X, y).predict_proba(X)
    c = tiny(epochs=3, dense_dropout=0.3, random_state=1).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_pickle_joblib_clone_and_save_roundtrips(fitted, tmp_path):
    clf, X, _ = fitted
    expected = clf.predict_proba(X)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(clf)).predict_proba(X), expected)
    joblib.dump(clf, tmp_path / "clf.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "clf.joblib").predict_proba(X), expected)
    clf.save(tmp_path / "clf.zip")
    loaded = EmotionCNNClassifier.load(tmp_path / "clf.zip")
    np.testing.assert_array_equal(loaded.predict_proba(X), expected)
    assert loaded.history_ == clf.history_ and loaded.n_iter_ == clf.n_iter_
    assert loaded.classes_.tolist() == clf.classes_.tolist()
    assert loaded.get_params()["architecture"] == "conftest.tiny_cnn"
    # clone gives an unfitted copy with equal parameters that refits identically
    twin = clone(clf)
    assert not hasattr(twin, "model_") and twin.get_params() == clf.get_params()
    np.testing.assert_array_equal(twin.fit(X, fitted[2]).predict_proba(X), expected)


def test_augmentation_layers_sit_in_front_and_survive_saving(tmp_path):
    X, y = make_faces(60)
    clf = tiny(augmentation="standard", epochs=2).fit(X, y)
    names = [layer.name for layer in clf.model_.layers]
    assert names[:2] == ["image", "aug_flip"] and "aug_erase" in names
    assert names[-1] == "tiny" and clf.model_.name == "tiny"  # the network, nested
    # inactive when predicting: the bare network gives the same probabilities
    bare = clf.model_.get_layer("tiny")
    np.testing.assert_allclose(
        clf.predict_proba(X), bare.predict(X[..., None] / 255.0, verbose=0), rtol=1e-5, atol=1e-6
    )
    clf.save(tmp_path / "aug.zip")
    loaded = EmotionCNNClassifier.load(tmp_path / "aug.zip")
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))


def test_augmentation_is_reproducible_and_changes_training():
    X, y = make_faces(60)
    a = tiny(augmentation="standard", epochs=2).fit(X, y).predict_proba(X)
    b = tiny(augmentation="standard", epochs=2).fit(X, y).predict_proba(X)
    plain = tiny(epochs=2).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, plain)


def test_tta_averages_each_face_and_its_mirror(fitted):
    clf, _, _ = fitted
    # noise images: the model is unsure of them, so mirroring changes its answer
    X = np.random.default_rng(0).integers(0, 256, (20, 48, 48), dtype=np.uint8)
    images = X[..., None].astype("float32") / 255.0
    model = clf.model_
    expected = (model.predict(images, verbose=0) + model.predict(images[:, :, ::-1], verbose=0)) / 2
    with_tta = clone(clf).set_params(tta=True)
    with_tta.__dict__.update({k: v for k, v in vars(clf).items() if k.endswith("_")})
    np.testing.assert_allclose(with_tta.predict_proba(X), expected, rtol=1e-5, atol=1e-6)
    assert np.abs(clf.predict_proba(X) - expected).max() > 1e-3
    # a face that is its own mirror image gets the same answer either way
    symmetric = np.concatenate([X[:, :, :24], X[:, :, :24][:, :, ::-1]], axis=2)
    np.testing.assert_allclose(
        with_tta.predict_proba(symmetric), clf.predict_proba(symmetric), rtol=1e-5, atol=1e-6
    )


def test_crops_tta_averages_ten_views_in_any_batch_size(fitted):
    clf, _, _ = fitted
    X = np.random.default_rng(1).integers(0, 256, (30, 48, 48), dtype=np.uint8)
    images = X[..., None].astype("float32") / 255.0
    padded = np.pad(images, ((0, 0), (2, 2), (2, 2), (0, 0)), mode="reflect")
    views = [padded[:, 2 + dy:50 + dy, 2 + dx:50 + dx] for dy, dx in
             ((0, 0), (-2, -2), (-2, 2), (2, -2), (2, 2))]
    views += [v[:, :, ::-1] for v in views]
    expected = np.mean([clf.model_.predict(v, verbose=0) for v in views], axis=0)
    crops = clone(clf).set_params(tta="crops")
    crops.__dict__.update({k: v for k, v in vars(clf).items() if k.endswith("_")})
    # 30 faces (300 views > 256): one view at a time; 3 faces: 30 views in one batch
    np.testing.assert_allclose(crops.predict_proba(X), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(crops.predict_proba(X[:3]), expected[:3], rtol=1e-5, atol=1e-6)
    flip = crops.set_params(tta="flip").predict_proba(X)
    assert np.abs(flip - expected).max() > 1e-3
    np.testing.assert_array_equal(flip, crops.set_params(tta=True).predict_proba(X))


def test_unknown_tta_is_refused_by_fit_and_by_predict(fitted):
    clf, X, y = fitted
    with pytest.raises(ValueError, match="tta"):
        tiny(tta="ten-crop").fit(X, y)
    bad = clone(clf).set_params(tta="ten-crop")  # set_params does not validate
    bad.__dict__.update({k: v for k, v in vars(clf).items() if k.endswith("_")})
    with pytest.raises(ValueError, match="Received: tta='ten-crop'"):
        bad.predict(X)


def test_predict_precision_picks_the_arithmetic_of_predictions(fitted, monkeypatch):
    clf, X, y = fitted

    def fitted_with(**params):  # the fixture's fitted model, other parameters
        other = clone(clf).set_params(**params)  # set_params does not validate
        other.__dict__.update({k: v for k, v in vars(clf).items() if k.endswith("_")})
        return other

    exact = clf.model_(clf._check_predict_X(X), training=False).numpy()
    # Folding batch norms (tiny_cnn has none) leaves float32 predictions exact.
    np.testing.assert_allclose(fitted_with(predict_precision="float32").predict_proba(X),
                               exact, atol=1e-6)
    picked = "bfloat16" if cpu_has_bf16() else "float32"
    np.testing.assert_array_equal(fitted_with(predict_precision="auto").predict_proba(X),
                                  fitted_with(predict_precision=picked).predict_proba(X))
    if cpu_has_bf16():
        bf16 = fitted_with(predict_precision="bfloat16").predict_proba(X)
        np.testing.assert_allclose(bf16, exact, atol=0.05)
        assert (np.abs(bf16 - exact) / exact).max() > 1e-4  # float32 rounding is ~1e-6
    monkeypatch.setattr("fer_classifier.estimator.cpu_has_bf16", lambda: False)
    assert not fitted_with(predict_precision="auto")._predict_bf16()
    with pytest.warns(UserWarning, match="emulated"):
        assert fitted_with(predict_precision="bfloat16")._predict_bf16()
    with pytest.raises(ValueError, match="Received: predict_precision='half'"):
        fitted_with(predict_precision="half").predict(X)


def test_cosine_schedule_warms_up_then_decays_to_zero():
    X, y = make_faces(64)
    clf = tiny(lr_schedule="cosine", learning_rate=0.01, epochs=10, batch_size=16).fit(X, y)
    optimizer = clf.model_.optimizer
    schedule = optimizer._learning_rate
    steps = 10 * 4
    assert int(optimizer.iterations) == steps
    rates = [float(schedule(step)) for step in (0, 4, 5, steps)]
    assert rates[0] == 0.0  # warm-up starts at zero ...
    assert rates[1] == pytest.approx(0.01)  # ... reaches learning_rate after one epoch
    assert 0 < rates[2] < 0.01 and rates[3] == pytest.approx(0.0, abs=1e-9)


def test_weight_decay_reaches_the_optimizer():
    X, y = make_faces(32)
    clf = tiny(optimizer="adamw", weight_decay=0.01, epochs=1).fit(X, y)
    assert clf.model_.optimizer.weight_decay == pytest.approx(0.01)
    assert tiny(optimizer="adamw", epochs=1).fit(X, y).model_.optimizer.weight_decay == (
        pytest.approx(0.004)
    )
    with pytest.raises(ValueError, match="weight_decay"):
        tiny(weight_decay=-1).fit(X, y)
    with pytest.raises(ValueError, match="augmentation"):
        tiny(augmentation="heavy").fit(X, y)
    with pytest.raises(ValueError, match="lr_schedule"):
        tiny(lr_schedule="step").fit(X, y)


def test_save_load_keeps_string_classes_and_class_weight(tmp_path):
    X, y = make_faces(60)
    names = np.array(["a", "b", "c"])[y]
    clf = tiny(epochs=2, class_weight={"a": 2.0}).fit(X, names)
    clf.save(tmp_path / "m.zip")
    loaded = EmotionCNNClassifier.load(tmp_path / "m.zip")
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
    assert loaded.class_weight == {"a": 2.0}


def test_save_is_atomic(fitted, tmp_path, monkeypatch):
    import zipfile

    clf, X, _ = fitted
    target = tmp_path / "model.zip"
    clf.save(target)
    before = target.read_bytes()
    written = []
    real_writestr = zipfile.ZipFile.writestr

    def writestr_then_fail(self, name, data, *args, **kwargs):
        real_writestr(self, name, data, *args, **kwargs)
        written.append(name)
        if name == "model.keras":  # the archive is half written when this fires
            raise KeyboardInterrupt("interrupted while writing")

    monkeypatch.setattr(zipfile.ZipFile, "writestr", writestr_then_fail)
    with pytest.raises(KeyboardInterrupt):
        clf.save(target, metadata={"second": "save"})  # other bytes than the first
    assert written[-2:] == ["metadata.json", "model.keras"]  # it failed inside our write
    assert target.read_bytes() == before  # the old file is intact
    assert [p.name for p in tmp_path.iterdir()] == ["model.zip"]  # no partial file left


def test_save_errors(fitted, tmp_path):
    clf, _, _ = fitted
    with pytest.raises(FileNotFoundError, match="does not exist"):
        clf.save(tmp_path / "missing" / "m.zip")
    with pytest.raises(NotFittedError):
        EmotionCNNClassifier().save(tmp_path / "m.zip")


def test_load_rejects_other_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        EmotionCNNClassifier.load(tmp_path / "none.zip")
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a fer-classifier model file"):
        EmotionCNNClassifier.load(tmp_path / "junk.zip")


def lambda_cnn(input_shape, num_classes, *, conv_dropout, dense_dropout):
    import keras

    inputs = keras.Input(shape=tuple(input_shape))
    x = keras.layers.Lambda(lambda t: t * 2.0)(inputs)
    x = keras.layers.Flatten()(x)
    return keras.Model(inputs, keras.layers.Dense(num_classes, activation="softmax")(x))


def test_loading_keeps_keras_safe_mode_on(tmp_path):
    X, y = make_faces(30, size=12)
    clf = tiny(architecture=lambda_cnn, epochs=1).fit(X, y)
    clf.save(tmp_path / "code.zip")
    with pytest.raises(ValueError, match="safe_mode"):
        EmotionCNNClassifier.load(tmp_path / "code.zip")
    with pytest.raises(ValueError, match="safe_mode"):
        pickle.loads(pickle.dumps(clf))


def test_validation_fraction_records_validation_curves():
    X, y = make_faces(90)
    clf = tiny(epochs=3, validation_fraction=0.2).fit(X, y)
    assert set(clf.history_) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 3 for v in clf.history_.values())


def test_validation_data_is_evaluated_each_epoch():
    X, y = make_faces(90)
    X_val, y_val = make_faces(30, seed=5)
    clf = tiny(epochs=4).fit(X, y, validation_data=(X_val, y_val))
    assert len(clf.history_["val_accuracy"]) == 4
    assert clf.history_["val_accuracy"][-1] == pytest.approx(clf.score(X_val, y_val), abs=1e-6)
    with pytest.raises(ValueError, match="labels not seen in y: \\[7\\]"):
        tiny(epochs=1).fit(X, y, validation_data=(X_val, np.full(30, 7)))
    with pytest.raises(ValueError, match="pair"):
        tiny(epochs=1).fit(X, y, validation_data=X_val)


def test_early_stopping_stops_and_needs_validation():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (90, 48, 48), dtype=np.uint8)
    y = rng.integers(0, 3, 90)  # labels unrelated to images: validation loss cannot improve
    clf = tiny(epochs=40, validation_fraction=0.3, early_stopping=True, n_iter_no_change=2)
    clf.fit(X, y)
    assert clf.n_iter_ < 40
    with pytest.raises(ValueError, match="validation_fraction"):
        tiny(early_stopping=True, validation_fraction=0.0).fit(X, y)


def test_class_weight_shifts_predictions():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (90, 16, 16), dtype=np.uint8)
    y = np.arange(90) % 3
    heavy = tiny(epochs=5, class_weight={2: 50.0}).fit(X, y)
    assert (heavy.predict(X) == 2).mean() > 0.8
    # "balanced" on imbalanced labels (class 2 is 6 of 66 faces) weighs the
    # minority class up (66 / (3 * 6) = 3.7), and so the model finds it far
    # more often on new faces than the same fit without weights.
    faces, labels = make_faces(150, size=24)
    keep = (labels != 2) | (np.cumsum(labels == 2) <= 6)
    X_imb, y_imb = faces[keep][:66], labels[keep][:66]
    assert (y_imb == 2).sum() == 6 and len(y_imb) == 66
    plain = tiny(epochs=3, learning_rate=0.01).fit(X_imb, y_imb)
    balanced = tiny(epochs=3, learning_rate=0.01, class_weight="balanced").fit(X_imb, y_imb)
    assert balanced._class_weights(np.searchsorted(balanced.classes_, y_imb))[2] == (
        pytest.approx(len(y_imb) / (3 * 6))
    )
    X_new, y_new = make_faces(90, size=24, seed=1)
    recall = [((m.predict(X_new) == 2) & (y_new == 2)).sum() / (y_new == 2).sum()
              for m in (plain, balanced)]
    assert recall[1] > recall[0] + 0.3, recall
    with pytest.raises(ValueError, match="class_weight names labels that are not in y"):
        tiny(class_weight={9: 1.0}).fit(X, y)


def test_verbose_prints_one_line_per_epoch(capsys):
    X, y = make_faces(30)
    tiny(epochs=3, verbose=1).fit(X, y)
    lines = [l for l in capsys.readouterr().out.splitlines() if l.startswith("Epoch ")]
    assert [l.split(" - ")[0] for l in lines] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    assert all("loss:" in l and "ETA" in l for l in lines)
    tiny(epochs=1).fit(X, y)
    assert capsys.readouterr().out == ""


def test_bad_training_images():
    with pytest.raises(ValueError, match="2, 3 or 4 dimensions"):
        tiny().fit(np.zeros((10, 2, 2, 2, 2)), np.arange(10) % 2)


def test_flat_rows_that_are_not_square_are_one_row_images():
    X = np.random.default_rng(0).random((10, 50))
    clf = tiny(epochs=1).fit(X, np.arange(10) % 2)
    assert clf.image_shape_ == (1, 50, 1) and clf.n_features_in_ == 50
    with pytest.raises(ValueError, match=r"at least 10x10 pixels. Received: input_shape=\(1, 50, 1\)"):
        EmotionCNNClassifier(epochs=1).fit(X, np.arange(10) % 2)


def test_predict_input_checks(fitted):
    clf, X, _ = fitted
    with pytest.raises(NotFittedError):
        EmotionCNNClassifier().predict(X)
    with pytest.raises(ValueError, match="X has 1024 features, but EmotionCNNClassifier is expecting 2304"):
        clf.predict(np.zeros((2, 32, 32)))
    with pytest.raises(ValueError, match="images of shape"):
        clf.predict(np.zeros((2, 24, 96)))
    with pytest.raises(ValueError, match="NaN"):
        clf.predict(np.full((2, 2304), np.nan))


def test_one_class_and_bad_architecture_errors():
    X, y = make_faces(20)
    with pytest.raises(ValueError, match="at least 2 classes"):
        tiny().fit(X, np.zeros(20, dtype=int))
    with pytest.raises(ValueError, match="Unknown architecture 'resnet9000'"):
        tiny(architecture="resnet9000").fit(X, y)
    with pytest.raises(TypeError, match="not a keras.Model"):
        tiny(architecture=lambda *a, **k: "a string").fit(X, y)


def test_trains_the_seed_architecture_by_name():
    X, y = make_faces(40)
    clf = EmotionCNNClassifier(epochs=1, batch_size=20, validation_fraction=0, random_state=0)
    clf.fit(X, y)
    assert clf.model_.name == "seed" and clf.model_.count_params() == 1_048_643
    assert clf.predict_proba(X).shape == (40, 3)


# ------------------------------------------------------------ scikit-learn
def test_pipeline_from_pixel_strings():
    X, y = make_faces(90)
    strings = pd.Series([pixel_string(im) for im in X], name="pixels")
    pipe = make_pipeline(PixelStringTransformer(), tiny())
    pipe.fit(strings, y)
    X_new, y_new = make_faces(30, seed=3)
    assert pipe.score([pixel_string(im) for im in X_new], y_new) >= 0.9
    # validation data routed to the classifier step as images
    pipe.fit(strings, y, emotioncnnclassifier__validation_data=(X_new, y_new))
    assert len(pipe[-1].history_["val_accuracy"]) == 8


GRID = {"conv_dropout": [0.0, 0.25], "dense_dropout": [0.0, 0.5], "learning_rate": [0.003, 0.02]}


@pytest.fixture(scope="module")
def grid_search_single():
    X, y = make_faces(60)
    search = GridSearchCV(tiny(epochs=4), GRID, cv=2, n_jobs=1).fit(X, y)
    return search, X, y


def test_grid_search_over_dropout_and_learning_rate(grid_search_single):
    search, X, y = grid_search_single
    assert len(search.cv_results_["params"]) == 8
    assert set(search.best_params_) == set(GRID)
    assert search.best_score_ >= 0.6
    # refit on all data with the best parameters
    assert search.best_estimator_.learning_rate == search.best_params_["learning_rate"]
    assert search.score(X, y) >= 0.6
    # a classifier, so cv=2 means stratified folds: every test fold holds each
    # class in the proportion of y
    assert is_classifier(search.estimator)
    from sklearn.model_selection import check_cv

    folds = check_cv(search.cv, y, classifier=is_classifier(search.estimator))
    assert isinstance(folds, StratifiedKFold)
    for _, test in folds.split(X, y):
        np.testing.assert_array_equal(np.bincount(y[test]), np.bincount(y) // 2)


@pytest.mark.slow  # two worker processes, each importing TensorFlow
def test_grid_search_in_two_processes_gives_the_same_scores(grid_search_single):
    single, X, y = grid_search_single
    double = GridSearchCV(tiny(epochs=4), GRID, cv=2, n_jobs=2).fit(X, y)
    # Worker processes may run TensorFlow with another thread count than this
    # one, which changes float sums in their last bits and can move a face that
    # sits on a tie: the promise is every score to one face per test fold.
    one_face = 1 / (len(y) // 2)
    np.testing.assert_allclose(
        double.cv_results_["mean_test_score"], single.cv_results_["mean_test_score"],
        atol=one_face + 1e-12,
    )
    assert abs(double.best_score_ - single.best_score_) <= one_face + 1e-12


def test_cross_val_score():
    X, y = make_faces(90)
    scores = cross_val_score(tiny(), X, y, cv=StratifiedKFold(3))
    assert scores.shape == (3,)
    assert scores.min() >= 0.8


# scikit-learn's common checks, on a tiny network. Checks that cannot apply to
# a CNN on images are listed with the reason; everything else must pass.
EXPECTED_FAILED = {
    "check_classifiers_train": (
        "asks for 83% training accuracy on 3 random-looking features in a few "
        "epochs; a CNN needs images (exercised instead by test_learns_separable_faces)"
    ),
}


def _expected_failed(estimator):
    return EXPECTED_FAILED


@parametrize_with_checks(
    [tiny(epochs=10, batch_size=32, learning_rate=0.05, predict_precision="auto")],
    expected_failed_checks=_expected_failed,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


# ------------------------------------------------------------ other backends
_BACKEND_SCRIPT = r"""
import sys
import numpy as np
import keras
from conftest import make_faces, tiny_cnn
from fer_classifier import EmotionCNNClassifier
from fer_classifier.architectures import seed_cnn

assert keras.backend.backend() == sys.argv[1], keras.backend.backend()
assert seed_cnn().count_params() == 1_049_159
X, y = make_faces(90)
clf = EmotionCNNClassifier(
    tiny_cnn, engine="keras", epochs=8, batch_size=16, learning_rate=0.02, conv_dropout=0.0,
    dense_dropout=0.0, validation_fraction=0.0, random_state=0,
).fit(X, y)
assert clf.score(*make_faces(60, seed=1)) >= 0.9
clf.save(sys.argv[2])
np.save(sys.argv[3], clf.predict_proba(X))
"""


@pytest.mark.slow  # a new process per backend
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_other_keras_backend_trains_and_its_file_loads_here(backend, tmp_path):
    import importlib.util
    import os
    import subprocess
    import sys
    from pathlib import Path

    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    script = tmp_path / "train.py"
    script.write_text(_BACKEND_SCRIPT)
    env = dict(os.environ, KERAS_BACKEND=backend, PYTHONPATH=str(Path(__file__).parent))
    model, proba = tmp_path / "m.zip", tmp_path / "proba.npy"
    result = subprocess.run(
        [sys.executable, str(script), backend, str(model), str(proba)],
        env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # the file written under that backend predicts the same here (TensorFlow)
    loaded = EmotionCNNClassifier.load(model)
    X, _ = make_faces(90)
    np.testing.assert_allclose(loaded.predict_proba(X), np.load(proba), atol=1e-5)


# ------------------------------------------------------------ ensembles
@pytest.fixture(scope="module")
def two_members(fitted):
    a, X, y = fitted
    b = tiny(random_state=1, epochs=2).fit(X, y)
    a.metadata_, b.metadata_ = {"name": "a"}, {"name": "b"}
    # noise, on which the two networks are unsure and disagree
    noise = np.random.default_rng(0).integers(0, 256, (40, 48, 48)).astype(np.uint8)
    return a, b, noise


def test_ensemble_averages_its_members(two_members, tmp_path):
    a, b, X = two_members
    pa, pb = a.predict_proba(X), b.predict_proba(X)
    assert not np.allclose(pa, pb, atol=1e-3)  # two different networks
    both = EmotionCNNClassifier.ensemble([a, b])
    np.testing.assert_allclose(both.predict_proba(X), (pa + pb) / 2, atol=1e-5)
    weighted = EmotionCNNClassifier.ensemble([a, b], weights=[3, 1])
    np.testing.assert_allclose(weighted.predict_proba(X), 0.75 * pa + 0.25 * pb, atol=1e-5)
    assert weighted.metadata_ == {"members": [{"name": "a"}, {"name": "b"}],
                                  "weights": [0.75, 0.25]}
    assert both.get_params() == a.get_params() and both.classes_.tolist() == [0, 1, 2]
    assert both.history_ == {} and both.n_iter_ == 0
    assert both.model_.count_params() == a.model_.count_params() + b.model_.count_params()
    # the members are copied, not shared: they predict as before
    assert not set(map(id, both.model_.weights)) & set(map(id, a.model_.weights))
    np.testing.assert_array_equal(a.predict_proba(X), pa)
    # one file (loaded in safe mode), a pickle, and TTA, as for any model
    loaded = EmotionCNNClassifier.load(both.save(tmp_path / "both.zip"))
    np.testing.assert_allclose(loaded.predict_proba(X), both.predict_proba(X), atol=1e-6)
    assert loaded.metadata_["weights"] == [0.5, 0.5]
    unpickled = pickle.loads(pickle.dumps(both))
    np.testing.assert_allclose(unpickled.predict_proba(X), both.predict_proba(X), atol=1e-6)
    flipped = X.reshape(-1, 48, 48)[:, :, ::-1]
    tta = clone(both).set_params(tta=True)
    tta.__dict__.update({k: v for k, v in vars(both).items() if k.endswith("_")})
    np.testing.assert_allclose(
        tta.predict_proba(X),
        (a.predict_proba(X) + a.predict_proba(flipped) + pb + b.predict_proba(flipped)) / 4,
        atol=1e-5)


def test_ensemble_exports_to_onnx(two_members, tmp_path):
    pytest.importorskip("onnxruntime")
    a, b, X = two_members
    both = EmotionCNNClassifier.ensemble([a, b], weights=[1, 2])
    onnx = EmotionCNNClassifier.load(both.export_onnx(tmp_path / "both.onnx"))
    np.testing.assert_allclose(onnx.predict_proba(X), both.predict_proba(X), atol=1e-5)


def test_ensemble_refuses_what_it_cannot_combine(two_members, tmp_path):
    a, b, X = two_members
    with pytest.raises(ValueError, match="at least two fitted estimators. Received: 1"):
        EmotionCNNClassifier.ensemble([a])
    with pytest.raises(NotFittedError):
        EmotionCNNClassifier.ensemble([a, tiny()])
    with pytest.raises(TypeError, match=r"estimators\[1\] of type LogisticRegression"):
        from sklearn.linear_model import LogisticRegression

        EmotionCNNClassifier.ensemble([a, LogisticRegression()])
    X, y = make_faces(30)
    other = tiny(epochs=1).fit(X, np.where(y == 2, 5, y))
    with pytest.raises(ValueError, match=r"same classes: estimators\[0\] has \[0, 1, 2\], "
                                         r"estimators\[1\] has \[0, 1, 5\]"):
        EmotionCNNClassifier.ensemble([a, other])
    small = tiny(epochs=1).fit(make_faces(30, size=24)[0], y)
    with pytest.raises(ValueError, match=r"same image shape.*\(24, 24, 1\)"):
        EmotionCNNClassifier.ensemble([a, small])
    for weights in ([1], [1, -1], [0, 0], [1, float("nan")]):
        with pytest.raises(ValueError, match="weights must be 2 non-negative numbers"):
            EmotionCNNClassifier.ensemble([a, b], weights=weights)
    pytest.importorskip("onnxruntime")
    onnx = EmotionCNNClassifier.load(a.export_onnx(tmp_path / "a.onnx"))
    with pytest.raises(ValueError, match=r"estimators\[1\] runs an ONNX file"):
        EmotionCNNClassifier.ensemble([a, onnx])


def test_pretrained_combines_a_bundled_ensembles_members(two_members, tmp_path,
                                                         monkeypatch):
    # A bundled ensemble is a .json naming member files in the package folder.
    import json
    from importlib import resources

    from fer_classifier import estimator

    a, b, X = two_members
    a.save(tmp_path / "m0.zip")
    b.save(tmp_path / "m1.zip")
    (tmp_path / "pair.json").write_text(json.dumps(
        {"members": ["m0", "m1"], "weights": [3, 1], "metadata": {"publictest_accuracy": 0.5}}))

    class Package:
        def __truediv__(self, part):
            return tmp_path  # stands for the package's "pretrained" folder

    monkeypatch.setattr(resources, "files", lambda package: Package())
    monkeypatch.setattr(estimator, "_PRETRAINED", ("pair",))
    monkeypatch.setattr(estimator, "_PRETRAINED_ENSEMBLES", ("pair",))
    clf = EmotionCNNClassifier.pretrained("pair", tta=True)
    assert clf.tta and clf.metadata_["publictest_accuracy"] == 0.5
    assert clf.metadata_["members"] == [{"name": "a"}, {"name": "b"}]
    assert clf.metadata_["weights"] == [0.75, 0.25]
    np.testing.assert_allclose(clf.set_params(tta=False).predict_proba(X),
                               0.75 * a.predict_proba(X) + 0.25 * b.predict_proba(X), atol=1e-5)
    (tmp_path / "m1.zip").unlink()
    with pytest.raises(FileNotFoundError, match=r"m1.zip is missing.*--model pair --install"):
        EmotionCNNClassifier.pretrained("pair")


# ------------------------------------------------------------ pretrained model
@pytest.mark.parametrize("name, architecture", [("fer2013", "vgg_medium"),
                                                ("fer2013-small", "vgg_small"),
                                                ("fer2013-large", "vgg"),
                                                ("fer2013-wide", "vgg_wide")])
def test_pretrained_model_is_fitted_described_and_small(name, architecture):
    from importlib import resources

    from fer_classifier import EMOTIONS
    from fer_classifier.samples import load_sample_faces

    clf = EmotionCNNClassifier.pretrained(name)
    assert clf.classes_.tolist() == list(range(7)) and clf.image_shape_ == (48, 48, 1)
    assert clf.architecture == architecture and not clf.tta
    assert not clf.warm_start  # its fit trains a new network unless asked to fine-tune
    assert EmotionCNNClassifier.pretrained(name, tta=True).tta
    meta = clf.metadata_
    assert meta["trained_on"].startswith("FER2013 Training split (28709 faces")
    assert meta["recipe"]["random_state"] == 0 and "train_pretrained.py" in meta["command"]
    assert set(meta["publictest_recall"]) == set(EMOTIONS)
    # the figure without a suffix is the model as pretrained() returns it (no TTA)
    assert 0.60 < meta["publictest_accuracy"] < meta["publictest_accuracy_tta"] < 1.0
    assert len(clf.history_["val_accuracy"]) == clf.n_iter_ == meta["epochs_run"]
    path = resources.files("fer_classifier") / "pretrained" / f"{name}.zip"
    assert path.stat().st_size < 10_000_000  # no optimizer state in the shipped file

    faces = load_sample_faces()
    proba = clf.predict_proba(faces.images)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    # all input layouts agree; the smiling astronaut is Happy
    np.testing.assert_allclose(clf.predict_proba(faces.data), proba, rtol=1e-6)
    np.testing.assert_allclose(
        clf.predict_proba(faces.images[..., None] / 255.0), proba, rtol=1e-5, atol=1e-7
    )
    assert EMOTIONS[clf.predict(faces.images)[0]] == "Happy"
    # an unfitted clone keeps the recipe, for refitting on other data
    assert clone(clf).get_params() == clf.get_params() and not hasattr(clone(clf), "model_")


def test_each_bundled_network_was_trained_with_the_recipe_train_pretrained_holds():
    # train_pretrained.py --model NAME must reproduce the shipped file: its
    # MODELS entry is the recipe in the file's metadata, teacher included
    import importlib.util
    import sys
    from importlib import resources

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "train_pretrained.py"
    if not script.is_file():
        pytest.skip("run from a source checkout")
    sys.path.insert(0, str(script.parent))
    try:
        spec = importlib.util.spec_from_file_location("train_pretrained", script)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(script.parent))
    folder = resources.files("fer_classifier") / "pretrained"
    checked = []
    for name, recipe in module.MODELS.items():
        if "members" in recipe or not (folder / f"{name}.zip").is_file():
            continue
        meta = EmotionCNNClassifier.load(folder / f"{name}.zip").metadata_
        recipe = dict(recipe)
        teacher = recipe.pop("teacher", None)
        weight = recipe.pop("teacher_weight", None)
        views = recipe.pop("teacher_views", None)
        start_from = recipe.pop("start_from", None)
        recipe.setdefault("random_state", 0)
        assert meta["recipe"] == recipe, name
        # a second stage names the recipe whose weights it continued
        assert (meta.get("fine_tuned_from") or "").startswith(start_from or ""), name
        assert ("fine_tuned_from" in meta) == (start_from is not None), name
        assert (teacher is None) == ("distilled_from" not in meta), name
        if teacher:
            # a teacher named member by member stays the one it was when the
            # bundled ensemble grows
            assert meta["distilled_from"].startswith(
                module.teacher_description(teacher, on_batches=bool(views)))
            assert f"{1 - weight:g} x own label + {weight:g} x teacher" in meta["distilled_from"]
            assert (f"({views} augmented views of each" in meta["distilled_from"]) == bool(views)
        checked.append(name)
    assert {"fer2013", "fer2013-small", "fer2013-large", "fer2013-wide"} <= set(checked)
    default = EmotionCNNClassifier.pretrained().metadata_
    assert default["distilled_from"].startswith(
        "the mean of fer2013-large + fer2013-large-seed1 + fer2013-large-seed2 ")
    assert default["fine_tuned_from"].startswith("fer2013-stage2 ")


def test_pretrained_unknown_name():
    with pytest.raises(ValueError, match="available: fer2013, fer2013-small, fer2013-large, "
                                         "fer2013-wide, ensemble. "
                                         "Received: name=.kdef."):
        EmotionCNNClassifier.pretrained("kdef")


def test_pretrained_ensemble_averages_three_vgg_networks_and_the_wide_one():
    from importlib import resources

    from fer_classifier.samples import load_sample_faces

    clf = EmotionCNNClassifier.pretrained("ensemble")
    large = EmotionCNNClassifier.pretrained("fer2013-large")
    meta = clf.metadata_
    # three vgg networks from different seeds and a vgg_wide, each with its own
    # recipe and figures
    names = ["fer2013-large", "fer2013-large-seed1", "fer2013-large-seed2", "fer2013-wide"]
    wide = EmotionCNNClassifier.pretrained("fer2013-wide")
    assert [m["model"] for m in meta["members"]] == names
    assert [m["recipe"]["architecture"] for m in meta["members"]] == ["vgg"] * 3 + ["vgg_wide"]
    assert [m["recipe"]["random_state"] for m in meta["members"]] == [0, 1, 2, 0]
    assert meta["members"][0] == large.metadata_ and meta["members"][3] == wide.metadata_
    assert meta["weights"] == pytest.approx([1 / 4] * 4)
    assert clf.model_.count_params() == (3 * large.model_.count_params()
                                         + wide.model_.count_params())
    assert clf.history_ == {} and not clf.tta
    assert EmotionCNNClassifier.pretrained("ensemble", tta=True).tta
    # shipped because it measured more accurate than any member
    best_member = max(max(m["publictest_accuracy"], m["publictest_accuracy_tta"])
                      for m in meta["members"])
    assert meta["publictest_accuracy"] > best_member
    folder = resources.files("fer_classifier") / "pretrained"
    seeds = [EmotionCNNClassifier.load(folder / f"{name}.zip") for name in names[1:3]]
    assert all((folder / f"{name}.zip").stat().st_size < 10_000_000 for name in names)
    faces = load_sample_faces().images
    np.testing.assert_allclose(
        clf.predict_proba(faces),
        sum(m.predict_proba(faces) for m in [large, *seeds, wide]) / 4, atol=1e-5)


@requires_real_data
@pytest.mark.parametrize("name", ["fer2013", "fer2013-small", "fer2013-large", "fer2013-wide",
                                  "ensemble"])
def test_pretrained_reproduces_its_publictest_figures(name):
    from fer_classifier import load_fer2013

    clf = EmotionCNNClassifier.pretrained(name)
    test = load_fer2013(REAL_DATA, subset="PublicTest")
    # the figures were measured in float32, the same on every CPU
    auto = clf.score(test.images, test.target)
    clf.set_params(predict_precision="float32")
    assert clf.score(test.images, test.target) == pytest.approx(
        clf.metadata_["publictest_accuracy"], abs=1e-3
    )
    tta = clf.set_params(tta=True).score(test.images, test.target)
    assert tta == pytest.approx(clf.metadata_["publictest_accuracy_tta"], abs=1e-3)
    # bfloat16 predictions, where the CPU has the units, change a few faces
    assert auto == pytest.approx(clf.metadata_["publictest_accuracy"], abs=5e-3)


# ------------------------------------------------------- small experiments
@pytest.mark.parametrize("engine", ["keras", "auto"])
def test_a_short_fit_on_few_faces_beats_the_majority_class(engine):
    # A few epochs on a few hundred faces, as before a long run: the batch-norm
    # statistics are re-estimated at the end of fit, so the default network
    # predicts from what it learned instead of from its initial statistics.
    from fer_classifier import make_synthetic_faces

    faces = make_synthetic_faces(490, random_state=0)
    train = faces.usage == "Training"
    clf = EmotionCNNClassifier(epochs=3, engine=engine, random_state=0)
    clf.fit(faces.images[train], faces.target[train])
    majority = np.bincount(faces.target[~train]).max() / (~train).sum()
    assert clf.score(faces.images[~train], faces.target[~train]) > majority + 0.15


@requires_real_data
def test_a_short_fit_on_a_fer2013_subset_beats_the_majority_class():
    from fer_classifier import load_fer2013

    X, y = load_fer2013(REAL_DATA, subset="Training", return_X_y=True)
    test = load_fer2013(REAL_DATA, subset="PublicTest")
    clf = EmotionCNNClassifier(epochs=5, random_state=0).fit(X[:2000], y[:2000])
    majority = np.bincount(test.target).max() / len(test.target)
    assert clf.score(test.images[:1000], test.target[:1000]) > majority + 0.03


def test_each_bundled_model_gives_its_pinned_probabilities():
    # Data-free: the shipped weights themselves are checked, not their metadata.
    # Regenerate with `python benchmarks/pin_pretrained.py` when weights change.
    import json
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    pins = json.loads((root / "tests" / "data" / "pretrained_pins.json").read_text())
    sys.path.insert(0, str(root / "benchmarks"))
    try:
        from pin_pretrained import pinned_faces, weights_sha256
    finally:
        sys.path.remove(str(root / "benchmarks"))
    from fer_classifier.estimator import _PRETRAINED

    assert sorted(pins) == sorted(_PRETRAINED)
    faces = pinned_faces()
    for name, pin in pins.items():
        assert weights_sha256(name) == pin["sha256"], (
            f"the files of {name} changed: run python benchmarks/pin_pretrained.py"
        )
        clf = EmotionCNNClassifier.pretrained(name).set_params(predict_precision="float32")
        np.testing.assert_allclose(
            clf.predict_proba(faces), pin["proba"], atol=2e-5, err_msg=name
        )
        if cpu_has_bf16():  # bfloat16 products: close, same emotions on these faces
            bf16 = clf.set_params(predict_precision="bfloat16").predict_proba(faces)
            np.testing.assert_allclose(bf16, pin["proba"], atol=0.03, err_msg=name)
            assert (bf16.argmax(1) == np.argmax(pin["proba"], axis=1)).all(), name


# ------------------------------------------------------------- bad input
@pytest.fixture(scope="module")
def small_fitted():
    X, y = make_faces(40, size=12)
    return tiny(epochs=1).fit(X, y)


@pytest.mark.parametrize("X", [["1 2 3"], np.array(["1 2 3"]), pd.Series(["1 2 3"]),
                               pd.DataFrame({"pixels": ["1 2 3"]})])
def test_pixel_strings_point_to_the_transformer(small_fitted, X):
    message = ("X holds text ('1 2 3'...), not images. For FER2013 pixel strings use "
               "PixelStringTransformer")
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        small_fitted.predict(X)
    with pytest.raises(ValueError, match="make_pipeline\\(PixelStringTransformer\\(\\)"):
        tiny().fit(X, [0])


def test_nan_pixels_are_named(small_fitted):
    X = np.zeros((3, 12, 12))
    X[2, 5, 5] = np.nan
    message = (r"X has NaN or infinite pixels in 1 image\(s\) \(first: index 2\); images "
               r"must be complete: uint8 0-255 or floats in \[0, 1\].")
    with pytest.raises(ValueError, match=message):
        small_fitted.predict_proba(X)
    with pytest.raises(ValueError, match=message):
        tiny().fit(X, [0, 1, 0])


def test_float_images_in_0_255_warn_with_the_fix(small_fitted):
    X = np.full((2, 12, 12), 200.0)
    with pytest.warns(UserWarning, match=r"X is float with values up to 200: .* pass X / 255 "
                                         r"or X.astype\('uint8'\)") as record:
        small_fitted.predict(X)
    assert record[0].filename == __file__  # points at the caller's line
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        small_fitted.predict(X / 255.0)  # [0, 1] floats: no warning
        small_fitted.predict(X - 300.0)  # centred data (negative values): none either


# ------------------------------------------------------------- file format
def _rewrite_metadata(src, dst, **changes):
    import json
    import zipfile

    with zipfile.ZipFile(src) as archive:
        meta = json.loads(archive.read("metadata.json"))
        model = archive.read("model.keras")
    meta.update(changes)
    with zipfile.ZipFile(dst, "w") as archive:
        archive.writestr("metadata.json", json.dumps(meta))
        archive.writestr("model.keras", model)
    return dst


def test_files_of_a_newer_or_other_format_are_refused(fitted, tmp_path):
    clf, _, _ = fitted
    clf.save(tmp_path / "m.zip")
    newer = _rewrite_metadata(tmp_path / "m.zip", tmp_path / "newer.zip", format_version=99,
                              fer_classifier_version="9.0")
    with pytest.raises(ValueError, match=r"newer.zip was written by a newer fer-classifier "
                                         r"\(9.0\); upgrade to read it."):
        EmotionCNNClassifier.load(newer)
    other = _rewrite_metadata(tmp_path / "m.zip", tmp_path / "other.zip", format="something")
    with pytest.raises(ValueError, match="other.zip is not a fer-classifier model file."):
        EmotionCNNClassifier.load(other)


def test_feature_names_survive_save_and_load(tmp_path):
    X, y = make_faces(40, size=8)
    frame = pd.DataFrame(X.reshape(40, -1), columns=[f"p{i}" for i in range(64)])
    clf = tiny(epochs=1).fit(frame, y)
    clf.save(tmp_path / "m.zip")
    loaded = EmotionCNNClassifier.load(tmp_path / "m.zip")
    assert loaded.feature_names_in_.tolist() == [f"p{i}" for i in range(64)]
    with pytest.raises(ValueError, match="feature names"):
        loaded.predict(frame.rename(columns={"p0": "other"}))


def test_a_random_state_instance_survives_save_and_load(tmp_path):
    X, y = make_faces(40, size=8)
    clf = tiny(epochs=1, random_state=np.random.RandomState(5)).fit(X, y)
    clf.save(tmp_path / "m.zip")
    loaded = EmotionCNNClassifier.load(tmp_path / "m.zip")
    assert isinstance(loaded.random_state, np.random.RandomState)
    # the same stream, from where the fitted estimator's stream stands
    np.testing.assert_array_equal(loaded.random_state.randint(1000, size=20),
                                  clf.random_state.randint(1000, size=20))
    info = read_model_info(tmp_path / "m.zip")
    assert info["params"]["random_state"]["RandomState"][0] == "MT19937"


@pytest.mark.parametrize("engine", ["keras", "torch"])
@pytest.mark.parametrize("optimizer", ["adam", "adamw", "nadam", "rmsprop", "sgd",
                                       "sgd_nesterov"])
def test_every_optimizer_trains(optimizer, engine):
    if engine == "torch":
        pytest.importorskip("torch")
    X, y = make_faces(60, size=16)
    clf = EmotionCNNClassifier("vgg_small", optimizer=optimizer, engine=engine, epochs=2,
                               batch_size=16, learning_rate=0.05 if optimizer == "sgd" else 0.005,
                               validation_fraction=0, random_state=0).fit(X, y)
    assert clf.engine_ == engine
    losses = clf.history_["loss"]
    assert np.isfinite(losses).all() and losses[-1] < losses[0]


@pytest.mark.parametrize("engine", ["keras", "torch"])
def test_label_smoothing_reaches_the_loss(engine):
    if engine == "torch":
        pytest.importorskip("torch")
    X, y = make_faces(60, size=16)
    params = dict(architecture="vgg_small", engine=engine, epochs=3, batch_size=16,
                  learning_rate=0.01, validation_fraction=0, random_state=0)
    sharp = EmotionCNNClassifier(**params).fit(X, y)
    smooth = EmotionCNNClassifier(label_smoothing=0.3, **params).fit(X, y)
    # smoothed targets keep the loss up and the probabilities away from 0 and 1
    assert smooth.history_["loss"][-1] > sharp.history_["loss"][-1]
    assert smooth.predict_proba(X).max() < sharp.predict_proba(X).max()


# ------------------------------------------------------------ target_proba
@pytest.mark.parametrize("engine", ["keras", "torch"])
def test_target_proba_is_what_the_network_learns(engine):
    # The soft targets name the *next* class of each face: a model that learned
    # from target_proba predicts them, one that learned from y would not.
    pytest.importorskip("torch") if engine == "torch" else None
    X, y = make_faces(120)
    shifted = (y + 1) % 3
    P = np.eye(3)[shifted] * 0.9 + 0.1 / 3
    clf = tiny(engine=engine).fit(X, y, target_proba=P)
    X_new, y_new = make_faces(60, seed=1)
    assert np.mean(clf.predict(X_new) == (y_new + 1) % 3) >= 0.9
    assert clf.classes_.tolist() == [0, 1, 2]
    assert clf.score(X_new, y_new) <= 0.1  # score still uses the hard labels


def test_target_proba_routes_through_pipeline_and_grid_search():
    X, y = make_faces(90)
    P = np.eye(3)[(y + 1) % 3]
    pipe = make_pipeline(tiny(epochs=6))
    pipe.fit(X, y, emotioncnnclassifier__target_proba=P)
    assert np.mean(pipe.predict(X) == (y + 1) % 3) >= 0.9
    # GridSearchCV splits target_proba with the images (wrong rows would not fit
    # the fold's sizes); each fold's model learns the shifted classes.
    grid = GridSearchCV(tiny(epochs=6), {"learning_rate": [0.02]}, cv=2, refit=False,
                        scoring=lambda est, X_, y_: float(np.mean(est.predict(X_) == (y_ + 1) % 3)))
    grid.fit(X, y, target_proba=P)
    assert grid.cv_results_["mean_test_score"][0] >= 0.9
    scores = cross_val_score(tiny(epochs=6), X, y, cv=2, params={"target_proba": P})
    assert scores.max() <= 0.1  # scored on y, which the models did not learn


@pytest.mark.parametrize("P, message", [
    (np.full((30, 2), 0.5), r"shape \(n_samples, n_classes\) = \(30, 3\).*\[0, 1, 2\]"),
    (np.full((29, 3), 1 / 3), r"Received: target_proba.shape=\(29, 3\)"),
    (np.full((30, 3), 0.5), r"row 0 sums to 1.5 \(30 rows are off\)"),
    (np.tile([1.5, -0.5, 0.0], (30, 1)), "a negative value"),
    (np.tile([np.nan, 0.5, 0.5], (30, 1)), "NaN or infinity"),
    ("soft", r"shape \(n_samples, n_classes\)"),
])
def test_bad_target_proba_is_refused_before_training(P, message):
    X, y = make_faces(30)
    clf = tiny()
    with pytest.raises(ValueError, match=message):
        clf.fit(X, y, target_proba=P)
    assert not hasattr(clf, "model_")


def test_a_checkpoint_does_not_resume_with_other_target_proba(tmp_path):
    X, y = make_faces(30)
    P = np.eye(3)[y]
    tiny(epochs=1).fit(X, y, target_proba=P, checkpoint=tmp_path / "c.zip")
    with pytest.raises(ValueError, match="target_proba"):
        tiny(epochs=2).fit(X, y, target_proba=np.eye(3)[(y + 1) % 3],
                           checkpoint=tmp_path / "c.zip")
    resumed = tiny(epochs=2).fit(X, y, target_proba=P, checkpoint=tmp_path / "c.zip")
    assert resumed.n_iter_ == 2


def _wider_cnn(input_shape, num_classes, *, conv_dropout, dense_dropout):
    """tiny_cnn with another number of filters: a network with other weight shapes."""
    import keras
    from keras import layers

    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = layers.MaxPooling2D(4, padding="same", name="pool")(inputs)
    x = layers.Conv2D(6, 3, padding="same", activation="relu", name="conv")(x)
    x = layers.Flatten(name="flatten")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="wider")


@pytest.mark.parametrize("engine", ["keras", "torch"])
def test_warm_start_continues_from_the_fitted_weights(engine):
    if engine == "torch":
        pytest.importorskip("torch")
    X, y = make_faces(90)
    clf = tiny(engine=engine, precision="float32").fit(X, y)
    before = clf.predict_proba(X)
    assert (clf.predict(X) == y).mean() >= 0.9
    # One epoch at a vanishing learning rate: a warm start keeps what was
    # learned, a cold start with the same settings is a new, untrained network.
    cold = clone(clf).set_params(epochs=1, learning_rate=1e-7, random_state=5).fit(X, y)
    clf.set_params(warm_start=True, epochs=1, learning_rate=1e-7, random_state=5).fit(X, y)
    after = clf.predict_proba(X)
    assert np.abs(after - before).max() < 0.02
    assert np.abs(cold.predict_proba(X) - before).max() > 0.2
    assert clf.history_["loss"] and len(clf.history_["loss"]) == 1
    # Fine-tuning with a real learning rate trains: here to relabelled faces.
    relabelled = (y + 1) % 3
    clf.set_params(epochs=8, learning_rate=0.02).fit(X, relabelled)
    assert (clf.predict(X) == relabelled).mean() >= 0.9


def test_warm_start_without_a_fitted_network_trains_a_new_one():
    X, y = make_faces(60)
    a = tiny(epochs=2).fit(X, y).predict_proba(X)
    b = tiny(epochs=2, warm_start=True).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("change, match", [
    (lambda X, y: (X, y + 1), "same classes as before: \\[0, 1, 2\\]"),
    (lambda X, y: (X[:, :40, :40], y), "must have its shape \\(48, 48, 1\\)"),
    (None, "builds a network with other weights"),
])
def test_warm_start_refuses_another_problem_and_keeps_the_model(fitted, change, match):
    clf, X, y = fitted
    clf = pickle.loads(pickle.dumps(clf)).set_params(warm_start=True, epochs=1)
    if change is None:
        clf.set_params(architecture=_wider_cnn)
    else:
        X, y = change(X, y)
    model, classes, expected = clf.model_, clf.classes_, clf.predict_proba(fitted[1])
    with pytest.raises(ValueError, match=match):
        clf.fit(X, y)
    assert clf.model_ is model and clf.classes_ is classes and clf.n_features_in_ == 48 * 48
    np.testing.assert_array_equal(clf.predict_proba(fitted[1]), expected)


def test_fit_keeps_metadata_truthful(fitted, tmp_path):
    clf, X, y = fitted
    path = tmp_path / "m.zip"
    clf.save(path, metadata={"trained_on": "synthetic bands"})
    loaded = EmotionCNNClassifier.load(path).set_params(architecture=tiny_cnn)
    assert loaded.metadata_["trained_on"] == "synthetic bands"
    tuned = pickle.loads(pickle.dumps(loaded)).set_params(warm_start=True, epochs=1).fit(X, y)
    assert tuned.metadata_ == {"fine_tuned_from": {"trained_on": "synthetic bands"}}
    retrained = loaded.set_params(epochs=1).fit(X, y)  # a new network: nothing to say
    assert not hasattr(retrained, "metadata_")
