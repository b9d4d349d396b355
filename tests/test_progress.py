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


def test_progress_within_an_epoch(capsys):
    from fer_classifier._progress import EpochPrinter

    printer = EpochPrinter(2, every=0.0)
    printer.start()
    printer.batch_end(0, 1, 4)
    printer.batch_end(0, 4, 4)  # the last batch: the epoch line follows instead
    printer.epoch_end(0, {"loss": 1.0})
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2
    assert out[0].startswith("Epoch 1/2 - batch 1/4 - ") and "epoch ETA" in out[0]
    assert out[1].startswith("Epoch 1/2 - ") and "loss: 1.0000" in out[1]


@pytest.mark.parametrize("engine", ["keras", "torch"])
def test_fit_shows_progress_before_the_first_epoch_ends(engine, capsys, monkeypatch):
    from conftest import make_faces

    from fer_classifier import EmotionCNNClassifier, _progress

    if engine == "torch":
        pytest.importorskip("torch")
    monkeypatch.setattr(_progress, "LOG_EVERY", 0.0)
    X, y = make_faces(64, size=16)
    EmotionCNNClassifier("vgg_small", epochs=1, batch_size=16, engine=engine,
                         validation_fraction=0, verbose=1).fit(X, y)
    out = capsys.readouterr().out.splitlines()
    assert [line.split(" - ")[1] for line in out[:3]] == ["batch 1/4", "batch 2/4", "batch 3/4"]
    assert out[3].startswith("Epoch 1/1 - ") and "loss: " in out[3]
