"""Train the reference "seed" CNN on FER2013 Training and score it on PublicTest.

    python benchmarks/bench_seed.py [--data PATH] [--epochs 50] [--out DIR]

The recipe is the research one: Adam, learning rate 1e-3, batch 100, conv
dropout 0.25, dense dropout 0.5, no augmentation. PublicTest is evaluated after
every epoch (it is passed as validation data and used for nothing else), so
the printed curve is test accuracy by epoch. Prints the final PublicTest
accuracy and the mean seconds per epoch, and writes ``bench_seed.json``
(figures and curves) and ``seed.zip`` (the model) to ``--out``.
"""

import argparse
import json
import time
from pathlib import Path

from _common import data_path, machine
from fer_classifier import EmotionCNNClassifier, __version__, load_fer2013


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="fer2013.csv or fer2013.csv.gz")
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "seed"))
    args = parser.parse_args()
    path = data_path(args.data)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    train = load_fer2013(path, subset="Training")
    test = load_fer2013(path, subset="PublicTest")
    clf = EmotionCNNClassifier(
        "seed", epochs=args.epochs, validation_fraction=0.0,
        random_state=args.random_state, verbose=1,
    )
    start = time.perf_counter()
    clf.fit(train.images, train.target, validation_data=(test.images, test.target))
    seconds = time.perf_counter() - start
    accuracy = clf.score(test.images, test.target)
    curve = clf.history_["val_accuracy"]
    best = max(range(len(curve)), key=curve.__getitem__)

    print(f"\nmachine: {machine()}")
    print("epoch  train_acc  publictest_acc")
    for i, (tr, te) in enumerate(zip(clf.history_["accuracy"], curve), start=1):
        print(f"{i:5d}  {tr:9.4f}  {te:14.4f}")
    print(f"PublicTest accuracy after {clf.n_iter_} epochs: {accuracy:.4f}")
    print(f"best PublicTest accuracy: {curve[best]:.4f} at epoch {best + 1}")
    print(f"seconds per epoch (mean, incl. PublicTest evaluation): {seconds / clf.n_iter_:.1f}")

    clf.save(out / "seed.zip")
    results = {
        "fer_classifier_version": __version__,
        "machine": machine(),
        "epochs": clf.n_iter_,
        "train_size": len(train.target),
        "test_size": len(test.target),
        "publictest_accuracy": accuracy,
        "best_publictest_accuracy": curve[best],
        "best_epoch": best + 1,
        "seconds_per_epoch": seconds / clf.n_iter_,
        "history": clf.history_,
    }
    (out / "bench_seed.json").write_text(json.dumps(results, indent=2))
    print(f"wrote {out / 'bench_seed.json'} and {out / 'seed.zip'}")


if __name__ == "__main__":
    main()
