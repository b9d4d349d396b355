"""detect_emotions and draw_emotions on a real photograph with the bundled model."""

import json

import numpy as np
import pytest

from fer_classifier import EMOTIONS, EmotionCNNClassifier, detect_emotions, draw_emotions
from fer_classifier.faces import FaceCropper
from fer_classifier.photos import _COLOURS, FaceEmotion

pytest.importorskip("cv2")
skdata = pytest.importorskip("skimage.data")


@pytest.fixture(scope="module")
def clf():
    return EmotionCNNClassifier.pretrained()


@pytest.fixture(scope="module")
def astronaut():
    return skdata.astronaut()


def test_one_call_gives_box_emotion_and_probabilities(astronaut, clf):
    (face,) = detect_emotions(astronaut, classifier=clf)
    crop = FaceCropper().detect([astronaut])[0][0]
    assert face.box == crop.box and face.detected
    np.testing.assert_array_equal(face.face, crop.image)
    expected = clf.predict_proba(crop.image[None])[0]
    assert list(face.probabilities) == list(EMOTIONS)
    np.testing.assert_allclose(list(face.probabilities.values()), expected, atol=1e-6)
    assert face.emotion == EMOTIONS[int(np.argmax(expected))]
    assert face.probability == pytest.approx(expected.max())
    # Eileen Collins smiles in this portrait; the bundled model sees it.
    assert face.emotion == "Happy"
    record = json.loads(json.dumps(face.to_dict()))
    assert record["box"] == list(face.box) and record["emotion"] == "Happy"


def test_the_pretrained_model_is_the_default(astronaut, clf):
    (face,) = detect_emotions(astronaut)
    (given,) = detect_emotions(astronaut, classifier=clf)
    assert face.probabilities == pytest.approx(given.probabilities)


def test_every_face_of_a_group_left_to_right(astronaut, clf):
    group = np.concatenate([astronaut, astronaut[:, ::-1]], axis=1)
    faces = detect_emotions(group, classifier=clf)
    assert len(faces) == 2 and faces[0].box[0] < 512 <= faces[1].box[0]


def test_a_photo_without_a_face_gives_an_empty_list(clf):
    assert detect_emotions(skdata.chelsea(), classifier=clf) == []


def test_wrong_calls_are_explained(astronaut, clf):
    with pytest.raises(ValueError, match="takes one photograph"):
        detect_emotions([astronaut, astronaut], classifier=clf)
    with pytest.raises(ValueError, match=r"takes 48x48 images.*FaceCropper\(size=48\)"):
        detect_emotions(astronaut, classifier=clf, cropper=FaceCropper(size=64))
    with pytest.raises(FileNotFoundError, match="missing.jpg"):
        detect_emotions("missing.jpg", classifier=clf)


def test_draw_emotions_marks_the_box_in_the_emotions_colour(astronaut, clf, tmp_path):
    from PIL import Image, ImageColor

    faces = detect_emotions(astronaut, classifier=clf)
    out = tmp_path / "annotated.png"
    image = draw_emotions(astronaut, faces, out)
    assert image.size == (512, 512) and image.mode == "RGB"
    saved = np.asarray(Image.open(out))
    np.testing.assert_array_equal(saved, np.asarray(image))
    colour = ImageColor.getrgb(_COLOURS[EMOTIONS.index(faces[0].emotion)])
    x, y, w, h = faces[0].box
    # the box's left edge, the label above it; the rest of the photo untouched
    assert tuple(saved[y + h // 2, x]) == colour
    above = np.s_[max(0, y - 12):y, x:x + w]  # where the label's background goes
    assert (saved[above] == colour).all(axis=-1).mean() > 0.25
    assert (astronaut[above] == colour).all(axis=-1).mean() < 0.01
    np.testing.assert_array_equal(saved[400:, 400:], astronaut[400:, 400:])


def test_draw_emotions_downscales_huge_photos_and_never_half_writes(astronaut, tmp_path):
    face = FaceEmotion(box=(100, 100, 400, 400), emotion="Sad", probability=0.5,
                       probabilities={}, face=None)
    big = np.repeat(np.repeat(astronaut, 6, axis=0), 6, axis=1)  # 3072 x 3072
    image = draw_emotions(big, [face], max_side=1000)
    assert image.size == (1000, 1000)
    with pytest.raises(ValueError, match="unknown image format"):
        draw_emotions(astronaut, [face], tmp_path / "out.unknown")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="empty"):
        draw_emotions(np.zeros((0, 3)), [face])


def test_draw_emotions_interrupted_while_writing_keeps_the_old_file(astronaut, tmp_path,
                                                                     monkeypatch):
    from PIL import Image, PngImagePlugin

    face = FaceEmotion(box=(100, 100, 200, 200), emotion="Sad", probability=0.5,
                       probabilities={}, face=None)
    out = tmp_path / "drawn.png"
    draw_emotions(astronaut, [face], out)
    before = out.read_bytes()
    real_save, calls = PngImagePlugin._save, []

    def save_half_then_fail(im, fp, filename, *args, **kwargs):
        fp.write(b"\x89PNG\r\n\x1a\n half an image")  # bytes reach the file first
        calls.append(filename)
        raise OSError(28, "No space left on device")

    monkeypatch.setitem(Image.SAVE, "PNG", save_half_then_fail)
    with pytest.raises(OSError, match="No space left"):
        draw_emotions(astronaut[:, ::-1], [face], out)  # another image than the first
    assert calls  # it failed inside the image writer
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["drawn.png"]
    monkeypatch.setitem(Image.SAVE, "PNG", real_save)
