"""FaceCropper on real photographs (scikit-image's NASA portrait, matplotlib's Grace Hopper)
and on synthetic bad input."""

import pickle
import sys
import warnings

import numpy as np
import pytest
from conftest import tiny_cnn
from sklearn.base import clone

from fer_classifier import faces as faces_module
from fer_classifier.faces import FER2013_MARGINS, FaceCropper, NoFaceError, read_photo

cv2 = pytest.importorskip("cv2")
skdata = pytest.importorskip("skimage.data")

# Where the astronaut's face is (x, y, width, height), set by eye; a box is right
# when its centre lies inside and its width is 0.5-1.5 times this width.
ASTRONAUT_FACE = (165, 55, 125, 135)


def _inside(box, ref=ASTRONAUT_FACE, scale=1.0):
    x, y, w, h = box
    rx, ry, rw, rh = (v * scale for v in ref)
    cx, cy = x + w / 2, y + h / 2
    return rx <= cx <= rx + rw and ry <= cy <= ry + rh and 0.5 * rw <= w <= 1.5 * rw


@pytest.fixture(scope="module")
def astronaut():
    return skdata.astronaut()  # (512, 512, 3) uint8, public domain (NASA)


@pytest.fixture(scope="module")
def hopper_path():
    from matplotlib import cbook

    return cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)


@pytest.fixture
def jpeg(tmp_path, astronaut):
    from PIL import Image

    path = tmp_path / "astronaut.jpg"
    Image.fromarray(astronaut).save(path, quality=92)
    return path


def test_finds_the_face_in_a_real_portrait(astronaut):
    (face,) = FaceCropper().detect([astronaut])[0]
    assert _inside(face.box) and face.detected and face.source == 0
    assert face.image.shape == (48, 48) and face.image.dtype == np.uint8
    X = FaceCropper().transform([astronaut])
    assert X.shape == (1, 48, 48, 1) and X.dtype == np.float32
    np.testing.assert_allclose(X[0, ..., 0], face.image / 255.0, atol=1e-6)


def test_every_input_form_gives_the_same_face(astronaut, jpeg, tmp_path):
    from PIL import Image

    gray = np.asarray(Image.fromarray(astronaut).convert("L"))
    png = tmp_path / "astronaut16.png"
    Image.fromarray(gray.astype(np.uint16) * 257).save(png)  # a 16-bit PNG
    rgba = np.concatenate([astronaut, np.full((512, 512, 1), 128, np.uint8)], axis=-1)
    inputs = [astronaut, gray, gray[..., None], rgba, gray.astype(np.uint16) * 257,
              astronaut / 255.0, astronaut.astype(np.float32), jpeg, str(jpeg), png,
              open(jpeg, "rb")]
    found = FaceCropper().detect(inputs)
    inputs[-1].close()
    reference = found[0][0].box
    for i, result in enumerate(found):
        assert len(result) == 1, i
        assert np.allclose(result[0].box, reference, atol=4), (i, result[0].box, reference)
        # crops agree up to JPEG and rounding differences
        assert np.abs(result[0].image.astype(int) - found[0][0].image).mean() < 6, i


def test_a_photo_rotated_by_its_exif_tag_is_read_upright(astronaut, tmp_path):
    from PIL import Image

    rotated = Image.fromarray(np.rot90(astronaut))  # the face lies on its side
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to view": what a phone held sideways writes
    path = tmp_path / "phone.jpg"
    rotated.save(path, exif=exif, quality=92)
    (face,) = FaceCropper().detect([path])[0]
    assert _inside(face.box)


def test_several_faces_all_or_largest(astronaut):
    from PIL import Image

    small = np.asarray(Image.fromarray(astronaut[:, ::-1]).resize((384, 384)))
    group = np.zeros((512, 896, 3), np.uint8)
    group[:, :512] = astronaut
    group[64:448, 512:] = small
    everyone = FaceCropper(multiple="all").detect([group])[0]
    assert len(everyone) == 2
    left, right = everyone
    assert _inside(left.box) and left.box[0] < right.box[0]
    assert right.box[2] < left.box[2]  # the mirrored copy is smaller
    (largest,) = FaceCropper(multiple="largest").detect([group])[0]
    assert largest.box == left.box
    assert FaceCropper(multiple="all").transform([group, astronaut]).shape == (3, 48, 48, 1)


def test_no_face_raise_skip_or_whole(astronaut):
    cat = skdata.chelsea()  # a cat: no human face
    with pytest.raises(NoFaceError, match="image 1: no face found.*no_face='skip'"):
        FaceCropper().detect([astronaut, cat])
    assert FaceCropper(no_face="skip").detect([cat]) == [[]]
    assert FaceCropper(no_face="skip").transform([cat]).shape == (0, 48, 48, 1)
    (whole,) = FaceCropper(no_face="whole").detect([cat])[0]
    h, w = cat.shape[:2]
    side = min(h, w)
    assert not whole.detected and whole.box == ((w - side) // 2, (h - side) // 2, side, side)


def test_margin_widens_the_crop_around_the_same_centre(astronaut):
    from PIL import Image

    tight = FaceCropper(margin=0.0, size=48).detect([astronaut])[0][0]
    wide = FaceCropper(margin=0.5, size=96).detect([astronaut])[0][0]
    assert tight.box == wide.box
    # margin 0.5 doubles the side: its central half is the tight crop
    centre = np.asarray(Image.fromarray(wide.image[24:72, 24:72]))
    assert np.abs(centre.astype(int) - tight.image).mean() < 8
    assert np.abs(wide.image[::2, ::2].astype(int) - tight.image).mean() > 20


def test_default_margin_is_the_detectors_fer2013_framing(astronaut):
    default = FaceCropper().detect([astronaut])[0][0]
    explicit = FaceCropper(margin=FER2013_MARGINS["haar"]).detect([astronaut])[0][0]
    np.testing.assert_array_equal(default.image, explicit.image)
    assert set(FER2013_MARGINS) == set(faces_module.DETECTORS)


def test_min_size_leaves_smaller_faces_out(astronaut):
    assert len(FaceCropper(min_size=60).detect([astronaut])[0]) == 1
    assert FaceCropper(min_size=200, no_face="skip").detect([astronaut]) == [[]]


def test_equalize_spreads_the_crop_over_all_gray_levels(astronaut):
    dim = (astronaut * 0.3).astype(np.uint8)  # a dark photograph
    plain = FaceCropper().detect([dim])[0][0].image
    equalized = FaceCropper(equalize=True).detect([dim])[0][0].image
    assert plain.max() < 90
    assert equalized.min() == 0 and equalized.max() == 255


def test_large_photos_are_downscaled_and_boxes_kept_in_their_pixels(astronaut, tmp_path):
    from PIL import Image

    big = Image.fromarray(astronaut).resize((3072, 3072), Image.BICUBIC)
    path = tmp_path / "big.jpg"
    big.save(path, quality=90)
    gray, scale = read_photo(path, max_side=800)
    assert max(gray.shape) <= 800 and scale == pytest.approx(gray.shape[1] / 3072)
    for photo in (path, np.asarray(big)):
        (face,) = FaceCropper(max_side=800).detect([photo])[0]
        assert _inside(face.box, scale=6.0), face.box


def _bomb_png(path, side=40_000):
    """A PNG header claiming side x side pixels (Pillow refuses to decode it)."""
    import struct
    import zlib

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda d, j: np.zeros((0, 0)), ValueError, r"image 0 is empty \(shape \(0, 0\)\)"),
        (lambda d, j: np.zeros((5, 0, 3)), ValueError, "image 0 is empty"),
        (lambda d, j: np.full((64, 64), np.nan), ValueError, "image 0 contains NaN"),
        (lambda d, j: np.zeros((64, 64, 5)), ValueError, r"Received shape \(64, 64, 5\)"),
        (lambda d, j: np.array(["a", "b"] * 32).reshape(8, 8), ValueError, "dtype <U1"),
        (lambda d, j: d / "missing.jpg", FileNotFoundError, "No such image file: .*missing.jpg"),
        (lambda d, j: _write(d / "notes.jpg", b"this is not a picture"), ValueError,
         r"notes.jpg: not a readable image"),
        (lambda d, j: _write(d / "cut.jpg", j.read_bytes()[:4000]), ValueError,
         r"cut.jpg: not a readable image \(image file is truncated"),
        (lambda d, j: _bomb_png(d / "huge.png"), ValueError,
         r"huge.png: too large to decode safely.*Downscale the file first"),
    ],
    ids=["empty", "empty-rgb", "nan", "5-channels", "strings", "missing", "not-an-image",
         "truncated", "decompression-bomb"],
)
def test_bad_input_gets_a_clear_error(make, error, message, tmp_path, jpeg):
    bad = make(tmp_path, jpeg)
    with pytest.raises(error, match=message):
        FaceCropper().detect([bad])


def _write(path, data):
    path.write_bytes(data)
    return path


def test_a_bad_file_in_a_batch_is_named_or_skipped(astronaut, jpeg, tmp_path):
    bad = _write(tmp_path / "broken.png", b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(ValueError, match="broken.png: not a readable image"):
        FaceCropper().detect([jpeg, bad, astronaut])
    with pytest.warns(UserWarning, match=r"Skipped 1 unreadable input\(s\): .*broken.png"):
        found = FaceCropper(on_error="skip").detect([jpeg, bad, astronaut])
    assert [len(f) for f in found] == [1, 0, 1]
    assert found[2][0].source == 2


def test_a_single_image_must_be_wrapped_in_a_list(astronaut, jpeg):
    for single in (jpeg, str(jpeg), astronaut[..., 0]):
        with pytest.raises(ValueError, match="wrap a single image in a list"):
            FaceCropper().transform(single)


@pytest.mark.parametrize(
    "params, message",
    [({"detector": "dlib"}, "detector"), ({"margin": -0.3}, "margin"),
     ({"no_face": "maybe"}, "no_face"), ({"multiple": "first"}, "multiple"),
     ({"size": 0}, "size"), ({"on_error": "ignore"}, "on_error")],
)
def test_invalid_parameters_are_named(params, message, astronaut):
    with pytest.raises(ValueError, match=message):
        FaceCropper(**params).detect([astronaut])


def test_clone_pickle_and_params():
    cropper = FaceCropper("mtcnn", margin=0.3, multiple="all")
    assert clone(cropper).get_params() == cropper.get_params()
    restored = pickle.loads(pickle.dumps(cropper))
    assert restored.get_params()["margin"] == 0.3 and restored.detector == "mtcnn"
    assert cropper.fit() is cropper


def test_in_a_pipeline_whole_images_pass_through_unchanged():
    from sklearn.pipeline import make_pipeline

    from fer_classifier import EmotionCNNClassifier, make_synthetic_faces

    data = make_synthetic_faces(60, image_size=24, random_state=0)
    params = dict(architecture=tiny_cnn, engine="keras", epochs=1, batch_size=20, validation_fraction=0.0,
                  random_state=0, verbose=0)
    cropper = FaceCropper(no_face="whole", size=24)
    crops = cropper.transform(list(data.images))
    np.testing.assert_allclose(crops[..., 0], data.images / 255.0, atol=1e-6)
    pipe = make_pipeline(cropper, EmotionCNNClassifier(**params)).fit(
        list(data.images), data.target)
    direct = EmotionCNNClassifier(**params).fit(data.images, data.target)
    np.testing.assert_allclose(pipe.predict_proba(list(data.images[:5])),
                               direct.predict_proba(data.images[:5]), atol=1e-5)


def test_missing_opencv_names_the_extra(astronaut, monkeypatch):
    monkeypatch.setitem(sys.modules, "cv2", None)
    monkeypatch.setattr(faces_module, "_detectors", {})
    with pytest.raises(ImportError, match=r"pip install \"fer-classifier\[faces\]\""):
        FaceCropper().detect([astronaut])


def test_mtcnn_finds_a_turned_face_the_cascade_misses():
    pytest.importorskip("mtcnn")
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("MTCNN runs on TensorFlow only")
    camera = skdata.camera()  # the cameraman looks down into his camera
    assert FaceCropper(no_face="skip").detect([camera]) == [[]]
    (face,) = FaceCropper("mtcnn").detect([camera])[0]
    assert _inside(face.box, ref=(190, 105, 85, 100))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert FaceCropper("mtcnn", no_face="skip").detect([skdata.chelsea()]) == [[]]


def test_pixel_value_conventions():
    levels = np.array([[0, 100], [50, 200]])
    # 8-bit gray levels in any integer type stay as they are
    np.testing.assert_array_equal(read_photo(levels)[0], levels)
    # 16-bit images (and any values over 255) are scaled to their maximum
    np.testing.assert_allclose(read_photo(levels.astype(np.uint16))[0], [[0, 128], [64, 255]],
                               atol=1)
    np.testing.assert_allclose(read_photo(levels * 300)[0], [[0, 128], [64, 255]], atol=1)
    # floats in [0, 1] are scaled by 255; booleans are black and white
    np.testing.assert_allclose(read_photo(levels / 200.0)[0], [[0, 128], [64, 255]], atol=1)
    np.testing.assert_array_equal(read_photo(levels > 60)[0], [[0, 255], [0, 255]])
