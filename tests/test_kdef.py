import numpy as np
import pytest
from PIL import Image
from sklearn.model_selection import GroupKFold

from fer_classifier import EMOTIONS
from fer_classifier.kdef import KDEF_ANGLES, KDEF_EXPRESSIONS, load_kdef


def _write(path, value, size=(56, 76), band=None):
    """A noisy portrait-shaped image; ``band`` draws a bright stripe at a class's height."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(value)
    img = rng.integers(0, 60, (size[1], size[0], 3)).astype(np.uint8) + np.uint8(value % 40)
    if band is not None:
        top = 10 + band * 8
        img[top : top + 8] = 230
    Image.fromarray(img).save(path, quality=95)


@pytest.fixture
def kdef(tmp_path):
    """Actors F01 (sessions A and B) and M02 (session A); all 7 expressions; S and HL."""
    root = tmp_path / "KDEF"
    value = 10
    for folder in ("AF01", "BF01", "AM02"):
        for expression in KDEF_EXPRESSIONS:
            for angle in ("S", "HL"):
                _write(root / folder / f"{folder}{expression}{angle}.JPG", value,
                       band=KDEF_EXPRESSIONS[expression])
                value += 3
    return root


def test_loads_labels_subjects_sessions_and_angles(kdef):
    data = load_kdef(kdef)
    assert data.images.shape == (42, 48, 48) and data.images.dtype == np.uint8
    np.testing.assert_array_equal(data.data, data.images.reshape(42, -1))
    assert data.target_names == list(EMOTIONS)
    # the KDEF expression codes map onto FER2013's labels
    names = {"AF": "Fear", "AN": "Angry", "DI": "Disgust", "HA": "Happy", "NE": "Neutral",
             "SA": "Sad", "SU": "Surprise"}
    assert [EMOTIONS[t] for t in data.target] == [names[e] for e in data.expression]
    assert sorted(set(data.subject)) == ["F01", "M02"]
    assert (data.session == "B").sum() == 14 and set(data.angle) == {"S", "HL"}
    assert set(data.sex) == {"F", "M"}
    first = data.filenames[0]
    assert first.endswith("AF01AFHL.JPG") and data.expression[0] == "AF" and data.angle[0] == "HL"
    assert data.target[0] == 2 and data.session[0] == "A" and data.subject[0] == "F01"
    assert "Karolinska" in data.DESCR


def test_filters_and_sizes(kdef):
    straight = load_kdef(kdef, angles="S", sessions=["A"])
    assert len(straight.target) == 14 and set(straight.angle) == {"S"}
    assert set(straight.session) == {"A"}
    assert sorted(straight.target.tolist()) == sorted(list(range(7)) * 2)
    whole = load_kdef(kdef, angles=["S"], image_size=None)
    assert whole.images.shape == (21, 76, 56)  # the photographs as they are
    # the default keeps the centred 56x56 square (rows 10-65 of 76), resized
    square = load_kdef(kdef, angles=["S"], image_size=56).images
    np.testing.assert_allclose(square.astype(int), whole.images[:, 10:66].astype(int), atol=1)
    small = load_kdef(kdef, angles="S", image_size=9)
    assert small.images.shape == (21, 9, 9)
    X, y = load_kdef(kdef, angles="S", return_X_y=True)
    assert X.shape == (21, 2304) and y.shape == (21,)


def test_subject_groups_give_subject_independent_folds(kdef):
    data = load_kdef(kdef)
    for train, test in GroupKFold(n_splits=2).split(data.data, data.target, data.subject):
        assert not set(data.subject[train]) & set(data.subject[test])


def test_malformed_names_are_reported_not_guessed(kdef):
    _write(kdef / "AF01" / "AF01XXS.JPG", 0)  # unknown expression
    _write(kdef / "AM02" / "AF01HAS.JPG", 0)  # another actor's file in AM02/
    (kdef / "notes.txt").write_text("not an image, ignored")
    with pytest.raises(ValueError, match=r"2 image file\(s\).*AF01XXS\.JPG.*in folder AM02"):
        load_kdef(kdef)
    with pytest.warns(UserWarning, match="AF01XXS.JPG"):
        data = load_kdef(kdef, on_malformed="skip")
    assert len(data.target) == 42


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"angles": "UP"}, "angles must be a subset of FL, HL, S, HR, FR"),
        ({"sessions": ["C"]}, "sessions must be a subset of A, B"),
        ({"on_malformed": "ignore"}, "on_malformed must be 'raise' or 'skip'"),
        ({"image_size": 0}, "image_size must be a positive integer or None"),
        ({"crop": "eyes"}, "crop must be 'center', 'face' or a FaceCropper"),
        ({"crop": "face", "image_size": None}, "crop='face' needs an image_size"),
        ({"angles": "FR"}, "No KDEF images"),
    ],
)
def test_bad_options(kdef, kwargs, message):
    with pytest.raises(ValueError, match=message):
        load_kdef(kdef, **kwargs)


def test_missing_folder_and_unreadable_image(tmp_path, kdef):
    with pytest.raises(FileNotFoundError, match="kdef.se"):
        load_kdef(tmp_path / "nowhere")
    (kdef / "AF01" / "AF01HAS.JPG").write_bytes(b"broken")
    with pytest.raises(ValueError, match=r"AF01HAS\.JPG: not a readable image"):
        load_kdef(kdef)


def test_face_crops_of_real_portraits_fall_back_to_the_centre(tmp_path):
    """KDEF-sized portraits: a real face (NASA, public domain) on the straight view, none
    on the profile view (as frontal detectors miss profiles)."""
    skdata = pytest.importorskip("skimage.data")
    pytest.importorskip("cv2")
    from fer_classifier.faces import FaceCropper

    root = tmp_path / "KDEF"
    portrait = np.full((762, 562, 3), 90, np.uint8)
    portrait[150:662, 25:537] = skdata.astronaut()
    (root / "AF01").mkdir(parents=True)
    Image.fromarray(portrait).save(root / "AF01" / "AF01HAS.JPG", quality=95)
    Image.fromarray(np.full((762, 562), 90, np.uint8)).save(root / "AF01" / "AF01HAFL.JPG")

    data = load_kdef(root, crop="face")
    assert data.filenames[0].endswith("AF01HAFL.JPG")
    assert data.face_found.tolist() == [False, True]
    expected = FaceCropper().detect([data.filenames[1]])[0][0]
    assert tuple(data.boxes[1]) == expected.box
    x, y, w, h = expected.box
    assert 25 + 165 <= x + w / 2 <= 25 + 290 and 150 + 55 <= y + h / 2 <= 150 + 190
    np.testing.assert_array_equal(data.images[1], expected.image)
    centre = load_kdef(root)  # without a face the centred square is used
    np.testing.assert_allclose(data.images[0], centre.images[0], atol=1)
    assert load_kdef(root, crop=FaceCropper(size=32, margin=0.3, no_face="whole"),
                     image_size=32).images.shape \
        == (2, 32, 32)
    with pytest.raises(ValueError, match="No face in 1 KDEF image"):
        load_kdef(root, crop=FaceCropper(no_face="skip"))


def test_angle_codes():
    assert KDEF_ANGLES == ("FL", "HL", "S", "HR", "FR")


def test_the_documented_fine_tuning_updates_the_estimator(kdef):
    import keras

    from fer_classifier import EmotionCNNClassifier

    data = load_kdef(kdef, angles="S")
    clf = EmotionCNNClassifier.pretrained()
    X = data.images[..., None] / 255.0
    Y = keras.utils.to_categorical(data.target, 7)
    before = clf.predict_proba(data.images)
    def all_layers(model):  # as docs/data.rst walks them
        for layer in model.layers:
            yield layer
            if isinstance(layer, keras.Model):
                yield from all_layers(layer)

    model = clf.model_
    frozen = 0
    for layer in all_layers(model):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
            frozen += 1
    assert frozen > 0
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy")
    loss_before = model.evaluate(X, Y, verbose=0)
    keras.utils.set_random_seed(0)
    model.fit(X, Y, epochs=10, batch_size=8, verbose=0)
    assert model.evaluate(X, Y, verbose=0) < loss_before
    assert not np.allclose(clf.predict_proba(data.images), before)  # clf uses the new weights
