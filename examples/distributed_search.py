"""GridSearchCV on a Dask cluster through joblib's dask backend
============================================================

::

    python examples/distributed_search.py                       # local 2-worker cluster
    python examples/distributed_search.py --scheduler tcp://host:8786
    python examples/distributed_search.py path/to/fer2013.csv --scheduler tcp://host:8786

Needs the ``distributed`` extra: pip install "fer-classifier[distributed]".
Without --scheduler it starts a LocalCluster (2 worker processes, 1 thread
each) on this machine, runs the search there and compares it with the same
search run in this process.
"""

import argparse
import logging

import joblib
import numpy as np
from dask.distributed import Client, LocalCluster
from sklearn.model_selection import GridSearchCV

from fer_classifier import EmotionCNNClassifier, load_fer2013, make_synthetic_faces
from fer_classifier.distributed import LimitThreads


def make_search(small):
    return GridSearchCV(
        # small: the smaller research network and two candidates, to keep it quick
        EmotionCNNClassifier("seed" if small else "vgg_small", epochs=1 if small else 15,
                             batch_size=8 if small else 64, validation_fraction=0.0,
                             random_state=0),
        {"learning_rate": [1e-3, 3e-3]} if small
        else {"conv_dropout": [0.0, 0.2], "learning_rate": [1e-3, 3e-3]},
        cv=2 if small else 3,
        error_score="raise",  # a failure on a worker stops the search with its error
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("data", nargs="?", help="fer2013.csv(.gz); synthetic faces if omitted")
    parser.add_argument("--scheduler", help="address of a running Dask scheduler")
    args = parser.parse_args()
    if args.data:
        try:
            train = load_fer2013(args.data, subset="Training")
        except (OSError, ValueError) as exc:  # missing or malformed: say so in one line
            parser.error(str(exc))
        X, y, small = train.images, train.target, False
    else:
        faces = make_synthetic_faces(70, image_size=24, random_state=0)
        X, y, small = faces.images, faces.target, True
        print("No data path given: using 70 synthetic 24x24 cartoon faces.")

    if args.scheduler:
        client = Client(args.scheduler)
    else:
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1",
                               dashboard_address=None, silence_logs=logging.ERROR)
        client = Client(cluster)
    with client:
        client.register_plugin(LimitThreads())
        print(f"Dask cluster: {len(client.scheduler_info()['workers'])} workers")
        with joblib.parallel_backend("dask"):
            search = make_search(small).fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    print(f"best parameters: {search.best_params_}, cv accuracy {search.best_score_:.1%}")
    if not args.scheduler:
        local = make_search(small).fit(X, y)
        gap = np.abs(scores - local.cv_results_["mean_test_score"]).max()
        print(f"single-process search: best parameters {local.best_params_}; largest "
              f"difference in mean cv accuracy: {gap:.4f}")
        # Workers train with one thread, this process with all cores: sums in
        # another order can change a few low bits, and with few faces an
        # occasional prediction. The test suite checks exact equality on a
        # network whose results do not depend on the thread count.


if __name__ == "__main__":
    main()
