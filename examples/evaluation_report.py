"""Evaluation report and plots: metrics, per-class table, confusion matrix, curves
===============================================================================

::

    python examples/evaluation_report.py [--out report/]                      # synthetic
    python examples/evaluation_report.py path/to/fer2013.csv --out report/    # FER2013

With FER2013 it reports on the pretrained model over PublicTest; without, it
trains a small network on synthetic faces and reports on their test part.
Writes report.json, report.md and PNG plots to --out (plots need matplotlib:
pip install "fer-classifier[plot]").
"""

import argparse
from pathlib import Path

from fer_classifier import EmotionCNNClassifier, load_fer2013, make_synthetic_faces
from fer_classifier.evaluation import EvaluationReport
from fer_classifier.plotting import save_report_plots


def main():
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("data", nargs="?", help="fer2013.csv(.gz); synthetic faces if omitted")
    parser.add_argument("--out", default="report", help="folder for the report (default: report)")
    args = parser.parse_args()

    if args.data:
        clf = EmotionCNNClassifier.pretrained()
        try:
            test = load_fer2013(args.data, subset="PublicTest")
        except (OSError, ValueError) as exc:  # missing or malformed: say so in one line
            parser.error(str(exc))
        X_test, y_test, title = test.images, test.target, "Pretrained model on PublicTest"
    else:
        faces = make_synthetic_faces(140, image_size=24, random_state=0)
        train, test = faces.usage == "Training", faces.usage == "PublicTest"
        # float32: so few steps in bfloat16 land far apart on CPUs whose bfloat16
        # units round differently (AMX against AVX-512 BF16)
        clf = EmotionCNNClassifier("vgg_small", epochs=6, batch_size=8, learning_rate=3e-3,
                                   precision="float32", random_state=0)
        clf.fit(faces.images[train], faces.target[train])
        X_test, y_test, title = faces.images[test], faces.target[test], "Synthetic faces"
        print("No data path given: trained on 140 synthetic 24x24 cartoon faces.")

    report = EvaluationReport.from_estimator(clf, X_test, y_test)
    print(report.to_markdown(title=title))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report.write_json(out / "report.json")
    report.write_markdown(out / "report.md", title=title)
    try:
        plots = save_report_plots(report, out, history=clf.history_)
    except ImportError as exc:  # matplotlib is optional: the report is written without plots
        print(f"wrote report.json and report.md to {out}; no plots: {exc}")
    else:
        print(f"wrote report.json, report.md and {', '.join(p.name for p in plots)} to {out}")


if __name__ == "__main__":
    main()
