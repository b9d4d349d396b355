"""Import Keras without TensorFlow's start-up lines, unless the user asked for them.

TensorFlow's C++ runtime writes its start-up lines (CUDA probing, "failed
call to cuInit", oneDNN notices, CPU feature hints) straight to file
descriptor 2 while it is imported and when it first lists its devices, before ``TF_CPP_MIN_LOG_LEVEL`` or any
Python logging setting is read, so neither can hide them. Where the user
has set no ``TF_CPP_MIN_LOG_LEVEL``, the first Keras import (and, on the
TensorFlow backend, the device listing) therefore runs with descriptor 2
muted and the variable set to ``"2"`` (errors only) for
the rest of the process. A user who sets ``TF_CPP_MIN_LOG_LEVEL`` (to any
value) sees TensorFlow's output as TensorFlow decides. Python's
``logging`` configuration is never touched.
"""

import logging
import os
import sys
from contextlib import contextmanager

__all__ = ["import_keras", "no_retracing_warnings"]


def import_keras(*, quiet=None):
    """Return the ``keras`` module, importing it quietly the first time.

    ``quiet=None`` mutes the import only where ``TF_CPP_MIN_LOG_LEVEL`` is
    unset; True mutes it always (the command line); False never.
    """
    if "keras" in sys.modules:
        return sys.modules["keras"]
    if quiet is None:
        quiet = "TF_CPP_MIN_LOG_LEVEL" not in os.environ
        if quiet:
            os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    if not quiet:
        import keras

        return keras
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no usable descriptor 2
        import keras

        return keras
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import keras

        if keras.backend.backend() == "tensorflow":
            # TensorFlow probes for CUDA ("failed call to cuInit", an error-level
            # line) when it first lists devices: do that now, while muted.
            import tensorflow as tf

            tf.config.list_logical_devices("CPU")
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return keras


class _DropRetracing(logging.Filter):
    def filter(self, record):
        return "triggered tf.function retracing" not in record.getMessage()


@contextmanager
def no_retracing_warnings():
    """Drop TensorFlow's "retracing" warnings while the block runs.

    Each Keras model traces its own training and prediction functions once;
    TensorFlow counts those traces across models built from the same code
    and, in any model search, warns about "retracing" as if one function
    were traced again and again. Only that message is dropped, only from the
    ``tensorflow`` logger, and only while the block runs; every other record
    goes where the user's logging configuration sends it.
    """
    logger = logging.getLogger("tensorflow")
    drop = _DropRetracing()
    logger.addFilter(drop)
    try:
        yield
    finally:
        logger.removeFilter(drop)
