"""Draw a bundled model's figures for the docs: training curves and PublicTest confusion matrix.

    python benchmarks/plot_pretrained.py [--model fer2013] [--data PATH]

Reads the curves from ``results/pretrained/<model>/train_pretrained.json``
(written by ``train_pretrained.py``), classifies PublicTest with
``EmotionCNNClassifier.pretrained(<model>)`` (no TTA) and writes
``docs/_static/pretrained/<model>_training_curves.png`` and
``<model>_confusion_matrix.png``, which ``make_docs.py`` puts in the docs (an
ensemble, never trained as a whole, has no curves: its members' pages show them).
"""

import argparse
import json
from pathlib import Path

from _common import data_path

from fer_classifier import EmotionCNNClassifier, load_fer2013
from fer_classifier.evaluation import EvaluationReport
from fer_classifier.plotting import plot_confusion_matrix, plot_training_curves

ROOT = Path(__file__).resolve().parents[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="fer2013")
    parser.add_argument("--data", help="fer2013.csv or fer2013.csv.gz")
    args = parser.parse_args()
    train = json.loads((ROOT / "benchmarks" / "results" / "pretrained" / args.model
                        / "train_pretrained.json").read_text())
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
    if "history" in train:
        history = {k: v for k, v in train["history"].items()
                   if k in ("loss", "accuracy", "val_loss", "val_accuracy")}
        figures[f"{args.model}_training_curves.png"] = plot_training_curves(
            history, title=f'pretrained("{args.model}"): training curves')
    for name, figure in figures.items():
        figure.savefig(out / name, dpi=100)
        print(f"wrote {out / name}")


if __name__ == "__main__":
    main()
