"""One progress line per training epoch, with the time left."""

import sys
import time


def format_duration(seconds):
    """Format seconds as ``'45s'``, ``'3m 05s'`` or ``'1h 02m'``."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def epoch_line(epoch, epochs, logs, elapsed, epoch_seconds, initial_epoch=0):
    """The progress line of one finished epoch (``epoch`` counts from 1).

    ``elapsed`` is the time since training (re)started after ``initial_epoch``.
    """
    metrics = " - ".join(f"{name}: {value:.4f}" for name, value in logs.items())
    # The mean epoch time so far predicts the rest better than the last one.
    eta = format_duration(elapsed / (epoch - initial_epoch) * (epochs - epoch))
    return (
        f"Epoch {epoch}/{epochs} - {epoch_seconds:.1f}s - {metrics} - "
        f"elapsed {format_duration(elapsed)}, ETA {eta}"
    )


def make_progress_callback(epochs, stream=None, initial_epoch=0):
    """A Keras callback that prints :func:`epoch_line` after every epoch."""
    import keras

    class EpochProgress(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self._start = time.perf_counter()

        def on_epoch_begin(self, epoch, logs=None):
            self._epoch_start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            now = time.perf_counter()
            out = stream if stream is not None else sys.stdout
            line = epoch_line(
                epoch + 1,
                epochs,
                dict(logs or {}),
                now - self._start,
                now - self._epoch_start,
                initial_epoch,
            )
            print(line, file=out, flush=True)

    return EpochProgress()
