import json

import numpy as np
import pandas as pd
import pytest
from conftest import make_faces, tiny_cnn
from sklearn.metrics import log_loss

from fer_classifier import EmotionCNNClassifier
from fer_classifier.evaluation import EvaluationReport

Y = np.array([0, 1, 2, 2])
P = np.array(
    [
        [0.6, 0.3, 0.1],  # correct
        [0.5, 0.4, 0.1],  # wrong (0), true class second
        [0.1, 0.2, 0.7],  # correct
        [0.2, 0.7, 0.1],  # wrong (1), true class third
    ]
)


def test_metrics_match_hand_computed_values():
    r = EvaluationReport.from_predictions(Y, P)
    assert r.n_samples == 4
    assert r.accuracy == pytest.approx(0.5)
    assert r.top2_accuracy == pytest.approx(0.75)
    # recalls 1, 0, 0.5 -> balanced accuracy 0.5
    assert r.balanced_accuracy == pytest.approx(0.5)
    np.testing.assert_array_equal(r.confusion_matrix, [[1, 0, 0], [1, 0, 0], [0, 1, 1]])
    np.testing.assert_allclose(r.confusion_matrix_normalized[2], [0, 0.5, 0.5])
    assert r.per_class.loc["Angry", "precision"] == pytest.approx(0.5)
    assert r.per_class.loc["Fear", "recall"] == pytest.approx(0.5)
    assert r.per_class["support"].tolist() == [1, 1, 2]
    # F1: Angry 2/3, Disgust 0, Fear 2/3
    assert r.f1_macro == pytest.approx((2 / 3 + 0 + 2 / 3) / 3)
    assert r.f1_weighted == pytest.approx((2 / 3 * 1 + 0 + 2 / 3 * 2) / 4)
    assert r.log_loss == pytest.approx(log_loss(Y, P))
    onehot = np.eye(3)[Y]
    assert r.mse == pytest.approx(((onehot - P) ** 2).mean())
    assert r.names == ["Angry", "Disgust", "Fear"]


def test_names_for_string_labels_and_explicit_names():
    r = EvaluationReport.from_predictions(["a", "b"], [[0.9, 0.1], [0.2, 0.8]], labels=["a", "b"])
    assert r.names == ["a", "b"] and r.accuracy == 1.0 and r.top2_accuracy == 1.0
    r = EvaluationReport.from_predictions(Y, P, target_names=["x", "y", "z"])
    assert list(r.per_class.index) == ["x", "y", "z"]


def test_from_estimator_equals_from_predictions():
    X, y = make_faces(60)
    clf = EmotionCNNClassifier(
        tiny_cnn, engine="keras", epochs=2, batch_size=16, validation_fraction=0, random_state=0
    ).fit(X, y)
    a = EvaluationReport.from_estimator(clf, X, y)
    b = EvaluationReport.from_predictions(y, clf.predict_proba(X), labels=clf.classes_)
    assert a.to_dict() == b.to_dict()
    assert a.accuracy == pytest.approx(clf.score(X, y))


def test_views_and_files(tmp_path):
    r = EvaluationReport.from_predictions(Y, P)
    d = r.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert d["per_class"]["Fear"]["support"] == 2
    assert set(r.summary()) == {
        "accuracy", "balanced_accuracy", "f1_macro", "f1_weighted",
        "top2_accuracy", "log_loss", "mse", "n_samples",
    }
    frame = r.to_frame()
    assert isinstance(frame, pd.DataFrame) and frame.index[-1] == "macro avg"
    assert frame.loc["macro avg", "support"] == 4
    assert frame.loc["macro avg", "recall"] == pytest.approx(0.5)
    md = r.to_markdown(title="T")
    assert md.startswith("# T\n") and "| Accuracy | 50.00% |" in md
    assert "| Fear | 0 | 1 | 1 |" in md  # confusion-matrix row
    assert json.loads(r.write_json(tmp_path / "r.json").read_text()) == d
    assert r.write_markdown(tmp_path / "r.md", title="T").read_text() == md


@pytest.mark.parametrize(
    "y, proba, kwargs, message",
    [
        ([0, 1], P, {}, "2 labels but y_proba has 4 rows"),
        (Y, P[:, :2] * 2, {}, "probabilities"),
        (Y, P[:, 0], {}, "2-D"),
        ([0, 1, 5, 2], P, {}, r"not among the classes: \[5\]"),
        (Y, P, {"labels": [0, 1]}, "2 labels for 3 probability columns"),
        (Y, P, {"labels": [2, 1, 0]}, "sorted"),
        (Y, P, {"target_names": ["a"]}, "target_names has 1 names for 3 classes"),
        ([], np.empty((0, 3)), {}, "0 samples"),
    ],
)
def test_bad_input(y, proba, kwargs, message):
    with pytest.raises(ValueError, match=message):
        EvaluationReport.from_predictions(y, proba, **kwargs)
