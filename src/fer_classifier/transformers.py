"""scikit-learn transformers that turn raw FER2013 inputs into image arrays."""

import math
from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import Interval

from ._pixels import parse_pixel_strings

__all__ = ["PixelStringTransformer"]


class PixelStringTransformer(TransformerMixin, BaseEstimator):
    """Turn FER2013 pixel strings into an image array.

    Each input is one string of space-separated integers 0-255 (the
    ``pixels`` column of ``fer2013.csv``). The output is a float32 array of
    shape ``(n_samples, size, size, 1)``, ready for
    :class:`~fer_classifier.EmotionCNNClassifier`. The transformer is
    stateless: ``fit`` only checks its parameters.

    Parameters
    ----------
    image_size : int, default=None
        Side of the square images. When None it is inferred from the number
        of values in the first string, which must then be a perfect square
        (2304 gives 48).
    scale : bool, default=True
        If True, divide by 255 so that pixels lie in [0, 1]; otherwise keep
        0-255 as float32.

    Attributes
    ----------
    n_features_in_ : int
        Number of input columns seen in ``fit`` (1 for a single column of
        strings).
    feature_names_in_ : ndarray of shape (1,)
        The column name, when ``fit`` was given a DataFrame.

    See Also
    --------
    fer_classifier.load_fer2013 : Load FER2013 as ready-parsed arrays.

    Examples
    --------
    >>> from fer_classifier import PixelStringTransformer
    >>> pixels = [" ".join(["0"] * 2304), " ".join(["255"] * 2304)]
    >>> images = PixelStringTransformer().fit_transform(pixels)
    >>> images.shape, images.dtype, float(images.max())
    ((2, 48, 48, 1), dtype('float32'), 1.0)
    """

    _parameter_constraints = {
        "image_size": [Interval(Integral, 1, None, closed="left"), None],
        "scale": ["boolean"],
    }

    def __init__(self, image_size=None, scale=True):
        self.image_size = image_size
        self.scale = scale

    def fit(self, X, y=None):
        """Check the parameters and the shape of ``X``; learns nothing.

        Parameters
        ----------
        X : Series, one-column DataFrame, list or array of str
            Pixel strings.
        y : None
            Ignored.

        Returns
        -------
        self : PixelStringTransformer
        """
        self._validate_params()
        self._strings(X, reset=True)
        return self

    def transform(self, X):
        """Parse pixel strings into images.

        Parameters
        ----------
        X : Series, one-column DataFrame, list or array of str
            Pixel strings, one per image.

        Returns
        -------
        images : ndarray of shape (n_samples, size, size, 1), dtype float32

        Raises
        ------
        ValueError
            When a string is malformed (the message names the row), or the
            number of values is not ``image_size**2`` or not a perfect square.
        """
        self._validate_params()
        strings = self._strings(X, reset=False)
        n_pixels = None if self.image_size is None else self.image_size**2
        pixels = parse_pixel_strings(strings, n_pixels=n_pixels)
        side = math.isqrt(pixels.shape[1])
        if side * side != pixels.shape[1]:
            raise ValueError(
                f"Cannot infer a square image size from {pixels.shape[1]} pixel values "
                f"per row; pass image_size. Received: image_size={self.image_size}"
            )
        images = pixels.reshape(len(pixels), side, side, 1).astype(np.float32)
        if self.scale:
            images /= np.float32(255.0)
        return images

    def _strings(self, X, *, reset):
        """Return X as a list of strings, recording or checking its columns."""
        if isinstance(X, pd.DataFrame):
            if X.shape[1] != 1:
                raise ValueError(
                    f"Expected one column of pixel strings, got a DataFrame with "
                    f"{X.shape[1]} columns: {list(X.columns)}. Select the pixels column."
                )
            names = np.asarray(X.columns, dtype=object)
            if reset:
                self.feature_names_in_ = names
            X = X.iloc[:, 0]
        elif reset and hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        if isinstance(X, str):
            raise ValueError(
                "Expected a sequence of pixel strings, got a single string; wrap it "
                "in a list."
            )
        arr = np.asarray(X, dtype=object)
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        if arr.ndim != 1:
            raise ValueError(
                f"Expected a 1-D sequence of pixel strings, got shape {arr.shape}."
            )
        if reset:
            self.n_features_in_ = 1
        return arr.tolist()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        tags.input_tags.one_d_array = True
        return tags
