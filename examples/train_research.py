"""Train the research CNN in a Pipeline from FER2013 pixel strings, and classify faces
===================================================================================

::

    python examples/train_research.py                      # synthetic faces, ~30 s
    python examples/train_research.py path/to/fer2013.csv  # the real FER2013 data

Without a path it trains on synthetic cartoon faces generated on the fly, so
it runs anywhere with no download. With the FER2013 CSV it trains on the
Training split and scores on PublicTest (use --epochs 50 for the research
recipe; about two hours on a 2-core CPU).
"""

import argparse

import numpy as np
import pandas as pd
from sklearn.pipeline import make_pipeline

from fer_classifier import (
    EMOTIONS,
    EmotionCNNClassifier,
    PixelStringTransformer,
    load_fer2013,
    make_synthetic_faces,
)


def as_pixel_strings(images):
    """FER2013's CSV form: one space-separated string per image."""
    return pd.Series([" ".join(map(str, im.ravel())) for im in images], name="pixels")


def main():
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("data", nargs="?", help="fer2013.csv(.gz); synthetic faces if omitted")
    parser.add_argument("--epochs", type=int, default=None)
    args = parser.parse_args()

    if args.data:
        try:
            train = load_fer2013(args.data, subset="Training")
            test = load_fer2013(args.data, subset="PublicTest")
        except (OSError, ValueError) as exc:  # missing or malformed: say so in one line
            parser.error(str(exc))
        epochs, batch_size = args.epochs or 10, 100
    else:
        faces = make_synthetic_faces(700, image_size=24, random_state=0)
        is_train = faces.usage == "Training"
        train = {"images": faces.images[is_train], "target": faces.target[is_train]}
        test = {"images": faces.images[~is_train], "target": faces.target[~is_train]}
        # Small data: small batches give batch norm enough steps for its moving
        # statistics (momentum 0.99) to forget their initial values.
        epochs, batch_size = args.epochs or 4, 8
        print("No data path given: using 700 synthetic 24x24 cartoon faces.")

    model = make_pipeline(
        PixelStringTransformer(),
        EmotionCNNClassifier(
            "seed", epochs=epochs, batch_size=batch_size, random_state=0, verbose=1
        ),
    )
    model.fit(as_pixel_strings(train["images"]), train["target"])

    X_test = as_pixel_strings(test["images"])
    accuracy = model.score(X_test, test["target"])
    print(f"\nTest accuracy: {accuracy:.1%} on {len(X_test)} faces")

    proba = model.predict_proba(X_test[:5])
    classes = model[-1].classes_
    for i, row in enumerate(proba):
        top = np.argsort(row)[::-1][:3]
        ranked = ", ".join(f"{EMOTIONS[classes[k]]} {row[k]:.0%}" for k in top)
        print(f"face {i}: true {EMOTIONS[test['target'][i]]:<8} predicted {ranked}")


if __name__ == "__main__":
    main()
