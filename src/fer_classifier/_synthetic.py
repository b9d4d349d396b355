"""Synthetic cartoon faces: a stand-in for FER2013 that needs no download."""

import numpy as np
from sklearn.utils import Bunch, check_random_state

#: Per emotion: brow tilt (+ = inner ends down, a frown), brow height, eye size,
#: mouth curvature (+ = smile), mouth opening. Order follows FER2013's labels.
_EXPRESSIONS = np.array(
    [
        [0.9, 0.0, 0.8, -0.2, 0.0],  # Angry
        [0.5, -0.5, 0.6, -0.6, 0.2],  # Disgust
        [-0.6, 0.8, 1.3, -0.2, 0.5],  # Fear
        [0.0, 0.0, 1.0, 1.0, 0.2],  # Happy
        [-0.8, 0.3, 0.9, -0.9, 0.0],  # Sad
        [0.0, 1.2, 1.4, 0.0, 1.0],  # Surprise
        [0.0, 0.0, 1.0, 0.0, 0.0],  # Neutral
    ]
)


def _draw_face(rng, expression, size):
    """One uint8 face of ``size`` x ``size`` with jittered pose, light and features."""
    s = size / 48.0
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    cy, cx = size / 2 + rng.normal(0, 1.5 * s, 2)
    scale = s * rng.uniform(0.9, 1.1)
    tilt, brow_up, eye, curve, opening = expression * rng.uniform(0.75, 1.25, 5)

    img = np.full((size, size), rng.normal(70, 15))
    face = ((xx - cx) / (16 * scale)) ** 2 + ((yy - cy) / (20 * scale)) ** 2 <= 1
    img[face] = rng.normal(175, 15)
    for side in (-1, 1):
        ex, ey = cx + side * 7 * scale, cy - 5 * scale
        eyes = ((xx - ex) / (3 * scale)) ** 2 + ((yy - ey) / (1.8 * eye * scale)) ** 2 <= 1
        img[eyes] = 40
        # Brow: a short line above the eye whose inner end moves down with tilt.
        t = (xx - ex) / (4 * scale)
        brow_y = ey - (5 + 2 * brow_up) * scale + side * -t * 2.5 * tilt * scale
        brow = (np.abs(t) <= 1) & (np.abs(yy - brow_y) <= 0.9 * scale)
        img[brow] = 30
    my = cy + 10 * scale
    u = (xx - cx) / (7 * scale)
    lip = my + curve * 3.5 * scale * (1 - u**2)  # image y grows downward
    mouth = (np.abs(u) <= 1) & (np.abs(yy - lip) <= 0.9 * scale)
    if opening > 0.1:
        mouth |= ((xx - cx) / (4 * scale)) ** 2 + ((yy - my) / (3.5 * opening * scale)) ** 2 <= 1
    img[mouth] = 35
    img += rng.normal(0, 10, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def make_synthetic_faces(n_samples=700, *, image_size=48, random_state=None):
    """Make cartoon faces whose expression follows the 7 FER2013 emotions.

    A small stand-in for FER2013 for demos, tutorials and tests, needing no
    download. Each face has eyes, brows and a mouth shaped by its emotion
    (a smile for Happy, a frown for Sad, an open mouth and raised brows for
    Surprise, ...), with random position, size, lighting, expression strength
    and noise. A CNN learns it in a few epochs; it says nothing about accuracy
    on real faces.

    Parameters
    ----------
    n_samples : int, default=700
        Number of faces; the classes are balanced (they differ by at most one).
    image_size : int, default=48
        Side of the square images (at least 24).
    random_state : int, RandomState instance or None, default=None
        Seed for reproducible faces.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        As returned by :func:`load_fer2013`: ``data`` (n, size*size) uint8,
        ``images`` (n, size, size), ``target`` (0-6), ``target_names``,
        ``usage`` (about 80% ``"Training"``, 20% ``"PublicTest"``) and ``DESCR``.

    Examples
    --------
    >>> from fer_classifier.datasets import make_synthetic_faces
    >>> faces = make_synthetic_faces(70, random_state=0)
    >>> faces.images.shape, sorted(set(faces.target.tolist()))
    ((70, 48, 48), [0, 1, 2, 3, 4, 5, 6])
    """
    from .datasets import EMOTIONS

    if int(n_samples) != n_samples or n_samples < 1:
        raise ValueError(f"n_samples must be a positive integer. Received: n_samples={n_samples!r}")
    if int(image_size) != image_size or image_size < 24:
        raise ValueError(f"image_size must be an integer >= 24. Received: image_size={image_size!r}")
    rng = check_random_state(random_state)
    target = np.arange(int(n_samples)) % len(EMOTIONS)
    rng.shuffle(target)
    images = np.stack([_draw_face(rng, _EXPRESSIONS[k], int(image_size)) for k in target])
    usage = np.where(np.arange(len(target)) % 5 == 4, "PublicTest", "Training")
    return Bunch(
        data=images.reshape(len(target), -1),
        images=images,
        target=target.astype(np.int64),
        target_names=list(EMOTIONS),
        usage=usage,
        frame=None,
        DESCR=(
            "Synthetic cartoon faces (fer_classifier.datasets.make_synthetic_faces): "
            "a download-free stand-in for FER2013 whose classes differ by the shape "
            "of brows, eyes and mouth."
        ),
    )
