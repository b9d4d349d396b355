"""Keras model <-> bytes, and atomic file writes.

Keras 3 saves ``.keras`` archives only to paths, so the bytes go through a
private temporary folder. Loading always keeps ``safe_mode=True``: a
``.keras`` file that holds code (a ``Lambda`` layer's bytecode) is refused.
"""

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

from ._quiet import import_keras


def model_to_bytes(model):
    """Serialise a Keras model to the bytes of a ``.keras`` archive."""
    with tempfile.TemporaryDirectory(prefix="fer_classifier_") as tmp:
        path = Path(tmp) / "model.keras"
        model.save(path)
        return path.read_bytes()


def model_from_bytes(data, *, compile=False):
    """Rebuild a Keras model from :func:`model_to_bytes` output (safe mode on).

    ``compile=True`` also restores the optimizer and its state (to resume
    training); predictions need no compiled model.
    """
    keras = import_keras()

    with tempfile.TemporaryDirectory(prefix="fer_classifier_") as tmp:
        path = Path(tmp) / "model.keras"
        path.write_bytes(data)
        return keras.saving.load_model(path, compile=compile, safe_mode=True)


def plain_permissions(path):
    """Give a ``mkstemp`` file (private, 0600) the permissions ``open()`` gives, under the umask."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


@contextmanager
def atomic_write(path, mode="wb"):
    """Open a temporary file next to ``path`` and move it into place on success.

    If the block raises (or the process is interrupted), ``path`` keeps its
    previous content, or stays absent, and the temporary file is removed.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    plain_permissions(tmp)
    try:
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
