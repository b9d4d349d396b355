"""Find the faces in photographs, predict their emotions and draw them
===================================================================

::

    pip install "fer-classifier[faces]"
    python examples/photo.py                          # two public-domain portraits
    python examples/photo.py group.jpg party.png --annotate drawn/

Each face is found by OpenCV's Haar cascade, cropped as FER2013's faces are
(48x48 grayscale) and classified by the pretrained model. Without arguments
the script uses the NASA portrait of Eileen Collins that ships with
scikit-image and matplotlib's portrait of Grace Hopper (both public domain),
side by side as one group picture; where those two packages are not
installed, the package's own 96x96 crops of the same portraits, each framed
by a 32-pixel black border.
"""

import argparse
from pathlib import Path

import numpy as np

from fer_classifier import EmotionCNNClassifier, detect_emotions, draw_emotions
from fer_classifier.samples import load_sample_faces


def sample_group_photo():
    """The two public-domain portraits side by side, as one array."""
    from PIL import Image

    try:
        from matplotlib import cbook
        from skimage.data import astronaut
    except ImportError:
        # The crops bundled with fer-classifier; Haar needs a margin around a face.
        crops = [np.asarray(Image.open(f)) for f in load_sample_faces().filenames]
        return np.concatenate([np.pad(c, 32) for c in crops], axis=1)
    left = astronaut()
    with Image.open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)) as hopper:
        right = np.asarray(hopper.convert("RGB").resize((437, 512)))
    return np.concatenate([left, right], axis=1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("photos", nargs="*", help="image files; two sample portraits if none")
    parser.add_argument("--annotate", default=".", metavar="FOLDER",
                        help="where the annotated pictures go (default: current folder)")
    args = parser.parse_args()
    photos = args.photos or [sample_group_photo()]
    names = args.photos or ["sample_group"]
    out = Path(args.annotate)
    out.mkdir(parents=True, exist_ok=True)

    clf = EmotionCNNClassifier.pretrained()   # load once, use for every photograph
    for name, photo in zip(names, photos):
        try:
            faces = detect_emotions(photo, classifier=clf)
        except (OSError, ValueError) as exc:  # missing or malformed: say so in one line
            parser.error(str(exc))
        print(f"{name}: {len(faces)} face(s)")
        for face in faces:
            ranked = sorted(face.probabilities.items(), key=lambda kv: -kv[1])
            others = ", ".join(f"{e} {p:.0%}" for e, p in ranked[1:3])
            print(f"  box {face.box}: {face.emotion} {face.probability:.0%} ({others})")
        drawn = out / f"{Path(name).stem}_emotions.png"
        draw_emotions(photo, faces, drawn)
        print(f"  drawn on {drawn}")


if __name__ == "__main__":
    main()
