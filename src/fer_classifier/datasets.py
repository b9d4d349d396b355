"""Loader for the FER2013 facial expression data set.

FER2013 is distributed by Kaggle and cannot be downloaded by this library:
:func:`load_fer2013` reads a copy that the user already has, either the
original CSV (``emotion,pixels,Usage``) or the image-folder edition
(``train/<emotion>/*.jpg``, ``test/<emotion>/*.jpg``).
"""

import os
import re
import zlib
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from ._fastcsv import read_plain_fer2013
from ._pixels import parse_pixel_strings
from ._synthetic import make_synthetic_faces

__all__ = ["EMOTIONS", "USAGES", "get_data_home", "load_fer2013", "make_synthetic_faces"]

#: Emotion names in FER2013's label order (label 0 is ``"Angry"``).
EMOTIONS = ("Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral")

#: The values of FER2013's ``Usage`` column.
USAGES = ("Training", "PublicTest", "PrivateTest")

IMAGE_SIZE = 48
N_PIXELS = IMAGE_SIZE * IMAGE_SIZE

_ENV_VAR = "FER_CLASSIFIER_DATA"
_CSV_NAMES = ("fer2013.csv", "fer2013.csv.gz")
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
_FOLDER_USAGE = {"train": "Training", "test": "PublicTest"}
_WHERE_TO_GET = (
    "FER2013 is not downloaded automatically: get it from Kaggle "
    "(https://www.kaggle.com/c/challenges-in-representation-learning-facial-"
    "expression-recognition-challenge/data, file fer2013.csv, or the image-folder "
    "edition with train/ and test/) and pass its path, or put it in one of the "
    "places above."
)


def get_data_home(data_home=None):
    """Return the folder where :func:`load_fer2013` looks for data by default.

    Parameters
    ----------
    data_home : str or path-like, default=None
        When given, it is returned as a :class:`~pathlib.Path`. Otherwise the
        ``FER_CLASSIFIER_DATA`` environment variable is used if set, else
        ``~/fer_classifier_data``. The folder is not created.

    Returns
    -------
    data_home : pathlib.Path
    """
    if data_home is not None:
        return Path(data_home).expanduser()
    env = os.environ.get(_ENV_VAR)
    if env:
        return Path(env).expanduser()
    return Path("~/fer_classifier_data").expanduser()


def _candidates(folder):
    """Places inside ``folder`` where a FER2013 copy may be."""
    folder = Path(folder).expanduser()
    out = [folder / name for name in _CSV_NAMES]
    out += [folder / "fer2013" / name for name in _CSV_NAMES]
    out += [folder, folder / "fer2013"]
    return out


def _is_image_folder(path):
    return path.is_dir() and any((path / sub).is_dir() for sub in _FOLDER_USAGE)


def _find_data(data_home):
    """Locate a FER2013 copy, or raise FileNotFoundError naming every place tried."""
    folders = []
    if data_home is not None:
        folders.append(Path(data_home).expanduser())
    env = os.environ.get(_ENV_VAR)
    if env:
        folders.append(Path(env).expanduser())
    folders.append(Path("~/fer_classifier_data").expanduser())
    tried = []
    for folder in folders:
        if folder.is_file():
            return folder
        for cand in _candidates(folder):
            if cand.is_file() or _is_image_folder(cand):
                return cand
            tried.append(str(cand))
    listing = "\n  ".join(dict.fromkeys(tried))
    raise FileNotFoundError(f"FER2013 data not found. Looked in:\n  {listing}\n{_WHERE_TO_GET}")


def _check_subset(subset):
    """Normalise ``subset`` to a tuple of Usage values (or None for all)."""
    if subset is None:
        return None
    items = (subset,) if isinstance(subset, str) else tuple(subset)
    if not items:
        raise ValueError("subset must name at least one Usage value. Received: subset=[]")
    for item in items:
        if item not in USAGES:
            raise ValueError(
                f"Unknown subset {item!r}; expected one of {', '.join(USAGES)} "
                f"(or a list of them). Received: subset={subset!r}"
            )
    return items


def _parse_pixels_column(column, path, rows):
    """Parse a pixels column; errors name the file line of ``rows`` (0 = line 2)."""
    try:
        return parse_pixel_strings(column.tolist(), n_pixels=N_PIXELS, source=str(path))
    except ValueError as exc:
        # The parser counts rows of what it was given; report file lines instead.
        match = re.search(r", row (\d+):", str(exc))
        if match is None:
            raise
        line = rows[int(match.group(1))] + 2
        raise ValueError(str(exc).replace(match.group(0), f", line {line}:", 1)) from None


def _read_frame(path, what):
    """Read a CSV as strings; ValueError naming the file if it is unreadable or has no rows."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise ValueError(
            f"{path}: the file is empty; expected {what} with a header line "
            f"(emotion,pixels,Usage) and one face per line."
        ) from None
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, EOFError, zlib.error) as exc:
        raise ValueError(f"{path}: cannot be read as {what} ({exc}).") from exc
    if len(frame) == 0:
        raise ValueError(
            f"{path}: no faces, only the header line "
            f"({', '.join(str(c).strip() for c in frame.columns)})."
        )
    return frame


def read_pixels_csv(path):
    """Read the ``pixels`` column of a FER2013-style CSV into 48x48 images.

    Only ``pixels`` is required (``emotion`` and ``Usage`` may be absent), as
    in Kaggle's ``test.csv``. Used by ``fer-classifier predict``.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    images : ndarray of shape (n, 48, 48), dtype uint8
    frame : DataFrame
        The file's other columns, as strings.

    Raises
    ------
    FileNotFoundError, ValueError
        As :func:`load_fer2013`.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No such file: {path}")
    frame = _read_frame(path, "a CSV file")
    frame.columns = [str(c).strip() for c in frame.columns]
    if "pixels" not in frame.columns:
        raise ValueError(
            f"{path}: no 'pixels' column; expected a FER2013-style CSV with one string of "
            f"2304 space-separated values per row. Found: {', '.join(frame.columns)}."
        )
    pixels = _parse_pixels_column(frame["pixels"], path, np.arange(len(frame)))
    return pixels.reshape(-1, IMAGE_SIZE, IMAGE_SIZE), frame.drop(columns="pixels")


def _read_csv(path, subset):
    """Read a Kaggle FER2013 CSV; return (pixels uint8 (n, 2304), target, usage)."""
    fast = read_plain_fer2013(path, N_PIXELS)
    if fast is not None:  # the plain layout, parsed without pandas
        pixels, emotion, usage = fast
    else:  # anything else, read with pandas, whose errors name the line
        frame = _read_frame(path, "a FER2013 CSV file")
        # Some copies (icml_face_data.csv) have spaces around the column names.
        frame.columns = [str(c).strip() for c in frame.columns]
        missing = [c for c in ("emotion", "pixels", "Usage") if c not in frame.columns]
        if missing:
            raise ValueError(
                f"{path}: missing column(s) {', '.join(missing)}; a FER2013 CSV has the "
                f"columns emotion,pixels,Usage. Found: {', '.join(frame.columns)}."
            )
        pixels, emotion = frame["pixels"], frame["emotion"].to_numpy(dtype=object)
        usage = frame["Usage"].str.strip().to_numpy(dtype=object)
    # Line numbers in messages: the header is line 1, data row 0 is line 2.
    rows = np.arange(len(usage))
    unknown = ~np.isin(usage, USAGES)
    if unknown.any():
        i = int(np.argmax(unknown))
        raise ValueError(
            f"{path}, line {i + 2}: unknown Usage value {usage[i]!r}; expected one of "
            f"{', '.join(USAGES)}."
        )
    if subset is not None:
        keep = np.isin(usage, subset)
        absent = [s for s in subset if s not in set(usage)]
        if absent:
            present = ", ".join(u for u in USAGES if u in set(usage)) or "none"
            raise ValueError(
                f"{path} has no rows with Usage {', '.join(absent)} (it holds: "
                f"{present}). Received: subset={list(subset)!r}"
            )
        pixels, emotion, usage, rows = pixels[keep], emotion[keep], usage[keep], rows[keep]

    codes = pd.to_numeric(pd.Series(emotion, dtype=str).str.strip(), errors="coerce").to_numpy()
    bad = ~np.isin(codes, np.arange(len(EMOTIONS)))
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(
            f"{path}, line {rows[i] + 2}: unknown emotion code "
            f"{emotion[i]!r}; expected an integer 0-6 "
            f"({', '.join(f'{k}={n}' for k, n in enumerate(EMOTIONS))})."
        )
    if fast is None:
        pixels = _parse_pixels_column(pixels, path, rows)
    return pixels, codes.astype(np.int64), usage.astype(str)


def _label_of_folder(name, path):
    for i, emotion in enumerate(EMOTIONS):
        if name.lower() == emotion.lower():
            return i
    raise ValueError(
        f"{path}: unknown emotion folder {name!r}; expected one of "
        f"{', '.join(e.lower() for e in EMOTIONS)}."
    )


def _natural_key(path):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name)]


def _read_image(file):
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(file) as img:
            img = img.convert("L")
            if img.size != (IMAGE_SIZE, IMAGE_SIZE):
                raise ValueError(
                    f"{file}: image is {img.size[0]}x{img.size[1]} pixels; FER2013 "
                    f"images are {IMAGE_SIZE}x{IMAGE_SIZE}."
                )
            return np.asarray(img, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValueError(f"{file}: unreadable image ({exc}).") from exc


def _read_folder(root, subset):
    """Read the image-folder edition; same return as :func:`_read_csv`."""
    files, labels, usages = [], [], []
    for sub, default_usage in _FOLDER_USAGE.items():
        folder = root / sub
        if not folder.is_dir():
            continue
        for emotion_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
            label = _label_of_folder(emotion_dir.name, emotion_dir)
            images = [p for p in emotion_dir.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES]
            for file in sorted(images, key=_natural_key):
                # Files named like PrivateTest_123.jpg say which split they are from.
                prefix = file.name.split("_", 1)[0]
                usages.append(prefix if prefix in USAGES else default_usage)
                files.append(file)
                labels.append(label)
    if not files:
        raise ValueError(
            f"{root}: no images found; expected train/<emotion>/*.jpg and/or "
            f"test/<emotion>/*.jpg (PNG too)."
        )
    usage = np.array(usages, dtype=str)
    if subset is not None:
        absent = [s for s in subset if s not in set(usages)]
        if absent:
            raise ValueError(
                f"{root} has no images of Usage {', '.join(absent)} (it holds: "
                f"{', '.join(u for u in USAGES if u in set(usages))}). "
                f"Received: subset={list(subset)!r}"
            )
        keep = np.flatnonzero(np.isin(usage, subset))
        files, labels, usage = [files[i] for i in keep], [labels[i] for i in keep], usage[keep]
    images = np.stack([_read_image(f) for f in files])
    return images.reshape(len(files), N_PIXELS), np.array(labels, dtype=np.int64), usage


def _descr():
    return resources.files("fer_classifier").joinpath("descr/fer2013.rst").read_text("utf-8")


def _pixel_strings(pixels):
    """Rows of uint8 pixels -> FER2013 pixel strings ("70 80 82 ...")."""
    words = np.array([str(v) for v in range(256)], dtype=object)
    return np.array([" ".join(words[row]) for row in pixels], dtype=object)


def _resolve_path(path, data_home):
    """``path`` as given, or found by name in the data folders; else FileNotFoundError."""
    path = Path(path).expanduser()
    if path.exists():
        return path
    tried = [path.resolve()]
    if not path.is_absolute():
        folders = [data_home, os.environ.get(_ENV_VAR), "~/fer_classifier_data"]
        for folder in folders:
            if folder:
                candidate = Path(folder).expanduser() / path
                if candidate.exists():
                    return candidate
                tried.append(candidate)
    listing = "\n  ".join(str(t) for t in dict.fromkeys(tried))
    raise FileNotFoundError(
        f"FER2013 data not found at {path}: no such file or folder. Looked in:\n  {listing}\n"
        f"Pass the path of fer2013.csv(.gz) or of a folder holding train/ and test/, or "
        f"put the file in the folder named by ${_ENV_VAR} (a relative name is looked for "
        f"there and in ~/fer_classifier_data)."
    )


def load_fer2013(
    path=None,
    *,
    subset=None,
    data_home=None,
    return_X_y=False,
    as_frame=False,
    pixel_strings=False,
):
    """Load the FER2013 facial expression data set (classification, 7 classes).

    =================   =========================================
    Classes                                                     7
    Samples total                 35,887 (all three Usage splits)
    Dimensionality                    2,304 (48x48 grayscale)
    Features                                   integers 0-255
    =================   =========================================

    Nothing is downloaded: FER2013 must already be on disk.

    Parameters
    ----------
    path : str or path-like, default=None
        A FER2013 CSV file (``emotion,pixels,Usage``; plain or ``.gz``) or a
        folder of the image edition (``train/<emotion>/*.jpg`` and
        ``test/<emotion>/*.jpg``; PNG too). When None, the data is looked for
        in ``data_home``, then in the folder named by the
        ``FER_CLASSIFIER_DATA`` environment variable, then in
        ``~/fer_classifier_data``; each folder may hold ``fer2013.csv``,
        ``fer2013.csv.gz``, ``fer2013/`` or the image folders. A relative
        path that does not exist from the current folder is looked for in
        the same folders (``load_fer2013("fer2013.csv.gz")`` finds
        ``$FER_CLASSIFIER_DATA/fer2013.csv.gz``).
    subset : str or list of str, default=None
        The ``Usage`` split(s) to return: ``"Training"``, ``"PublicTest"``,
        ``"PrivateTest"``, or a list of them. None returns every row. In the
        image edition ``train/`` is ``"Training"`` and ``test/`` is
        ``"PublicTest"``, unless file names start with a split name
        (``PrivateTest_12.jpg``).
    data_home : str or path-like, default=None
        A folder to look in first when ``path`` is None or a relative path
        that does not exist.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.
    as_frame : bool, default=False
        If True, ``data`` is a pandas DataFrame (one column per pixel),
        ``target`` a Series, and ``frame`` a DataFrame holding both plus the
        ``usage`` column.
    pixel_strings : bool, default=False
        If True, ``data`` holds one FER2013 pixel string per face
        (``"70 80 82 ..."``, an object array, or a Series named ``pixels``
        with ``as_frame=True``), as in the CSV's ``pixels`` column: the input
        of :class:`~fer_classifier.PixelStringTransformer`, for a Pipeline
        that starts from raw strings. ``images`` still holds the parsed
        images.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the attributes:

        data : ndarray of shape (n_samples, 2304), dtype uint8
            The flattened images (a DataFrame if ``as_frame=True``; pixel
            strings of shape (n_samples,) if ``pixel_strings=True``).
        images : ndarray of shape (n_samples, 48, 48), dtype uint8
            The images.
        target : ndarray of shape (n_samples,), dtype int64
            The emotion labels 0-6 (a Series if ``as_frame=True``).
        target_names : list of str
            ``["Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral"]``.
        usage : ndarray of shape (n_samples,), dtype str
            The split of each row.
        frame : DataFrame or None
            Only when ``as_frame=True``: pixels, ``emotion`` and ``usage``.
        DESCR : str
            Description of the data set.
        filename : str
            The file or folder that was read.

    (data, target) : tuple if ``return_X_y`` is True

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist, or no data is found in the default
        places (the message lists every place tried).
    ValueError
        When the file is malformed (a missing column, a row with the wrong
        number of pixels, a non-numeric or out-of-range pixel, an unknown
        emotion code or Usage, an unreadable image) or ``subset`` is unknown
        or absent from the file. The message names the file and the line or
        image.

    Examples
    --------
    >>> from fer_classifier import load_fer2013
    >>> train = load_fer2013("fer2013.csv.gz", subset="Training")  # doctest: +SKIP
    >>> train.images.shape  # doctest: +SKIP
    (28709, 48, 48)
    >>> X, y = load_fer2013("fer2013.csv.gz", subset="PublicTest",
    ...                     return_X_y=True)  # doctest: +SKIP

    From raw pixel strings, in a Pipeline:

    >>> from sklearn.pipeline import make_pipeline
    >>> from fer_classifier import EmotionCNNClassifier, PixelStringTransformer
    >>> train = load_fer2013("fer2013.csv.gz", subset="Training",
    ...                      pixel_strings=True)  # doctest: +SKIP
    >>> pipe = make_pipeline(PixelStringTransformer(), EmotionCNNClassifier())
    >>> pipe.fit(train.data, train.target)  # doctest: +SKIP
    """
    subset = _check_subset(subset)
    if path is None:
        path = _find_data(data_home)
    else:
        path = _resolve_path(path, data_home)
    if path.is_dir():
        if not _is_image_folder(path):
            for name in _CSV_NAMES:
                if (path / name).is_file():
                    path = path / name
                    break
    if path.is_dir():
        if not _is_image_folder(path):
            raise FileNotFoundError(
                f"{path} holds neither fer2013.csv(.gz) nor the image folders train/ and "
                f"test/. {_WHERE_TO_GET}"
            )
        pixels, target, usage = _read_folder(path, subset)
    else:
        pixels, target, usage = _read_csv(path, subset)

    images = pixels.reshape(-1, IMAGE_SIZE, IMAGE_SIZE)
    frame = None
    data, target_out = pixels, target
    if pixel_strings:
        data = _pixel_strings(pixels)
    if as_frame:
        if pixel_strings:
            data = pd.Series(data, name="pixels")
        else:
            columns = [f"pixel_{i:04d}" for i in range(N_PIXELS)]
            data = pd.DataFrame(pixels, columns=columns)
        target_out = pd.Series(target, name="emotion")
        frame = pd.concat(
            [data, target_out, pd.Series(usage, name="usage")], axis=1
        )
    if return_X_y:
        return data, target_out
    return Bunch(
        data=data,
        images=images,
        target=target_out,
        target_names=list(EMOTIONS),
        usage=usage,
        frame=frame,
        DESCR=_descr(),
        filename=str(path),
    )
