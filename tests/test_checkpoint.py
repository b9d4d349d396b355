import json
import zipfile

import numpy as np
import pytest
from conftest import make_faces, tiny_cnn

from fer_classifier import EmotionCNNClassifier
from fer_classifier._checkpoint import epochs_done, read_checkpoint


def tiny(**params):
    base = dict(
        architecture=tiny_cnn, engine="keras", batch_size=16, learning_rate=0.02, conv_dropout=0.0,
        dense_dropout=0.0, validation_fraction=0.2, random_state=0,
    )
    return EmotionCNNClassifier(**{**base, **params})


def test_checkpoint_is_written_every_epoch_and_resumed(tmp_path, capsys):
    X, y = make_faces(60)
    ckpt = tmp_path / "run.ckpt"
    first = tiny(epochs=2).fit(X, y, checkpoint=ckpt)
    model, state = read_checkpoint(ckpt)
    assert state["epoch"] == 2 and len(state["history"]["loss"]) == 2
    # The optimizer state travels with it: Adam's step count (2 epochs of 3
    # batches of 16 out of 48 training faces) and its moments.
    assert int(model.optimizer.iterations.numpy()) == 2 * 3
    saved = {v.path: np.asarray(v) for v in model.optimizer.variables}
    live = {v.path: np.asarray(v) for v in first.model_.optimizer.variables}
    moments = [p for p in saved if "momentum" in p or "velocity" in p]
    assert moments and all(np.abs(saved[p]).sum() > 0 for p in moments)
    for path in moments:
        np.testing.assert_array_equal(saved[path], live[path])
    assert state["history"]["loss"] == first.history_["loss"]

    resumed = tiny(epochs=4, verbose=1).fit(X, y, checkpoint=ckpt)
    out = capsys.readouterr().out
    assert f"Resuming from {ckpt} after epoch 2." in out
    assert "Epoch 3/4" in out and "Epoch 1/4" not in out
    assert resumed.n_iter_ == 4
    assert resumed.history_["loss"][:2] == first.history_["loss"]
    assert read_checkpoint(ckpt)[1]["epoch"] == 4
    # continuing a finished run with no more epochs trains nothing
    again = tiny(epochs=4).fit(X, y, checkpoint=ckpt)
    assert again.n_iter_ == 4
    np.testing.assert_allclose(again.predict_proba(X), resumed.predict_proba(X), atol=1e-6)


def test_resuming_a_finished_run_gives_its_model(tmp_path):
    # vgg_small has batch norms, whose statistics fit re-estimates after the
    # last epoch; the checkpoint holds the weights from before that pass.
    X, y = make_faces(64, size=24)
    params = dict(architecture="vgg_small", epochs=2, batch_size=16, engine="keras",
                  validation_fraction=0.0, random_state=0)
    ckpt = tmp_path / "run.ckpt"
    whole = EmotionCNNClassifier(**params).fit(X, y, checkpoint=ckpt)
    saved, _ = read_checkpoint(ckpt)
    moving = [w for w in saved.weights if "moving_mean" in w.path]
    assert moving and any(
        not np.allclose(np.asarray(w), np.asarray(v))
        for w, v in zip(moving, [v for v in whole.model_.weights if "moving_mean" in v.path]))
    again = EmotionCNNClassifier(**params).fit(X, y, checkpoint=ckpt)
    assert again.n_iter_ == 2
    np.testing.assert_allclose(again.predict_proba(X), whole.predict_proba(X), atol=1e-6)


def test_resume_refuses_a_different_run(tmp_path):
    X, y = make_faces(60)
    ckpt = tmp_path / "run.ckpt"
    tiny(epochs=1).fit(X, y, checkpoint=ckpt)
    with pytest.raises(ValueError, match="learning_rate: checkpoint has 0.02, this fit has 0.5"):
        tiny(epochs=2, learning_rate=0.5).fit(X, y, checkpoint=ckpt)
    with pytest.raises(ValueError, match="n_samples: checkpoint has 60, this fit has 30"):
        tiny(epochs=2).fit(X[:30], y[:30], checkpoint=ckpt)


def test_corrupt_checkpoint(tmp_path):
    X, y = make_faces(30)
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"garbage")
    with pytest.raises(ValueError, match="not a fer-classifier training checkpoint"):
        tiny(epochs=1).fit(X, y, checkpoint=bad)
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as z:
        z.writestr("state.json", json.dumps({"format": "something-else"}))
        z.writestr("model.keras", b"")
    with pytest.raises(ValueError, match="not a fer-classifier training checkpoint"):
        tiny(epochs=1).fit(X, y, checkpoint=other)


def test_epochs_done_reads_a_checkpoint_and_is_zero_for_anything_else(tmp_path):
    X, y = make_faces(30)
    ckpt = tmp_path / "run.ckpt"
    assert epochs_done(ckpt) == 0  # no file yet
    tiny(epochs=2).fit(X, y, checkpoint=ckpt)
    assert epochs_done(ckpt) == 2
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"garbage")
    assert epochs_done(bad) == 0
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as z:
        z.writestr("state.json", json.dumps({"format": "something-else", "epoch": 5}))
    assert epochs_done(other) == 0


def test_an_early_stopped_run_resumes_as_it_stopped(tmp_path, capsys):
    # The checkpoint holds the last epoch, some epochs after the best one, with
    # epochs left: fitting again must give the stopped run's model (the best
    # epoch's weights), not train on.
    X, _ = make_faces(60)
    y = np.random.default_rng(1).integers(0, 3, 60)  # nothing to learn: it overfits
    ckpt = tmp_path / "run.ckpt"
    params = dict(epochs=40, learning_rate=0.01, early_stopping=True, n_iter_no_change=2)
    first = tiny(**params).fit(X, y, checkpoint=ckpt)
    losses = first.history_["val_loss"]
    assert first.n_iter_ < 40 and int(np.argmin(losses)) == first.n_iter_ - 3
    assert read_checkpoint(ckpt)[1]["epoch"] == first.n_iter_
    capsys.readouterr()
    again = tiny(**params, verbose=1).fit(X, y, checkpoint=ckpt)
    out = capsys.readouterr().out
    assert (f"Early stopping ended this run after epoch {first.n_iter_}; keeping epoch "
            f"{first.n_iter_ - 2}." in out)
    assert "Epoch " not in out.replace("Early stopping", "")
    assert again.history_ == first.history_
    np.testing.assert_allclose(again.predict_proba(X), first.predict_proba(X), atol=1e-6)
    # More patience goes on from the last epoch; with no better epoch since,
    # the model is still the best one's, whose weights the checkpoint kept.
    patient = tiny(**{**params, "n_iter_no_change": 4}).fit(X, y, checkpoint=ckpt)
    assert patient.n_iter_ > first.n_iter_
    assert patient.history_["val_loss"][:first.n_iter_] == losses
    assert int(np.argmin(patient.history_["val_loss"])) == int(np.argmin(losses))
    np.testing.assert_allclose(patient.predict_proba(X), first.predict_proba(X), atol=1e-6)
