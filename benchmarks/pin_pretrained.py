"""Pin the bundled models' predictions on a fixed set of faces, for the test suite.

    python benchmarks/pin_pretrained.py

Run it whenever a file in ``src/fer_classifier/pretrained/`` changes. For each
bundled model it writes to ``tests/data/pretrained_pins.json`` the SHA-256 of
the files it reads (an ensemble's ``.json`` and its members' weights) and the predicted probabilities of ``pinned_faces()``: the
two bundled sample faces and six synthetic ones. ``tests/test_estimator.py``
checks, without FER2013, that each shipped model still gives those
probabilities in float32 (and that the pins belong to the shipped file), and
that bfloat16 predictions stay close to them.
"""

import hashlib
import json
from importlib import resources
from pathlib import Path

import numpy as np

from fer_classifier import EmotionCNNClassifier, make_synthetic_faces
from fer_classifier.estimator import _PRETRAINED, _PRETRAINED_ENSEMBLES
from fer_classifier.samples import load_sample_faces

PINS = Path(__file__).resolve().parents[1] / "tests" / "data" / "pretrained_pins.json"


def pinned_faces():
    """(8, 48, 48) uint8: the two sample faces, then six synthetic faces."""
    synthetic = make_synthetic_faces(6, random_state=0).images
    return np.concatenate([load_sample_faces().images, synthetic])


def weights_sha256(name):
    """SHA-256 of the bundled files that ``pretrained(name)`` reads, in order."""
    folder = resources.files("fer_classifier") / "pretrained"
    digest = hashlib.sha256()
    if name in _PRETRAINED_ENSEMBLES:
        spec = (folder / f"{name}.json").read_bytes()
        digest.update(spec)
        for member in json.loads(spec)["members"]:
            digest.update((folder / f"{member}.zip").read_bytes())
    else:
        digest.update((folder / f"{name}.zip").read_bytes())
    return digest.hexdigest()


def main():
    faces = pinned_faces()
    pins = {}
    for name in _PRETRAINED:
        model = EmotionCNNClassifier.pretrained(name)
        # float32: the same probabilities on every CPU (bfloat16 is checked apart).
        proba = model.set_params(predict_precision="float32").predict_proba(faces)
        pins[name] = {"sha256": weights_sha256(name), "proba": np.round(proba, 7).tolist()}
        print(f"{name}: {np.argmax(proba, axis=1).tolist()}")
    PINS.parent.mkdir(exist_ok=True)
    PINS.write_text(json.dumps(pins, indent=1) + "\n")
    print(f"wrote {PINS}")


if __name__ == "__main__":
    main()
