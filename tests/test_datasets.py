import gzip

import numpy as np
import pandas as pd
import pytest
from conftest import REAL_DATA, pixel_string, requires_real_data, write_fer_csv

from fer_classifier import EMOTIONS, get_data_home, load_fer2013


def test_loads_csv_into_bunch(fer_csv):
    path, images, labels, usages = fer_csv
    bunch = load_fer2013(path)
    assert bunch.data.shape == (21, 2304) and bunch.data.dtype == np.uint8
    np.testing.assert_array_equal(bunch.images, images)
    np.testing.assert_array_equal(bunch.data, images.reshape(21, -1))
    np.testing.assert_array_equal(bunch.target, labels)
    np.testing.assert_array_equal(bunch.usage, usages)
    assert bunch.target_names == list(EMOTIONS)
    assert bunch.target_names[0] == "Angry" and bunch.target_names[6] == "Neutral"
    assert "FER2013" in bunch.DESCR and bunch.frame is None
    assert bunch.filename == str(path)


def test_gzip_csv_gives_same_result(fer_csv, tmp_path):
    path, images, labels, usages = fer_csv
    gz = write_fer_csv(tmp_path / "copy.csv.gz", images, labels, usages, compress=True)
    with gzip.open(gz) as fh:  # really compressed
        assert fh.read(7) == b"emotion"
    np.testing.assert_array_equal(load_fer2013(gz).data, load_fer2013(path).data)


@pytest.mark.parametrize(
    "subset, expected",
    [("Training", 14), ("PublicTest", 4), (["PublicTest", "PrivateTest"], 7)],
)
def test_subset_selects_usage_rows(fer_csv, subset, expected):
    path, images, labels, usages = fer_csv
    bunch = load_fer2013(path, subset=subset)
    wanted = [subset] if isinstance(subset, str) else subset
    mask = np.isin(usages, wanted)
    assert len(bunch.target) == expected
    np.testing.assert_array_equal(bunch.images, images[mask])
    np.testing.assert_array_equal(bunch.target, labels[mask])
    assert set(bunch.usage) == set(wanted)


def test_return_X_y(fer_csv):
    path, images, labels, _ = fer_csv
    X, y = load_fer2013(path, subset="Training", return_X_y=True)
    np.testing.assert_array_equal(X, images[:14].reshape(14, -1))
    np.testing.assert_array_equal(y, labels[:14])


def test_as_frame(fer_csv):
    path, images, labels, usages = fer_csv
    bunch = load_fer2013(path, as_frame=True)
    assert isinstance(bunch.data, pd.DataFrame) and bunch.data.shape == (21, 2304)
    assert bunch.data.columns[0] == "pixel_0000" and bunch.data.columns[-1] == "pixel_2303"
    assert isinstance(bunch.target, pd.Series) and bunch.target.name == "emotion"
    assert list(bunch.frame.columns[-2:]) == ["emotion", "usage"]
    np.testing.assert_array_equal(bunch.frame["usage"], usages)
    X, y = load_fer2013(path, as_frame=True, return_X_y=True)
    assert isinstance(X, pd.DataFrame) and isinstance(y, pd.Series)
    np.testing.assert_array_equal(y, labels)


def test_column_names_with_spaces_are_accepted(fer_csv, tmp_path):
    path, images, labels, _ = fer_csv
    frame = pd.read_csv(path)
    frame.columns = ["emotion", " pixels", " Usage"]
    frame.to_csv(tmp_path / "icml.csv", index=False)
    np.testing.assert_array_equal(load_fer2013(tmp_path / "icml.csv").images, images)


# ----------------------------------------------------------------- bad input
def _rewrite(path, tmp_path, edit):
    frame = pd.read_csv(path, dtype=str)
    frame = edit(frame)
    out = tmp_path / "bad.csv"
    frame.to_csv(out, index=False)
    return out


def _set(frame, row, column, value):
    frame.loc[row, column] = value
    return frame


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda f: f.drop(columns="Usage"), r"missing column\(s\) Usage"),
        (lambda f: f.drop(columns=["pixels", "emotion"]), r"missing column\(s\) emotion, pixels"),
        (lambda f: _set(f, 5, "pixels", "1 2 3"), "line 7: expected 2304 pixel values, found 3"),
        (
            lambda f: _set(f, 3, "pixels", " ".join(["7"] * 2303 + ["abc"])),
            "line 5: non-numeric pixel value 'abc'",
        ),
        (
            lambda f: _set(f, 20, "pixels", " ".join(["300"] * 2304)),
            "line 22: pixel value 300 is out of range",
        ),
        (lambda f: _set(f, 2, "emotion", "7"), "line 4: unknown emotion code '7'"),
        (lambda f: _set(f, 2, "emotion", "happy"), "line 4: unknown emotion code 'happy'"),
        (lambda f: _set(f, 2, "emotion", ""), "line 4: unknown emotion code ''"),
        (lambda f: _set(f, 0, "Usage", "Validation"), "line 2: unknown Usage value 'Validation'"),
    ],
)
def test_malformed_csv_raises_value_error_naming_file_and_line(
    fer_csv, tmp_path, edit, message
):
    bad = _rewrite(fer_csv[0], tmp_path, edit)
    with pytest.raises(ValueError, match=message) as info:
        load_fer2013(bad)
    assert str(bad) in str(info.value)


def test_line_numbers_refer_to_the_file_when_a_subset_is_selected(fer_csv, tmp_path):
    # Row 16 is PublicTest; the message must give its file line (18), not its
    # position among the PublicTest rows.
    bad = _rewrite(fer_csv[0], tmp_path, lambda f: _set(f, 16, "pixels", "1 2"))
    with pytest.raises(ValueError, match="line 18: expected 2304"):
        load_fer2013(bad, subset="PublicTest")
    assert len(load_fer2013(bad, subset="Training").target) == 14


def test_not_a_csv_file(tmp_path):
    junk = tmp_path / "fer2013.csv.gz"
    junk.write_bytes(b"\x1f\x8b\x08 this is not gzip data")
    with pytest.raises(ValueError, match="cannot be read as a FER2013 CSV"):
        load_fer2013(junk)


@pytest.mark.parametrize("subset", ["Train", ["Training", "test"], []])
def test_unknown_subset(fer_csv, subset):
    with pytest.raises(ValueError, match="subset"):
        load_fer2013(fer_csv[0], subset=subset)


def test_subset_absent_from_file_is_an_error(fer_csv, tmp_path):
    path, images, labels, _ = fer_csv
    only_train = write_fer_csv(tmp_path / "t.csv", images[:3], labels[:3], ["Training"] * 3)
    with pytest.raises(ValueError, match=r"no rows with Usage PrivateTest \(it holds: Training\)"):
        load_fer2013(only_train, subset="PrivateTest")


# ------------------------------------------------------------ finding data
def test_missing_path_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "nope.csv")):
        load_fer2013(tmp_path / "nope.csv")


def test_search_order_data_home_then_env_then_home(fer_csv, tmp_path, monkeypatch):
    path = fer_csv[0]
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FER_CLASSIFIER_DATA", raising=False)
    with pytest.raises(FileNotFoundError) as info:
        load_fer2013(data_home=tmp_path / "dh")
    message = str(info.value)
    # every place is listed, in search order, and the message says where to get it
    assert message.index(str(tmp_path / "dh")) < message.index(str(tmp_path / "home"))
    assert "kaggle" in message.lower() and "not downloaded" in message

    monkeypatch.setenv("FER_CLASSIFIER_DATA", str(path.parent))
    assert load_fer2013().filename == str(path)
    other = tmp_path / "dh"
    other.mkdir()
    write_fer_csv(other / "fer2013.csv", fer_csv[1][:2], [3, 4], ["Training"] * 2)
    assert len(load_fer2013(data_home=other).target) == 2  # data_home wins over the env var
    assert get_data_home() == path.parent
    monkeypatch.delenv("FER_CLASSIFIER_DATA")
    assert get_data_home() == tmp_path / "home" / "fer_classifier_data"


def test_folder_holding_the_csv(fer_csv):
    path = fer_csv[0]
    assert load_fer2013(path.parent).filename == str(path)


# ------------------------------------------------------ image-folder edition
@pytest.fixture
def image_folder(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(2)
    root = tmp_path / "fer_images"
    expected = []
    for sub, prefix in [("train", "Training"), ("test", "PublicTest")]:
        for label, emotion in enumerate(EMOTIONS):
            folder = root / sub / emotion.lower()
            folder.mkdir(parents=True)
            for k in (10, 2):  # natural order: 2 before 10
                img = rng.integers(0, 256, (48, 48), dtype=np.uint8)
                suffix = ".png" if k == 2 else ".jpg"
                Image.fromarray(img).save(folder / f"{prefix}_{label}{k}{suffix}")
    # a PrivateTest image in test/, recognised by its name
    img = rng.integers(0, 256, (48, 48), dtype=np.uint8)
    Image.fromarray(img).save(root / "test" / "happy" / "PrivateTest_1.png")
    return root


def test_image_folder_edition(image_folder):
    bunch = load_fer2013(image_folder)
    assert bunch.images.shape == (29, 48, 48)
    assert np.bincount(bunch.target).tolist() == [4, 4, 4, 5, 4, 4, 4]
    assert (bunch.usage == "Training").sum() == 14
    assert (bunch.usage == "PublicTest").sum() == 14
    assert (bunch.usage == "PrivateTest").sum() == 1
    test = load_fer2013(image_folder, subset="PrivateTest")
    assert test.target.tolist() == [3]


def test_image_folder_png_pixels_are_exact(image_folder):
    from PIL import Image

    png = image_folder / "train" / "angry" / "Training_02.png"
    bunch = load_fer2013(image_folder, subset="Training")
    # the png of label 0 sorts first in the angry folder: "..._02" before "..._010"
    np.testing.assert_array_equal(bunch.images[0], np.asarray(Image.open(png)))


def test_image_folder_bad_emotion_folder(image_folder):
    (image_folder / "train" / "bored").mkdir()
    with pytest.raises(ValueError, match="unknown emotion folder 'bored'"):
        load_fer2013(image_folder)


def test_image_folder_unreadable_image_names_the_file(image_folder):
    broken = image_folder / "train" / "sad" / "Training_999.jpg"
    broken.write_bytes(b"not a jpeg")
    with pytest.raises(ValueError, match="Training_999.jpg: unreadable image"):
        load_fer2013(image_folder)


def test_image_folder_wrong_size(image_folder):
    from PIL import Image

    Image.new("L", (64, 48)).save(image_folder / "test" / "fear" / "PublicTest_5.png")
    with pytest.raises(ValueError, match="PublicTest_5.png: image is 64x48"):
        load_fer2013(image_folder, subset="PublicTest")


def test_empty_folder(tmp_path):
    (tmp_path / "train").mkdir()
    with pytest.raises(ValueError, match="no images found"):
        load_fer2013(tmp_path)
    with pytest.raises(FileNotFoundError, match="neither fer2013.csv"):
        load_fer2013(tmp_path / "train")


# ------------------------------------------------------------------ real data
@requires_real_data
def test_real_file_matches_the_published_class_counts():
    train = load_fer2013(REAL_DATA, subset="Training")
    test = load_fer2013(REAL_DATA, subset="PublicTest")
    assert np.bincount(train.target).tolist() == [3995, 436, 4097, 7215, 4830, 3171, 4965]
    assert np.bincount(test.target).tolist() == [467, 56, 496, 895, 653, 415, 607]
    first = pd.read_csv(REAL_DATA, nrows=1)
    assert pixel_string(train.images[0]) == " ".join(first.pixels[0].split())


def test_a_relative_name_is_found_in_the_data_folder(fer_csv, tmp_path, monkeypatch):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "my_copy.csv").write_bytes(fer_csv[0].read_bytes())
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FER_CLASSIFIER_DATA", str(data_dir))
    bunch = load_fer2013("my_copy.csv", subset="Training")
    assert bunch.filename == str(data_dir / "my_copy.csv") and len(bunch.target) == 14
    with pytest.raises(FileNotFoundError) as info:
        load_fer2013("other.csv")
    lines = str(info.value).splitlines()
    assert lines[0] == "FER2013 data not found at other.csv: no such file or folder. Looked in:"
    assert lines[1:3] == [f"  {tmp_path / 'other.csv'}", f"  {data_dir / 'other.csv'}"]
    assert "FER_CLASSIFIER_DATA" in lines[-1]


def test_pixel_strings_feed_the_pixel_string_transformer(fer_csv):
    from fer_classifier import PixelStringTransformer

    fer_csv = fer_csv[0]
    plain = load_fer2013(fer_csv)
    raw = load_fer2013(fer_csv, pixel_strings=True)
    assert raw.data.shape == (21,) and raw.data.dtype == object
    # the strings are the CSV's own column
    assert raw.data.tolist() == pd.read_csv(fer_csv)["pixels"].tolist()
    images = PixelStringTransformer().fit_transform(raw.data)
    np.testing.assert_array_equal(np.rint(images[..., 0] * 255), plain.images)
    np.testing.assert_array_equal(raw.images, plain.images)
    frame = load_fer2013(fer_csv, pixel_strings=True, as_frame=True)
    assert frame.data.name == "pixels" and frame.data.tolist() == raw.data.tolist()
    assert list(frame.frame.columns) == ["pixels", "emotion", "usage"]
    X, y = load_fer2013(fer_csv, pixel_strings=True, return_X_y=True)
    assert X.tolist() == raw.data.tolist() and y.tolist() == plain.target.tolist()


def test_empty_and_header_only_files_are_errors_naming_the_file(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ValueError, match=f"^{empty}: the file is empty; expected a FER2013 CSV "
                                         r"file with a header line \(emotion,pixels,Usage\)"):
        load_fer2013(empty)
    header = tmp_path / "header.csv"
    header.write_text("emotion,pixels,Usage\n")
    with pytest.raises(ValueError, match=f"^{header}: no faces, only the header line "
                                         r"\(emotion, pixels, Usage\).$"):
        load_fer2013(header)
