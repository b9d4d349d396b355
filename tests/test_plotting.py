import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from fer_classifier.evaluation import EvaluationReport  # noqa: E402
from fer_classifier.plotting import (  # noqa: E402
    plot_confusion_matrix,
    plot_per_class_recall,
    plot_training_curves,
    save_report_plots,
)

HISTORY = {
    "loss": [1.9, 1.5, 1.3],
    "accuracy": [0.3, 0.45, 0.5],
    "val_loss": [2.0, 1.6, 1.5],
    "val_accuracy": [0.25, 0.4, 0.45],
}


@pytest.fixture
def report():
    rng = np.random.default_rng(0)
    y = np.arange(140) % 7
    proba = rng.dirichlet(np.ones(7), 140)
    proba[np.arange(140), y] += 0.3
    return EvaluationReport.from_predictions(y, proba / proba.sum(axis=1, keepdims=True))


def test_training_curves_have_both_series():
    fig = plot_training_curves(HISTORY)
    loss_ax, acc_ax = fig.axes
    assert [l.get_label() for l in loss_ax.get_lines()] == ["training", "validation"]
    np.testing.assert_allclose(acc_ax.get_lines()[1].get_ydata(), HISTORY["val_accuracy"])
    np.testing.assert_array_equal(loss_ax.get_lines()[0].get_xdata(), [1, 2, 3])
    assert loss_ax.get_xlabel() == "Epoch" and acc_ax.get_title() == "Accuracy"
    only_train = plot_training_curves({"loss": [1.0, 0.5], "accuracy": [0.5, 0.7]})
    assert len(only_train.axes[0].get_lines()) == 1


def test_training_curves_reject_non_histories():
    with pytest.raises(ValueError, match="'loss'"):
        plot_training_curves({"acc": [1]})


def test_confusion_matrix_labels_and_cells(report):
    fig = plot_confusion_matrix(report)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == report.names
    assert [t.get_text() for t in ax.get_yticklabels()] == report.names
    cells = [t.get_text() for t in ax.texts]
    assert len(cells) == 49
    assert cells[0] == f"{report.confusion_matrix_normalized[0, 0]:.2f}"
    counts = plot_confusion_matrix(report, normalize=False).axes[0]
    assert counts.texts[0].get_text() == str(report.confusion_matrix[0, 0])
    assert "n=140" in ax.get_title()


def test_recall_bars(report):
    ax = plot_per_class_recall(report).axes[0]
    heights = [p.get_height() for p in ax.patches]
    np.testing.assert_allclose(heights, report.per_class["recall"])
    assert [t.get_text() for t in ax.get_xticklabels()] == report.names


def test_save_report_plots_writes_pngs(report, tmp_path):
    from PIL import Image

    paths = save_report_plots(report, tmp_path / "out", history=HISTORY)
    assert sorted(p.name for p in paths) == [
        "confusion_matrix.png", "confusion_matrix_counts.png",
        "per_class_recall.png", "training_curves.png",
    ]
    for p in paths:
        with Image.open(p) as img:
            assert img.format == "PNG" and img.size[0] > 500
    assert len(save_report_plots(report, tmp_path / "no_history")) == 3


def test_missing_matplotlib_names_the_extra(monkeypatch, report):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"fer-classifier\[plot\]"):
        plot_per_class_recall(report)
