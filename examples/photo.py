"""Classify face photographs (image files of one face each) with the pretrained model.

    python examples/photo.py                    # the sample faces bundled with the package
    python examples/photo.py face1.jpg face2.png

Any image file Pillow reads (JPEG, PNG, ...; color, grayscale or 16-bit) is
converted to a 48x48 grayscale crop, the input the model was trained on. The
images should show one face, cropped roughly from the forehead to the chin,
as FER2013's faces are.
"""

import argparse

from fer_classifier import EMOTIONS, EmotionCNNClassifier
from fer_classifier.samples import load_sample_faces, read_face_image


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("images", nargs="*", help="image files; the bundled samples if none")
    args = parser.parse_args()
    paths = args.images or load_sample_faces().filenames

    clf = EmotionCNNClassifier.pretrained()
    import numpy as np

    faces = np.stack([read_face_image(p) for p in paths])   # (n, 48, 48) uint8
    for path, proba in zip(paths, clf.predict_proba(faces)):
        best = int(np.argmax(proba))
        others = ", ".join(f"{EMOTIONS[c]} {p:.2f}" for c, p in zip(clf.classes_, proba))
        print(f"{path}: {EMOTIONS[clf.classes_[best]]} ({proba[best]:.0%}) [{others}]")


if __name__ == "__main__":
    main()
