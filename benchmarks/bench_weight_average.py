"""Does averaging the weights of fine-tuned copies of one network beat each copy?

    python benchmarks/bench_weight_average.py A.zip B.zip [...] [--data PATH] [--json OUT]

Each argument is a model file (``EmotionCNNClassifier.save``) or a bundled
model's name, all of one architecture and, for the average to mean anything,
one training run's descendants (for example the default and a further
``warm_start`` cycle of it, whose weights stay in the same basin). Scores each
on FER2013 PublicTest, then the element-wise mean of their weights, twice: with
the batch norms' statistics averaged too, and with them re-estimated on 10,000
Training faces as ``fit`` ends (stochastic weight averaging). Predictions are
made in float32, as the training records' figures are. Prints accuracy without
and with the mirror TTA; ``--json`` also writes them.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
from _common import data_path, machine

from fer_classifier import EmotionCNNClassifier, load_fer2013
from fer_classifier.estimator import (
    _PRETRAINED,
    _calibration_indices,
    _network_of,
    _recalibrate_keras_batchnorm,
)


def load(name):
    clf = (EmotionCNNClassifier.pretrained(name) if name in _PRETRAINED
           else EmotionCNNClassifier.load(name))
    return clf.set_params(predict_precision="float32")


def scores(clf, test):
    row = {}
    for label, tta in (("accuracy", False), ("accuracy_tta", "flip")):
        clf.set_params(tta=tta)
        row[label] = float(np.mean(clf.predict(test.images) == test.target))
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", help="model files or bundled names (two or more)")
    parser.add_argument("--data", help="fer2013.csv or fer2013.csv.gz")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    args = parser.parse_args()
    if len(args.models) < 2:
        parser.error(f"give two or more models to average; got {args.models}")
    path = data_path(args.data)
    test = load_fer2013(path, subset="PublicTest")
    train = load_fer2013(path, subset="Training")

    rows, weights, first = {}, [], None
    for name in args.models:
        clf = load(name)
        first = clf if first is None else first
        if clf.architecture != first.architecture:
            raise SystemExit(f"{name} is a {clf.architecture!r} network, {args.models[0]} "
                             f"a {first.architecture!r} one: only one architecture averages")
        weights.append(clf.model_.get_weights())
        rows[name] = scores(clf, test)
        print(f"{name}: {rows[name]['accuracy']:.4f}, with TTA {rows[name]['accuracy_tta']:.4f}",
              flush=True)
    mean = [np.mean([w[i] for w in weights], axis=0).astype(weights[0][i].dtype)
            for i in range(len(weights[0]))]

    # A fresh copy each time: a loaded model caches its prediction graph.
    averaged = load(args.models[0])
    averaged.model_.set_weights(mean)
    rows["average, batch-norm statistics averaged"] = scores(averaged, test)
    recalibrated = load(args.models[0])
    recalibrated.model_.set_weights(mean)
    chosen = _calibration_indices(np.arange(len(train.target)), seed=0)
    faces = train.images[chosen][..., np.newaxis].astype(np.float32) / np.float32(255.0)
    _recalibrate_keras_batchnorm(_network_of(recalibrated.model_), faces, 128)
    rows["average, batch-norm statistics re-estimated"] = scores(recalibrated, test)
    for name in list(rows)[-2:]:
        print(f"{name}: {rows[name]['accuracy']:.4f}, with TTA {rows[name]['accuracy_tta']:.4f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "models": args.models, "scores": rows, "machine": machine(),
            "command": "python benchmarks/bench_weight_average.py " + " ".join(
                str(m) for m in args.models),
            "date": time.strftime("%Y-%m-%d"),
        }, indent=1) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
