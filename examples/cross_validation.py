"""cross_val_score: accuracy of one setting over stratified folds
==============================================================

::

    python examples/cross_validation.py                      # synthetic faces, ~15 s
    python examples/cross_validation.py path/to/fer2013.csv  # FER2013 Training, 5 folds
"""

import argparse

from sklearn.model_selection import StratifiedKFold, cross_val_score

from fer_classifier import EmotionCNNClassifier, load_fer2013, make_synthetic_faces


def main():
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("data", nargs="?", help="fer2013.csv(.gz); synthetic faces if omitted")
    args = parser.parse_args()
    if args.data:
        try:
            train = load_fer2013(args.data, subset="Training")
        except (OSError, ValueError) as exc:  # missing or malformed: say so in one line
            parser.error(str(exc))
        X, y, folds, epochs, batch = train.images, train.target, 5, 15, 64
        architecture = "vgg_small"
    else:
        faces = make_synthetic_faces(105, image_size=24, random_state=0)
        X, y, folds, epochs, batch = faces.images, faces.target, 3, 5, 8
        architecture = "seed"  # the smaller research network: a quick demonstration
        print("No data path given: using 105 synthetic 24x24 cartoon faces.")

    clf = EmotionCNNClassifier(architecture, epochs=epochs, batch_size=batch,
                               validation_fraction=0.0, random_state=0)
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
    scores = cross_val_score(clf, X, y, cv=cv, n_jobs=1)
    print("fold accuracies: " + ", ".join(f"{s:.1%}" for s in scores))
    print(f"mean accuracy: {scores.mean():.1%} (std {scores.std():.1%}) over {folds} folds")


if __name__ == "__main__":
    main()
