import numpy as np
import pytest

from fer_classifier._keras_io import atomic_write, model_from_bytes, model_to_bytes


def test_model_bytes_roundtrip():
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="d")])
    data = model_to_bytes(model)
    assert isinstance(data, bytes) and data[:2] == b"PK"  # a .keras zip archive
    again = model_from_bytes(data)
    x = np.arange(6, dtype="float32").reshape(2, 3)
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))


def test_atomic_write_replaces_only_on_success(tmp_path):
    target = tmp_path / "out.bin"
    with atomic_write(target) as fh:
        fh.write(b"first")
    assert target.read_bytes() == b"first"
    with pytest.raises(RuntimeError):
        with atomic_write(target) as fh:
            fh.write(b"half")
            raise RuntimeError("boom")
    assert target.read_bytes() == b"first"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_atomic_write_respects_the_umask(tmp_path):
    import os

    old = os.umask(0o022)
    try:
        with atomic_write(tmp_path / "f.bin") as fh:
            fh.write(b"x")
    finally:
        os.umask(old)
    assert (tmp_path / "f.bin").stat().st_mode & 0o777 == 0o644


def test_atomic_write_text_mode(tmp_path):
    with atomic_write(tmp_path / "a.txt", "w") as fh:
        fh.write("hello")
    assert (tmp_path / "a.txt").read_text() == "hello"
