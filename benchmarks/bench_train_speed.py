"""Training throughput: the library's fit on each engine against plain PyTorch.

    python benchmarks/bench_train_speed.py [--architecture vgg] [--images 2560]

For the shipped recipe (``train_pretrained.RECIPE``: network, batch size,
optimizer, schedule, label smoothing, augmentation), prints in one run the
training images per second of

- ``EmotionCNNClassifier.fit`` with ``engine="keras"`` (Keras ``model.fit``,
  Keras preprocessing layers for augmentation; the library before 0.5);
- ``EmotionCNNClassifier.fit`` with ``engine="torch"`` in float32 and in
  bfloat16 (augmentation included);
- both engines without augmentation, to show what augmentation costs each;
- the same network written by hand in PyTorch (``nn.Sequential``), trained by
  a plain bfloat16 autocast, channels_last loop with AdamW and a random
  mirror: the reference for what the hardware does (with ``nn.Dropout``,
  whose per-element draws the engine's dropout avoids);

and the ratios between them. Throughput is timed between two fits of
different length (1 and 3 epochs), so model building, translation and the
end-of-fit batch-norm pass cancel out. Images are random (speed does not
depend on them). Writes ``benchmarks/results/train_speed/bench_train_speed.json``.
"""

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
from _common import machine
from train_pretrained import RECIPE

from fer_classifier import EmotionCNNClassifier, __version__

OUT = Path(__file__).resolve().parent / "results" / "train_speed"


def fit_throughput(params, X, y):
    """Images per second of fit, from the time difference of 3 and 1 epochs."""
    times = {}
    for epochs in (1, 3):
        clf = EmotionCNNClassifier(**{**params, "epochs": epochs})
        start = time.perf_counter()
        clf.fit(X, y)
        times[epochs] = time.perf_counter() - start
    return 2 * len(X) / (times[3] - times[1]), clf.engine_


def plain_torch_throughput(widths, batch_size, n_images, steps_warmup=3):
    """A hand-written PyTorch VGG of the same shape; bf16 autocast, channels_last."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    layers, channels = [], 1
    for b, width in enumerate(widths):
        for _ in range(2):
            layers += [nn.Conv2d(channels, width, 3, padding=1, bias=False),
                       nn.BatchNorm2d(width, eps=1e-3, momentum=0.01), nn.ReLU()]
            channels = width
        if b < len(widths) - 1:
            layers.append(nn.MaxPool2d(2))
        layers.append(nn.Dropout(0.1))
    net = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                        nn.Linear(channels, 2 * channels), nn.ReLU(), nn.Dropout(0.4),
                        nn.Linear(2 * channels, 7)).to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=0.05)
    x_all = torch.rand(n_images, 1, 48, 48)
    y_all = torch.randint(0, 7, (n_images,))

    def step(idx):
        x = x_all[idx]
        flip = torch.rand(len(idx)) < 0.5
        x = torch.where(flip[:, None, None, None], x.flip(3), x)
        x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            logits = net(x)
        loss = F.cross_entropy(logits.float(), y_all[idx], label_smoothing=0.1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    net.train()
    batches = torch.randperm(n_images).split(batch_size)
    for idx in batches[:steps_warmup]:
        step(idx)
    start = time.perf_counter()
    for idx in batches:
        step(idx)
    return n_images / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--architecture", default=RECIPE["architecture"])
    parser.add_argument("--images", type=int, default=2560,
                        help="random 48x48 faces per epoch (default: %(default)s)")
    args = parser.parse_args()
    import torch

    from fer_classifier._torch_engine import bf16_supported

    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (args.images, 48, 48), dtype=np.uint8)
    y = np.arange(args.images) % 7
    recipe = {k: v for k, v in RECIPE.items() if k not in ("engine", "precision", "tta")}
    recipe.update(architecture=args.architecture, random_state=0, validation_fraction=0.0)
    widths = {"vgg": (32, 64, 128, 256), "vgg_small": (16, 32, 64, 128)}[args.architecture]

    rows = {}
    print(f"{machine()}; torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"bfloat16 instructions: {bf16_supported()}")
    print(f"recipe: {recipe}, {args.images} images per epoch\n")
    for name, extra in [
        ("fit, engine='keras' (float32)", {"engine": "keras"}),
        ("fit, engine='keras', no augmentation", {"engine": "keras", "augmentation": None}),
        ("fit, engine='torch', float32", {"engine": "torch", "precision": "float32"}),
        ("fit, engine='torch', bfloat16", {"engine": "torch", "precision": "bfloat16"}),
        ("fit, engine='torch', bfloat16, no augmentation",
         {"engine": "torch", "precision": "bfloat16", "augmentation": None}),
    ]:
        speed, used = fit_throughput({**recipe, **extra}, X, y)
        assert used == extra["engine"], used
        rows[name] = speed
        print(f"{name:42s} {speed:7.0f} img/s", flush=True)
    reference = plain_torch_throughput(widths, recipe["batch_size"], args.images)
    rows["plain PyTorch loop, bfloat16, channels_last"] = reference
    print(f"{'plain PyTorch loop, bfloat16, channels_last':42s} {reference:7.0f} img/s")
    keras_speed = rows["fit, engine='keras' (float32)"]
    fast = rows["fit, engine='torch', bfloat16"]
    ratios = {
        "torch_bf16_over_keras": fast / keras_speed,
        "torch_bf16_over_plain_pytorch": fast / reference,
    }
    print(f"\nlibrary fit (torch, bf16) / Keras fit:     {ratios['torch_bf16_over_keras']:.2f}x")
    print(f"library fit (torch, bf16) / plain PyTorch: "
          f"{ratios['torch_bf16_over_plain_pytorch']:.2f}")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "bench_train_speed.json").write_text(json.dumps({
        "machine": machine(),
        "torch": torch.__version__,
        "bf16_instructions": bf16_supported(),
        "fer_classifier_version": __version__,
        "architecture": args.architecture,
        "recipe": recipe,
        "images_per_epoch": args.images,
        "images_per_second": rows,
        "ratios": ratios,
        "command": "python benchmarks/bench_train_speed.py"
                   + (f" --architecture {args.architecture}"
                      if args.architecture != RECIPE["architecture"] else ""),
        "cpu_count": os.cpu_count(),
    }, indent=2))
    print(f"wrote {OUT / 'bench_train_speed.json'}")


if __name__ == "__main__":
    main()
