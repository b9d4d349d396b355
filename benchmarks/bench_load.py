"""Time load_fer2013 against the naive per-row parsing loop on the same file.

    python benchmarks/bench_load.py [--data PATH] [--repeat 3]

Both sides read the CSV with pandas; the naive side then converts every pixel
string with ``np.array(s.split())``. The script checks that both give the
same array, prints the best time of each and their ratio, and writes them to
``--out``/bench_load.json (read by ``benchmarks/make_docs.py``).
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from _common import data_path, machine
from fer_classifier import load_fer2013


def naive_load(path):
    frame = pd.read_csv(path)
    pixels = np.array([np.array(s.split(), dtype=np.uint8) for s in frame["pixels"]])
    return pixels, frame["emotion"].to_numpy()


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
    t_naive, (pixels, target) = best_of(lambda: naive_load(path), args.repeat)
    if not (np.array_equal(bunch.data, pixels) and np.array_equal(bunch.target, target)):
        raise SystemExit("load_fer2013 and the naive loop disagree")
    print(f"file: {path} ({len(pixels)} rows)")
    print(f"machine: {machine()}")
    print(f"load_fer2013:            {t_lib:6.2f} s (best of {args.repeat})")
    print(f"naive np.array(s.split()): {t_naive:6.2f} s (best of {args.repeat})")
    print(f"speed-up: {t_naive / t_lib:.1f}x")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = {
        "machine": machine(),
        "rows": len(pixels),
        "repeat": args.repeat,
        "load_fer2013_seconds": t_lib,
        "naive_seconds": t_naive,
        "speedup": t_naive / t_lib,
    }
    (out / "bench_load.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
