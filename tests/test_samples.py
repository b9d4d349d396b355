import numpy as np
import pytest
from PIL import Image

from fer_classifier.samples import SAMPLE_FACES, load_sample_faces, read_face_image


def test_sample_faces_are_bundled_with_their_provenance():
    faces = load_sample_faces()
    assert faces.names == list(SAMPLE_FACES) == ["eileen_collins", "grace_hopper"]
    assert faces.images.shape == (2, 48, 48) and faces.images.dtype == np.uint8
    np.testing.assert_array_equal(faces.data, faces.images.reshape(2, -1))
    assert all(f.endswith(f"{n}.png") for f, n in zip(faces.filenames, faces.names))
    assert "public domain" in faces.DESCR and "crop box" in faces.DESCR
    # real photographs, not blank or constant images
    assert all(im.std() > 20 for im in faces.images)
    big = load_sample_faces(size=96)
    assert big.images.shape == (2, 96, 96)


def test_read_face_image_handles_modes_and_sizes(tmp_path):
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, (60, 40), dtype=np.uint8)
    rgb = np.stack([gray] * 3, axis=-1)
    Image.fromarray(gray).save(tmp_path / "gray.png")
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    Image.fromarray(np.dstack([rgb, np.full_like(gray, 255)])).save(tmp_path / "rgba.png")
    Image.fromarray(gray).convert("P").save(tmp_path / "palette.gif")
    Image.fromarray(gray.astype(np.uint16) * 257).save(tmp_path / "deep.png")  # 16-bit
    out = {name: read_face_image(tmp_path / name) for name in
           ("gray.png", "rgb.png", "rgba.png", "palette.gif", "deep.png")}
    for name, image in out.items():
        assert image.shape == (48, 48) and image.dtype == np.uint8, name
    np.testing.assert_array_equal(out["rgb.png"], out["gray.png"])
    np.testing.assert_array_equal(out["rgba.png"], out["gray.png"])
    # 16-bit values are scaled to 8 bits, not clipped
    assert abs(int(out["deep.png"].mean()) - int(out["gray.png"].mean())) <= 2
    assert read_face_image(tmp_path / "gray.png", size=20).shape == (20, 20)
    with open(tmp_path / "gray.png", "rb") as fh:
        np.testing.assert_array_equal(read_face_image(fh), out["gray.png"])


def test_read_face_image_errors(tmp_path):
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(ValueError, match=r"notes\.txt: not a readable image"):
        read_face_image(tmp_path / "notes.txt")
    Image.fromarray(np.zeros((48, 48), np.uint8)).save(tmp_path / "cut.png")
    data = (tmp_path / "cut.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"cut\.png: not a readable image"):
        read_face_image(tmp_path / "cut.png")
    with pytest.raises(FileNotFoundError, match="No such image file"):
        read_face_image(tmp_path / "missing.png")
    with pytest.raises(ValueError, match="Received: size=0"):
        read_face_image(tmp_path / "notes.txt", size=0)
