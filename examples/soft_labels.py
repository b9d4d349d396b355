"""Learn from label distributions (FER+ votes) instead of one label per face
=========================================================================

::

    python examples/soft_labels.py                        # synthetic faces and votes, ~20 s
    python examples/soft_labels.py fer2013new.csv fer2013.csv   # FER+, 3,000 faces

Each face gets ten annotators' votes. The script trains the same network
twice on the same faces, once on the majority label (``fit(X, y)``) and once
on the vote distribution (``fit(X, y, target_proba=P)``, the FER+ paper's
"cross-entropy" mode), and prints both accuracies on held-out faces.

The synthetic mode simulates annotators who each pick the right emotion 35%
of the time (and guess otherwise): the majority label is then sometimes wrong, while the
distribution still says how sure the annotators were.
"""

import argparse

import numpy as np
from sklearn.model_selection import train_test_split

from fer_classifier import EmotionCNNClassifier, load_ferplus, make_synthetic_faces


def simulated_votes(y, n_classes, rng, n_annotators=10, right=0.35):
    """Votes of annotators who are right with probability ``right``, else guess."""
    votes = np.zeros((len(y), n_classes))
    for _ in range(n_annotators):
        guess = rng.integers(0, n_classes, size=len(y))
        pick = np.where(rng.random(len(y)) < right, y, guess)
        votes[np.arange(len(y)), pick] += 1
    return votes


def main():
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("votes", nargs="?", help="FER+ fer2013new.csv; synthetic if omitted")
    parser.add_argument("fer2013", nargs="?", help="the fer2013.csv the votes refer to")
    args = parser.parse_args()
    if args.votes:
        try:
            data = load_ferplus(args.votes, fer2013_path=args.fer2013, subset="Training")
        except (OSError, ValueError) as exc:  # missing or malformed: say so in one line
            parser.error(str(exc))
        keep = np.random.default_rng(0).permutation(len(data.target))[:3000]
        X, y, P = data.images[keep], data.target[keep], data.target_proba[keep]
        truth = y  # scored against the FER+ majority label
        params = dict(architecture="vgg_small", epochs=10, batch_size=64)
        print(f"FER+: {len(y)} faces, {len(data.target_names)} classes")
    else:
        faces = make_synthetic_faces(420, image_size=24, random_state=0)
        rng = np.random.default_rng(0)
        votes = simulated_votes(faces.target, 7, rng)
        X, y, P = faces.images, votes.argmax(axis=1), votes / votes.sum(axis=1, keepdims=True)
        truth = faces.target
        params = dict(architecture="seed", epochs=6, batch_size=16)
        print(f"No data path given: 420 synthetic 24x24 faces, 10 simulated annotators each; "
              f"the majority label is wrong for {np.mean(y != truth):.0%} of them.")
    # Held-out faces are scored against the true emotion (synthetic) or the FER+
    # majority label (real data), the same for both runs.
    X_tr, X_te, y_tr, _, P_tr, _, _, t_te = train_test_split(
        X, y, P, truth, test_size=0.25, stratify=y, random_state=0)
    hard = EmotionCNNClassifier(**params, validation_fraction=0.0, random_state=0)
    hard.fit(X_tr, y_tr)
    soft = EmotionCNNClassifier(**params, validation_fraction=0.0, random_state=0)
    soft.fit(X_tr, y_tr, target_proba=P_tr)
    print(f"trained on majority labels:   held-out accuracy {hard.score(X_te, t_te):.1%}")
    print(f"trained on vote distributions: held-out accuracy {soft.score(X_te, t_te):.1%}")


if __name__ == "__main__":
    main()
