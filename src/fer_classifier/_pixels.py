"""Vectorised parsing of FER2013 pixel strings ("70 80 82 ...").

A per-row ``np.array(s.split(), dtype=int)`` loop spends most of its time in
Python. Here the rows of a chunk are joined into one byte buffer and the
integers are decoded with array operations, which also lets every malformed
row be found and reported by number instead of silently producing a wrong
array.
"""

import os
import re
from concurrent.futures import ThreadPoolExecutor

import numpy as np

_CHUNK_ROWS = 2048
_SPACE = ord(" ")
_ZERO = ord("0")
_OTHER_WHITESPACE = (ord("\t"), ord("\n"), ord("\r"))


def _describe_row(row, row_offset):
    """Return a human-readable name of a row, such as ``'row 17'``."""
    return f"row {row + row_offset}"


def _token_at(text, col):
    """The whitespace-delimited token of ``text`` that covers position ``col``."""
    for match in re.finditer(r"\S+", text):
        if match.start() <= col < match.end():
            return match.group()
    return text[col : col + 1]


def _parse_chunk(strings, n_pixels, where, row_offset):
    """Parse a list of pixel strings into a (len(strings), n_pixels) uint8 array.

    If ``n_pixels`` is None the count of the first row is used. Returns the
    array and the pixel count.
    """
    lengths = np.fromiter(map(len, strings), dtype=np.int64, count=len(strings))
    # One separator after each row keeps tokens of neighbouring rows apart;
    # "replace" keeps one byte per character so positions map back to text.
    buf = np.frombuffer((" ".join(strings) + " ").encode("ascii", "replace"), dtype=np.uint8)
    row_starts = np.concatenate(([0], np.cumsum(lengths + 1)[:-1]))

    digit = (buf - np.uint8(_ZERO)) < 10  # wraps around below "0"
    bad = ~digit & (buf != _SPACE)
    if bad.any():
        bad_pos = np.flatnonzero(bad)
        bad_pos = bad_pos[~np.isin(buf[bad_pos], _OTHER_WHITESPACE)]
        if bad_pos.size:
            pos = int(bad_pos[0])
            row = int(np.searchsorted(row_starts, pos, side="right") - 1)
            token = _token_at(strings[row], pos - int(row_starts[row]))
            raise ValueError(
                f"{where}{_describe_row(row, row_offset)}: non-numeric pixel value "
                f"{token!r}; pixels must be integers 0-255 separated by spaces."
            )

    # buf ends with a space, so every token has an end; a leading False makes
    # a token at position 0 have a start.
    edges = np.diff(digit.view(np.int8), prepend=np.int8(0))
    start_pos = np.flatnonzero(edges == 1)
    end_pos = np.flatnonzero(edges == -1) - 1

    counts = np.diff(np.searchsorted(start_pos, np.append(row_starts, len(buf))))
    if n_pixels is None:
        n_pixels = int(counts[0])
    wrong = np.flatnonzero(counts != n_pixels)
    if wrong.size:
        row = int(wrong[0])
        raise ValueError(
            f"{where}{_describe_row(row, row_offset)}: expected {n_pixels} pixel "
            f"values, found {int(counts[row])}."
        )

    # Decode the last three digits of every token from their place values.
    n_digits = end_pos - start_pos + 1
    values = (buf[end_pos] - _ZERO).astype(np.int32)
    two = n_digits >= 2
    values[two] += 10 * (buf[end_pos[two] - 1] - _ZERO).astype(np.int32)
    three = n_digits >= 3
    values[three] += 100 * (buf[end_pos[three] - 2] - _ZERO).astype(np.int32)
    # Longer tokens are rare: decode them exactly (leading zeros are allowed).
    for tok in np.flatnonzero(n_digits > 3):
        values[tok] = min(int(bytes(buf[start_pos[tok] : end_pos[tok] + 1])), 1 << 30)
    out_of_range = values > 255
    if out_of_range.any():
        tok = int(np.argmax(out_of_range))
        value = bytes(buf[start_pos[tok] : end_pos[tok] + 1]).decode()
        raise ValueError(
            f"{where}{_describe_row(tok // n_pixels, row_offset)}: pixel value {value} "
            f"is out of range; pixels must be integers 0-255."
        )
    return values.astype(np.uint8).reshape(len(strings), n_pixels), n_pixels


def parse_pixel_strings(strings, *, n_pixels=None, source=None, row_offset=0):
    """Parse FER2013 pixel strings into a 2-D uint8 array.

    Parameters
    ----------
    strings : sequence of str
        One space-separated string of integers per image.
    n_pixels : int, default=None
        Number of values expected in every row. When None, the count of the
        first row is used and every other row must match it.
    source : str, default=None
        What the strings come from (a file name), used in error messages.
    row_offset : int, default=0
        Added to row indices in error messages.

    Returns
    -------
    pixels : ndarray of shape (n_rows, n_pixels), dtype uint8

    Raises
    ------
    ValueError
        When a row is not a string, holds a non-numeric or out-of-range value,
        or has the wrong number of values. The message names the row.
    """
    where = f"{source}, " if source else ""
    strings = list(strings)
    for i, s in enumerate(strings):
        if not isinstance(s, str):
            raise ValueError(
                f"{where}{_describe_row(i, row_offset)}: expected a string of "
                f"space-separated pixel values, got {type(s).__name__} {s!r}."
            )
    if not strings:
        return np.empty((0, n_pixels or 0), dtype=np.uint8)
    # The first chunk fixes the pixel count when it is not given.
    first, n_pixels = _parse_chunk(strings[:_CHUNK_ROWS], n_pixels, where, row_offset)
    if n_pixels == 0:
        raise ValueError(f"{where}{_describe_row(0, row_offset)}: no pixel values found.")
    begins = range(_CHUNK_ROWS, len(strings), _CHUNK_ROWS)
    if not begins:
        return first

    def parse(begin):
        return _parse_chunk(
            strings[begin : begin + _CHUNK_ROWS], n_pixels, where, row_offset + begin
        )[0]

    # NumPy releases the GIL in the array work, so two threads use two cores.
    # map() yields in order, so the first malformed chunk is the one reported.
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        parts = list(pool.map(parse, begins))
    return np.concatenate([first, *parts])
