"""Loader for the FER+ relabelling of FER2013: ten annotators' votes per face.

FER+ (Barsoum et al., ICMI 2016; Microsoft's FERPlus repository, MIT licence)
gives every FER2013 face ten crowd-sourced votes over eight emotions
(FER2013's seven plus contempt), "unknown" and "not a face". Its file,
``fer2013new.csv``, holds no pixels: it is aligned row for row with
``fer2013.csv``, so :func:`load_ferplus` reads both and checks that they
agree before joining them.

A separate loader rather than an option of :func:`load_fer2013`: what it
returns differs (vote counts, label distributions, an eighth class, faces
dropped by FER+'s rule), as scikit-learn keeps one loader per data set.
"""

import os
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from .datasets import (
    _ENV_VAR,
    EMOTIONS,
    IMAGE_SIZE,
    N_PIXELS,
    _check_subset,
    _find_data,
    _read_csv,
    _read_frame,
    _resolve_path,
)

__all__ = ["FERPLUS_EMOTIONS", "VOTE_COLUMNS", "ferplus_majority", "load_ferplus"]

#: The eight FER+ emotions in the label order of :func:`load_ferplus`:
#: FER2013's seven (same indices as :data:`~fer_classifier.EMOTIONS`), then
#: ``"Contempt"`` as label 7.
FERPLUS_EMOTIONS = (*EMOTIONS, "Contempt")

#: The vote columns of ``fer2013new.csv``, in the file's order.
VOTE_COLUMNS = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear",
                "contempt", "unknown", "NF")

# Column of fer2013new.csv for each label of FERPLUS_EMOTIONS, then unknown and NF.
_VOTE_ORDER = ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral",
               "contempt", "unknown", "NF")
# Aligned files agree on most faces; files in different row orders agree at
# the chance level of the class frequencies (about 0.19 for FER2013).
_MIN_AGREEMENT = 0.4
_MIN_FACES_TO_CHECK = 100
_FILE_NAMES = ("fer2013new.csv", "ferplus/fer2013new.csv")
_WHERE_TO_GET = (
    "FER+ is not downloaded automatically: get fer2013new.csv from Microsoft's "
    "FERPlus repository (https://github.com/microsoft/FERPlus, MIT licence) and pass "
    "its path, or put it in one of the places above."
)


def ferplus_majority(votes):
    """Majority labels of FER+ vote counts, by the rule of the FER+ paper's code.

    For each face, emotions with a single vote are first discarded as
    outliers. The face's label is the emotion with the most remaining votes
    if that emotion has more than half of them; otherwise, or when the most
    voted column is "unknown" or "not a face", the face has no label.

    Parameters
    ----------
    votes : array-like of shape (n_faces, 10)
        Vote counts in the columns of ``FERPLUS_EMOTIONS`` (8 emotions) then
        "unknown" and "not a face" (this module's ``_VOTE_ORDER``, not the
        file's column order).

    Returns
    -------
    labels : ndarray of shape (n_faces,), dtype int64
        0-7 (indices into :data:`FERPLUS_EMOTIONS`), or -1 for no majority
        and -2 for a majority of "unknown" or "not a face".
    """
    votes = np.asarray(votes, dtype=np.float64)
    if votes.ndim != 2 or votes.shape[1] != len(_VOTE_ORDER):
        raise ValueError(
            f"votes must have shape (n_faces, {len(_VOTE_ORDER)}). "
            f"Received: votes.shape={votes.shape}"
        )
    kept = np.where(votes > 1, votes, 0.0)
    top = kept.argmax(axis=1)
    peak = kept[np.arange(len(kept)), top]
    labels = np.where(peak > 0.5 * kept.sum(axis=1), top, -1)
    labels[(labels >= len(FERPLUS_EMOTIONS))] = -2
    return labels.astype(np.int64)


def _find_votes(data_home):
    """Locate fer2013new.csv in the data folders, or FileNotFoundError listing them."""
    folders = [data_home, os.environ.get(_ENV_VAR), "~/fer_classifier_data"]
    tried = []
    for folder in folders:
        if not folder:
            continue
        for name in _FILE_NAMES:
            candidate = Path(folder).expanduser() / name
            if candidate.is_file():
                return candidate
            tried.append(str(candidate))
    listing = "\n  ".join(dict.fromkeys(tried))
    raise FileNotFoundError(f"FER+ votes not found. Looked in:\n  {listing}\n{_WHERE_TO_GET}")


def _read_votes(path, fer2013_path, usage):
    """Read fer2013new.csv; check it against the FER2013 rows; return (votes, has_image)."""
    frame = _read_frame(path, "a FER+ vote file (fer2013new.csv)")
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in ("Usage", *VOTE_COLUMNS) if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{path}: missing column(s) {', '.join(missing)}; a FER+ file has the columns "
            f"Usage,Image name,{','.join(VOTE_COLUMNS)}. Found: {', '.join(frame.columns)}."
        )
    if len(frame) != len(usage):
        raise ValueError(
            f"{path} has {len(frame):,} rows but {fer2013_path} has {len(usage):,}: the FER+ "
            f"votes are aligned row for row with fer2013.csv, so both files must come from "
            f"the same edition (same splits, same order)."
        )
    vote_usage = frame["Usage"].str.strip().to_numpy(dtype=str)
    differ = np.flatnonzero(vote_usage != usage)
    if differ.size:
        i = int(differ[0])
        raise ValueError(
            f"{path}, line {i + 2} is a {str(vote_usage[i])!r} row but line {i + 2} of "
            f"{fer2013_path} is {str(usage[i])!r} ({differ.size:,} rows differ): the files are "
            f"not aligned row for row."
        )
    votes = np.empty((len(frame), len(_VOTE_ORDER)), dtype=np.int64)
    for j, column in enumerate(_VOTE_ORDER):
        values = pd.to_numeric(frame[column].str.strip(), errors="coerce").to_numpy()
        bad = ~np.isin(values, np.arange(11))
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(
                f"{path}, line {i + 2}: {column} has {frame[column].iloc[i]!r}; votes are "
                f"integers 0-10."
            )
        votes[:, j] = values
    name = frame["Image name"] if "Image name" in frame.columns else pd.Series([""] * len(frame))
    has_image = name.str.strip().to_numpy(dtype=str) != ""
    return votes, has_image


def _check_agreement(labels, fer_target, path, fer2013_path):
    """Refuse files whose rows do not belong together (agreement at chance level).

    Row counts and ``Usage`` values match whenever both files have the same
    splits, even if one was reordered (a FER2013 copy rebuilt from the image
    edition, for instance). The labels then tell: FER+'s majority and
    FER2013's label agree on most faces of aligned files.
    """
    both = labels[(labels >= 0) & (labels < len(EMOTIONS))]
    fer = fer_target[(labels >= 0) & (labels < len(EMOTIONS))]
    if len(both) < _MIN_FACES_TO_CHECK:
        return
    agreement = float(np.mean(both == fer))
    if agreement < _MIN_AGREEMENT:
        raise ValueError(
            f"{path} and {fer2013_path} do not seem to be aligned row for row: FER+'s "
            f"majority label equals FER2013's label on {agreement:.1%} of {len(both):,} faces, "
            f"the rate expected by chance (aligned files agree on most faces). Use the "
            f"fer2013.csv whose row order fer2013new.csv refers to (Kaggle's original CSV); "
            f"copies rebuilt from the image-folder edition are in another order."
        )


def _check_n_classes(n_classes):
    if n_classes not in (7, 8) or isinstance(n_classes, bool):
        raise ValueError(
            "n_classes must be 8 (FER+'s emotions, with contempt as label 7) or 7 "
            f"(FER2013's, faces labelled contempt dropped). Received: n_classes={n_classes!r}"
        )


def load_ferplus(
    path=None,
    *,
    fer2013_path=None,
    subset=None,
    n_classes=8,
    data_home=None,
    return_X_y=False,
    as_frame=False,
):
    """Load FER2013's faces with the FER+ labels (classification, 8 or 7 classes).

    ==================  ============================================================
    Classes             8 (or 7 with n_classes=7)
    Faces with a label  28,259 of the 32,298 Training+PublicTest rows (8 classes)
    Dimensionality      2,304 (48x48 grayscale)
    Features            integers 0-255
    ==================  ============================================================

    Reads the FER+ vote file and FER2013's CSV, checks that they are aligned
    row for row, and keeps the faces that have a majority label under the
    FER+ rule (:func:`ferplus_majority`). Nothing is downloaded.

    Parameters
    ----------
    path : str or path-like, default=None
        The FER+ vote file ``fer2013new.csv``. When None it is looked for in
        ``data_home``, the folder named by ``FER_CLASSIFIER_DATA`` and
        ``~/fer_classifier_data``, each as ``fer2013new.csv`` or
        ``ferplus/fer2013new.csv``.
    fer2013_path : str or path-like, default=None
        FER2013's CSV, found as :func:`~fer_classifier.load_fer2013` finds
        it when None. The image-folder edition cannot be used: only the CSV
        has the row order the votes refer to.
    subset : str or list of str, default=None
        The ``Usage`` split(s) to return, as in ``load_fer2013``.
    n_classes : {8, 7}, default=8
        8: FER+'s emotions, labels 0-6 as in FER2013 and 7 = Contempt.
        7: FER2013's classes only. Faces whose majority is contempt are
        dropped, and contempt votes are left out of ``target_proba`` (not
        folded into another emotion: FER2013 has no class it belongs to).
    data_home : str or path-like, default=None
        A folder to look in first for both files.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.
    as_frame : bool, default=False
        If True, ``data`` is a DataFrame (one column per pixel), ``target``
        a Series, and ``frame`` a DataFrame holding both, the votes and the
        usage.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the attributes:

        data : ndarray of shape (n_faces, 2304), dtype uint8
            The flattened images.
        images : ndarray of shape (n_faces, 48, 48), dtype uint8
            The images.
        target : ndarray of shape (n_faces,), dtype int64
            The FER+ majority labels.
        target_proba : ndarray of shape (n_faces, n_classes), dtype float32
            Each face's label distribution: its emotion votes, without the
            single-vote outliers the FER+ rule discards, divided by their
            sum. Pass it to ``EmotionCNNClassifier.fit(..., target_proba=)``
            to learn from the distribution (the FER+ paper's
            "cross-entropy" mode).
        votes : ndarray of shape (n_faces, 10), dtype int64
            The raw vote counts, columns ``vote_names``.
        vote_names : list of str
            ``target_names`` of all 8 emotions, then ``"Unknown"`` and
            ``"Not a face"``.
        fer2013_target : ndarray of shape (n_faces,), dtype int64
            FER2013's original label of each face, to compare the two.
        row : ndarray of shape (n_faces,), dtype int64
            The face's row in both files (0 = the first data line).
        target_names : list of str
            ``FERPLUS_EMOTIONS`` (or the first 7 with ``n_classes=7``).
        usage : ndarray of shape (n_faces,), dtype str
            Each face's FER2013 ``Usage`` split.
        dropped : dict
            How many rows of the chosen subset were left out, by reason:
            ``"no image"`` (FER+ gives no image name), ``"no majority"``,
            ``"unknown or not a face"`` and, with ``n_classes=7``,
            ``"contempt"``.
        frame : DataFrame or None
            Only when ``as_frame=True``.
        DESCR : str
            The description of the data and its licence.
        filename, fer2013_filename : str
            The files that were read.

    (data, target) : tuple if ``return_X_y`` is True

    Raises
    ------
    FileNotFoundError
        When a file is missing (the message lists the places tried).
    ValueError
        When the files do not match row for row (different row counts or
        ``Usage`` values, or labels that agree no more than by chance; the
        message names both files), a vote is not an
        integer 0-10, ``fer2013_path`` is an image folder, or ``subset`` or
        ``n_classes`` is invalid.

    Examples
    --------
    >>> from fer_classifier import EmotionCNNClassifier, load_ferplus
    >>> train = load_ferplus("fer2013new.csv", subset="Training")  # doctest: +SKIP
    >>> train.dropped  # doctest: +SKIP
    {'no image': 145, 'no majority': ..., 'unknown or not a face': ...}
    >>> clf = EmotionCNNClassifier().fit(train.images, train.target,
    ...                                  target_proba=train.target_proba)  # doctest: +SKIP
    """
    subset = _check_subset(subset)
    _check_n_classes(n_classes)
    path = _find_votes(data_home) if path is None else _resolve_path(path, data_home)
    if path.is_dir():
        for name in _FILE_NAMES:
            if (path / name).is_file():
                path = path / name
                break
        else:
            raise FileNotFoundError(f"{path} holds no fer2013new.csv. {_WHERE_TO_GET}")
    if fer2013_path is None:
        fer2013_path = _find_data(data_home)
    else:
        fer2013_path = _resolve_path(fer2013_path, data_home)
    if fer2013_path.is_dir():
        for name in ("fer2013.csv", "fer2013.csv.gz"):
            if (fer2013_path / name).is_file():
                fer2013_path = fer2013_path / name
                break
        else:
            raise ValueError(
                f"{fer2013_path} is a folder; FER+ votes are aligned with the rows of "
                f"fer2013.csv, so pass that CSV (plain or .gz) as fer2013_path."
            )

    pixels, fer_target, usage = _read_csv(fer2013_path, None)
    votes, has_image = _read_votes(path, fer2013_path, usage)
    rows = np.arange(len(usage))
    if subset is not None:
        in_subset = np.isin(usage, subset)
        absent = [s for s in subset if s not in set(usage)]
        if absent:
            raise ValueError(
                f"{path} has no rows with Usage {', '.join(absent)}. Received: "
                f"subset={list(subset)!r}"
            )
        rows = rows[in_subset]

    _check_agreement(ferplus_majority(votes[has_image]), fer_target[has_image], path,
                     fer2013_path)
    labels = ferplus_majority(votes[rows])
    dropped = {
        "no image": int((~has_image[rows]).sum()),
        "no majority": int(((labels == -1) & has_image[rows]).sum()),
        "unknown or not a face": int(((labels == -2) & has_image[rows]).sum()),
    }
    keep = has_image[rows] & (labels >= 0)
    if n_classes == 7:
        dropped["contempt"] = int((keep & (labels == 7)).sum())
        keep &= labels < 7
    rows, labels = rows[keep], labels[keep]

    emotion_votes = votes[rows, :n_classes].astype(np.float32)
    emotion_votes[emotion_votes <= 1] = 0  # FER+'s outlier rule, as in the majority
    target_proba = emotion_votes / emotion_votes.sum(axis=1, keepdims=True)

    data, target = pixels[rows], labels
    names = list(FERPLUS_EMOTIONS[:n_classes])
    frame = None
    if as_frame:
        columns = [f"pixel_{i:04d}" for i in range(N_PIXELS)]
        data = pd.DataFrame(data, columns=columns)
        target = pd.Series(labels, name="emotion")
        vote_frame = pd.DataFrame(votes[rows], columns=[f"votes_{c}" for c in _VOTE_ORDER])
        frame = pd.concat([data, target, vote_frame, pd.Series(usage[rows], name="usage")],
                          axis=1)
    if return_X_y:
        return data, target
    return Bunch(
        data=data,
        images=pixels[rows].reshape(-1, IMAGE_SIZE, IMAGE_SIZE),
        target=target,
        target_proba=target_proba,
        votes=votes[rows],
        vote_names=[*FERPLUS_EMOTIONS, "Unknown", "Not a face"],
        fer2013_target=fer_target[rows],
        row=rows,
        target_names=names,
        usage=usage[rows],
        dropped=dropped,
        frame=frame,
        DESCR=resources.files("fer_classifier").joinpath("descr/ferplus.rst").read_text("utf-8"),
        filename=str(path),
        fer2013_filename=str(fer2013_path),
    )
