import numpy as np
import pytest

from fer_classifier._pixels import _CHUNK_ROWS, parse_pixel_strings


def naive(strings):
    return np.array([np.array(s.split(), dtype=np.int64) for s in strings])


def test_matches_naive_parsing_on_random_rows():
    rng = np.random.default_rng(0)
    values = rng.integers(0, 256, size=(50, 36))
    strings = [" ".join(map(str, row)) for row in values]
    out = parse_pixel_strings(strings)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, values)
    np.testing.assert_array_equal(out, naive(strings))


def test_tolerates_extra_whitespace_and_leading_zeros():
    out = parse_pixel_strings(["  1\t2  3 4\r", "0255 007 0 000000000012"])
    np.testing.assert_array_equal(out, [[1, 2, 3, 4], [255, 7, 0, 12]])


def test_many_chunks_keep_row_order():
    n = 2 * _CHUNK_ROWS + 7
    strings = [f"{i % 256} {(i // 256) % 256}" for i in range(n)]
    out = parse_pixel_strings(strings, n_pixels=2)
    np.testing.assert_array_equal(out[:, 0], np.arange(n) % 256)
    np.testing.assert_array_equal(out[:, 1], (np.arange(n) // 256) % 256)


@pytest.mark.parametrize(
    "rows, message",
    [
        (["1 2 3", "1 2"], "row 1: expected 3 pixel values, found 2"),
        (["1 2 3", "1 2 3 4"], "row 1: expected 3 pixel values, found 4"),
        (["1 2 3", ""], "row 1: expected 3 pixel values, found 0"),
        (["1 2 3", "1 x 3"], "row 1: non-numeric pixel value 'x'"),
        (["1 -2 3"], "row 0: non-numeric pixel value '-2'"),
        (["1 2.5 3"], "row 0: non-numeric pixel value '2.5'"),
        (["1 2 3", "1 2 256"], "row 1: pixel value 256 is out of range"),
        (["1 2 99999999999999999999"], "row 0: pixel value 99999999999999999999 is out"),
        (["1 2 3", None], "row 1: expected a string"),
        ([""], "row 0: no pixel values found"),
    ],
)
def test_malformed_rows_name_the_row(rows, message):
    with pytest.raises(ValueError, match=message):
        parse_pixel_strings(rows, source="faces.csv")


def test_error_in_a_later_chunk_reports_its_absolute_row():
    strings = ["1 2"] * (_CHUNK_ROWS + 5)
    strings[_CHUNK_ROWS + 3] = "1 y"
    with pytest.raises(ValueError, match=rf"data.csv, row {_CHUNK_ROWS + 3}: non-numeric"):
        parse_pixel_strings(strings, source="data.csv")


def test_fixed_pixel_count_is_enforced_on_first_row():
    with pytest.raises(ValueError, match="row 0: expected 4 pixel values, found 3"):
        parse_pixel_strings(["1 2 3"], n_pixels=4)


def test_empty_input_gives_empty_array():
    assert parse_pixel_strings([], n_pixels=4).shape == (0, 4)
