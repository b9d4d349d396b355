"""Property-based tests: malformed input gives a ValueError/OSError naming it, nothing else.

Hypothesis throws malformed CSV files, pixel strings and image bytes at
``load_fer2013``, ``PixelStringTransformer``, ``FaceCropper`` and the
``fer-classifier`` command line. Each run is either a success on well-formed
input or a ``ValueError``/``OSError`` (exit status 2 for the command line)
whose message names the input; never another exception, and never a
half-written output file.
"""

import io
import tempfile
from pathlib import Path

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from fer_classifier import PixelStringTransformer, load_fer2013  # noqa: E402

FAST = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
SLOW = settings(max_examples=30, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])

GOOD_PIXELS = " ".join(["7"] * 2304)
# Pieces a broken FER2013 file is made of: numbers in and out of range, signs,
# quotes, separators, other scripts, control characters.
token = st.one_of(
    st.integers(-300, 300).map(str),
    st.sampled_from(["", " ", "  ", ",", "\"", "'", "nan", "1e3", "0x1f", "\t", "é", "٣",
                     "\x00", "Training", "PublicTest", "PrivateTest", "Usage", "pixels"]),
    st.text(max_size=4),
)
pixel_text = st.one_of(
    st.lists(token, max_size=40).map(" ".join),
    st.builds(lambda n, v: " ".join([v] * n), st.sampled_from([2303, 2304, 2305, 0, 1]),
              st.sampled_from(["0", "255", "256", "-1", "12", "x"])),
)
row = st.builds(
    lambda e, p, u, sep: sep.join([e, p, u]),
    st.one_of(st.integers(-2, 9).map(str), token),
    pixel_text,
    st.sampled_from(["Training", "PublicTest", "PrivateTest", "Test", ""]),
    st.sampled_from([",", ";", ",,"]),
)
header = st.sampled_from(["emotion,pixels,Usage", " emotion , pixels , Usage ", "pixels",
                          "emotion,Usage", "", "a,b,c"])
csv_text = st.builds(lambda h, rows: "\n".join([h, *rows]) + "\n", header,
                     st.lists(row, max_size=5))


def _write(folder, name, data):
    path = Path(folder) / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8", "replace"))
    return path


@FAST
@given(text=csv_text)
def test_load_fer2013_on_malformed_csv(text):
    with tempfile.TemporaryDirectory() as folder:
        path = _write(folder, "fer.csv", text)
        try:
            bunch = load_fer2013(path)
        except (ValueError, OSError) as exc:
            assert str(path) in str(exc), exc
        else:
            assert bunch.images.shape[1:] == (48, 48) and len(bunch.target) > 0


@FAST
@given(data=st.binary(max_size=300), gz=st.booleans())
def test_load_fer2013_on_arbitrary_bytes(data, gz):
    with tempfile.TemporaryDirectory() as folder:
        path = _write(folder, "fer.csv.gz" if gz else "fer.csv", data)
        with pytest.raises((ValueError, OSError)) as info:
            load_fer2013(path)
        assert str(path) in str(info.value)


@FAST
@given(strings=st.lists(st.one_of(pixel_text, st.just(GOOD_PIXELS)), min_size=1, max_size=4))
def test_pixel_string_transformer_on_malformed_strings(strings):
    try:
        images = PixelStringTransformer().fit_transform(strings)
    except ValueError as exc:
        assert "row" in str(exc) or "pixel values" in str(exc), exc
    else:
        # image_size=None: any square count of values is one square image
        assert images.shape[0] == len(strings) and images.shape[1] == images.shape[2]
        assert images.min() >= 0.0 and images.max() <= 1.0


def _png_bytes(size):
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.full((size, size), 128, dtype=np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


@SLOW
@given(data=st.one_of(
    st.binary(max_size=200),
    st.integers(1, 40).map(lambda n: _png_bytes(64)[:n * 10]),  # truncated PNGs
    st.just(b"\x89PNG\r\n\x1a\n" + b"\x00" * 50),
), suffix=st.sampled_from([".jpg", ".png", ".webp", ""]))
def test_face_cropper_on_broken_image_bytes(data, suffix):
    pytest.importorskip("cv2")
    from fer_classifier import FaceCropper

    with tempfile.TemporaryDirectory() as folder:
        path = _write(folder, f"photo{suffix}", data)
        try:
            crops = FaceCropper(no_face="whole").transform([path])
        except (ValueError, OSError) as exc:
            assert str(path) in str(exc), exc
        else:  # a PNG cut after its pixel data still decodes: Pillow is lenient
            assert crops.shape == (1, 48, 48, 1)


@SLOW
@given(text=csv_text)
def test_cli_predict_on_malformed_csv_writes_all_or_nothing(text, capsys):
    from fer_classifier.cli import main

    with tempfile.TemporaryDirectory() as folder:
        source = _write(folder, "faces.csv", text)
        out = Path(folder) / "out.json"
        status = main(["predict", str(source), "-o", str(out)])
        err = capsys.readouterr().err
        leftovers = [p.name for p in Path(folder).iterdir() if p.name.endswith(".part")]
        assert not leftovers
        if status == 0:
            assert out.read_text().rstrip().endswith("]")  # a complete JSON document
        else:
            assert status == 2 and not out.exists()
            assert err.count("\n") == 1 and "faces.csv" in err and "Traceback" not in err
