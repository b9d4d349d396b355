"""Test-time augmentation: the views of each face that ``predict_proba`` averages."""

from functools import partial

import numpy as np

# What EmotionCNNClassifier(tta=...) takes besides True (= "flip") and False.
TTA_MODES = ("flip", "crops")


def _mirror(images):
    return np.ascontiguousarray(images[:, :, ::-1])


def _shifted(images, dy, dx, *, mirror):
    """``images`` (n, h, w, c) moved by (dy, dx) pixels, borders reflected."""
    pad = max(abs(dy), abs(dx))
    h, w = images.shape[1:3]
    padded = np.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="reflect")
    view = padded[:, pad + dy:pad + dy + h, pad + dx:pad + dx + w]
    return _mirror(view) if mirror else np.ascontiguousarray(view)


def tta_views(tta, image_shape):
    """The functions that make each view of a batch of images, for ``tta``.

    ``False``: the images. ``True`` or ``"flip"``: the images and their
    mirror images. ``"crops"``: ten views, as the ten-crop test of the
    literature but without resizing: the face, and the face moved diagonally
    towards each corner by about 4% of its side (2 pixels at 48x48) with
    reflected borders; each of the five also mirrored.
    """
    if isinstance(tta, (bool, np.bool_)):
        tta = "flip" if tta else None
    if tta is None:
        return [np.asarray]
    if tta == "flip":
        return [np.asarray, _mirror]
    if tta == "crops":
        h, w = image_shape[:2]
        step = max(1, round(0.04 * min(h, w)))
        if min(h, w) <= step:
            raise ValueError(
                f"tta='crops' needs images larger than {step} pixels a side. "
                f"Received: image_shape={tuple(image_shape)}"
            )
        views = [np.asarray, _mirror]
        for dy, dx in ((-step, -step), (-step, step), (step, -step), (step, step)):
            views += [partial(_shifted, dy=dy, dx=dx, mirror=m) for m in (False, True)]
        return views
    raise ValueError(f"tta must be False, True, 'flip' or 'crops'. Received: tta={tta!r}")
