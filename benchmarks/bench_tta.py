"""PublicTest accuracy of each bundled model with each test-time augmentation.

    python benchmarks/bench_tta.py [--data PATH] [--model NAME ...]

For every name ``EmotionCNNClassifier.pretrained()`` takes, scores the 3,589
FER2013 PublicTest faces with ``tta=False`` (one view of each face),
``tta="flip"`` (the face and its mirror image: 2 views) and ``tta="crops"``
(the face and four diagonal 2-pixel shifts, each mirrored: 10 views), and
prints accuracy, macro F1 and per-class recall. The cost of a mode is its
number of views (predict time grows in proportion), so no speed is measured.
Writes ``results/tta/bench_tta.json``, which ``make_docs.py`` turns into the
table of the documentation's pretrained page. ``--model`` measures only the
models named (e.g. one whose weights changed) and keeps the other models' rows
of an existing JSON file.
"""

import argparse
import json
import time
from pathlib import Path

from _common import data_path, machine

from fer_classifier import EmotionCNNClassifier, load_fer2013
from fer_classifier.evaluation import EvaluationReport
from fer_classifier.estimator import _PRETRAINED

OUT = Path(__file__).parent / "results" / "tta" / "bench_tta.json"
MODES = {"none": False, "flip": "flip", "crops": "crops"}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="fer2013.csv or fer2013.csv.gz")
    parser.add_argument("--model", nargs="+", choices=list(_PRETRAINED), default=None,
                        metavar="NAME", help="measure only these bundled models "
                        f"({', '.join(_PRETRAINED)}); default: all")
    args = parser.parse_args()
    test = load_fer2013(data_path(args.data), subset="PublicTest")
    results, names = {}, args.model or list(_PRETRAINED)
    if args.model and OUT.is_file():
        kept = json.loads(OUT.read_text())["models"]
        results = {name: kept[name] for name in _PRETRAINED if name in kept}
    for name in names:
        # float32 predictions, as train_pretrained.py measures: the same on every CPU.
        clf = EmotionCNNClassifier.pretrained(name).set_params(predict_precision="float32")
        results[name] = {}
        for mode, tta in MODES.items():
            start = time.perf_counter()
            report = EvaluationReport.from_estimator(clf.set_params(tta=tta), test.images,
                                                     test.target)
            results[name][mode] = {
                "accuracy": report.accuracy,
                "macro_f1": report.f1_macro,
                "recall": {k: float(v) for k, v in report.per_class["recall"].items()},
            }
            print(f"{name:14s} tta={mode:5s}  accuracy {report.accuracy:.2%}  "
                  f"macro F1 {report.f1_macro:.2%}  ({time.perf_counter() - start:.0f} s)",
                  flush=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({
        "command": "python benchmarks/bench_tta.py",
        "machine": machine(),
        "n_faces": len(test.target),
        "views": {"none": 1, "flip": 2, "crops": 10},
        "models": {name: results[name] for name in _PRETRAINED if name in results},
    }, indent=2) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
