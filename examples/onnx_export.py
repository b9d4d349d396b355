"""Export a model to ONNX and predict with onnxruntime
====================================================

::

    pip install "fer-classifier[onnx]"
    python examples/onnx_export.py                         # the bundled model
    python examples/onnx_export.py model.zip --out exported/

Writes the model (default: ``EmotionCNNClassifier.pretrained()``) as an ONNX
file, reads it back as an estimator that predicts with onnxruntime, checks
that both give the same probabilities (Keras in float32, as the ONNX file
computes), and times both, as they come, on a batch of 256 faces and on one
face.
"""

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from fer_classifier import EMOTIONS, EmotionCNNClassifier
from fer_classifier.samples import load_sample_faces


def best_of(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("model", nargs="?", help="a model file (default: the bundled model)")
    parser.add_argument("--out", default=".", help="folder for model.onnx (default: .)")
    args = parser.parse_args()
    try:
        clf = (EmotionCNNClassifier.load(args.model) if args.model
               else EmotionCNNClassifier.pretrained())
    except (OSError, ValueError) as exc:  # missing or malformed: say so in one line
        parser.error(str(exc))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = clf.export_onnx(out / "model.onnx")
    fast = EmotionCNNClassifier.load(path)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB); loaded as {fast.model_}")

    sample = load_sample_faces()
    rng = np.random.default_rng(0)
    # 256 faces: the two sample faces, mirrored and with a little noise.
    faces = np.concatenate([sample.images, sample.images[:, :, ::-1]] * 64)
    faces = np.clip(faces + rng.normal(0, 4, faces.shape), 0, 255).astype(np.uint8)
    # The ONNX file computes in float32; Keras does too with predict_precision="float32"
    # (by default it multiplies in bfloat16 on a CPU with AVX-512 BF16 or AMX).
    clf.set_params(predict_precision="float32")
    gap = np.abs(fast.predict_proba(faces) - clf.predict_proba(faces)).max()
    same = np.mean(fast.predict(faces) == clf.predict(faces))
    clf.set_params(predict_precision="auto")
    print(f"largest difference in a probability: {gap:.1e}; same class for {same:.0%} of faces")
    for name, code in zip(sample.names, fast.predict(sample.images)):
        print(f"  {name}: {EMOTIONS[code]}")

    print(f"\n{'runtime':12s} {'faces/s (256)':>14s} {'one face (ms)':>14s}")
    for label, model in (("Keras", clf), ("onnxruntime", fast)):
        batch, _ = best_of(lambda m=model: m.predict_proba(faces), 5)
        _, single = best_of(lambda m=model: m.predict_proba(faces[:1]), 50)
        print(f"{label:12s} {len(faces) / batch:14,.0f} {1000 * single:14.2f}")


if __name__ == "__main__":
    main()
