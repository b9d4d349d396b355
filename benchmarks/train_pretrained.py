"""Train the model bundled with fer-classifier, from FER2013, with a fixed seed.

    python benchmarks/train_pretrained.py [--data PATH] [--epochs 36] [--install]

Trains ``EmotionCNNClassifier`` with the recipe below on the Training split
only, watching PublicTest after each epoch (reported, never used to pick
weights: the model kept is the one after the last epoch). Progress is
checkpointed every epoch to ``--out/checkpoint.zip``, so an interrupted run
continues where it stopped when started again with the same options.

Writes to ``--out`` (default ``benchmarks/results/pretrained``):

- ``model.zip``: the fitted estimator, without optimizer state, with its
  training facts and PublicTest figures in ``metadata_``;
- ``train_pretrained.json``: the same figures and the per-epoch curves.

``--install`` also copies ``model.zip`` to
``src/fer_classifier/pretrained/vgg_small.zip``, the file that
``EmotionCNNClassifier.pretrained()`` loads.

Runs on any Keras backend; on a GPU machine use ``KERAS_BACKEND=jax``.
"""

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
from _common import data_path, machine

from fer_classifier import EmotionCNNClassifier, __version__, load_fer2013
from fer_classifier.evaluation import EvaluationReport

ROOT = Path(__file__).resolve().parents[1]
INSTALLED = ROOT / "src" / "fer_classifier" / "pretrained" / "vgg_small.zip"

RECIPE = dict(
    architecture="vgg_small",
    conv_dropout=0.1,
    dense_dropout=0.4,
    optimizer="adamw",
    learning_rate=2e-3,
    weight_decay=0.05,
    lr_schedule="cosine",
    batch_size=64,
    label_smoothing=0.1,
    augmentation="standard",
    validation_fraction=0.0,
    tta=True,
)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="fer2013.csv or fer2013.csv.gz")
    parser.add_argument("--epochs", type=int, default=36)
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--architecture", default=RECIPE["architecture"],
                        help="network (default: %(default)s; 'vgg' is 4x the compute)")
    parser.add_argument("--limit", type=int, default=None,
                        help="train on the first N Training faces only (smoke tests)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "pretrained"))
    parser.add_argument("--install", action="store_true",
                        help=f"copy the model to {INSTALLED.relative_to(ROOT)}")
    args = parser.parse_args()
    path = data_path(args.data)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    train = load_fer2013(path, subset="Training")
    test = load_fer2013(path, subset="PublicTest")
    X, y = train.images[: args.limit], train.target[: args.limit]
    recipe = {**RECIPE, "architecture": args.architecture}
    clf = EmotionCNNClassifier(
        **recipe, epochs=args.epochs, random_state=args.random_state, verbose=1
    )
    print(f"training {clf!r} on {len(y)} faces; checkpoint {out / 'checkpoint.zip'}", flush=True)
    start = time.perf_counter()
    clf.fit(X, y, validation_data=(test.images, test.target),
            checkpoint=out / "checkpoint.zip")
    seconds = time.perf_counter() - start  # this run only (not earlier, resumed parts)

    report = EvaluationReport.from_estimator(clf, test.images, test.target)
    plain = clf.set_params(tta=False).score(test.images, test.target)
    clf.set_params(tta=True)
    curve = clf.history_["val_accuracy"]
    metrics = {
        "publictest_accuracy": report.accuracy,
        "publictest_accuracy_without_tta": plain,
        "publictest_macro_f1": report.f1_macro,
        "publictest_balanced_accuracy": report.balanced_accuracy,
        "publictest_recall": {k: float(v) for k, v in report.per_class["recall"].items()},
    }
    facts = {
        "trained_on": f"FER2013 Training split ({len(y)} faces, 48x48 grayscale)",
        "evaluated_on": f"FER2013 PublicTest split ({len(test.target)} faces)",
        "recipe": {**recipe, "epochs": args.epochs, "random_state": args.random_state},
        "epochs_run": clf.n_iter_,
        "command": "python benchmarks/train_pretrained.py " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "train_seconds_this_run": round(seconds, 1),
        **metrics,
    }
    print(f"\nmachine: {machine()}")
    print("epoch  train_acc  publictest_acc(no TTA)")
    for i, (tr, te) in enumerate(zip(clf.history_["accuracy"], curve), start=1):
        print(f"{i:5d}  {tr:9.4f}  {te:14.4f}")
    print(report.summary())
    print(f"PublicTest accuracy: {report.accuracy:.4f} with TTA, {plain:.4f} without")
    print(f"training time of this run: {seconds / 60:.1f} min for {clf.n_iter_} epochs in all")

    # save -> load -> save drops the optimizer state: a smaller file to ship.
    clf.save(out / "model.zip", metadata=facts)
    slim = EmotionCNNClassifier.load(out / "model.zip")
    slim.save(out / "model.zip")
    (out / "train_pretrained.json").write_text(
        json.dumps({**facts, "fer_classifier_version": __version__,
                    "history": clf.history_}, indent=2)
    )
    print(f"wrote {out / 'model.zip'} ({(out / 'model.zip').stat().st_size / 1e6:.2f} MB) "
          f"and {out / 'train_pretrained.json'}")
    if args.install:
        INSTALLED.parent.mkdir(exist_ok=True)
        shutil.copyfile(out / "model.zip", INSTALLED)
        print(f"installed as {INSTALLED}")


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    main()
