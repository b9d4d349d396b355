"""Distillation targets fixed once against a teacher asked on every augmented batch.

    python benchmarks/bench_distillation.py --mode fixed [--student vgg_medium]
        [--epochs 10] [--teacher fer2013-large[,NAME...]] [--data PATH] [--out DIR]
    python benchmarks/bench_distillation.py --mode batches ...
    python benchmarks/bench_distillation.py --mode labels ...

One arm per run (each takes from minutes to hours), the same in all but the
targets: the student network (default ``"vgg_medium"``, the default model's),
initial weights, seed, batch order, augmentation (``"standard"``), AdamW 2e-3
with weight decay 0.05 and a cosine schedule, batch 128, on FER2013 Training;
PublicTest after every epoch and at the end (after the batch-norm pass, also
with the mirror TTA). The targets:

- ``fixed``: ``distillation_targets(teacher with tta=True, X, y)``, computed
  once on the unaltered faces (``fit(target_proba=...)``, the recipe of the
  bundled distilled models);
- ``batches``: 0.3 x label + 0.7 x the teacher's probabilities for each
  augmented view the student trains on (``fit(teacher=...)``);
- ``labels``: the one-hot labels alone.

It calls the PyTorch engine's training loop directly (as ``fit`` does), so
that the arms share everything else bit for bit. Each run prints its curve
and writes ``<mode>-<student>-e<epochs>.json`` to ``--out`` (default
``benchmarks/results/distillation``). Needs PyTorch.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
from _common import data_path, machine

from fer_classifier import EmotionCNNClassifier, distillation_targets, load_fer2013
from fer_classifier._quiet import import_keras


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["fixed", "batches", "labels"], required=True)
    parser.add_argument("--student", default="vgg_medium", help="architecture name")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--teacher", default="fer2013-large",
                        help="bundled model name(s), comma-separated to average them")
    parser.add_argument("--teacher-weight", type=float, default=0.7)
    parser.add_argument("--data", help="fer2013.csv or fer2013.csv.gz")
    parser.add_argument("--limit", type=int, default=None,
                        help="train on the first N Training faces only (smoke tests)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "distillation"))
    args = parser.parse_args()
    path = data_path(args.data)

    keras = import_keras()
    import torch

    from fer_classifier import _torch_engine as engine
    from fer_classifier.architectures import get_architecture
    from fer_classifier.estimator import _network_of

    train = load_fer2013(path, subset="Training")
    train.images, train.target = train.images[:args.limit], train.target[:args.limit]
    test = load_fer2013(path, subset="PublicTest")
    X = (train.images[..., None] / 255.0).astype("float32")
    X_test = (test.images[..., None] / 255.0).astype("float32")
    onehot = np.eye(7, dtype="float32")[train.target]
    bf16 = engine.bf16_supported()
    names = args.teacher.split(",") if args.mode != "labels" else []
    teachers = [EmotionCNNClassifier.pretrained(name) for name in names]
    teacher, weight, targets = None, 0.0, onehot
    start = time.perf_counter()
    if args.mode == "fixed":
        model = (teachers[0] if len(teachers) == 1
                 else EmotionCNNClassifier.ensemble(teachers))
        model.set_params(tta=True, predict_precision="float32")
        targets = distillation_targets(model, train.images, train.target,
                                       teacher_weight=args.teacher_weight).astype("float32")
    elif args.mode == "batches":
        teacher = engine.make_teacher([engine.to_torch(_network_of(c.model_)) for c in teachers])
        weight = args.teacher_weight

    keras.utils.set_random_seed(0)
    torch.manual_seed(0)
    network = get_architecture(args.student)((48, 48, 1), 7, conv_dropout=0.1,
                                             dense_dropout=0.4)
    graph = engine.to_torch(network)

    def on_epoch_end(epoch, logs, optimizer, rng_state):
        print(f"epoch {epoch + 1:3d}  loss {logs['loss']:.4f}  PublicTest "
              f"{logs['val_accuracy']:.4f} (before the batch-norm pass)  "
              f"{logs['seconds']:.0f} s", flush=True)

    history = engine.train(
        graph, X, targets, epochs=args.epochs, batch_size=128, optimizer="adamw",
        learning_rate=2e-3, weight_decay=0.05, lr_schedule="cosine", augmentation="standard",
        validation=(X_test, np.eye(7, dtype="float32")[test.target]), bf16=bf16, seed=0,
        on_epoch_end=on_epoch_end, teacher=teacher, teacher_weight=weight)
    calibration = np.random.default_rng(0).permutation(len(X))[:10000]
    engine.recalibrate_batchnorm(graph, X[calibration])
    logits = engine.predict_logits(graph, X_test)
    mirrored = engine.predict_logits(graph, X_test[:, :, ::-1])

    def softmax(z):
        e = np.exp(z - z.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    result = {
        "mode": args.mode,
        "student": args.student,
        "epochs": args.epochs,
        "teacher": names or None,
        "teacher_weight": weight if args.mode == "batches" else (
            args.teacher_weight if args.mode == "fixed" else 0.0),
        "training_faces": len(X),
        "bfloat16": bf16,
        "publictest_accuracy": float((logits.argmax(1) == test.target).mean()),
        "publictest_accuracy_mirror_tta": float(
            ((softmax(logits) + softmax(mirrored)).argmax(1) == test.target).mean()),
        "publictest_curve": history["val_accuracy"],
        "seconds_per_epoch": history["seconds"],
        "minutes_in_all": (time.perf_counter() - start) / 60,
        "machine": machine(),
        "command": "python benchmarks/bench_distillation.py --mode {} --student {} --epochs {}{}{}"
                   .format(args.mode, args.student, args.epochs,
                           f" --teacher {args.teacher}" if names else "",
                           f" --limit {args.limit}" if args.limit else ""),
    }
    print(json.dumps({k: v for k, v in result.items() if "curve" not in k
                      and k != "seconds_per_epoch"}, indent=1))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.mode}-{args.student}-e{args.epochs}.json").write_text(
        json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
