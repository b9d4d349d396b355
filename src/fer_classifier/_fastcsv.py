"""A fast reader for FER2013 CSVs in their plain layout.

Kaggle's ``fer2013.csv`` is ~290 MB of text, almost all of it pixel strings.
Reading it with pandas first makes one Python string per face and then
parses those strings. Here the file is decompressed in a background thread
(zlib releases the GIL) while blocks of complete lines are parsed as byte
arrays, two blocks at a time: no Python object per pixel and none per face
beyond the two short fields.

Only the plain layout is taken: the header ``emotion,pixels,Usage``, two
commas per line, pixel fields of exactly 2304 integers of at most three
digits separated by single or repeated spaces, optionally quoted. For any
other file, or any irregular line, :func:`read_plain_fer2013` returns None
and the caller reads the file with pandas, whose path reports each problem
by line.
"""

import gzip
import queue
import threading
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np

_BLOCK_BYTES = 4 << 20  # of decompressed text: cache-sized work per thread
_HEADER = (b"emotion", b"pixels", b"Usage")
_DIGIT = np.zeros(256, dtype=bool)
_DIGIT[ord("0") : ord("9") + 1] = True


def _chunks(path):
    """Yield the file's bytes, decompressed by a background thread if gzipped."""
    with open(path, "rb") as file:
        is_gzip = file.read(2) == b"\x1f\x8b"
    if not is_gzip:
        with open(path, "rb") as file:
            while chunk := file.read(_BLOCK_BYTES):
                yield chunk
        return

    ready = queue.Queue(maxsize=4)
    stop = threading.Event()

    def inflate():
        try:
            with open(path, "rb") as file:
                # wbits=47: a gzip or zlib stream; concatenated members are handled below.
                inflater = zlib.decompressobj(wbits=47)
                while not stop.is_set():
                    raw = inflater.unconsumed_tail or file.read(_BLOCK_BYTES // 4)
                    if not raw:
                        ready.put(inflater.flush())
                        if not inflater.eof:
                            raise EOFError("compressed file ended before its end marker")
                        break
                    ready.put(inflater.decompress(raw, _BLOCK_BYTES))
                    if inflater.eof and inflater.unused_data:
                        raise _Irregular  # a multi-member gzip file: leave it to gzip
        except BaseException as exc:  # handed to the reading thread
            ready.put(exc)
        ready.put(None)

    worker = threading.Thread(target=inflate, name="fer2013-inflate", daemon=True)
    worker.start()
    try:
        while (item := ready.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():  # unblock a full queue so the thread can end
            try:
                ready.get(timeout=0.1)
            except queue.Empty:
                pass


class _Irregular(Exception):
    """The file is not in the plain layout: read it the general way."""


def _line_blocks(path):
    """Yield blocks of complete lines (each ending in a newline), header removed."""
    rest = b""
    header_seen = False
    for chunk in _chunks(path):
        data = rest + chunk if rest else chunk
        cut = data.rfind(b"\n") + 1
        rest = data[cut:]
        block = data[:cut]
        if not header_seen and block:
            end = block.index(b"\n")
            fields = tuple(f.strip() for f in block[:end].rstrip(b"\r").split(b","))
            if fields != _HEADER:
                raise _Irregular
            block, header_seen = block[end + 1 :], True
        if block:
            yield block
    if rest.strip():
        if not header_seen:
            raise _Irregular
        yield rest + b"\n"


def _parse_block(block, n_pixels):
    """Parse lines ``emotion,pixels,Usage\\n``; (pixels, emotions, usages) or raise _Irregular."""
    a = np.frombuffer(block, dtype=np.uint8)
    ends = np.flatnonzero(a == ord("\n"))
    commas = np.flatnonzero(a == ord(","))
    n = len(ends)
    if len(commas) != 2 * n:
        raise _Irregular
    first, second = commas[0::2], commas[1::2]
    starts = np.concatenate(([0], ends[:-1] + 1))
    if not ((first >= starts).all() and (second < ends).all() and (first[1:] > ends[:-1]).all()):
        raise _Irregular  # not two commas on every line

    digit = _DIGIT[a]
    # Inside a pixels field only digits, spaces and its own quotes may appear.
    other = np.flatnonzero(~digit & (a != ord(" ")))
    quoted = a[first + 1] == ord('"')
    if quoted.any():
        if not (a[second - 1][quoted] == ord('"')).all():
            raise _Irregular
        other = other[~np.isin(other, np.concatenate((first[quoted] + 1, second[quoted] - 1)))]
    after = np.searchsorted(other, first, side="right")
    if len(other) and (other[np.minimum(after, len(other) - 1)] < second)[after < len(other)].any():
        raise _Irregular

    edges = np.diff(digit.view(np.int8), prepend=np.int8(0))
    token_starts = np.flatnonzero(edges == 1)
    token_ends = np.flatnonzero(edges == -1) - 1
    begin = np.searchsorted(token_starts, first)
    if not (np.searchsorted(token_starts, second) - begin == n_pixels).all():
        raise _Irregular
    index = (begin[:, None] + np.arange(n_pixels)).ravel()
    token_starts, token_ends = token_starts[index], token_ends[index]
    extra_digits = token_ends - token_starts
    if extra_digits.max(initial=0) > 2:
        raise _Irregular
    values = (a[token_ends] - ord("0")).astype(np.int16)
    tens = extra_digits >= 1
    values[tens] += 10 * (a[token_ends[tens] - 1] - ord("0"))
    hundreds = extra_digits == 2
    values[hundreds] += 100 * (a[token_ends[hundreds] - 2] - ord("0")).astype(np.int16)
    if values.max(initial=0) > 255:
        raise _Irregular

    emotions = [block[s:e] for s, e in zip(starts.tolist(), first.tolist())]
    usages = [block[s + 1 : e] for s, e in zip(second.tolist(), ends.tolist())]
    return values.astype(np.uint8).reshape(n, n_pixels), emotions, usages


def read_plain_fer2013(path, n_pixels):
    """Read a FER2013 CSV in the plain layout, fast.

    Returns
    -------
    (pixels, emotions, usages) or None
        ``pixels`` of shape (n, n_pixels), uint8; ``emotions`` and ``usages``
        object arrays of the fields as str, stripped. None when the file is
        not in the plain layout (or has no data lines): read it with pandas.
    """
    try:
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="fer2013-parse") as pool:
            parts = [f.result() for f in
                     [pool.submit(_parse_block, b, n_pixels) for b in _line_blocks(path)]]
    except (_Irregular, EOFError, OSError, zlib.error, gzip.BadGzipFile):
        return None  # the general reader says what is wrong, by line
    if not parts:
        return None

    def decoded(fields):
        try:
            values = [f.decode("ascii").strip() for f in fields]
        except UnicodeDecodeError:
            raise _Irregular from None
        if any('"' in v for v in values):
            raise _Irregular  # quoted short fields: pandas unquotes them
        return np.array(values, dtype=object)

    try:
        emotions = decoded(e for p in parts for e in p[1])
        usages = decoded(u for p in parts for u in p[2])
    except _Irregular:
        return None
    return np.concatenate([p[0] for p in parts]), emotions, usages
