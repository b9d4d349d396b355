"""Find faces in photographs and crop them to the models' input.

:class:`FaceCropper` is a scikit-learn transformer: image files or arrays in,
48x48 grayscale face crops out, with the boxes available through
:meth:`FaceCropper.detect`. Face detection needs an optional extra, imported
only when a detector is first used:

- ``detector="haar"`` (default): OpenCV's ``haarcascade_frontalface_alt2``
  cascade, from ``pip install "fer-classifier[faces]"``
  (``opencv-python-headless`` 4.x; 5.0 no longer ships the cascades);
- ``detector="mtcnn"``: the MTCNN network of the ``mtcnn`` package
  (``pip install "fer-classifier[mtcnn]"``), which finds more turned and
  tilted faces but is about 2.5 times slower and runs on TensorFlow only.

``benchmarks/compare_detectors.py`` measured both, and four more candidates,
on real photographs; the figures are in the documentation's "Faces in
photographs" page.
"""

import math
import threading
import warnings
from dataclasses import dataclass, field
from numbers import Integral, Real
from os import PathLike
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions

from ._quiet import import_keras

__all__ = ["DETECTORS", "FER2013_MARGINS", "Face", "FaceCropper", "NoFaceError", "read_photo"]

#: Names accepted by ``FaceCropper(detector=...)``.
DETECTORS = ("haar", "mtcnn")

#: Crop margin per detector that frames faces as FER2013 does: the detector's box
#: (longer side) on FER2013 PublicTest faces is 1 / (1 + 2 * margin) of the image's
#: side (median; ``benchmarks/compare_detectors.py --fer2013``).
FER2013_MARGINS = {"haar": 0.02, "mtcnn": -0.02}

_HAAR_FILE = "haarcascade_frontalface_alt2.xml"
_MTCNN_MIN_CONFIDENCE = 0.9
_EXTRA = {"haar": ("cv2", "faces"), "mtcnn": ("mtcnn", "mtcnn")}


class NoFaceError(ValueError):
    """Raised by :class:`FaceCropper` with ``no_face="raise"`` for a photograph without a face."""


@dataclass(frozen=True, eq=False)
class Face:
    """One face found in a photograph.

    Attributes
    ----------
    box : tuple of int
        ``(x, y, width, height)`` of the detector's box, in pixels of the
        photograph as given (before any downscaling).
    image : ndarray of shape (size, size), dtype uint8
        The grayscale crop: the box widened by the margin, made square.
    source : int
        Position of the photograph in the input of :meth:`FaceCropper.detect`.
    detected : bool
        False when no face was found and ``no_face="whole"`` used the
        central square of the photograph instead.
    """

    box: tuple
    image: np.ndarray = field(repr=False)
    source: int
    detected: bool = True


# ------------------------------------------------------------------ reading
def _is_file(image):
    return isinstance(image, (str, PathLike)) or hasattr(image, "read")


def _describe(image, index):
    if isinstance(image, (str, PathLike)):
        return str(image)
    if hasattr(image, "read"):
        return str(getattr(image, "name", f"image {index}"))
    return f"image {index}"


def _to_uint8(values, name):
    """Scale an integer, bool or float array to uint8 0-255."""
    if values.dtype == np.uint8:
        return values
    if values.dtype == bool:
        return values.astype(np.uint8) * 255
    is_float = np.issubdtype(values.dtype, np.floating)
    if not (is_float or np.issubdtype(values.dtype, np.integer)):
        raise ValueError(f"{name}: expected numbers, got an array of dtype {values.dtype}.")
    sixteen_bit = values.dtype == np.uint16
    values = values.astype(np.float64)
    if not np.isfinite(values).all():
        raise ValueError(f"{name} contains NaN or infinite values.")
    top = values.max()
    # Floats in [0, 1] are scaled pictures; 16-bit images, and any values over
    # 255, are scaled to their maximum (as 16-bit files are); other numbers up
    # to 255 are 8-bit gray levels.
    if is_float and top <= 1.0:
        scale = 255.0
    elif sixteen_bit or top > 255:
        scale = 255.0 / (top or 1.0)
    else:
        scale = 1.0
    return np.clip(values * scale, 0, 255).round().astype(np.uint8)


def _array_to_gray(image, name):
    image = np.asarray(image)
    if image.size == 0:
        raise ValueError(f"{name} is empty (shape {image.shape}).")
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim == 3 and image.shape[-1] in (3, 4):
        weights = np.array([0.299, 0.587, 0.114])
        was_float = np.issubdtype(image.dtype, np.floating)
        gray = image[..., :3].astype(np.float64) @ weights
        image = gray if was_float else gray.round().astype(image.dtype)
    elif image.ndim != 2:
        raise ValueError(
            f"{name}: expected a grayscale (height, width) or colour (height, width, 3 or 4) "
            f"image. Received shape {image.shape}."
        )
    return np.ascontiguousarray(_to_uint8(image, name))


def _open_pil(path, max_side=None):
    """Open an image file with Pillow, upright, or raise a ValueError naming it.

    Returns (image, original width after EXIF rotation). For JPEG files much
    larger than ``max_side`` the decoder skips detail (``Image.draft``).
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not hasattr(path, "read") and not Path(path).is_file():
        raise FileNotFoundError(f"No such image file: {path}")
    try:
        with Image.open(path) as opened:
            width, height = opened.size
            if opened.getexif().get(0x0112, 1) in (5, 6, 7, 8):  # rotated by 90 degrees
                width = height
            if max_side is not None and opened.format == "JPEG" \
                    and max(opened.size) > 2 * max_side:
                opened.draft("L", (max_side, max_side))
            # exif_transpose decodes the file and returns an upright copy.
            img = ImageOps.exif_transpose(opened)
            img.load()
        return img, width
    except Image.DecompressionBombError as exc:
        raise ValueError(
            f"{path}: too large to decode safely ({exc}). Downscale the file first."
        ) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ValueError(f"{path}: not a readable image ({exc}).") from exc


def _pil_to_gray(img):
    from PIL import Image

    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # Deep files: the full range scaled to 8 bits (their maximum becomes 255).
        values = np.asarray(img, dtype=np.float64)
        top = values.max() if values.size else 0.0
        scaled = np.clip(values * (255.0 / (top if top > 0 else 1.0)), 0, 255)
        return Image.fromarray(scaled.round().astype(np.uint8))
    return img.convert("L")


def _downscale(gray, max_side):
    """Return (gray, scale) with the longer side at most ``max_side``."""
    from PIL import Image

    h, w = gray.shape
    scale = min(1.0, max_side / max(h, w))
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        gray = np.asarray(Image.fromarray(gray).resize(size, Image.BOX, reducing_gap=3.0))
        scale = gray.shape[1] / w
    return gray, scale


def read_photo(image, *, max_side=None, name="image"):
    """Read a photograph (file or array) as a grayscale uint8 array.

    Parameters
    ----------
    image : str, path-like, binary file object or array-like
        An image file Pillow reads (JPEG, PNG, TIFF, ...; EXIF rotation is
        applied), or an array of shape (height, width) or (height, width,
        1, 3 or 4): uint8, 16-bit or wider integers (scaled to their
        maximum), bool, or floats (in [0, 1], or 0-255).
    max_side : int, default=None
        If given, downscale so that the longer side is at most this many
        pixels.
    name : str, default="image"
        How error messages name an array.

    Returns
    -------
    gray : ndarray of shape (height, width), dtype uint8
    scale : float
        Width of ``gray`` divided by the width of the original image.

    Raises
    ------
    FileNotFoundError
        If a file does not exist.
    ValueError
        If the file is not a readable image (corrupt, truncated, not an
        image, too large for Pillow), or the array is empty, has another
        shape, or holds NaN; the message names the file.
    """
    if _is_file(image):
        img, full_width = _open_pil(image, max_side)
        with img:
            gray = np.asarray(_pil_to_gray(img))
        gray, scale = _downscale(gray, max_side or max(gray.shape))
        return gray, gray.shape[1] / full_width
    gray = _array_to_gray(image, name)
    return _downscale(gray, max_side or max(gray.shape))


# ---------------------------------------------------------------- detectors
_cache_lock = threading.Lock()
_detectors = {}


def _import_extra(detector):
    module, extra = _EXTRA[detector]
    try:
        return __import__(module)
    except ImportError as exc:
        hint = 'opencv-python-headless<5' if detector == "haar" else "mtcnn"
        raise ImportError(
            f"detector={detector!r} needs the optional package {hint!r}: "
            f'pip install "fer-classifier[{extra}]"'
        ) from exc


def _haar_detector():
    cv2 = _import_extra("haar")
    data = getattr(cv2, "data", None)
    path = Path(getattr(data, "haarcascades", "")) / _HAAR_FILE
    cascade = cv2.CascadeClassifier(str(path)) if path.is_file() else None
    if cascade is None or cascade.empty():
        raise ImportError(
            f"OpenCV {cv2.__version__} has no {_HAAR_FILE} (OpenCV 5 dropped the Haar cascades): "
            'pip install "opencv-python-headless>=4.8,<5"'
        )
    lock = threading.Lock()

    def detect(gray, min_size):
        with lock:  # one cascade object is not safe to share between threads
            boxes = cascade.detectMultiScale(
                gray, scaleFactor=1.1, minNeighbors=5, minSize=(min_size, min_size)
            )
        return [tuple(int(v) for v in box) for box in boxes]

    return detect


def _mtcnn_detector():
    keras = import_keras()

    if keras.backend.backend() != "tensorflow":
        raise ValueError(
            "detector='mtcnn' runs on TensorFlow only; the Keras backend is "
            f"{keras.backend.backend()!r}. Use detector='haar' or KERAS_BACKEND=tensorflow."
        )
    mtcnn = _import_extra("mtcnn")
    model = mtcnn.MTCNN()
    lock = threading.Lock()

    def detect(gray, min_size):
        rgb = np.repeat(gray[..., None], 3, axis=-1)
        with lock:
            found = model.detect_faces(rgb)
        boxes = []
        for face in found:
            x, y, w, h = (int(v) for v in face["box"])
            if face["confidence"] >= _MTCNN_MIN_CONFIDENCE and min(w, h) >= min_size:
                boxes.append((x, y, w, h))
        return boxes

    return detect


def _get_detector(name):
    with _cache_lock:
        if name not in _detectors:
            _detectors[name] = _haar_detector() if name == "haar" else _mtcnn_detector()
        return _detectors[name]


# ------------------------------------------------------------------ cropping
def _square_crop(gray, cx, cy, side, size, equalize):
    """The ``side`` x ``side`` square centred on (cx, cy), edge-padded, resized."""
    from PIL import Image, ImageOps

    side = max(1, int(round(side)))
    left = int(round(cx - side / 2))
    top = int(round(cy - side / 2))
    h, w = gray.shape
    pads = (max(0, -top), max(0, top + side - h), max(0, -left), max(0, left + side - w))
    if any(pads):
        gray = np.pad(gray, ((pads[0], pads[1]), (pads[2], pads[3])), mode="edge")
        top += pads[0]
        left += pads[2]
    crop = Image.fromarray(np.ascontiguousarray(gray[top:top + side, left:left + side]))
    if crop.size != (size, size):
        crop = crop.resize((size, size), Image.LANCZOS)
    if equalize:
        crop = ImageOps.equalize(crop)
    return np.asarray(crop, dtype=np.uint8)


class FaceCropper(TransformerMixin, BaseEstimator):
    """Find the faces in photographs and crop them to 48x48 grayscale.

    Each input is an image file or an array (grayscale, RGB or RGBA; uint8,
    16-bit, bool or float; any size). Photographs larger than ``max_side``
    are downscaled before detection; boxes are reported in the original
    image's pixels. A crop is the detector's box widened by ``margin`` on
    every side and made square (edge pixels repeat where the square leaves
    the photograph), then resized to ``size`` x ``size``.

    The transformer is stateless: ``fit`` only checks the parameters. With
    the defaults (``multiple="largest"``, ``no_face="raise"``) it returns
    exactly one crop per photograph, so it can stand before
    :class:`~fer_classifier.EmotionCNNClassifier` in a
    :class:`~sklearn.pipeline.Pipeline` fitted with labels.

    Parameters
    ----------
    detector : {"haar", "mtcnn"}, default="haar"
        ``"haar"``: OpenCV's frontal-face Haar cascade (alt2), from the
        ``faces`` extra. ``"mtcnn"``: the MTCNN network from the ``mtcnn``
        extra, which finds more turned or tilted faces; TensorFlow backend
        only, about 2.5 times slower.
    margin : float, default=None
        Fraction of the box's longer side added on each side of the crop
        (at least -0.25; a negative margin crops inside the box). None uses the detector's margin that reproduces FER2013's framing
        (:data:`FER2013_MARGINS`, measured by running the detector on
        FER2013's own faces).
    min_size : int, default=24
        Smallest face side, in pixels of the photograph, that is looked
        for. Smaller faces are not found.
    equalize : bool, default=False
        Equalise each crop's histogram (spreads its gray levels over 0-255);
        can help with dark or washed-out photographs.
    no_face : {"raise", "skip", "whole"}, default="raise"
        When a photograph has no face: raise a ValueError naming it, return
        no crop for it, or use the central square of the whole photograph
        (for photographs that are already face crops).
    multiple : {"largest", "all"}, default="largest"
        When a photograph has several faces: keep the largest, or all of
        them (left to right).
    size : int, default=48
        Side of the crops in pixels.
    max_side : int, default=1600
        Photographs whose longer side is larger are downscaled to it before
        detection (faster, bounded memory).
    on_error : {"raise", "skip"}, default="raise"
        When a file cannot be read or an array is not an image: raise (the
        error names the file and its position), or skip it with a warning
        that lists every skipped input.

    See Also
    --------
    fer_classifier.detect_emotions : Faces, boxes and emotions of one photograph.

    Examples
    --------
    >>> from fer_classifier.faces import FaceCropper
    >>> cropper = FaceCropper()
    >>> faces = cropper.detect(["group.jpg"])[0]     # doctest: +SKIP
    >>> [face.box for face in faces]                 # doctest: +SKIP
    [(412, 118, 96, 96)]
    >>> X = cropper.transform(["a.jpg", "b.png"])    # doctest: +SKIP
    >>> X.shape                                      # doctest: +SKIP
    (2, 48, 48, 1)
    """

    _parameter_constraints = {
        "detector": [StrOptions(set(DETECTORS))],
        "margin": [Interval(Real, -0.25, None, closed="left"), None],
        "min_size": [Interval(Integral, 1, None, closed="left")],
        "equalize": ["boolean"],
        "no_face": [StrOptions({"raise", "skip", "whole"})],
        "multiple": [StrOptions({"largest", "all"})],
        "size": [Interval(Integral, 1, None, closed="left")],
        "max_side": [Interval(Integral, 32, None, closed="left")],
        "on_error": [StrOptions({"raise", "skip"})],
    }

    def __init__(
        self,
        detector="haar",
        *,
        margin=None,
        min_size=24,
        equalize=False,
        no_face="raise",
        multiple="largest",
        size=48,
        max_side=1600,
        on_error="raise",
    ):
        self.detector = detector
        self.margin = margin
        self.min_size = min_size
        self.equalize = equalize
        self.no_face = no_face
        self.multiple = multiple
        self.size = size
        self.max_side = max_side
        self.on_error = on_error

    def fit(self, X=None, y=None):
        """Check the parameters; there is nothing to learn.

        Parameters
        ----------
        X : ignored
        y : ignored

        Returns
        -------
        self : FaceCropper
        """
        self._validate_params()
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags

    def _faces_in(self, image, index):
        name = _describe(image, index)
        gray, scale = read_photo(image, max_side=self.max_side, name=name)
        min_size = max(1, math.ceil(self.min_size * scale))
        boxes = []
        if min(gray.shape) >= min_size:
            boxes = _get_detector(self.detector)(gray, min_size)
        if not boxes:
            if self.no_face == "raise":
                raise NoFaceError(
                    f"{name}: no face found. Pass no_face='skip' to leave such images out, "
                    "or no_face='whole' to use the whole image."
                )
            if self.no_face == "skip":
                return []
            h, w = gray.shape
            side = min(h, w)
            boxes = [((w - side) // 2, (h - side) // 2, side, side)]
            detected = False
        else:
            detected = True
        if self.multiple == "largest":
            boxes = [max(boxes, key=lambda b: b[2] * b[3])]
        else:
            boxes = sorted(boxes, key=lambda b: (b[0], b[1]))
        faces = []
        for x, y, w, h in boxes:
            if detected:
                margin = FER2013_MARGINS[self.detector] if self.margin is None else self.margin
                side = max(w, h) * (1 + 2 * margin)
            else:
                side = max(w, h)
            crop = _square_crop(gray, x + w / 2, y + h / 2, side, self.size, self.equalize)
            box = tuple(int(round(v / scale)) for v in (x, y, w, h))
            faces.append(Face(box=box, image=crop, source=index, detected=detected))
        return faces

    def detect(self, X):
        """Find and crop the faces of each photograph.

        Parameters
        ----------
        X : sequence of images
            Image files (paths or binary file objects) or arrays; a single
            3-D or 4-D array is taken as a stack of images.

        Returns
        -------
        faces : list of list of :class:`Face`
            One list per photograph (empty when ``no_face="skip"`` found
            none, or when ``on_error="skip"`` skipped it).
        """
        self._validate_params()
        if _is_file(X) or (isinstance(X, np.ndarray) and X.ndim < 3):
            raise ValueError(
                "X must be a sequence of images (a list of files or arrays, or a stack of "
                f"arrays); wrap a single image in a list. Received: {type(X).__name__}"
                + (f" of shape {X.shape}" if isinstance(X, np.ndarray) else f" {X!r}")
            )
        results, failed = [], []
        for index, image in enumerate(X):
            try:
                results.append(self._faces_in(image, index))
            except NoFaceError:
                raise
            except (ValueError, OSError) as exc:
                name = _describe(image, index)
                if self.on_error == "raise":
                    if name in str(exc):
                        raise
                    raise type(exc)(f"{name}: {exc}") from exc
                failed.append(f"{name} ({exc})")
                results.append([])
        if failed:
            warnings.warn(
                f"Skipped {len(failed)} unreadable input(s): " + "; ".join(failed),
                UserWarning,
                stacklevel=2,
            )
        return results

    def transform(self, X):
        """Return the face crops of the photographs, stacked.

        Parameters
        ----------
        X : sequence of images
            See :meth:`detect`.

        Returns
        -------
        crops : ndarray of shape (n_faces, size, size, 1), dtype float32
            Pixels in [0, 1], in input order (and left to right within a
            photograph when ``multiple="all"``).
        """
        faces = [face for found in self.detect(X) for face in found]
        if not faces:
            return np.zeros((0, self.size, self.size, 1), dtype=np.float32)
        crops = np.stack([face.image for face in faces]).astype(np.float32) / np.float32(255)
        return crops[..., np.newaxis]
