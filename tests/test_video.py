"""Emotions in videos: short clips made here from the bundled sample faces."""

import os
import warnings

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2")

from fer_classifier import (  # noqa: E402
    EmotionCNNClassifier,
    FaceCropper,
    read_video,
    video_emotions,
)
from fer_classifier.samples import load_sample_faces  # noqa: E402

N_FRAMES, FPS, STEP = 12, 10.0, 10


def make_frames(n=N_FRAMES, two=False):
    """A face moving right STEP px per frame, mirrored from frame 6 on (and a second face)."""
    from PIL import Image

    names = load_sample_faces().filenames
    faces = [np.asarray(Image.open(p).convert("RGB").resize((120, 120))) for p in names]
    frames = []
    for i in range(n):
        canvas = np.full((240, 400 if two else 320, 3), 90, np.uint8)
        face = faces[0][:, ::-1] if i >= n // 2 else faces[0]
        canvas[60:180, 20 + STEP * i:140 + STEP * i] = face
        if two:
            canvas[60:180, 270:390] = faces[1]
        frames.append(canvas)
    return frames


def write_video(path, frames, fourcc):
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), FPS, (w, h))
    assert writer.isOpened()
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


@pytest.fixture(scope="module")
def clf():
    return EmotionCNNClassifier.pretrained()


@pytest.fixture(scope="module", params=[("clip.avi", "MJPG"), ("clip.mp4", "mp4v")],
                ids=["avi-mjpeg", "mp4-mpeg4"])
def clip(request, tmp_path_factory):
    name, fourcc = request.param
    return write_video(tmp_path_factory.mktemp("video") / name, make_frames(), fourcc)


def test_one_row_per_face_per_frame_following_the_face(clip, clf):
    table = video_emotions(clip, classifier=clf)
    assert table["frame"].tolist() == list(range(N_FRAMES))
    np.testing.assert_allclose(table["time"], np.arange(N_FRAMES) / FPS)
    assert set(table["face"]) == {0} and set(table["track"]) == {0}
    # the box follows the face: its centre stays on the pasted face's centre
    centre = table["x"].to_numpy() + table["width"].to_numpy() / 2
    pasted = 80 + STEP * np.arange(N_FRAMES)
    assert np.all(np.abs(centre - pasted) <= 15), centre - pasted
    assert table.attrs == {"frames_read": N_FRAMES, "frames_analysed": N_FRAMES, "fps": FPS}
    names = list(table.columns[-7:])
    np.testing.assert_allclose(table[names].sum(axis=1), 1.0, atol=1e-6)


def test_emotions_are_those_of_the_same_frames_as_photographs(clip, clf):
    from fer_classifier import detect_emotions

    table = video_emotions(clip, classifier=clf, batch_size=5)  # batches across frames
    names = list(table.columns[-7:])
    for (index, _, frame), row in zip(read_video(clip), table.itertuples()):
        [face] = detect_emotions(frame, classifier=clf)
        assert (row.x, row.y, row.width, row.height) == face.box
        assert row.emotion == face.emotion
        np.testing.assert_allclose([getattr(row, n) for n in names],
                                   [face.probabilities[n] for n in names], atol=1e-5)


def test_frames_from_an_iterable_and_sampling(clf):
    frames = make_frames()
    table = video_emotions(iter(frames), classifier=clf, every=3)
    assert table["frame"].tolist() == [0, 3, 6, 9]
    assert table["time"].isna().all() and table.attrs["frames_analysed"] == 4
    every_other = video_emotions(frames, classifier=clf, fps=10, per_second=5)
    assert every_other["frame"].tolist() == [0, 2, 4, 6, 8, 10]
    np.testing.assert_allclose(every_other["time"], [0, .2, .4, .6, .8, 1.0])
    assert [i for i, _, _ in read_video(frames, max_frames=4)] == [0, 1, 2, 3]


def test_two_faces_keep_their_tracks(clf):
    table = video_emotions(make_frames(8, two=True), classifier=clf)
    assert table.groupby("frame").size().tolist() == [2] * 8
    # left face: track 0, right face: track 1, in every frame
    assert table["track"].tolist() == [0, 1] * 8
    assert table["face"].tolist() == [0, 1] * 8


def test_smoothing_is_a_moving_average_along_each_track(clf):
    frames = make_frames(8, two=True)
    raw = video_emotions(frames, classifier=clf)
    smooth = video_emotions(frames, classifier=clf, smoothing=0.3)
    names = list(raw.columns[-7:])
    for track in (0, 1):
        p = raw.loc[raw["track"] == track, names].to_numpy()
        expected = [p[0]]
        for row in p[1:]:
            expected.append(0.3 * row + 0.7 * expected[-1])
        np.testing.assert_allclose(smooth.loc[smooth["track"] == track, names], expected,
                                   atol=1e-9)
        assert (smooth.loc[smooth["track"] == track, "emotion"].tolist()
                == [names[i] for i in np.argmax(expected, axis=1)])
    # smoothing changes nothing at the first frame, and something later
    assert np.abs(smooth[names].to_numpy() - raw[names].to_numpy())[2:].max() > 0


@pytest.mark.parametrize("suffix", [".mp4", ".avi"])
def test_draw_video_emotions_boxes_every_frame(tmp_path, clf, suffix):
    from fer_classifier import draw_video_emotions
    from fer_classifier.photos import _COLOURS

    frames = make_frames()
    table = video_emotions(frames, classifier=clf, fps=FPS, every=3)
    out = draw_video_emotions(frames, table, tmp_path / f"drawn{suffix}")
    drawn = list(read_video(out))
    assert len(drawn) == N_FRAMES and [p.name for p in tmp_path.iterdir()] == [out.name]
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask  # not the temporary file's 0600
    assert _COLOURS[3] == "#F0E442"  # Happy is yellow: high red and green, low blue
    for index, _, frame in drawn:
        # the box of the last analysed frame: its left edge in the emotion's colour
        row = table[table["frame"] <= index].iloc[-1]
        assert row.emotion == "Happy"
        x, y, h = int(row.x), int(row.y), int(row.height)
        r, g, b = np.median(frame[y + 5:y + h - 5, x + 1].astype(int), axis=0)
        assert min(r, g) > 180 and b < min(r, g) - 50, (index, r, g, b)  # lossy codecs blur
        assert np.abs(frame[5, 5].astype(int) - 90).max() < 20  # the background untouched
    with pytest.raises(ValueError, match="unknown video format"):
        draw_video_emotions(frames, table, tmp_path / "x.gif")
    assert [p.name for p in tmp_path.iterdir()] == [out.name]


def test_a_video_without_faces_gives_an_empty_table(tmp_path, clf):
    blank = write_video(tmp_path / "blank.avi", [np.full((120, 160, 3), 40, np.uint8)] * 5,
                        "MJPG")
    table = video_emotions(blank, classifier=clf)
    assert len(table) == 0 and table.attrs["frames_read"] == 5
    assert list(table.columns[:4]) == ["frame", "time", "face", "track"]


def test_bad_videos_are_named(tmp_path, clip):
    with pytest.raises(FileNotFoundError, match="No such file: .*missing.mp4"):
        video_emotions(tmp_path / "missing.mp4")
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    with pytest.raises(ValueError, match=r"notes.mp4: not a readable video"):
        list(read_video(text))
    empty = tmp_path / "empty.avi"
    cv2.VideoWriter(str(empty), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (64, 48)).release()
    with pytest.raises(ValueError, match=r"empty.avi: (not a readable video|no frame)"):
        list(read_video(empty))
    with pytest.raises(ValueError, match="folder"):
        list(read_video(tmp_path))


def test_a_video_that_breaks_halfway_keeps_its_first_frames(tmp_path, clf):
    whole = write_video(tmp_path / "whole.avi", make_frames(), "MJPG").read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(whole[: len(whole) * 6 // 10])
    with pytest.warns(UserWarning, match=r"cut.avi: the video stopped at frame \d+ of the 12"):
        table = video_emotions(cut, classifier=clf)
    assert 0 < len(table) < N_FRAMES
    assert table["frame"].tolist() == list(range(len(table)))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"every": 0}, "every must be an integer >= 1. Received: every=0"),
        ({"per_second": -1}, "per_second must be a number > 0"),
        ({"every": 2, "per_second": 5}, "Give every or per_second, not both"),
        ({"per_second": 5}, "per_second needs the video's frame rate"),
        ({"smoothing": 0}, r"smoothing must be a number in \(0, 1\]"),
        ({"batch_size": 0}, "batch_size must be an integer >= 1"),
    ],
)
def test_bad_parameters_are_named(kwargs, message, clf):
    with pytest.raises(ValueError, match=message):
        video_emotions(make_frames(2), classifier=clf, **kwargs)


def test_frames_that_are_not_images_are_named(clf):
    with pytest.raises(ValueError, match=r"frame 1: expected an image array .* shape \(3,\)"):
        video_emotions([make_frames(1)[0], [1, 2, 3]], classifier=clf)
    with pytest.raises(ValueError, match="frame 0: expected an image array .*; got list$"):
        video_emotions([["a", [1]]], classifier=clf)
    with pytest.raises(ValueError, match="iterable of frames. Received: int 5"):
        video_emotions(5, classifier=clf)
    with pytest.raises(ValueError, match="max_frames must be an integer >= 1"):
        list(read_video(make_frames(2), max_frames=0))


def test_the_cropper_settings_apply(clf):
    frames = make_frames(3)
    none = video_emotions(frames, classifier=clf, cropper=FaceCropper(min_size=200,
                                                                      no_face="skip"))
    assert len(none) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        video_emotions(frames, classifier=clf)  # quiet


@pytest.mark.slow  # the installed script in a new process
def test_cli_predict_on_a_video_writes_rows_a_summary_and_a_plot(tmp_path, clf):
    import pandas as pd
    from test_cli import SCRIPT, run

    if SCRIPT is None:
        pytest.skip("fer-classifier script not installed")
    pytest.importorskip("matplotlib")
    clip = write_video(tmp_path / "clip.avi", make_frames(), "MJPG")
    out, plot = tmp_path / "emotions.csv", tmp_path / "emotions.png"
    drawn = tmp_path / "drawn.mp4"
    result = run("predict", clip, "-o", out, "--every", 2, "--plot", plot, "--annotate", drawn)
    assert result.returncode == 0, result.stderr
    assert len(list(read_video(drawn))) == N_FRAMES
    table = pd.read_csv(out)
    expected = video_emotions(clip, classifier=clf, every=2)
    assert table["frame"].tolist() == [0, 2, 4, 6, 8, 10]
    assert (table["input"] == str(clip)).all()
    assert table["emotion"].tolist() == expected["emotion"].tolist()
    assert f"{clip}: 12 frames read, 6 analysed, 6 faces in 6 frames" in result.stdout
    top = expected["emotion"].value_counts().index[0]
    assert f"dominant emotion: {top}" in result.stdout
    assert "over time: 0-" in result.stdout
    assert "frame 12/12" in result.stderr  # progress with the frame count
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    cut = tmp_path / "cut.avi"
    cut.write_bytes(clip.read_bytes()[: clip.stat().st_size * 6 // 10])
    broken = run("predict", cut, "-o", tmp_path / "cut.csv")
    assert broken.returncode == 0, broken.stderr
    assert "fer-classifier: warning:" in broken.stderr and "stopped at frame" in broken.stderr
    assert 0 < len(pd.read_csv(tmp_path / "cut.csv")) < 12  # the frames before the break

    fake = tmp_path / "fake.mp4"
    fake.write_text("not a video\n")
    refused = run("predict", fake)
    assert refused.returncode == 2
    assert refused.stderr.splitlines() == [
        f"{fake}:", f"fer-classifier: error: {fake}: not a readable video (OpenCV's FFmpeg "
        "could not open it: not a video, a truncated file, or a codec it does not decode)."]

    mixed = run("predict", clip, tmp_path / "photo.jpg")
    assert mixed.returncode == 2 and "separate runs" in mixed.stderr
    photo_only = run("predict", tmp_path / "photo.jpg", "--every", 2)
    assert photo_only.returncode == 2 and "are for videos" in photo_only.stderr
    bad = run("predict", clip, "--smoothing", 0)
    assert bad.returncode == 2 and "must be in (0, 1], got 0" in bad.stderr
