import io

import pytest

from fer_classifier._progress import epoch_line, format_duration, make_progress_callback


@pytest.mark.parametrize(
    "seconds, text", [(0, "0s"), (59.4, "59s"), (61, "1m 01s"), (3599, "59m 59s"), (7322, "2h 02m")]
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def test_epoch_line_uses_mean_epoch_time_for_eta():
    line = epoch_line(2, 10, {"loss": 1.23456, "accuracy": 0.5}, elapsed=120, epoch_seconds=30)
    assert line == (
        "Epoch 2/10 - 30.0s - loss: 1.2346 - accuracy: 0.5000 - elapsed 2m 00s, ETA 8m 00s"
    )


def test_callback_writes_to_stream():
    stream = io.StringIO()
    cb = make_progress_callback(3, stream=stream)
    cb.on_train_begin()
    for epoch in range(3):
        cb.on_epoch_begin(epoch)
        cb.on_epoch_end(epoch, {"loss": 0.5})
    lines = stream.getvalue().splitlines()
    assert [l.split(" - ")[0] for l in lines] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    assert lines[-1].endswith("ETA 0s")
