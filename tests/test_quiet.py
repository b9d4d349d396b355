"""Importing and using the library is quiet unless the user asks for TensorFlow's logs."""

import logging
import os
import subprocess
import sys

import numpy as np
from conftest import make_faces, tiny_cnn

from fer_classifier import EmotionCNNClassifier

_SCRIPT = (
    "from fer_classifier import EMOTIONS, EmotionCNNClassifier\n"
    "from fer_classifier.samples import load_sample_faces\n"
    "clf = EmotionCNNClassifier.pretrained()\n"
    "print([EMOTIONS[c] for c in clf.predict(load_sample_faces().images)])\n"
)


def _run(level):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    if level is not None:
        env["TF_CPP_MIN_LOG_LEVEL"] = level
    return subprocess.run([sys.executable, "-c", _SCRIPT], env=env, capture_output=True,
                          text=True, timeout=300)


def test_a_script_prints_nothing_on_stderr_by_default():
    result = _run(None)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("['Happy'")
    assert result.stderr == ""


def test_a_user_who_sets_the_log_level_gets_tensorflows_lines():
    # The same script with TF_CPP_MIN_LOG_LEVEL=0: TensorFlow's own start-up
    # lines come through (this also shows the test above can fail).
    result = _run("0")
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() != ""


class _Records(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_model_searches_give_no_retracing_warnings_and_logging_is_left_as_found():
    logger = logging.getLogger("tensorflow")
    records = _Records()
    filters_before = list(logger.filters)
    logger.addHandler(records)
    try:
        X, y = make_faces(60, size=16)
        for seed in range(6):  # six models, as in a small search
            clf = EmotionCNNClassifier(tiny_cnn, epochs=1, batch_size=16, engine="keras",
                                       validation_fraction=0.2, random_state=seed).fit(X, y)
            for n in (1, 3, 17, 40, 60):
                clf.predict_proba(X[:n])
        logger.warning("a message of the user's own")
    finally:
        logger.removeHandler(records)
    assert not [m for m in records.messages if "retracing" in m], records.messages
    assert records.messages[-1] == "a message of the user's own"
    assert logger.filters == filters_before


def test_predictions_do_not_depend_on_the_batch_they_come_in():
    X, y = make_faces(300, size=16)
    clf = EmotionCNNClassifier(tiny_cnn, epochs=1, engine="keras", random_state=0).fit(X, y)
    whole = clf.predict_proba(X)  # more than 256 faces: several batches
    parts = np.concatenate([clf.predict_proba(X[i:i + 7]) for i in range(0, 300, 7)])
    np.testing.assert_allclose(parts, whole, rtol=1e-5, atol=1e-7)
