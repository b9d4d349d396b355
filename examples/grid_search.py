"""GridSearchCV over dropout and learning rate
===========================================

::

    python examples/grid_search.py                      # synthetic faces, ~20 s
    python examples/grid_search.py path/to/fer2013.csv  # FER2013 Training, PublicTest

Searches conv_dropout x learning_rate with 2-fold (synthetic) or 3-fold
(FER2013) stratified cross-validation, refits the best setting on all the
training faces and scores it on the held-out faces.
"""

import argparse

import pandas as pd
from sklearn.model_selection import GridSearchCV

from fer_classifier import EmotionCNNClassifier, load_fer2013, make_synthetic_faces


def load(path):
    """(X_train, y_train, X_test, y_test, small): FER2013 splits or synthetic faces."""
    if path:
        train = load_fer2013(path, subset="Training")
        test = load_fer2013(path, subset="PublicTest")
        return train.images, train.target, test.images, test.target, False
    faces = make_synthetic_faces(84, image_size=24, random_state=0)
    is_train = faces.usage == "Training"
    print("No data path given: using 84 synthetic 24x24 cartoon faces.")
    return (faces.images[is_train], faces.target[is_train],
            faces.images[~is_train], faces.target[~is_train], True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("data", nargs="?", help="fer2013.csv(.gz); synthetic faces if omitted")
    args = parser.parse_args()
    try:
        X, y, X_test, y_test, small = load(args.data)
    except (OSError, ValueError) as exc:  # missing or malformed: say so in one line
        parser.error(str(exc))

    search = GridSearchCV(
        EmotionCNNClassifier(
            # small: the smaller research network, to keep the demonstration quick
            "seed" if small else "vgg_small", epochs=1 if small else 15, batch_size=8 if small else 64,
            validation_fraction=0.0, random_state=0,
        ),
        {"conv_dropout": [0.0, 0.2], "learning_rate": [1e-3, 3e-3]},
        cv=2 if small else 3,
        n_jobs=1,
        error_score="raise",
    )
    search.fit(X, y)
    table = pd.DataFrame(search.cv_results_)[
        ["param_conv_dropout", "param_learning_rate", "mean_test_score", "rank_test_score"]
    ]
    print(table.sort_values("rank_test_score").to_string(index=False))
    print(f"best parameters: {search.best_params_}")
    print(f"held-out accuracy of the refitted best model: {search.score(X_test, y_test):.1%}")


if __name__ == "__main__":
    main()
