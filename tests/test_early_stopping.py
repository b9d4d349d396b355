import math

import numpy as np

from fer_classifier._early_stopping import BestEpoch, kept_epoch


def feed(tracker, losses):
    stops = []
    for i, loss in enumerate(losses):
        tracker.update(loss, lambda i=i: [np.full(2, i)])
        stops.append(tracker.stop())
    return stops


def test_it_keeps_the_first_lowest_epoch_and_stops_after_patience():
    tracker = BestEpoch(patience=2)
    assert not tracker.stop() and tracker.weights is None
    stops = feed(tracker, [3.0, 2.0, 2.5, 2.0, 2.2])
    # epoch 1 is best (epoch 3 only ties it); two epochs later patience is out
    assert stops == [False, False, False, True, True]
    assert tracker.epoch == 1 and tracker.loss == 2.0
    np.testing.assert_array_equal(tracker.weights[0], [1, 1])


def test_weights_are_asked_for_only_on_a_new_best():
    calls = []
    tracker = BestEpoch(patience=5)
    for loss in [1.0, 2.0, 0.5, 0.7]:
        tracker.update(loss, lambda: calls.append(loss) or [])
    assert calls == [1.0, 0.5]


def test_nan_losses_never_count_as_best():
    tracker = BestEpoch(patience=1)
    assert feed(tracker, [math.nan, math.nan]) == [False, False]
    assert tracker.weights is None


def test_resumed_from_a_record_with_the_best_weights():
    last, stored = [np.zeros(1)], [np.ones(1)]
    tracker = BestEpoch.resumed(2, [3.0, 1.0, 2.0], {"best_epoch": 1}, stored, last)
    assert (tracker.epoch, tracker.loss, tracker.n_epochs) == (1, 1.0, 3)
    assert tracker.weights is stored and not tracker.stop()
    tracker.update(1.5, lambda: [np.full(1, 9.0)])
    assert tracker.stop() and tracker.weights is stored


def test_resumed_when_the_last_epoch_was_best_uses_the_last_weights():
    last = [np.zeros(1)]
    tracker = BestEpoch.resumed(2, [3.0, 1.0], {"best_epoch": 1}, None, last)
    assert tracker.epoch == 1 and tracker.weights is last


def test_resumed_without_a_record_starts_from_the_last_epoch():
    # A run checkpointed without early stopping: earlier weights are gone.
    last = [np.zeros(1)]
    for state, stored in [(None, None), ({"best_epoch": 0}, None)]:
        tracker = BestEpoch.resumed(1, [1.0, 2.0, 3.0], state, stored, last)
        assert (tracker.epoch, tracker.loss) == (2, 3.0) and tracker.weights is last
        assert not tracker.stop()
    empty = BestEpoch.resumed(1, [], None, None, last)
    assert empty.epoch == -1 and empty.weights is None


def test_kept_epoch_is_the_one_early_stopping_keeps():
    history = {"loss": [3.0, 2.0, 1.0, 0.5], "val_loss": [2.0, 1.5, math.nan, 1.5]}
    assert kept_epoch(history, early_stopping=True) == 1
    tracker = BestEpoch(patience=2)
    feed(tracker, history["val_loss"])
    assert tracker.epoch == 1 and tracker.stop()
    assert kept_epoch(history, early_stopping=False) == 3
    assert kept_epoch({"loss": [1.0, 0.5]}, early_stopping=True) == 1
    assert kept_epoch({"loss": [1.0], "val_loss": [math.nan]}, early_stopping=True) == 0
    assert kept_epoch({}, early_stopping=True) is None
