"""Which bundled networks to average: PublicTest accuracy of every combination.

    python benchmarks/bench_ensemble.py [--data PATH] [--tta MODE ...] [--top N]
        [--candidate NAME=MODEL.zip ...] [--out PATH]

Loads every network file bundled in ``fer_classifier/pretrained`` (the
``pretrained()`` names and the ensemble members that are not offered alone),
computes each one's probabilities for the 3,589 FER2013 PublicTest faces once
per test-time augmentation mode, then scores the uniform average of every
non-empty subset of them, as ``EmotionCNNClassifier.ensemble`` would combine
them. Prints the ``--top`` subsets per mode and writes all of them to
``results/ensemble/bench_ensemble.json``.

It is the measurement behind the choice of ``pretrained("ensemble")``'s
members: a network earns its place if adding it raises the average.
``--candidate NAME=PATH`` adds a network that is not bundled (a model file
written by ``train_pretrained.py``), to try it as a member before shipping it;
give such runs an ``--out`` of their own. With
PublicTest's 3,589 faces one face is 0.03 points, and differences under about
half a point are within what another seed changes.
"""

import argparse
import itertools
import json
import sys
import time
from importlib import resources
from pathlib import Path

import numpy as np
from _common import data_path, machine

from fer_classifier import EmotionCNNClassifier, load_fer2013

OUT = Path(__file__).parent / "results" / "ensemble" / "bench_ensemble.json"
MODES = {"none": False, "flip": "flip", "crops": "crops"}


def bundled_networks():
    """Name -> path of each single network shipped in the package."""
    folder = resources.files("fer_classifier") / "pretrained"
    return {p.name[:-len(".zip")]: p for p in sorted(folder.iterdir(), key=lambda p: p.name)
            if p.name.endswith(".zip")}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="fer2013.csv or fer2013.csv.gz")
    parser.add_argument("--tta", nargs="+", choices=list(MODES), default=list(MODES),
                        metavar="MODE", help="test-time augmentation modes to score "
                        f"({', '.join(MODES)}); default: all")
    parser.add_argument("--top", type=int, default=8, help="rows printed per mode (default: 8)")
    parser.add_argument("--candidate", action="append", default=[], metavar="NAME=PATH",
                        help="also score this model file (not bundled) under NAME; repeatable")
    parser.add_argument("--out", default=str(OUT), help="JSON to write (default: %(default)s)")
    args = parser.parse_args()
    if args.top < 1:
        parser.error(f"--top must be at least 1. Received: --top {args.top}")
    bundled = bundled_networks()
    networks = dict(bundled)
    for spec in args.candidate:
        name, _, path = spec.partition("=")
        if not name or not path:
            parser.error(f"--candidate takes NAME=PATH. Received: --candidate {spec}")
        if name in bundled:
            parser.error(f"--candidate {name} is already a bundled network's name")
        if not Path(path).is_file():
            parser.error(f"--candidate {name}: no such file: {path}")
        networks[name] = Path(path)
    test = load_fer2013(data_path(args.data), subset="PublicTest")
    results = {}
    for mode in args.tta:
        proba = {}
        for name, path in networks.items():
            start = time.perf_counter()
            clf = EmotionCNNClassifier.load(path).set_params(
                tta=MODES[mode], predict_precision="float32")  # the same on every CPU
            proba[name] = clf.predict_proba(test.images)
            print(f"{name:20s} tta={mode:5s} {np.mean(proba[name].argmax(1) == test.target):.2%}"
                  f"  ({time.perf_counter() - start:.0f} s)", flush=True)
        rows = []
        for size in range(1, len(networks) + 1):
            for subset in itertools.combinations(networks, size):
                mean = sum(proba[name] for name in subset) / size
                rows.append({"members": list(subset),
                             "accuracy": float(np.mean(mean.argmax(1) == test.target))})
        rows.sort(key=lambda row: (-row["accuracy"], len(row["members"])))
        results[mode] = rows
        print(f"\nbest averages, tta={mode}:")
        for row in rows[:args.top]:
            print(f"  {row['accuracy']:.2%}  {' + '.join(row['members'])}")
        print(flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "command": "python benchmarks/bench_ensemble.py " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "n_faces": len(test.target),
        "networks": list(networks),
        "candidates": {name: str(path) for name, path in networks.items()
                       if name not in bundled},
        "combinations": results,
    }, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
