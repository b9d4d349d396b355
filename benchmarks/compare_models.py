"""Is one model more accurate than another on the same PublicTest faces? A paired test.

    python benchmarks/compare_models.py A B [--data PATH] [--json OUT]

A and B are model files (``EmotionCNNClassifier.save``) or bundled model
names. Both classify the 3,589 FER2013 PublicTest faces in float32 (as the
training records' figures are made), without and with the mirror TTA. For
each mode it prints both accuracies, the faces only A gets right and those
only B gets right, and McNemar's exact test on those two counts: the chance of
a split at least that uneven if both models were equally accurate (two-sided
binomial test with p = 1/2). Two accuracies a few tenths apart on 3,589 faces
are within one standard error of each other (0.76 points), but the paired test
uses the faces both get right or wrong, so it separates real gains sooner.
"""

import argparse
import json
from math import comb
from pathlib import Path

from _common import data_path, machine

from fer_classifier import EmotionCNNClassifier, load_fer2013
from fer_classifier.estimator import _PRETRAINED


def load(name):
    if name not in _PRETRAINED and not Path(name).is_file():
        raise SystemExit(f"{name}: neither a model file nor a bundled model "
                         f"({', '.join(_PRETRAINED)})")
    clf = (EmotionCNNClassifier.pretrained(name) if name in _PRETRAINED
           else EmotionCNNClassifier.load(name))
    return clf.set_params(predict_precision="float32")


def mcnemar_exact(only_a, only_b):
    """Two-sided exact McNemar p-value for discordant counts ``only_a`` and ``only_b``."""
    n = only_a + only_b
    if n == 0:
        return 1.0
    tail = sum(comb(n, i) for i in range(min(only_a, only_b) + 1))
    return min(1.0, 2 * tail / 2 ** n)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", help="model file or bundled name")
    parser.add_argument("b", help="model file or bundled name")
    parser.add_argument("--data", help="fer2013.csv or fer2013.csv.gz")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    test = load_fer2013(data_path(args.data), subset="PublicTest")
    models = {"a": load(args.a), "b": load(args.b)}
    rows = {}
    for mode, tta in (("none", False), ("flip", True)):
        right = {k: clf.set_params(tta=tta).predict(test.images) == test.target
                 for k, clf in models.items()}
        only_a = int((right["a"] & ~right["b"]).sum())
        only_b = int((right["b"] & ~right["a"]).sum())
        rows[mode] = {"accuracy_a": float(right["a"].mean()),
                      "accuracy_b": float(right["b"].mean()),
                      "only_a_right": only_a, "only_b_right": only_b,
                      "mcnemar_p": mcnemar_exact(only_a, only_b)}
        r = rows[mode]
        print(f"TTA {mode:4s}: A {r['accuracy_a']:.2%}  B {r['accuracy_b']:.2%}  "
              f"only A right {only_a}, only B right {only_b}, "
              f"McNemar exact p = {r['mcnemar_p']:.2f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"a": args.a, "b": args.b, "machine": machine(),
                                         "n_faces": len(test.target), "modes": rows},
                                        indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
