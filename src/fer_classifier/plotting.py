"""Plots of training curves and evaluation reports (needs matplotlib).

matplotlib is an optional extra (``pip install "fer-classifier[plot]"``),
imported only when a plot is made. Figures are built with
:class:`matplotlib.figure.Figure` directly, so no pyplot state or GUI backend
is involved and saving works on headless machines.
"""

import numpy as np

__all__ = [
    "plot_emotions_over_time",
    "plot_confusion_matrix",
    "plot_per_class_recall",
    "plot_training_curves",
    "save_report_plots",
]


def _figure(figsize):
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(
            "Plotting needs matplotlib: pip install 'fer-classifier[plot]'"
        ) from None
    return Figure(figsize=figsize, layout="constrained")


def plot_training_curves(history, *, title="Training curves"):
    """Loss and accuracy per epoch, for training and validation.

    Parameters
    ----------
    history : dict or fitted EmotionCNNClassifier
        A ``history_`` dict (``loss``, ``accuracy`` and optionally
        ``val_loss``, ``val_accuracy``), or an estimator that has one.
    title : str, default="Training curves"

    Returns
    -------
    figure : matplotlib.figure.Figure
    """
    history = getattr(history, "history_", history)
    if not isinstance(history, dict) or "loss" not in history:
        raise ValueError(
            "history must be a dict with at least a 'loss' list (an estimator's "
            f"history_). Received keys: {sorted(history) if isinstance(history, dict) else type(history).__name__}"
        )
    fig = _figure((10, 4))
    from matplotlib.ticker import MaxNLocator

    epochs = np.arange(1, len(history["loss"]) + 1)
    for ax, metric, label in zip(
        fig.subplots(1, 2), ("loss", "accuracy"), ("Loss (cross-entropy)", "Accuracy")
    ):
        for prefix, name, style in (("", "training", "-"), ("val_", "validation", "--")):
            values = history.get(prefix + metric)
            if values:
                ax.plot(epochs[: len(values)], values, style, marker="o", markersize=3, label=name)
        ax.set_xlabel("Epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(label)
        ax.set_title(label)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    return fig


def plot_confusion_matrix(report, *, normalize=True, title=None):
    """Heatmap of a report's confusion matrix, with class names.

    Parameters
    ----------
    report : EvaluationReport
    normalize : bool, default=True
        Show row-normalised values (recall per true class) instead of counts.
    title : str, default=None

    Returns
    -------
    figure : matplotlib.figure.Figure
    """
    matrix = report.confusion_matrix_normalized if normalize else report.confusion_matrix
    n = len(report.names)
    fig = _figure((1.0 * n + 2.5, 0.9 * n + 1.8))
    ax = fig.subplots()
    image = ax.imshow(matrix, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    fig.colorbar(image, ax=ax, label="fraction of true class" if normalize else "count")
    ax.set_xticks(range(n), report.names, rotation=45, ha="right")
    ax.set_yticks(range(n), report.names)
    ax.set_xlabel("Predicted emotion")
    ax.set_ylabel("True emotion")
    threshold = matrix.max() / 2 if matrix.size else 0
    for i in range(n):
        for j in range(n):
            value = matrix[i, j]
            text = f"{value:.2f}" if normalize else f"{int(value)}"
            ax.text(j, i, text, ha="center", va="center", fontsize=9,
                    color="white" if value > threshold else "black")
    ax.set_title(title or f"Confusion matrix ({'row-normalised' if normalize else 'counts'}, "
                 f"n={report.n_samples})")
    return fig


def plot_per_class_recall(report, *, title=None):
    """Bar chart of recall per class, with support and the accuracy line.

    Parameters
    ----------
    report : EvaluationReport
    title : str, default=None

    Returns
    -------
    figure : matplotlib.figure.Figure
    """
    fig = _figure((8, 4.5))
    ax = fig.subplots()
    recall = report.per_class["recall"].to_numpy()
    support = report.per_class["support"].to_numpy()
    bars = ax.bar(report.names, recall, color="tab:blue")
    for bar, r, s in zip(bars, recall, support):
        ax.text(bar.get_x() + bar.get_width() / 2, r + 0.01, f"{r:.0%}\n(n={s})",
                ha="center", va="bottom", fontsize=8)
    ax.axhline(report.accuracy, color="tab:red", linestyle="--",
               label=f"accuracy {report.accuracy:.1%}")
    ax.set_ylim(0, 1.15)
    ax.set_ylabel("Recall")
    ax.set_xlabel("True emotion")
    ax.tick_params(axis="x", rotation=30)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title(title or "Recall per class")
    return fig


def save_report_plots(report, folder, *, history=None, dpi=120):
    """Save the confusion matrix, recall bars and (if given) training curves as PNG.

    Parameters
    ----------
    report : EvaluationReport
    folder : str or path-like
        Created if needed.
    history : dict, default=None
        An estimator's ``history_``; adds ``training_curves.png``.
    dpi : int, default=120

    Returns
    -------
    paths : list of pathlib.Path
    """
    from pathlib import Path

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    figures = {
        "confusion_matrix.png": plot_confusion_matrix(report),
        "confusion_matrix_counts.png": plot_confusion_matrix(report, normalize=False),
        "per_class_recall.png": plot_per_class_recall(report),
    }
    if history:
        figures["training_curves.png"] = plot_training_curves(history)
    paths = []
    for name, fig in figures.items():
        fig.savefig(folder / name, dpi=dpi)
        paths.append(folder / name)
    return paths


def plot_emotions_over_time(table, *, title="Emotions over time"):
    """The probability of each emotion along a video, averaged over its faces.

    Parameters
    ----------
    table : pandas.DataFrame
        What :func:`~fer_classifier.video_emotions` returns.
    title : str, default="Emotions over time"

    Returns
    -------
    figure : matplotlib.figure.Figure
        One line per emotion: its mean probability over the faces of each
        analysed frame, against seconds (frames when the rate is unknown);
        dots on the time axis mark analysed frames without a face.
    """
    names = [c for c in table.columns[table.columns.get_loc("probability") + 1:]]
    use_time = len(table) > 0 and table["time"].notna().all()
    key, label = ("time", "Time (s)") if use_time else ("frame", "Frame")
    fig = _figure((10, 4))
    ax = fig.subplots()
    if len(table):
        mean = table.groupby(key)[names].mean()
        from .datasets import EMOTIONS
        from .photos import _COLOURS  # the colours draw_emotions gives the boxes

        for name in names:
            colour = _COLOURS[EMOTIONS.index(name)] if name in EMOTIONS else None
            ax.plot(mean.index, mean[name], label=name, color=colour)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small")
    else:
        ax.text(0.5, 0.5, "no face found", ha="center", va="center", transform=ax.transAxes)
    ax.set_ylim(0, 1)
    ax.set_xlabel(label)
    ax.set_ylabel("Mean probability over the faces")
    ax.set_title(title)
    return fig
