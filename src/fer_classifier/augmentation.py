"""Data augmentation as Keras preprocessing layers.

The layers are placed in front of the network by
:class:`~fer_classifier.EmotionCNNClassifier` (``augmentation=...``). They
transform images only while training; at prediction time they pass images
through unchanged, so a saved model predicts exactly as the bare network
would. All of them are backend-agnostic ``keras.layers``.
"""

from ._quiet import import_keras

__all__ = ["AUGMENTATIONS", "augmentation_layers"]

AUGMENTATIONS = ("flip", "standard", "strong")
"""Names of the augmentation presets, mildest first."""


def augmentation_layers(preset, *, seed=None):
    """Return the Keras layers of an augmentation preset.

    Presets (images are floats in [0, 1]):

    ``"flip"``
        Mirror left-right with probability 1/2.
    ``"standard"``
        ``"flip"``, then shifts of up to 10% of the side, rotations of up to
        10 degrees and zoom of up to 10%, with reflected borders, and random
        erasing of a small rectangle (2-12% of the face) in half the images.
    ``"strong"``
        As ``"standard"`` with shifts, rotations and zoom of up to 15%
        (15 degrees), erasing up to 20% of the face, and random contrast
        (up to 30%).

    Parameters
    ----------
    preset : {"flip", "standard", "strong"}
        Name of the preset.
    seed : int, default=None
        Seeds the layers' random generators (each layer gets ``seed + i``).

    Returns
    -------
    layers : list of keras.layers.Layer

    Raises
    ------
    ValueError
        If ``preset`` is not one of :data:`AUGMENTATIONS`.
    """
    if preset not in AUGMENTATIONS:
        raise ValueError(
            f"Unknown augmentation preset; use one of {', '.join(AUGMENTATIONS)} or None. "
            f"Received: augmentation={preset!r}"
        )
    layers = import_keras().layers

    def seed_of(i):
        return None if seed is None else int(seed) + i

    stack = [layers.RandomFlip("horizontal", seed=seed_of(0), name="aug_flip")]
    if preset == "flip":
        return stack
    shift, erase = (0.10, 0.12) if preset == "standard" else (0.15, 0.20)
    stack += [
        layers.RandomTranslation(shift, shift, fill_mode="reflect", seed=seed_of(1),
                                 name="aug_shift"),
        layers.RandomRotation(shift * 10 / 36, fill_mode="reflect", seed=seed_of(2),
                              name="aug_rotate"),
        layers.RandomZoom(shift, fill_mode="reflect", seed=seed_of(3), name="aug_zoom"),
    ]
    if preset == "strong":
        stack.append(
            layers.RandomContrast(0.3, value_range=(0, 1), seed=seed_of(4), name="aug_contrast")
        )
    stack.append(
        layers.RandomErasing(
            factor=0.5, scale=(0.02, erase), fill_value=0.5, value_range=(0, 1),
            seed=seed_of(5), name="aug_erase",
        )
    )
    return stack
