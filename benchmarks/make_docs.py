"""Render the measured benchmark figures into docs/_generated/benchmarks.rst.

    python benchmarks/make_docs.py

Reads the JSON files that the benchmark scripts write under
``benchmarks/results/`` so that the documentation shows measured figures,
never typed ones. A benchmark without results is listed as not yet run.
"""

import json
from pathlib import Path

HERE = Path(__file__).parent
RESULTS = HERE / "results"
DOCS = HERE.parent / "docs"
TARGET = DOCS / "_generated" / "benchmarks.rst"
RESEARCH = DOCS / "_static" / "research"
RESEARCH_TARGET = DOCS / "_generated" / "research.rst"


def _load(name):
    path = RESULTS / name
    return json.loads(path.read_text()) if path.is_file() else None


def load_section(res):
    lines = ["Loading FER2013", "---------------", "", "``python benchmarks/bench_load.py``", ""]
    if res is None:
        return lines + ["Not run yet.", ""]
    return lines + [
        f"Best of {res['repeat']} on {res['rows']:,} rows ({res['machine']}):",
        "",
        ".. list-table::",
        "   :header-rows: 1",
        "",
        "   * - method",
        "     - seconds",
        "   * - ``load_fer2013`` (read + vectorised parse)",
        f"     - {res['load_fer2013_seconds']:.2f}",
        "   * - ``pd.read_csv`` + per-row ``np.array(s.split())``",
        f"     - {res['naive_seconds']:.2f}",
        "",
        f"Speed-up: {res['speedup']:.1f}x.",
        "",
    ]


def seed_section(res):
    lines = [
        "The research CNN (``\"seed\"``)",
        "------------------------------",
        "",
        "``python benchmarks/bench_seed.py --epochs 50``: trained on Training "
        "(28,709 faces), scored on PublicTest (3,589) after every epoch; Adam, "
        "learning rate 0.001, batch 100, dropout 0.25/0.5, no augmentation, "
        "``random_state=0``.",
        "",
    ]
    if res is None:
        return lines + ["Not run yet.", ""]
    lines += [
        f"- PublicTest accuracy after {res['epochs']} epochs: **{res['publictest_accuracy']:.1%}**",
        f"- best PublicTest accuracy: {res['best_publictest_accuracy']:.1%} "
        f"(epoch {res['best_epoch']})",
        f"- {res['seconds_per_epoch']:.0f} s per epoch on average, including the "
        f"PublicTest evaluation ({res['machine']}; the machine was also running "
        "other work, so idle-machine epochs are faster)",
        "",
        "The research reported 62.6% after 50 epochs on a random 80/20 split of "
        "FER2013; the Training -> PublicTest split is harder.",
        "",
        ".. list-table:: Accuracy by epoch",
        "   :header-rows: 1",
        "",
        "   * - epoch",
        "     - training accuracy",
        "     - PublicTest accuracy",
    ]
    hist = res["history"]
    for i, (train, test) in enumerate(zip(hist["accuracy"], hist["val_accuracy"]), start=1):
        lines += [f"   * - {i}", f"     - {train:.3f}", f"     - {test:.3f}"]
    return lines + [""]


def research_page():
    """The reproduction of the research experiment, from reproduce_research.sh's report."""
    path = RESEARCH / "report.json"
    if not path.is_file():
        return "Not run yet: ``bash benchmarks/reproduce_research.sh``.\n"
    rep = json.loads(path.read_text())
    info_path = RESEARCH / "model_info.json"
    info = json.loads(info_path.read_text()) if info_path.is_file() else {}
    lines = [
        f"Measured on FER2013 PublicTest ({rep['n_samples']:,} faces) with the model "
        f"trained for {info.get('n_iter', '?')} epochs on Training:",
        "",
        "==========================  ==========",
        "metric                      value",
        "==========================  ==========",
    ]
    for key, label in [
        ("accuracy", "accuracy"), ("balanced_accuracy", "balanced accuracy"),
        ("f1_macro", "macro F1"), ("f1_weighted", "weighted F1"),
        ("top2_accuracy", "top-2 accuracy"), ("log_loss", "log loss"),
        ("mse", "MSE of probabilities"),
    ]:
        value = rep[key]
        text = f"{value:.4f}" if key in ("log_loss", "mse") else f"{value:.1%}"
        lines.append(f"{label:<26}  {text}")
    lines += ["==========================  ==========", "",
              ".. list-table:: Per class", "   :header-rows: 1", "",
              "   * - class", "     - precision", "     - recall", "     - F1", "     - support"]
    for name, row in rep["per_class"].items():
        lines += [f"   * - {name}", f"     - {row['precision']:.3f}", f"     - {row['recall']:.3f}",
                  f"     - {row['f1']:.3f}", f"     - {row['support']}"]
    lines.append("")
    for png, caption in [
        ("training_curves.png", "Loss and accuracy per epoch (validation = PublicTest)."),
        ("confusion_matrix.png", "Confusion matrix, rows normalised by true class."),
        ("per_class_recall.png", "Recall per class."),
    ]:
        if (RESEARCH / png).is_file():
            lines += [f".. figure:: /_static/research/{png}", "   :width: 90%", "",
                      f"   {caption}", ""]
    return "\n".join(lines)


def main():
    text = "\n".join(
        [".. Generated by benchmarks/make_docs.py; do not edit.", ""]
        + load_section(_load("bench_load.json"))
        + seed_section(_load("seed/bench_seed.json"))
    )
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    TARGET.write_text(text)
    RESEARCH_TARGET.write_text(
        ".. Generated by benchmarks/make_docs.py; do not edit.\n\n" + research_page()
    )
    print(f"wrote {TARGET} and {RESEARCH_TARGET}")


if __name__ == "__main__":
    main()
