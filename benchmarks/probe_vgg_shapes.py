"""How fast do VGG networks of other shapes predict? Prints faces/s per shape.

    python benchmarks/probe_vgg_shapes.py

Times ``predict_proba`` (``predict_precision="auto"``: bfloat16 on CPUs with
bfloat16 units) on 3,589 random 48x48 faces, best of three, for the bundled
default and for untrained :func:`~fer_classifier.architectures.vgg_cnn`
networks of several widths, depths and convolutions per block. Speed does not
depend on the weights, so the networks are fitted for one epoch on 64
synthetic faces only to make them predict. It is how the shapes that the
speed rule allows for the default (faster than ``fer``'s model in
``bench_peers.py``) were found: a fifth block at 3x3 pixels
(``"vgg_deep"`` in ``train_pretrained.py``) adds parameters nearly for free.
"""

import functools
import time

import numpy as np

from fer_classifier import EmotionCNNClassifier, make_synthetic_faces
from fer_classifier.architectures import vgg_cnn

SHAPES = {
    "vgg_medium (16,32,96,192) x2": dict(widths=(16, 32, 96, 192)),
    "(16,32,96,192) x3": dict(widths=(16, 32, 96, 192), convs_per_block=3),
    "(16,48,128,256) x2": dict(widths=(16, 48, 128, 256)),
    "vgg_deep (16,32,64,128,256) x2": dict(widths=(16, 32, 64, 128, 256)),
    "vgg (32,64,128,256) x2": dict(widths=(32, 64, 128, 256)),
}


def faces_per_second(clf, faces, repeats=3):
    """Best-of-``repeats`` throughput of ``clf.predict_proba`` on ``faces``."""
    clf.predict_proba(faces[:256])  # warm-up: graph tracing, oneDNN kernel choice
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        clf.predict_proba(faces)
        best = min(best, time.perf_counter() - start)
    return len(faces) / best


def main():
    faces = np.random.default_rng(0).integers(0, 256, (3589, 48, 48), dtype=np.uint8)
    tiny = make_synthetic_faces(64, random_state=0)
    rows = [("pretrained() default", EmotionCNNClassifier.pretrained())]
    for label, kwargs in SHAPES.items():
        arch = functools.partial(vgg_cnn, name="probe", **kwargs)
        clf = EmotionCNNClassifier(arch, epochs=1, validation_fraction=0.0, random_state=0)
        rows.append((label, clf.fit(tiny.images, tiny.target)))
    for label, clf in rows:
        rate = faces_per_second(clf, faces)
        print(f"{label:32s} {clf.model_.count_params():>9,} params {rate:7.0f} faces/s", flush=True)


if __name__ == "__main__":
    main()
