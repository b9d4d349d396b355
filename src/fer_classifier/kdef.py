"""Loader for the Karolinska Directed Emotional Faces (KDEF).

KDEF (Lundqvist, Flykt & Öhman, 1998) holds 4,900 studio photographs of 70
amateur actors (35 female, 35 male), each showing 7 expressions from 5 angles,
photographed twice (sessions A and B). It is distributed by the Karolinska
Institutet under its own terms and cannot be downloaded by this library: get
it from https://kdef.se and pass the folder to :func:`load_kdef`.

File names encode everything: ``AF01AFS.JPG`` is session ``A``, a female
(``F``) actor, number ``01``, expression ``AF`` (afraid), angle ``S``
(straight). Each actor's photographs of one session are in a folder named
after the first four characters (``AF01/``).
"""

import re
import warnings
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from .datasets import EMOTIONS

__all__ = ["KDEF_ANGLES", "KDEF_EXPRESSIONS", "load_kdef"]

#: KDEF expression codes and their FER2013 labels (the order of ``EMOTIONS``).
KDEF_EXPRESSIONS = {"AN": 0, "DI": 1, "AF": 2, "HA": 3, "SA": 4, "SU": 5, "NE": 6}

#: KDEF angle codes: full left / half left profile, straight, half / full right.
KDEF_ANGLES = ("FL", "HL", "S", "HR", "FR")

_NAME = re.compile(
    r"^(?P<session>[AB])(?P<sex>[FM])(?P<number>\d{2})"
    r"(?P<expression>AF|AN|DI|HA|NE|SA|SU)(?P<angle>FL|HL|S|HR|FR)$"
)
_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"}


def _check_choice(name, values, allowed):
    if values is None:
        return None
    values = (values,) if isinstance(values, str) else tuple(values)
    bad = [v for v in values if v not in allowed]
    if bad or not values:
        raise ValueError(
            f"{name} must be a subset of {', '.join(allowed)}. Received: {name}={values!r}"
        )
    return set(values)


def _read(file, image_size):
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(file) as img:
            img = img.convert("L")
            if image_size is not None:
                w, h = img.size
                side = min(w, h)
                left, top = (w - side) // 2, (h - side) // 2
                img = img.crop((left, top, left + side, top + side))
                img = img.resize((image_size, image_size), Image.LANCZOS)
            return np.asarray(img, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValueError(f"{file}: not a readable image ({exc}).") from exc


def _face_crops(files, crop, image_size):
    """Face crops of the portraits, their boxes, and whether a face was found."""
    from .faces import FaceCropper

    if isinstance(crop, str):
        crop = FaceCropper(size=image_size, no_face="whole", multiple="largest")
    faces = crop.detect([str(f) for f in files])
    missing = [f.name for f, found in zip(files, faces) if not found]
    if missing:
        raise ValueError(
            f"No face in {len(missing)} KDEF image(s) ({', '.join(missing[:5])}"
            f"{', ...' if len(missing) > 5 else ''}); use a FaceCropper with no_face='whole'."
        )
    images = [found[0].image for found in faces]
    boxes = np.array([found[0].box for found in faces], dtype=np.int64)
    detected = np.array([found[0].detected for found in faces], dtype=bool)
    return images, boxes, detected


def load_kdef(path, *, angles=None, sessions=None, image_size=48, crop="center",
              on_malformed="raise", return_X_y=False):
    """Load the KDEF photographs with FER2013-compatible labels.

    Parameters
    ----------
    path : str or path-like
        The KDEF folder: the one holding ``AF01/``, ``AM01/``, ... (image files
        directly inside it are read too).
    angles : str or sequence of {"FL", "HL", "S", "HR", "FR"}, default=None
        Keep only these camera angles (``"S"``: straight, the only angle
        comparable with FER2013's mostly frontal faces). None keeps all.
    sessions : str or sequence of {"A", "B"}, default=None
        Keep only these photo sessions. None keeps both.
    image_size : int or None, default=48
        Side of the returned grayscale images: the largest centred square of
        each portrait (KDEF's are 562x762, the face in the middle), resized.
        None keeps the photographs whole, at their size (which must then be
        the same for all).
    crop : {"center", "face"} or FaceCropper, default="center"
        ``"center"``: the largest centred square of each portrait.
        ``"face"``: the face found by
        ``FaceCropper(size=image_size, no_face="whole")`` (needs the
        ``faces`` extra), framed like FER2013's faces; where no face is found
        (mostly the profile angles FL and FR) the centred square is used and
        ``face_found`` is False. A :class:`~fer_classifier.faces.FaceCropper`
        instance crops with its own settings.
    on_malformed : {"raise", "skip"}, default="raise"
        What to do with image files whose name does not follow the KDEF
        scheme, or that sit in another actor's folder: raise a ValueError
        listing them, or skip them with a warning listing them. They are
        never guessed.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``images`` (n, side, side) uint8; ``data`` (the images flattened);
        ``target`` (n,) FER2013 labels 0-6 (``EMOTIONS`` order, so a model
        trained on FER2013 scores it directly); ``target_names``;
        ``expression`` (KDEF codes); ``subject`` (the actor, e.g. ``"F01"``,
        the same in both sessions: use it as ``groups`` for a
        subject-independent :class:`~sklearn.model_selection.GroupKFold`);
        ``session``; ``sex``; ``angle``; ``filenames``; ``DESCR``. Sorted by
        file name. With ``crop="face"`` also ``boxes`` (n, 4): the face boxes
        ``(x, y, width, height)`` in the photographs' pixels, and
        ``face_found`` (n,) bool.

    Raises
    ------
    FileNotFoundError
        If ``path`` is not a folder.
    ValueError
        If no KDEF image is found, a file name is malformed (with
        ``on_malformed="raise"``), an image cannot be read, or an option is
        invalid.

    Examples
    --------
    >>> from sklearn.model_selection import GroupKFold
    >>> from fer_classifier import EmotionCNNClassifier
    >>> from fer_classifier.kdef import load_kdef
    >>> kdef = load_kdef("KDEF", angles="S")  # doctest: +SKIP
    >>> EmotionCNNClassifier.pretrained().score(kdef.images, kdef.target)  # doctest: +SKIP
    """
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(
            f"No KDEF folder at {root}. KDEF cannot be downloaded automatically: get it "
            f"from https://kdef.se and pass the folder that holds AF01/, AM01/, ..."
        )
    angles = _check_choice("angles", angles, KDEF_ANGLES)
    sessions = _check_choice("sessions", sessions, ("A", "B"))
    if on_malformed not in ("raise", "skip"):
        raise ValueError(
            f"on_malformed must be 'raise' or 'skip'. Received: on_malformed={on_malformed!r}"
        )
    if image_size is not None and (not isinstance(image_size, int) or image_size < 1):
        raise ValueError(
            f"image_size must be a positive integer or None. Received: image_size={image_size!r}"
        )
    if isinstance(crop, str) and crop not in ("center", "face"):
        raise ValueError(f"crop must be 'center', 'face' or a FaceCropper. Received: crop={crop!r}")
    if not isinstance(crop, str) and not hasattr(crop, "detect"):
        raise ValueError(f"crop must be 'center', 'face' or a FaceCropper. Received: crop={crop!r}")
    if crop == "face" and image_size is None:
        raise ValueError("crop='face' needs an image_size (the side of the face crops).")

    records, malformed = [], []
    files = sorted(p for p in root.rglob("*")
                   if p.is_file() and p.suffix.lower() in _IMAGE_SUFFIXES)
    for file in files:
        match = _NAME.match(file.stem.upper())
        relative = file.relative_to(root)
        if match is None:
            malformed.append(f"{relative} (not SGNNEEA: session A/B, sex F/M, 2-digit "
                             f"number, expression, angle)")
            continue
        folder = file.parent.name.upper()
        if file.parent != root and folder != file.stem.upper()[:4]:
            malformed.append(f"{relative} (in folder {file.parent.name}, not "
                             f"{file.stem.upper()[:4]})")
            continue
        records.append((file, match.groupdict()))
    if malformed:
        listed = "; ".join(malformed[:10]) + (f"; and {len(malformed) - 10} more"
                                               if len(malformed) > 10 else "")
        message = f"{len(malformed)} image file(s) in {root} do not follow KDEF's naming: {listed}"
        if on_malformed == "raise":
            raise ValueError(message + ". Rename them, or pass on_malformed='skip'.")
        warnings.warn(message + "; skipped.", UserWarning, stacklevel=2)
    records = [
        (f, m) for f, m in records
        if (angles is None or m["angle"] in angles)
        and (sessions is None or m["session"] in sessions)
    ]
    if not records:
        raise ValueError(
            f"No KDEF images in {root} (after the filters angles={sorted(angles or [])}, "
            f"sessions={sorted(sessions or [])}); expected files such as AF01/AF01AFS.JPG."
        )
    boxes = found = None
    if isinstance(crop, str) and crop == "center":
        images = [_read(f, image_size) for f, _ in records]
    else:
        images, boxes, found = _face_crops([f for f, _ in records], crop, image_size)
    shapes = {im.shape for im in images}
    if len(shapes) > 1:
        raise ValueError(
            f"The KDEF images in {root} have different sizes {sorted(shapes)}; pass an "
            f"image_size to crop and resize them."
        )
    images = np.stack(images)
    meta = [m for _, m in records]
    expression = np.array([m["expression"] for m in meta])
    target = np.array([KDEF_EXPRESSIONS[e] for e in expression], dtype=np.int64)
    data = images.reshape(len(images), -1)
    if return_X_y:
        return data, target
    from importlib import resources

    extra = {} if boxes is None else {"boxes": boxes, "face_found": found}
    return Bunch(
        **extra,
        images=images,
        data=data,
        target=target,
        target_names=list(EMOTIONS),
        expression=expression,
        subject=np.array([m["sex"] + m["number"] for m in meta]),
        session=np.array([m["session"] for m in meta]),
        sex=np.array([m["sex"] for m in meta]),
        angle=np.array([m["angle"] for m in meta]),
        filenames=[str(f) for f, _ in records],
        DESCR=(resources.files("fer_classifier") / "descr" / "kdef.rst").read_text("utf-8"),
    )
