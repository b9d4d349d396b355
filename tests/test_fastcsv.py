"""The fast reader of plain FER2013 CSVs gives what the pandas path gives, or steps aside."""

import gzip

import numpy as np
import pandas as pd
import pytest

from fer_classifier import _fastcsv, load_fer2013, make_synthetic_faces
from fer_classifier._fastcsv import read_plain_fer2013

N_PIXELS = 48 * 48


@pytest.fixture(scope="module")
def faces():
    return make_synthetic_faces(60, random_state=3)


def _lines(faces, pixel_sep=" ", quote=False, newline="\n", header="emotion,pixels,Usage"):
    rows = [header]
    for image, target, usage in zip(faces.images, faces.target, faces.usage):
        pixels = pixel_sep.join(map(str, image.ravel()))
        rows.append(f"{target},{chr(34) + pixels + chr(34) if quote else pixels},{usage}")
    return newline.join(rows) + newline


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of ~10 lines, so that lines are cut across blocks and chunks."""
    monkeypatch.setattr(_fastcsv, "_BLOCK_BYTES", 90_000)


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize(
    "style", [{}, {"quote": True}, {"newline": "\r\n"}, {"pixel_sep": "  "},
              {"header": " emotion , pixels , Usage"}],
)
def test_plain_layouts_are_read_fast_and_exactly(faces, tmp_path, small_blocks, compress, style):
    text = _lines(faces, **style).encode()
    path = tmp_path / ("f.csv.gz" if compress else "f.csv")
    path.write_bytes(gzip.compress(text) if compress else text)
    fast = read_plain_fer2013(path, N_PIXELS)
    assert fast is not None
    pixels, emotions, usages = fast
    np.testing.assert_array_equal(pixels, faces.images.reshape(len(faces.images), -1))
    assert emotions.tolist() == [str(t) for t in faces.target]
    assert usages.tolist() == faces.usage.tolist()
    bunch = load_fer2013(path, subset="PublicTest")
    test = faces.usage == "PublicTest"
    np.testing.assert_array_equal(bunch.images, faces.images[test])
    np.testing.assert_array_equal(bunch.target, faces.target[test])


def _pandas_load(path, monkeypatch, **kwargs):
    with monkeypatch.context() as m:
        m.setattr("fer_classifier.datasets.read_plain_fer2013", lambda *a: None)
        return load_fer2013(path, **kwargs)


@pytest.mark.parametrize(
    "name, edit",
    [
        ("tab separators", lambda t: t.replace("0 1", "0\t1", 1)),
        ("a four-digit pixel", lambda t: t.replace(" 12 ", " 0012 ", 1)),
        ("columns in another order",
         lambda t: "\n".join(",".join(np.array(l.split(","))[[2, 0, 1]])
                             for l in t.splitlines()) + "\n"),
        ("a quoted emotion", lambda t: t.replace("\n0,", '\n"0",', 1)),
        ("no final newline", lambda t: t.rstrip("\n")),
    ],
)
def test_other_layouts_get_the_pandas_result(faces, tmp_path, monkeypatch, name, edit):
    text = edit(_lines(faces))
    assert text != _lines(faces) or name == "no final newline"
    path = tmp_path / "f.csv"
    path.write_text(text)
    # a missing final newline is still the plain layout; the others are not
    assert (read_plain_fer2013(path, N_PIXELS) is None) == (name != "no final newline")
    expected = _pandas_load(path, monkeypatch)
    got = load_fer2013(path)
    np.testing.assert_array_equal(got.data, expected.data)
    np.testing.assert_array_equal(got.target, expected.target)
    np.testing.assert_array_equal(got.usage, expected.usage)


def test_irregular_lines_step_aside_and_get_the_pandas_error(faces, tmp_path, monkeypatch):
    lines = _lines(faces).splitlines()
    lines[5] = lines[5].replace(" ", " x ", 1)
    path = tmp_path / "bad.csv.gz"
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    assert read_plain_fer2013(path, N_PIXELS) is None
    with pytest.raises(ValueError, match=r"bad.csv.gz, line 6: non-numeric pixel value 'x'"):
        load_fer2013(path)


def test_truncated_and_multi_member_gzip(faces, tmp_path, monkeypatch):
    data = gzip.compress(_lines(faces).encode())
    truncated = tmp_path / "cut.csv.gz"
    truncated.write_bytes(data[: len(data) // 2])
    assert read_plain_fer2013(truncated, N_PIXELS) is None
    with pytest.raises(ValueError, match="cut.csv.gz: cannot be read"):
        load_fer2013(truncated)

    text = _lines(faces)
    cut = text.index("\n", len(text) // 2) + 1
    members = tmp_path / "two.csv.gz"  # what `cat a.gz b.gz` makes
    members.write_bytes(gzip.compress(text[:cut].encode()) + gzip.compress(text[cut:].encode()))
    np.testing.assert_array_equal(load_fer2013(members).images, faces.images)


def test_pixel_values_above_255_are_refused_by_line(faces, tmp_path):
    lines = _lines(faces).splitlines()
    emotion, pixels, usage = lines[3].split(",")
    lines[3] = ",".join([emotion, " ".join(["256", *pixels.split()[1:]]), usage])
    path = tmp_path / "f.csv"
    path.write_text("\n".join(lines) + "\n")
    assert read_plain_fer2013(path, N_PIXELS) is None
    with pytest.raises(ValueError, match="line 4: pixel value 256 is out of range"):
        load_fer2013(path)
