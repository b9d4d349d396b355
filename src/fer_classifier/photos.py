"""Emotions of the faces in a photograph, in one call, and pictures of them."""

from dataclasses import dataclass, field

import numpy as np

from .datasets import EMOTIONS
from .faces import FaceCropper, _describe, _is_file, _open_pil, _to_uint8

__all__ = ["FaceEmotion", "detect_emotions", "draw_emotions"]

# One colour per FER2013 class, in EMOTIONS order (colour-blind-safe Okabe-Ito).
_COLOURS = ("#D55E00", "#009E73", "#CC79A7", "#F0E442", "#0072B2", "#E69F00", "#56B4E9")


@dataclass(frozen=True, eq=False)
class FaceEmotion:
    """A face found in a photograph and its predicted emotion.

    Attributes
    ----------
    box : tuple of int
        ``(x, y, width, height)`` in pixels of the photograph.
    emotion : str
        The most probable emotion.
    probability : float
        Its probability.
    probabilities : dict of str to float
        Every emotion's probability, in the model's class order.
    face : ndarray of shape (48, 48), dtype uint8
        The crop the model saw.
    detected : bool
        False when the face is the photograph's central square
        (``no_face="whole"``), not a detection.
    """

    box: tuple
    emotion: str
    probability: float
    probabilities: dict
    face: np.ndarray = field(repr=False)
    detected: bool = True

    def to_dict(self):
        """The face as plain Python values (JSON-ready), without the crop."""
        return {
            "box": list(self.box),
            "emotion": self.emotion,
            "probability": self.probability,
            "probabilities": dict(self.probabilities),
            "detected": self.detected,
        }


def _emotion_names(classes):
    return [EMOTIONS[c] if isinstance(c, (int, np.integer)) and 0 <= c < len(EMOTIONS) else str(c)
            for c in classes]


def detect_emotions(photo, *, classifier=None, cropper=None):
    """Find the faces in a photograph and predict the emotion of each.

    Parameters
    ----------
    photo : str, path-like, binary file object or array-like
        One photograph: an image file, or an array (grayscale, RGB or RGBA,
        any size and dtype).
    classifier : EmotionCNNClassifier, default=None
        A fitted classifier for ``size`` x ``size`` grayscale faces. Default:
        :meth:`EmotionCNNClassifier.pretrained() <fer_classifier.EmotionCNNClassifier.pretrained>`
        (loaded on every call; pass one to classify many photographs).
    cropper : FaceCropper, default=None
        How faces are found and cropped. Default:
        ``FaceCropper(multiple="all", no_face="skip")``, every face found
        and an empty list for a photograph without one.

    Returns
    -------
    faces : list of :class:`FaceEmotion`
        Left to right.

    Raises
    ------
    FileNotFoundError, ValueError
        If the photograph cannot be read (the message names it).
    ImportError
        If the detector's optional extra is not installed.

    Examples
    --------
    >>> from fer_classifier import detect_emotions
    >>> for face in detect_emotions("group.jpg"):          # doctest: +SKIP
    ...     print(face.box, face.emotion, round(face.probability, 2))
    (412, 118, 96, 96) Happy 0.91
    """
    if isinstance(photo, (list, tuple)):
        raise ValueError(
            "detect_emotions takes one photograph; loop over a list, or use "
            "FaceCropper.detect for many. Received a " + type(photo).__name__
        )
    if cropper is None:
        cropper = FaceCropper(multiple="all", no_face="skip")
    if classifier is None:
        from .estimator import EmotionCNNClassifier

        classifier = EmotionCNNClassifier.pretrained()
    shape = getattr(classifier, "image_shape_", None)
    if shape is not None and tuple(shape[:2]) != (cropper.size, cropper.size):
        raise ValueError(
            f"The classifier takes {shape[0]}x{shape[1]} images but the cropper makes "
            f"{cropper.size}x{cropper.size} crops; set FaceCropper(size={shape[0]})."
        )
    faces = cropper.detect([photo])[0]
    if not faces:
        return []
    proba = classifier.predict_proba(np.stack([face.image for face in faces]))
    names = _emotion_names(classifier.classes_)
    results = []
    for face, row in zip(faces, proba):
        best = int(np.argmax(row))
        results.append(FaceEmotion(
            box=face.box,
            emotion=names[best],
            probability=float(row[best]),
            probabilities={n: float(p) for n, p in zip(names, row)},
            face=face.image,
            detected=face.detected,
        ))
    return results


def _font(size):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: one fixed-size bitmap font
        return ImageFont.load_default()


def draw_emotions(photo, faces, path=None, *, max_side=1600):
    """Draw the faces' boxes and emotions on a photograph.

    Parameters
    ----------
    photo : str, path-like, binary file object or array-like
        The photograph given to :func:`detect_emotions`.
    faces : list of :class:`FaceEmotion`
        What :func:`detect_emotions` returned for it.
    path : str or path-like, default=None
        If given, save the picture there (format from the suffix: PNG,
        JPEG, ...). The file is written whole or not at all.
    max_side : int, default=1600
        Larger photographs are drawn downscaled to this longer side.

    Returns
    -------
    image : PIL.Image.Image
        The annotated photograph (RGB).

    Examples
    --------
    >>> from fer_classifier import detect_emotions, draw_emotions
    >>> faces = detect_emotions("group.jpg")                        # doctest: +SKIP
    >>> draw_emotions("group.jpg", faces, "group_emotions.png")     # doctest: +SKIP
    <PIL.Image.Image image mode=RGB size=1200x800>
    """
    from PIL import Image, ImageDraw

    if _is_file(photo):
        img, _ = _open_pil(photo)
        if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
            img = Image.fromarray(_to_uint8(np.asarray(img), _describe(photo, 0)))
        img = img.convert("RGB")
    else:
        array = np.asarray(photo)
        if array.size == 0:
            raise ValueError(f"The photograph is empty (shape {array.shape}).")
        if array.ndim == 3 and array.shape[-1] == 1:
            array = array[..., 0]
        array = _to_uint8(array[..., :3] if array.ndim == 3 else array, "photo")
        img = Image.fromarray(array).convert("RGB")
    scale = min(1.0, max_side / max(img.size))
    if scale < 1.0:
        img = img.resize((round(img.width * scale), round(img.height * scale)), Image.LANCZOS)
    draw = ImageDraw.Draw(img)
    line = max(2, round(max(img.size) / 300))
    font = _font(max(12, round(max(img.size) / 45)))
    for face in faces:
        x, y, w, h = (v * scale for v in face.box)
        name = face.emotion
        colour = _COLOURS[EMOTIONS.index(name)] if name in EMOTIONS else "#FFFFFF"
        draw.rectangle([x, y, x + w, y + h], outline=colour, width=line)
        label = f"{name} {face.probability:.0%}"
        left, top, right, bottom = draw.textbbox((0, 0), label, font=font)
        tw, th = right - left, bottom - top
        ty = y - th - 2 * line if y - th - 2 * line >= 0 else y + h
        draw.rectangle([x, ty, x + tw + 2 * line, ty + th + 2 * line], fill=colour)
        draw.text((x + line - left, ty + line - top), label, fill="black", font=font)
    if path is not None:
        from ._keras_io import atomic_write

        fmt = Image.registered_extensions().get(str(path).lower()[str(path).rfind("."):])
        if fmt is None:
            raise ValueError(f"{path}: unknown image format; use a .png or .jpg name.")
        with atomic_write(path, "wb") as fh:
            img.save(fh, format=fmt)
    return img
