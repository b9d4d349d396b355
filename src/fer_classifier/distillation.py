"""Knowledge distillation: soft targets from a teacher's probabilities.

A small, fast network (the student) learns more from a stronger model's
probabilities (the teacher: a bigger network or an ensemble) than from the
labels alone: the teacher says which faces are ambiguous, and between which
emotions. :func:`distillation_targets` mixes the two into the
``target_proba`` that :meth:`EmotionCNNClassifier.fit
<fer_classifier.EmotionCNNClassifier.fit>` learns from. The bundled models
``pretrained("fer2013")`` and ``pretrained("fer2013-small")`` were trained
this way (``teacher_weight=0.7``, the teacher with ``tta=True``).
"""

from numbers import Real

import numpy as np
from sklearn.utils.validation import check_is_fitted

__all__ = ["distillation_targets"]


def distillation_targets(teacher, X, y, *, teacher_weight=0.7):
    """Soft targets: ``(1 - teacher_weight)`` x one-hot label + ``teacher_weight`` x teacher.

    Parameters
    ----------
    teacher : fitted classifier
        Any fitted scikit-learn classifier with ``predict_proba`` and
        ``classes_``, typically an :class:`~fer_classifier.EmotionCNNClassifier`
        (with ``tta=True`` for its best probabilities) or an ensemble of them
        (:meth:`EmotionCNNClassifier.ensemble
        <fer_classifier.EmotionCNNClassifier.ensemble>`).
    X : array-like of images
        The student's training images, as ``teacher.predict_proba`` takes them.
    y : array-like of shape (n_samples,)
        Their labels; every label must be one of the teacher's classes.
    teacher_weight : float in [0, 1], default=0.7
        Share of the teacher in each target: 0 gives the one-hot labels, 1
        the teacher's probabilities alone.

    Returns
    -------
    target_proba : ndarray of shape (n_samples, n_classes)
        One row per image, summing to 1, one column per class of ``y`` in
        sorted order (as ``fit(X, y, target_proba=...)`` expects). Where the
        teacher knows classes that ``y`` lacks, its probabilities are
        restricted to ``y``'s classes and renormalised.

    Raises
    ------
    ValueError
        If ``teacher_weight`` is outside [0, 1], if ``X`` and ``y`` differ
        in length, or if ``y`` holds a class the teacher does not predict.

    Examples
    --------
    >>> from fer_classifier import EmotionCNNClassifier
    >>> from fer_classifier.distillation import distillation_targets
    >>> teacher = EmotionCNNClassifier.pretrained("fer2013-large", tta=True)  # doctest: +SKIP
    >>> P = distillation_targets(teacher, X, y)  # doctest: +SKIP
    >>> student = EmotionCNNClassifier("vgg_small", epochs=30).fit(X, y, target_proba=P)  # doctest: +SKIP
    """
    if (not isinstance(teacher_weight, Real) or isinstance(teacher_weight, bool)
            or not 0 <= teacher_weight <= 1):
        raise ValueError(
            f"teacher_weight must be a number in [0, 1]. Received: teacher_weight={teacher_weight!r}"
        )
    check_is_fitted(teacher)
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be one label per image. Received: y.shape={y.shape}")
    n_images = len(X)
    if n_images != len(y):
        raise ValueError(
            f"X and y must hold the same number of images. Received: {n_images} images "
            f"and {len(y)} labels"
        )
    classes, codes = np.unique(y, return_inverse=True)
    teacher_classes = np.asarray(teacher.classes_)
    unknown = [c for c in classes.tolist() if c not in teacher_classes.tolist()]
    if unknown:
        raise ValueError(
            f"The teacher does not predict the label(s) {unknown} found in y; its classes "
            f"are {teacher_classes.tolist()}. Use a teacher trained on the same labels."
        )
    onehot = np.eye(len(classes))[codes]
    if teacher_weight == 0:
        return onehot
    columns = [teacher_classes.tolist().index(c) for c in classes.tolist()]
    proba = np.asarray(teacher.predict_proba(X), dtype=np.float64)[:, columns]
    sums = proba.sum(axis=1, keepdims=True)
    proba = np.divide(proba, sums, out=np.full_like(proba, 1 / len(classes)), where=sums > 0)
    return (1 - teacher_weight) * onehot + teacher_weight * proba
