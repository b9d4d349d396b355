"""Early stopping that both engines share and that survives a checkpoint.

``BestEpoch`` follows the validation loss epoch by epoch, keeps the weights
of the best epoch (the first with the lowest loss) and says when the run has
gone ``patience`` epochs without improving, as Keras's ``EarlyStopping(
restore_best_weights=True)`` does. Unlike that callback, its state can be
written into a training checkpoint and read back, so that a resumed run
stops where the uninterrupted one would, and a run that already stopped
resumes as the model it returned.
"""

import math


class BestEpoch:
    """The best epoch so far and whether patience has run out.

    Parameters
    ----------
    patience : int
        Epochs without improvement after which training stops.
    """

    def __init__(self, patience):
        self.patience = patience
        self.n_epochs = 0
        self.epoch = -1  # 0-based index of the best epoch; -1 before any
        self.loss = math.inf
        self.weights = None  # Keras weight list of the best epoch

    def update(self, val_loss, get_weights):
        """Record one more epoch; ``get_weights()`` is called only on a new best."""
        self.n_epochs += 1
        if val_loss < self.loss:
            self.epoch, self.loss = self.n_epochs - 1, float(val_loss)
            self.weights = get_weights()

    def stop(self):
        """True once ``patience`` epochs have passed since the best one."""
        return self.epoch >= 0 and self.n_epochs - 1 - self.epoch >= self.patience

    def state(self):
        """What a checkpoint records, besides the weights."""
        return {"best_epoch": self.epoch}

    @classmethod
    def resumed(cls, patience, val_losses, state, best_weights, last_weights):
        """The tracker of a run resumed from a checkpoint.

        ``val_losses`` is the checkpoint's history of validation losses,
        ``state`` what :meth:`state` recorded (None when the run had no early
        stopping), ``best_weights`` the weights stored with it (None when the
        best epoch was the last one) and ``last_weights`` those of the last
        epoch. Without a usable record, for a run that started without early
        stopping, the last epoch is the baseline: earlier epochs' weights are
        gone, so they cannot be returned.
        """
        tracker = cls(patience)
        tracker.n_epochs = len(val_losses)
        if not val_losses:
            return tracker
        best = -1 if state is None else int(state.get("best_epoch", -1))
        if best == len(val_losses) - 1 or (0 <= best < len(val_losses)
                                           and best_weights is not None):
            weights = last_weights if best == len(val_losses) - 1 else best_weights
        else:
            best, weights = len(val_losses) - 1, last_weights
        tracker.epoch, tracker.loss, tracker.weights = best, float(val_losses[best]), weights
        return tracker


def make_early_stopping_callback(best):
    """A Keras callback that feeds ``best`` and stops training when it says so.

    It leaves the weights as they are: ``fit`` restores ``best.weights`` after
    training (also when a resumed run had no epoch left to train).
    """
    from ._quiet import import_keras

    keras = import_keras()

    class EarlyStopping(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            best.update(float(logs["val_loss"]), self.model.get_weights)
            if best.stop():
                self.model.stop_training = True

    return EarlyStopping()


def kept_epoch(history, early_stopping):
    """0-based index of the epoch whose weights a fit with ``history`` kept.

    With early stopping, the first epoch with the lowest validation loss (a
    NaN loss never counts); otherwise, or without validation losses, the
    last epoch. None for an empty history. (The one exception: a run whose
    checkpoint had no early stopping, resumed with it, can only keep an epoch
    from after the resume.)
    """
    n_epochs = len(next(iter(history.values()), []))
    if n_epochs == 0:
        return None
    losses = history.get("val_loss") or []
    finite = [i for i, loss in enumerate(losses) if not math.isnan(loss)]
    if early_stopping and finite:
        return min(finite, key=lambda i: (losses[i], i))
    return n_epochs - 1
