"""Sample face photographs bundled with the package, and reading face crops.

The samples let the pretrained model be tried without any download:
``fer-classifier demo`` or :func:`load_sample_faces`. Both are public-domain
photographs; where they come from is in the returned ``DESCR``.
"""

from importlib import resources
from numbers import Integral

import numpy as np
from sklearn.utils import Bunch

__all__ = ["SAMPLE_FACES", "load_sample_faces", "read_face_image"]

#: Names of the bundled sample faces, in the order :func:`load_sample_faces` returns them.
SAMPLE_FACES = ("eileen_collins", "grace_hopper")


def _check_size(size):
    if not isinstance(size, Integral) or size < 1:
        raise ValueError(f"size must be a positive integer. Received: size={size!r}")
    return int(size)


def read_face_image(file, *, size=48):
    """Read an image file of one face (already cropped) as a grayscale square.

    The image is turned upright (EXIF orientation), converted to grayscale
    (RGB, RGBA, palette and 16-bit files included) and resized to
    ``size x size`` with Lanczos filtering; a crop that is not square is
    stretched. To find faces in whole photographs, use
    :class:`~fer_classifier.FaceCropper`.

    Parameters
    ----------
    file : str, path-like or binary file object
        A PNG, JPEG, BMP, GIF, TIFF or WebP file (anything Pillow reads).
    size : int, default=48
        Side of the returned image in pixels (48 for FER2013 models).

    Returns
    -------
    image : ndarray of shape (size, size), dtype uint8

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the file is not an image Pillow can decode; the message names it.
    """
    from PIL import Image

    from .faces import _open_pil, _pil_to_gray

    size = _check_size(size)
    img, _ = _open_pil(file)  # upright (EXIF), decoded; errors name the file
    with img:
        gray = _pil_to_gray(img)  # 16/32-bit: the full range scaled to 8 bits
        if gray.size != (size, size):
            gray = gray.resize((size, size), Image.LANCZOS)
        return np.asarray(gray, dtype=np.uint8)


def load_sample_faces(*, size=48):
    """Load the face photographs bundled with the package.

    Two public-domain portraits, cropped to the face and stored as 96x96
    grayscale PNG files inside the package: astronaut Eileen Collins
    (NASA) and Rear Admiral Grace Hopper (US Navy). See ``DESCR`` for their
    sources.

    Parameters
    ----------
    size : int, default=48
        Side of the returned images in pixels.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``images`` (ndarray of shape (2, size, size), uint8), ``data``
        (the images flattened), ``names`` (the file stems), ``filenames``
        (paths of the PNG files) and ``DESCR`` (provenance and licences).

    Examples
    --------
    >>> from fer_classifier.samples import load_sample_faces
    >>> faces = load_sample_faces()
    >>> faces.images.shape, faces.names
    ((2, 48, 48), ['eileen_collins', 'grace_hopper'])
    """
    size = _check_size(size)
    folder = resources.files("fer_classifier") / "samples"
    filenames = [folder / f"{name}.png" for name in SAMPLE_FACES]
    images = np.stack([read_face_image(f.open("rb"), size=size) for f in filenames])
    return Bunch(
        images=images,
        data=images.reshape(len(images), -1),
        names=list(SAMPLE_FACES),
        filenames=[str(f) for f in filenames],
        DESCR=(resources.files("fer_classifier") / "descr" / "samples.rst").read_text("utf-8"),
    )
