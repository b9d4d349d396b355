"""Quickstart: classify faces with the pretrained model that ships in the package
==============================================================================

::

    python examples/quickstart.py                      # the bundled sample faces
    python examples/quickstart.py path/to/fer2013.csv  # also score FER2013 PublicTest

No training, no download: ``EmotionCNNClassifier.pretrained()`` loads the
weights bundled with fer-classifier.
"""

import argparse

from fer_classifier import EMOTIONS, EmotionCNNClassifier, load_fer2013
from fer_classifier.samples import load_sample_faces


def main():
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("data", nargs="?", help="fer2013.csv(.gz) to score PublicTest")
    args = parser.parse_args()

    clf = EmotionCNNClassifier.pretrained()
    meta = clf.metadata_
    print(f"Pretrained {clf.architecture} model: {meta['trained_on']}; "
          f"{meta['publictest_accuracy']:.1%} on PublicTest when it was trained "
          f"({meta['publictest_accuracy_tta']:.1%} with tta=True).")

    faces = load_sample_faces()
    for name, proba in zip(faces.names, clf.predict_proba(faces.images)):
        ranked = sorted(zip(clf.classes_, proba), key=lambda cp: -cp[1])[:3]
        print(f"{name:<15} " + ", ".join(f"{EMOTIONS[c]} {p:.0%}" for c, p in ranked))

    if args.data:
        try:
            test = load_fer2013(args.data, subset="PublicTest")
        except (OSError, ValueError) as exc:  # missing or malformed: say so in one line
            parser.error(str(exc))
        print(f"PublicTest accuracy now: {clf.score(test.images, test.target):.2%} "
              f"on {len(test.target):,} faces")


if __name__ == "__main__":
    main()
