"""Evaluation reports: the metrics that describe an emotion classifier."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn import metrics
from sklearn.utils.validation import check_is_fitted

from ._keras_io import atomic_write

__all__ = ["EvaluationReport"]

_HEADLINE = (
    ("accuracy", "Accuracy"),
    ("balanced_accuracy", "Balanced accuracy"),
    ("f1_macro", "Macro F1"),
    ("f1_weighted", "Weighted F1"),
    ("top2_accuracy", "Top-2 accuracy"),
    ("log_loss", "Log loss"),
    ("mse", "MSE of probabilities"),
)


def _label_names(labels, target_names):
    if target_names is not None:
        names = [str(n) for n in target_names]
        if len(names) != len(labels):
            raise ValueError(
                f"target_names has {len(names)} names for {len(labels)} classes. "
                f"Received: target_names={list(target_names)}"
            )
        return names
    from .datasets import EMOTIONS

    if all(isinstance(v, (int, np.integer)) and 0 <= v < len(EMOTIONS) for v in labels):
        return [EMOTIONS[int(v)] for v in labels]
    return [str(v) for v in labels]


class EvaluationReport:
    """Metrics of a classifier on labelled data, as a dict, DataFrame, JSON or Markdown.

    Build one with :meth:`from_estimator` (a fitted classifier and data) or
    :meth:`from_predictions` (true labels and predicted probabilities).

    Attributes
    ----------
    labels : ndarray of shape (n_classes,)
        The class labels, in the order of the probability columns.
    names : list of str
        Display names of the classes (emotion names for FER2013 codes 0-6).
    n_samples : int
    accuracy, balanced_accuracy, f1_macro, f1_weighted, top2_accuracy : float
    log_loss : float
        Cross-entropy of the predicted probabilities.
    mse : float
        Mean squared error between the probabilities and the one-hot labels,
        averaged over samples and classes (Keras's ``mse`` on one-hot targets).
    per_class : DataFrame
        Precision, recall, F1 and support of each class, indexed by name.
    confusion_matrix : ndarray of shape (n_classes, n_classes)
        Counts; rows are true classes, columns predicted ones.
    confusion_matrix_normalized : ndarray of shape (n_classes, n_classes)
        Rows divided by their sums (each row is the recall distribution).

    Examples
    --------
    >>> import numpy as np
    >>> from fer_classifier.evaluation import EvaluationReport
    >>> proba = np.array([[0.7, 0.2, 0.1], [0.1, 0.6, 0.3], [0.2, 0.5, 0.3]])
    >>> report = EvaluationReport.from_predictions([0, 1, 2], proba)
    >>> round(report.accuracy, 3), round(report.top2_accuracy, 3)
    (0.667, 1.0)
    >>> report.names
    ['Angry', 'Disgust', 'Fear']
    """

    def __init__(self, y_true, y_proba, labels, names):
        self.labels = np.asarray(labels)
        self.names = list(names)
        self.n_samples = len(y_true)
        idx = np.searchsorted(self.labels, y_true)
        pred_idx = np.argmax(y_proba, axis=1)
        k = len(self.labels)
        self.accuracy = float(np.mean(pred_idx == idx))
        self.balanced_accuracy = float(
            metrics.balanced_accuracy_score(idx, pred_idx)
        )
        self.f1_macro = float(
            metrics.f1_score(idx, pred_idx, average="macro", labels=range(k), zero_division=0)
        )
        self.f1_weighted = float(
            metrics.f1_score(idx, pred_idx, average="weighted", labels=range(k), zero_division=0)
        )
        # With two classes the true one is always among the top two.
        self.top2_accuracy = 1.0
        if k > 2:
            self.top2_accuracy = float(
                metrics.top_k_accuracy_score(idx, y_proba, k=2, labels=range(k))
            )
        self.log_loss = float(metrics.log_loss(idx, y_proba, labels=range(k)))
        onehot = np.eye(k)[idx]
        self.mse = float(np.mean((onehot - y_proba) ** 2))
        precision, recall, f1, support = metrics.precision_recall_fscore_support(
            idx, pred_idx, labels=range(k), zero_division=0
        )
        self.per_class = pd.DataFrame(
            {"precision": precision, "recall": recall, "f1": f1, "support": support},
            index=pd.Index(self.names, name="class"),
        )
        self.confusion_matrix = metrics.confusion_matrix(idx, pred_idx, labels=range(k))
        rows = self.confusion_matrix.sum(axis=1, keepdims=True)
        self.confusion_matrix_normalized = np.divide(
            self.confusion_matrix, rows, out=np.zeros(self.confusion_matrix.shape), where=rows > 0
        )

    # ---------------------------------------------------------- constructors
    @classmethod
    def from_predictions(cls, y_true, y_proba, *, labels=None, target_names=None):
        """Report on true labels and predicted probabilities.

        Parameters
        ----------
        y_true : array-like of shape (n_samples,)
            True labels.
        y_proba : array-like of shape (n_samples, n_classes)
            Predicted probabilities; column ``j`` belongs to ``labels[j]``.
        labels : array-like of shape (n_classes,), default=None
            The sorted class labels of the columns. Defaults to
            ``0 .. n_classes-1``.
        target_names : list of str, default=None
            Display names of the classes. Defaults to the FER2013 emotion
            names when the labels are codes 0-6, else the labels as text.

        Returns
        -------
        report : EvaluationReport

        Raises
        ------
        ValueError
            On mismatched lengths, probabilities that are not rows summing
            to 1, or labels in ``y_true`` that are not among ``labels``.
        """
        y_true = np.asarray(y_true)
        y_proba = np.asarray(y_proba, dtype=np.float64)
        if y_proba.ndim != 2:
            raise ValueError(f"y_proba must be 2-D (n_samples, n_classes); got shape {y_proba.shape}.")
        if len(y_true) != len(y_proba):
            raise ValueError(
                f"y_true has {len(y_true)} labels but y_proba has {len(y_proba)} rows."
            )
        if len(y_true) == 0:
            raise ValueError("Cannot evaluate on 0 samples.")
        if not np.allclose(y_proba.sum(axis=1), 1.0, atol=1e-3) or (y_proba < 0).any():
            raise ValueError("y_proba rows must be probabilities (non-negative, summing to 1).")
        labels = np.arange(y_proba.shape[1]) if labels is None else np.asarray(labels)
        if len(labels) != y_proba.shape[1]:
            raise ValueError(
                f"{len(labels)} labels for {y_proba.shape[1]} probability columns."
            )
        if len(labels) > 1 and np.any(labels[1:] < labels[:-1]):
            raise ValueError("labels must be sorted, as classifiers' classes_ are.")
        unknown = np.setdiff1d(y_true, labels)
        if unknown.size:
            raise ValueError(
                f"y_true has labels that are not among the classes: {unknown.tolist()}. "
                f"Classes: {labels.tolist()}"
            )
        return cls(y_true, y_proba, labels, _label_names(labels.tolist(), target_names))

    @classmethod
    def from_estimator(cls, estimator, X, y, *, target_names=None):
        """Report on a fitted classifier with ``predict_proba`` and labelled data.

        Parameters
        ----------
        estimator : fitted classifier
            For instance an :class:`~fer_classifier.EmotionCNNClassifier` or a
            Pipeline ending in one.
        X : array-like
            Input accepted by the estimator.
        y : array-like of shape (n_samples,)
            True labels.
        target_names : list of str, default=None
            As in :meth:`from_predictions`.

        Returns
        -------
        report : EvaluationReport
        """
        check_is_fitted(estimator)
        proba = estimator.predict_proba(X)
        return cls.from_predictions(y, proba, labels=estimator.classes_, target_names=target_names)

    # ---------------------------------------------------------------- views
    def summary(self):
        """The headline metrics as a dict of floats."""
        out = {key: getattr(self, key) for key, _ in _HEADLINE}
        out["n_samples"] = self.n_samples
        return out

    def to_dict(self):
        """Everything, as JSON-compatible Python objects."""
        return {
            **self.summary(),
            "classes": self.names,
            "labels": self.labels.tolist(),
            "per_class": {
                name: {k: (int(v) if k == "support" else float(v)) for k, v in row.items()}
                for name, row in self.per_class.to_dict(orient="index").items()
            },
            "confusion_matrix": self.confusion_matrix.tolist(),
            "confusion_matrix_normalized": self.confusion_matrix_normalized.round(6).tolist(),
        }

    def to_frame(self):
        """Per-class metrics with a final ``macro avg`` row, as a DataFrame."""
        frame = self.per_class.copy()
        macro = frame[["precision", "recall", "f1"]].mean()
        frame.loc["macro avg"] = [*macro, frame["support"].sum()]
        frame["support"] = frame["support"].astype(int)
        return frame

    def to_markdown(self, title="Evaluation report"):
        """A Markdown document: headline metrics, per-class table, confusion matrix."""
        lines = [f"# {title}", "", f"{self.n_samples} samples.", "", "| metric | value |", "|---|---|"]
        for key, label in _HEADLINE:
            value = getattr(self, key)
            text = f"{value:.4f}" if key in ("log_loss", "mse") else f"{value:.2%}"
            lines.append(f"| {label} | {text} |")
        lines += ["", "## Per class", "", "| class | precision | recall | F1 | support |",
                  "|---|---|---|---|---|"]
        for name, row in self.to_frame().iterrows():
            lines.append(
                f"| {name} | {row['precision']:.3f} | {row['recall']:.3f} | "
                f"{row['f1']:.3f} | {int(row['support'])} |"
            )
        header = "| true \\ predicted | " + " | ".join(self.names) + " |"
        lines += ["", "## Confusion matrix (counts)", "", header,
                  "|---" * (len(self.names) + 1) + "|"]
        for name, row in zip(self.names, self.confusion_matrix):
            lines.append(f"| {name} | " + " | ".join(str(int(v)) for v in row) + " |")
        return "\n".join(lines) + "\n"

    def write_json(self, path):
        """Write :meth:`to_dict` as JSON (atomically). Returns the path."""
        with atomic_write(path, "w") as fh:
            json.dump(self.to_dict(), fh, indent=2)
        return Path(path)

    def write_markdown(self, path, title="Evaluation report"):
        """Write :meth:`to_markdown` (atomically). Returns the path."""
        with atomic_write(path, "w") as fh:
            fh.write(self.to_markdown(title))
        return Path(path)

    def __repr__(self):
        return (
            f"EvaluationReport(n_samples={self.n_samples}, accuracy={self.accuracy:.4f}, "
            f"f1_macro={self.f1_macro:.4f})"
        )
