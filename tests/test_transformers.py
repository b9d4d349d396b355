import numpy as np
import pandas as pd
import pytest
from conftest import pixel_string
from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from fer_classifier import PixelStringTransformer


@pytest.fixture
def strings_and_images():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(5, 48, 48), dtype=np.uint8)
    return [pixel_string(im) for im in images], images


@pytest.mark.parametrize(
    "wrap",
    [
        list,
        np.array,
        lambda s: pd.Series(s, name="pixels"),
        lambda s: pd.DataFrame({"pixels": s}),
        lambda s: np.array(s, dtype=object).reshape(-1, 1),
    ],
    ids=["list", "array", "series", "dataframe", "column-array"],
)
def test_input_containers_give_scaled_float_images(strings_and_images, wrap):
    strings, images = strings_and_images
    out = PixelStringTransformer().fit_transform(wrap(strings))
    assert out.shape == (5, 48, 48, 1) and out.dtype == np.float32
    np.testing.assert_allclose(out[..., 0], images / 255.0, rtol=1e-6)
    assert 0.0 <= out.min() and out.max() <= 1.0


def test_scale_false_keeps_0_255(strings_and_images):
    strings, images = strings_and_images
    out = PixelStringTransformer(scale=False).transform(strings)
    np.testing.assert_array_equal(out[..., 0], images.astype(np.float32))


def test_image_size_inferred_and_explicit():
    strings = [" ".join(["9"] * 16)] * 3
    assert PixelStringTransformer().transform(strings).shape == (3, 4, 4, 1)
    assert PixelStringTransformer(image_size=4).transform(strings).shape == (3, 4, 4, 1)
    with pytest.raises(ValueError, match="row 0: expected 9 pixel values, found 16"):
        PixelStringTransformer(image_size=3).transform(strings)


def test_non_square_length_needs_image_size():
    with pytest.raises(ValueError, match="Cannot infer a square image size from 6"):
        PixelStringTransformer().transform(["1 2 3 4 5 6"])


def test_bad_string_names_the_row(strings_and_images):
    strings, _ = strings_and_images
    strings[3] = strings[3].replace(" ", " x ", 1)
    with pytest.raises(ValueError, match="row 3: non-numeric pixel value 'x'"):
        PixelStringTransformer().fit_transform(strings)
    with pytest.raises(ValueError, match="row 1: expected 2304 pixel values, found 2"):
        PixelStringTransformer().transform([strings[0], "1 2"])


@pytest.mark.parametrize("bad", [0, -1, 2.5, "48"])
def test_invalid_image_size_is_rejected(bad, strings_and_images):
    with pytest.raises(ValueError, match="image_size"):
        PixelStringTransformer(image_size=bad).fit(strings_and_images[0])


def test_wrong_containers_are_rejected(strings_and_images):
    strings, _ = strings_and_images
    with pytest.raises(ValueError, match="one column of pixel strings"):
        PixelStringTransformer().fit(pd.DataFrame({"a": strings, "b": strings}))
    with pytest.raises(ValueError, match="single string"):
        PixelStringTransformer().transform(strings[0])
    with pytest.raises(ValueError, match="1-D sequence"):
        PixelStringTransformer().transform(np.array(strings, dtype=object).reshape(1, 1, -1))


def test_stateless_and_remembers_dataframe_column(strings_and_images):
    strings, images = strings_and_images
    t = PixelStringTransformer()
    # usable without fit, as a stateless transformer
    np.testing.assert_allclose(t.transform(strings)[..., 0], images / 255.0, rtol=1e-6)
    t.fit(pd.DataFrame({"pixels": strings}))
    assert t.n_features_in_ == 1 and list(t.feature_names_in_) == ["pixels"]
    t.fit(strings)
    assert not hasattr(t, "feature_names_in_")
    assert clone(t).get_params() == {"image_size": None, "scale": True}


def test_first_step_of_a_pipeline(strings_and_images):
    strings, images = strings_and_images
    flatten = FunctionTransformer(lambda x: x.reshape(len(x), -1))
    pipe = make_pipeline(PixelStringTransformer(), flatten)
    out = pipe.fit_transform(pd.Series(strings))
    np.testing.assert_allclose(out, images.reshape(5, -1) / 255.0, rtol=1e-6)
