"""Draw a bundled model's figures for the docs: training curves and PublicTest confusion matrix.

    python benchmarks/plot_pretrained.py [--model fer2013] [--data PATH]

Reads the curves from ``results/pretrained/<model>/train_pretrained.json``
(written by ``train_pretrained.py``), classifies PublicTest with
``EmotionCNNClassifier.pretrained(<model>)`` (no TTA) and writes
``docs/_static/pretrained/<model>_training_curves.png`` and
``<model>_confusion_matrix.png``, which ``make_docs.py`` puts in the docs (an
ensemble, never trained as a whole, has no curves: its members' pages show them).
A model fine-tuned from another recipe (``fine_tuned_from``) is drawn with the
curves of every stage before it, one after the other, a dotted line where each
stage starts.
"""

import argparse
import json
from pathlib import Path

from _common import data_path

from fer_classifier import EmotionCNNClassifier, load_fer2013
from fer_classifier.evaluation import EvaluationReport
from fer_classifier.plotting import plot_confusion_matrix, plot_training_curves

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "pretrained"
CURVES = ("loss", "accuracy", "val_loss", "val_accuracy")


def stages(name, record):
    """``[(name, record)]`` for the stages ``record`` (recipe ``name``'s) was
    fine-tuned from, first stage first, then ``record`` itself; those with curves."""
    chain = [(name, record)]
    while chain[0][1].get("fine_tuned_from"):
        name = chain[0][1]["fine_tuned_from"].split()[0]
        path = RESULTS / name / "train_pretrained.json"
        if not path.is_file() or any(n == name for n, _ in chain):
            break
        chain.insert(0, (name, json.loads(path.read_text())))
    return [(n, r) for n, r in chain if "history" in r]


def joined_history(chain):
    """The curves of ``chain``'s stages end to end, and the epochs where each
    later stage starts (0-based)."""
    history = {k: [] for k in CURVES if k in chain[-1][1]["history"]}
    starts = []
    for _, record in chain:
        if history["loss"]:
            starts.append(len(history["loss"]))
        for key, values in history.items():
            values.extend(record["history"].get(key, [float("nan")] * len(record["history"]["loss"])))
    return history, starts


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="fer2013")
    parser.add_argument("--data", help="fer2013.csv or fer2013.csv.gz")
    args = parser.parse_args()
    train = json.loads((RESULTS / args.model / "train_pretrained.json").read_text())
    test = load_fer2013(data_path(args.data), subset="PublicTest")
    # float32 predictions, as train_pretrained.py measures them.
    clf = EmotionCNNClassifier.pretrained(args.model).set_params(predict_precision="float32")
    report = EvaluationReport.from_estimator(clf,
                                             test.images, test.target)
    if abs(report.accuracy - train["publictest_accuracy"]) > 1e-9:
        raise SystemExit(f"the bundled {args.model} scores {report.accuracy:.4f}, its "
                         f"training record {train['publictest_accuracy']:.4f}: not the same model")
    out = ROOT / "docs" / "_static" / "pretrained"
    out.mkdir(parents=True, exist_ok=True)
    figures = {f"{args.model}_confusion_matrix.png": plot_confusion_matrix(report)}
    chain = stages(args.model, train)
    if chain and chain[-1][1] is train:
        history, starts = joined_history(chain)
        title = f'pretrained("{args.model}"): training curves'
        if starts:
            title += f" of its {len(chain)} stages (dotted: where each starts)"
        figure = plot_training_curves(history, title=title)
        for ax in figure.axes:
            for epoch in starts:
                ax.axvline(epoch + 0.5, color="grey", linestyle=":", linewidth=1)
        figures[f"{args.model}_training_curves.png"] = figure
    for name, figure in figures.items():
        figure.savefig(out / name, dpi=100)
        print(f"wrote {out / name}")


if __name__ == "__main__":
    main()
