import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression

from fer_classifier import distillation_targets


@pytest.fixture(scope="module")
def teacher():
    # A cheap fitted classifier with predict_proba over classes 0, 1, 2.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 5))
    y = np.repeat([0, 1, 2], 30)
    X[np.arange(90), y] += 2.0
    return LogisticRegression().fit(X, y), X, y


def test_mixes_one_hot_labels_with_the_teachers_probabilities(teacher):
    clf, X, y = teacher
    P = distillation_targets(clf, X, y)
    expected = 0.3 * np.eye(3)[y] + 0.7 * clf.predict_proba(X)
    np.testing.assert_allclose(P, expected)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    np.testing.assert_array_equal(distillation_targets(clf, X, y, teacher_weight=0),
                                  np.eye(3)[y])
    np.testing.assert_allclose(distillation_targets(clf, X, y, teacher_weight=1),
                               clf.predict_proba(X))


def test_columns_follow_the_students_classes(teacher):
    clf, X, y = teacher
    # the student sees only classes 1 and 2: the teacher's mass on 0 is dropped
    keep = y > 0
    P = distillation_targets(clf, X[keep], y[keep], teacher_weight=1)
    proba = clf.predict_proba(X[keep])[:, 1:]
    np.testing.assert_allclose(P, proba / proba.sum(axis=1, keepdims=True))
    # string labels: same order as np.unique
    named = LogisticRegression().fit(X, np.array(["sad", "angry", "happy"])[y])
    P = distillation_targets(named, X, np.array(["sad", "angry", "happy"])[y])
    assert named.classes_.tolist() == ["angry", "happy", "sad"]
    np.testing.assert_allclose(P, 0.3 * np.eye(3)[np.array([2, 0, 1])[y]]
                               + 0.7 * named.predict_proba(X))


def test_feeds_fit_as_target_proba():
    # The shape and column order are those fit(target_proba=...) checks.
    from conftest import make_faces, tiny_cnn

    from fer_classifier import EmotionCNNClassifier

    X, y = make_faces(60)
    flat = X.reshape(len(X), -1) / 255.0  # this teacher takes feature vectors
    teacher = LogisticRegression(max_iter=200).fit(flat, y)
    P = distillation_targets(teacher, flat, y)
    assert P.shape == (60, 3)
    student = EmotionCNNClassifier(architecture=tiny_cnn, engine="keras", epochs=1,
                                   batch_size=16, validation_fraction=0.0, random_state=0)
    student.fit(X, y, target_proba=P)
    assert student.classes_.tolist() == [0, 1, 2] and student.n_iter_ == 1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(teacher_weight=1.5), r"teacher_weight must be a number in \[0, 1\]. "
                                   r"Received: teacher_weight=1.5"),
        (dict(teacher_weight="0.7"), "Received: teacher_weight='0.7'"),
        (dict(teacher_weight=True), "Received: teacher_weight=True"),
    ],
)
def test_rejects_bad_weights(teacher, kwargs, message):
    clf, X, y = teacher
    with pytest.raises(ValueError, match=message):
        distillation_targets(clf, X, y, **kwargs)


def test_rejects_labels_the_teacher_does_not_know_and_bad_shapes(teacher):
    clf, X, y = teacher
    with pytest.raises(ValueError, match=r"does not predict the label\(s\) \[7\]"):
        distillation_targets(clf, X, np.where(y == 2, 7, y))
    with pytest.raises(ValueError, match="90 images and 89 labels"):
        distillation_targets(clf, X, y[:-1])
    with pytest.raises(ValueError, match=r"y must be one label per image"):
        distillation_targets(clf, X, y[:, None])
    with pytest.raises(NotFittedError):
        distillation_targets(LogisticRegression(), X, y)


# ----------------------------------------------- fit(teacher=...): on every batch
@pytest.fixture(scope="module")
def faces_and_teachers():
    """Faces labelled 0-2 and two small fitted teachers: one that learned the
    labels, one that learned them shifted by one (so that following it is
    visible)."""
    pytest.importorskip("torch")
    from conftest import make_faces, tiny_cnn

    from fer_classifier import EmotionCNNClassifier

    X, y = make_faces(150, size=24)
    params = dict(architecture=tiny_cnn, epochs=15, batch_size=25, learning_rate=0.03,
                  engine="torch", validation_fraction=0.0, random_state=0)
    honest = EmotionCNNClassifier(**params).fit(X, y)
    shifted = EmotionCNNClassifier(**params).fit(X, (y + 1) % 3)
    assert honest.score(X, y) > 0.9 and shifted.score(X, (y + 1) % 3) > 0.9
    return X, y, honest, shifted


def _student(**kwargs):
    from conftest import tiny_cnn

    from fer_classifier import EmotionCNNClassifier

    return EmotionCNNClassifier(**{**dict(architecture=tiny_cnn, epochs=15, batch_size=25,
                                          learning_rate=0.03, engine="torch",
                                          validation_fraction=0.0, random_state=1), **kwargs})


def test_fit_with_a_teacher_learns_what_the_teacher_says(faces_and_teachers):
    X, y, honest, shifted = faces_and_teachers
    before = shifted.predict_proba(X)
    follower = _student().fit(X, y, teacher=shifted, teacher_weight=1.0)
    # The labels said y; the teacher said y + 1, and the student followed the teacher.
    assert (follower.predict(X) == (y + 1) % 3).mean() > 0.9
    # The history's accuracy still counts agreement with y.
    assert follower.history_["accuracy"][-1] < 0.2
    # With weight 0 the teacher changes nothing: the same model as no teacher at all.
    np.testing.assert_allclose(
        _student(epochs=2).fit(X, y, teacher=shifted, teacher_weight=0.0).predict_proba(X[:5]),
        _student(epochs=2).fit(X, y).predict_proba(X[:5]), atol=1e-6)
    np.testing.assert_array_equal(shifted.predict_proba(X), before)  # teacher untouched


def test_a_list_or_an_ensemble_teaches_with_its_weights(faces_and_teachers):
    from fer_classifier import EmotionCNNClassifier

    X, y, honest, shifted = faces_and_teachers
    mostly_shifted = EmotionCNNClassifier.ensemble([honest, shifted], weights=[0.1, 0.9])
    student = _student().fit(X, y, teacher=mostly_shifted, teacher_weight=1.0)
    assert (student.predict(X) == (y + 1) % 3).mean() > 0.9
    mostly_honest = EmotionCNNClassifier.ensemble([honest, shifted], weights=[0.9, 0.1])
    student = _student().fit(X, y, teacher=mostly_honest, teacher_weight=1.0)
    assert (student.predict(X) == y).mean() > 0.9
    networks, weights = _student().fit(X[:30], y[:30], teacher=[honest, shifted],
                                       teacher_weight=0.5)._teacher_networks(
        [honest, mostly_shifted], 0.5)
    assert len(networks) == 3
    np.testing.assert_allclose(weights, [0.5, 0.05, 0.45])


def test_fit_with_a_teacher_rejects_what_it_cannot_use(faces_and_teachers, tmp_path):
    from fer_classifier import EmotionCNNClassifier

    X, y, honest, shifted = faces_and_teachers
    with pytest.raises(ValueError, match=r"PyTorch engine.*distillation_targets"):
        _student(engine="keras").fit(X, y, teacher=honest)
    with pytest.raises(ValueError, match=r"classes of y: \[0, 1\]"):
        _student().fit(X[y < 2], y[y < 2], teacher=honest)
    with pytest.raises(ValueError, match=r"images of X, of shape \(12, 12, 1\)"):
        _student().fit(X[:, ::2, ::2], y, teacher=honest)
    with pytest.raises(TypeError, match="distillation_targets.*LogisticRegression"):
        _student().fit(X, y, teacher=LogisticRegression())
    with pytest.raises(ValueError, match=r"Received: teacher_weight=1.5"):
        _student().fit(X, y, teacher=honest, teacher_weight=1.5)
    with pytest.raises(NotFittedError):
        _student().fit(X, y, teacher=EmotionCNNClassifier())
    # A checkpoint remembers its teacher: another teacher does not resume it.
    path = tmp_path / "run.zip"
    _student(epochs=1).fit(X, y, teacher=honest, checkpoint=path)
    with pytest.raises(ValueError, match="different training run"):
        _student(epochs=2).fit(X, y, teacher=shifted, checkpoint=path)
    resumed = _student(epochs=2).fit(X, y, teacher=honest, checkpoint=path)
    assert resumed.n_iter_ == 2


# ------------------------------------- fit(teacher=..., teacher_views=N): views scored once
def test_teacher_views_learns_what_the_teacher_says_reproducibly(faces_and_teachers, capsys):
    X, y, honest, shifted = faces_and_teachers
    student = _student(augmentation="standard", verbose=1)
    follower = student.fit(X, y, teacher=shifted, teacher_weight=1.0, teacher_views=2)
    assert (follower.predict(X) == (y + 1) % 3).mean() > 0.9
    out = capsys.readouterr().out
    assert "Teacher views 1/2 of 150 faces" in out and "Teacher views 2/2" in out
    assert out.index("Teacher views 2/2") < out.index("Epoch 1/15")
    again = _student(augmentation="standard", epochs=2).fit(
        X, y, teacher=honest, teacher_views=2)
    same = _student(augmentation="standard", epochs=2).fit(
        X, y, teacher=honest, teacher_views=2)
    np.testing.assert_array_equal(again.predict_proba(X[:5]), same.predict_proba(X[:5]))
    per_batch = _student(augmentation="standard", epochs=2).fit(X, y, teacher=honest)
    assert not np.array_equal(again.predict_proba(X[:5]), per_batch.predict_proba(X[:5]))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(teacher_views=0), r"at least 1, or None. Received: teacher_views=0"),
        (dict(teacher_views=2.5), r"Received: teacher_views=2.5"),
        (dict(teacher_views=True), r"Received: teacher_views=True"),
        (dict(teacher=None), r"needs a teacher.*Received: teacher=None"),
        (dict(augmentation=None), r"needs augmentation.*Received: augmentation=None"),
    ],
)
def test_teacher_views_rejects_what_it_cannot_use(faces_and_teachers, kwargs, message):
    X, y, honest, _ = faces_and_teachers
    fit_kwargs = dict(teacher=honest, teacher_views=2)
    fit_kwargs.update({k: v for k, v in kwargs.items() if k != "augmentation"})
    student = _student(augmentation=kwargs.get("augmentation", "standard"), epochs=1)
    with pytest.raises(ValueError, match=message):
        student.fit(X, y, **fit_kwargs)
    assert not hasattr(student, "model_")


def test_a_checkpoint_remembers_the_number_of_teacher_views(faces_and_teachers, tmp_path):
    X, y, honest, _ = faces_and_teachers
    path = tmp_path / "run.zip"
    _student(augmentation="standard", epochs=1).fit(X, y, teacher=honest, teacher_views=2,
                                                    checkpoint=path)
    with pytest.raises(ValueError, match="different training run"):
        _student(augmentation="standard", epochs=2).fit(X, y, teacher=honest,
                                                        teacher_views=3, checkpoint=path)
    resumed = _student(augmentation="standard", epochs=2).fit(
        X, y, teacher=honest, teacher_views=2, checkpoint=path)
    assert resumed.n_iter_ == 2
