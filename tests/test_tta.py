import numpy as np
import pytest

from fer_classifier._tta import tta_views


def faces(n=3, side=48):
    return np.arange(n * side * side, dtype=np.float32).reshape(n, side, side, 1)


@pytest.mark.parametrize("tta, n_views", [(False, 1), (True, 2), ("flip", 2),
                                          (np.bool_(True), 2), ("crops", 10)])
def test_number_of_views(tta, n_views):
    assert len(tta_views(tta, (48, 48, 1))) == n_views


def test_flip_views_are_the_faces_and_their_mirror_images():
    X = faces()
    same, mirror = (view(X) for view in tta_views("flip", X.shape[1:]))
    np.testing.assert_array_equal(same, X)
    np.testing.assert_array_equal(mirror[:, :, ::-1], X)


def test_crops_are_the_face_and_four_diagonal_two_pixel_shifts_each_mirrored():
    X = faces()
    views = [view(X) for view in tta_views("crops", X.shape[1:])]
    assert all(v.shape == X.shape and v.flags.c_contiguous for v in views)
    np.testing.assert_array_equal(views[0], X)
    np.testing.assert_array_equal(views[1], X[:, :, ::-1])
    inner = []
    for shifted, mirrored in zip(views[2::2], views[3::2]):
        np.testing.assert_array_equal(mirrored, shifted[:, :, ::-1])
        # each view is X moved by 2 pixels along both axes: find which way
        moves = [(dy, dx) for dy in (-2, 2) for dx in (-2, 2)
                 if np.array_equal(np.roll(X, (dy, dx), axis=(1, 2))[:, 2:-2, 2:-2],
                                   shifted[:, 2:-2, 2:-2])]
        assert len(moves) == 1
        inner.append(moves[0])
    assert sorted(inner) == [(-2, -2), (-2, 2), (2, -2), (2, 2)]
    # the uncovered border is the face's own, reflected (not zeros, not wrapped)
    down_right = views[2 + 2 * inner.index((2, 2))]
    np.testing.assert_array_equal(down_right[:, 0, 2:], X[:, 2, :-2])
    np.testing.assert_array_equal(down_right[:, 2:, 1], X[:, :-2, 1])


def test_shift_grows_with_the_image_side():
    X = faces(1, side=100)
    shifted = tta_views("crops", X.shape[1:])[2](X)
    moved = [(dy, dx) for dy in range(-6, 7) for dx in range(-6, 7)
             if np.array_equal(np.roll(X, (dy, dx), axis=(1, 2))[:, 6:-6, 6:-6],
                               shifted[:, 6:-6, 6:-6])]
    assert moved == [(4, 4)]


@pytest.mark.parametrize("tta", ["mirror", "ten-crop", 2, "Flip"])
def test_unknown_tta_is_a_value_error_naming_it(tta):
    with pytest.raises(ValueError, match=f"Received: tta={tta!r}"):
        tta_views(tta, (48, 48, 1))


def test_crops_of_tiny_images_is_a_value_error():
    with pytest.raises(ValueError, match=r"image_shape=\(1, 1, 1\)"):
        tta_views("crops", (1, 1, 1))
