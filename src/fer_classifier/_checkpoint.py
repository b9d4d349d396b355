"""Per-epoch training checkpoints, so that an interrupted ``fit`` can resume.

A checkpoint is one zip file, replaced atomically after every epoch: the Keras
model with its optimizer state (``model.keras``) and ``state.json`` (epochs
done, the history so far, and a signature of the training run). A resumed
``fit`` continues from the next epoch only if the signature matches. With
early stopping, ``state.json`` also names the best epoch and, when that is not
the last one, ``best.npz`` holds its weights.
"""

import io
import json
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from ._keras_io import atomic_write, model_from_bytes
from ._quiet import import_keras

FORMAT = "fer-classifier-checkpoint"


def _normalise(obj):
    """JSON round trip, so that tuples and lists compare equal."""
    return json.loads(json.dumps(obj))


def write_checkpoint(path, model, state, best=None):
    """Atomically write ``model`` (with optimizer state) and ``state`` to ``path``.

    ``best`` is the run's early-stopping tracker (``BestEpoch``), if any.
    """
    if best is not None:
        state = {**state, "early_stopping": best.state()}
    with tempfile.TemporaryDirectory(prefix="fer_classifier_") as tmp:
        model_file = Path(tmp) / "model.keras"
        model.save(model_file)
        with atomic_write(path) as fh:
            with zipfile.ZipFile(fh, "w") as archive:
                archive.writestr("state.json", json.dumps({"format": FORMAT, **state}))
                archive.write(model_file, "model.keras")
                if best is not None and 0 <= best.epoch < state["epoch"] - 1:
                    buffer = io.BytesIO()
                    np.savez(buffer, *best.weights)
                    archive.writestr("best.npz", buffer.getvalue())


def read_checkpoint(path):
    """Return ``(model, state)``; the model is compiled, loaded in safe mode.

    A stored best epoch's weights come as ``state["best_weights"]`` (a list
    of arrays), else that key is None.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            state = json.loads(archive.read("state.json"))
            model_bytes = archive.read("model.keras")
            best = archive.read("best.npz") if "best.npz" in archive.namelist() else None
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is not a fer-classifier training checkpoint: {exc}") from exc
    if state.get("format") != FORMAT:
        raise ValueError(f"{path} is not a fer-classifier training checkpoint.")
    if best is not None:
        with np.load(io.BytesIO(best)) as arrays:
            best = [arrays[f"arr_{i}"] for i in range(len(arrays.files))]
    state["best_weights"] = best
    return model_from_bytes(model_bytes, compile=True), state


def epochs_done(path):
    """Epochs a checkpoint at ``path`` holds; 0 if there is none or it is unreadable.

    Cheap (reads only ``state.json``); ``fit`` reports a bad checkpoint itself.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            state = json.loads(archive.read("state.json"))
        return int(state["epoch"]) if state.get("format") == FORMAT else 0
    except (OSError, zipfile.BadZipFile, KeyError, ValueError, TypeError):
        return 0


def check_resumable(path, state, signature):
    """Raise ValueError if a checkpoint belongs to another training run."""
    expected = _normalise(signature)
    found = state.get("signature", {})
    differing = sorted(k for k in set(expected) | set(found) if expected.get(k) != found.get(k))
    if differing:
        details = "; ".join(
            f"{k}: checkpoint has {found.get(k)!r}, this fit has {expected.get(k)!r}"
            for k in differing
        )
        raise ValueError(
            f"Cannot resume from {path}: it belongs to a different training run "
            f"({details}). Delete it or choose another checkpoint path."
        )


def make_checkpoint_callback(path, signature, history, best=None):
    """A Keras callback that writes a checkpoint after every epoch.

    ``history`` holds the metrics of epochs done before (when resuming); the
    callback extends it. ``best`` is the early-stopping tracker, whose
    callback must run before this one.
    """
    keras = import_keras()

    signature = _normalise(signature)

    class Checkpoint(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            for key, value in (logs or {}).items():
                history.setdefault(key, []).append(float(value))
            state = {"epoch": epoch + 1, "history": history, "signature": signature}
            write_checkpoint(path, self.model, state, best)

    return Checkpoint()
