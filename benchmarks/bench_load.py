"""Time load_fer2013 against the naive per-row parsing loop on the same file.

    python benchmarks/bench_load.py [--data PATH] [--repeat 3]

Three readers of the same file:

- ``load_fer2013``: the library, which parses a plain Kaggle CSV as bytes
  while a second thread decompresses it (``fer_classifier._fastcsv``);
- its general path (pandas ``read_csv``, then the vectorised pixel parser),
  taken for any other layout;
- the naive loop: pandas ``read_csv``, then ``np.array(s.split())`` per row.

The script checks that all three give the same arrays, prints the best time
of each, the speed-ups over the naive loop and each reader's peak traced
memory (``tracemalloc``, a separate run), and writes them to
``--out``/bench_load.json (read by ``benchmarks/make_docs.py``).
"""

import argparse
import json
import time
import tracemalloc
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd

from _common import data_path, machine
from fer_classifier import load_fer2013


def naive_load(path):
    frame = pd.read_csv(path)
    pixels = np.array([np.array(s.split(), dtype=np.uint8) for s in frame["pixels"]])
    return pixels, frame["emotion"].to_numpy()


def general_load(path):
    """load_fer2013 with its fast reader switched off: the pandas path."""
    with mock.patch("fer_classifier.datasets.read_plain_fer2013", lambda *args: None):
        return load_fer2013(path)


def peak_memory(fn):
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def best_of(fn, repeat):
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="fer2013.csv or fer2013.csv.gz")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args()
    path = data_path(args.data)

    t_lib, bunch = best_of(lambda: load_fer2013(path), args.repeat)
    t_general, general = best_of(lambda: general_load(path), args.repeat)
    t_naive, (pixels, target) = best_of(lambda: naive_load(path), args.repeat)
    for name, other in [("the general path", general.data), ("the naive loop", pixels)]:
        if not (np.array_equal(bunch.data, other)
                and np.array_equal(bunch.target, general.target)
                and np.array_equal(bunch.target, target)):
            raise SystemExit(f"load_fer2013 and {name} disagree")
    memory = {name: peak_memory(lambda f=f: f(path)) / 2**20 for name, f in
              [("load_fer2013", load_fer2013), ("general", general_load),
               ("naive", naive_load)]}
    print(f"file: {path} ({len(pixels)} rows)")
    print(f"machine: {machine()}")
    print(f"load_fer2013:              {t_lib:6.2f} s (best of {args.repeat}), "
          f"{t_naive / t_lib:.1f}x the naive loop, peak {memory['load_fer2013']:.0f} MiB")
    print(f"general path (pandas):     {t_general:6.2f} s, {t_naive / t_general:.1f}x, "
          f"peak {memory['general']:.0f} MiB")
    print(f"naive np.array(s.split()): {t_naive:6.2f} s, peak {memory['naive']:.0f} MiB")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = {
        "machine": machine(),
        "rows": len(pixels),
        "repeat": args.repeat,
        "load_fer2013_seconds": t_lib,
        "general_path_seconds": t_general,
        "naive_seconds": t_naive,
        "speedup": t_naive / t_lib,
        "speedup_general_path": t_naive / t_general,
        "peak_traced_mib": memory,
    }
    (out / "bench_load.json").write_text(json.dumps(results, indent=2))

if __name__ == "__main__":
    main()
