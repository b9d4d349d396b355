"""Training progress: a line per epoch with the time left, and progress within epochs."""

import sys
import time

from ._quiet import import_keras

# Seconds between progress lines within an epoch when the output is not a
# terminal (logs, captured notebook output); a terminal gets a line redrawn in place.
LOG_EVERY = 30.0


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
    """A Keras callback showing :class:`EpochPrinter` progress: within and after epochs."""
    keras = import_keras()

    class EpochProgress(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self._printer = EpochPrinter(epochs, initial_epoch=initial_epoch, stream=stream)
            self._printer.start()
            self._epoch = initial_epoch

        def on_epoch_begin(self, epoch, logs=None):
            self._epoch = epoch
            self._printer.epoch_begin()

        def on_train_batch_end(self, batch, logs=None):
            steps = self.params.get("steps") or 0
            if steps:
                self._printer.batch_end(self._epoch, batch + 1, steps)

        def on_epoch_end(self, epoch, logs=None):
            self._printer.epoch_end(epoch, dict(logs or {}))

    return EpochProgress()


class EpochPrinter:
    """Progress of a training run that is not a Keras ``fit``.

    ``batch_end`` shows progress within an epoch: on a terminal a line
    redrawn in place (at most twice a second), elsewhere (logs, notebooks'
    captured output) a line every ``every`` seconds (default :data:`LOG_EVERY`). ``epoch_end`` prints
    :func:`epoch_line`.
    """

    def __init__(self, epochs, *, initial_epoch=0, stream=None, every=None):
        self.epochs, self.initial_epoch = epochs, initial_epoch
        self.stream, self.every = stream, every

    @property
    def _out(self):
        return self.stream if self.stream is not None else sys.stdout

    def start(self):
        self._start = self._epoch_start = self._last = time.perf_counter()
        self._partial = False

    def epoch_begin(self):
        self._epoch_start = self._last = time.perf_counter()

    def batch_end(self, epoch, batch, batches):
        now = time.perf_counter()
        out = self._out
        tty = getattr(out, "isatty", lambda: False)()
        every = 0.5 if tty else (LOG_EVERY if self.every is None else self.every)
        if now - self._last < every or batch == batches:
            return
        self._last = now
        spent = now - self._epoch_start
        eta = format_duration(spent / batch * (batches - batch))
        line = (f"Epoch {epoch + 1}/{self.epochs} - batch {batch}/{batches} - "
                f"{format_duration(spent)}, epoch ETA {eta}")
        if tty:
            print(f"\r{line}", end="", file=out, flush=True)
            self._partial = True
        else:
            print(line, file=out, flush=True)

    def epoch_end(self, epoch, logs):
        now = time.perf_counter()
        out = self._out
        if self._partial:
            print("\r\033[K", end="", file=out)
            self._partial = False
        print(epoch_line(epoch + 1, self.epochs, logs, now - self._start,
                         now - self._epoch_start, self.initial_epoch), file=out, flush=True)
        self._epoch_start = self._last = time.perf_counter()
