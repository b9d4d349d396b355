"""Emotions in videos: every face of every (sampled) frame, in one table.

Frames are decoded with OpenCV's ``VideoCapture`` (the ``faces`` extra,
whose wheels bundle FFmpeg's decoders: MP4/H.264, AVI/MJPEG, WebM/VP8-9 and
more, offline). Faces are found and cropped by :class:`~fer_classifier.FaceCropper`,
exactly as in photographs, and the crops of many frames go through
``predict_proba`` together.
"""

import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from ._keras_io import plain_permissions
from .faces import FaceCropper

__all__ = ["VIDEO_SUFFIXES", "draw_video_emotions", "read_video", "video_emotions"]

# Codecs OpenCV's wheels write, by container.
_WRITERS = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "MJPG",
            ".webm": "VP80"}

#: File name endings taken as videos by ``fer-classifier predict``.
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv")


def _cv2():
    try:
        import cv2
    except ImportError as exc:
        raise ImportError(
            'Reading videos needs OpenCV: pip install "fer-classifier[faces]"'
        ) from exc
    return cv2


def _check_sampling(every, per_second):
    if not isinstance(every, (int, np.integer)) or isinstance(every, bool) or every < 1:
        raise ValueError(f"every must be an integer >= 1. Received: every={every!r}")
    if per_second is not None and (
        isinstance(per_second, bool) or not isinstance(per_second, (int, float))
        or not per_second > 0 or math.isinf(per_second)
    ):
        raise ValueError(f"per_second must be a number > 0. Received: per_second={per_second!r}")
    if per_second is not None and every != 1:
        raise ValueError(
            f"Give every or per_second, not both. Received: every={every!r}, "
            f"per_second={per_second!r}"
        )


def read_video(video, *, every=1, per_second=None, fps=None, max_frames=None):
    """Yield the frames of a video, or of any iterable of frames, with their times.

    Parameters
    ----------
    video : str, path-like or iterable of arrays
        A video file, or frames (RGB or grayscale arrays), e.g. a webcam's
        read loop.
    every : int, default=1
        Keep every ``every``-th frame (frame 0 first).
    per_second : float, default=None
        Keep about this many frames per second of video instead (needs the
        frame rate: the file's, or ``fps``).
    fps : float, default=None
        Frame rate of ``video`` when it is an iterable of frames (for the
        times; they are NaN without it). Ignored for files, which know theirs.
    max_frames : int, default=None
        Stop after this many frames read (sampled or not).

    Yields
    ------
    index : int
        Position of the frame in the video, from 0.
    seconds : float
        Its time stamp (index / frame rate).
    frame : ndarray
        RGB ``(height, width, 3)`` uint8 for files; as given for iterables.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the file cannot be opened as a video or has no frame that decodes.
        A video whose frames stop before the count in its header ends there
        with a ``UserWarning`` naming the frame.
    """
    for index, seconds, frame, keep in _frames(video, every, per_second, fps, max_frames):
        if keep:
            yield index, seconds, frame


def _frames(video, every, per_second, fps, max_frames):
    """Every frame read, as (index, seconds, frame, keep): whether the sampling keeps it."""
    _check_sampling(every, per_second)
    if isinstance(video, (str, Path)):
        frames, source = _decode(Path(video)), Path(video)
        rate = next(frames)  # the generator reports the file's frame rate first
    else:
        if isinstance(video, np.ndarray) and video.ndim < 3:
            raise ValueError(
                "video must be a video file or an iterable of frames (2-D or 3-D arrays). "
                f"Received: an array of shape {video.shape}"
            )
        try:
            frames = iter(video)
        except TypeError:
            raise ValueError(
                "video must be a video file (str or path) or an iterable of frames. "
                f"Received: {type(video).__name__} {video!r}"
            ) from None
        rate, source = fps, None
    if max_frames is not None and (
        not isinstance(max_frames, (int, np.integer)) or isinstance(max_frames, bool)
        or max_frames < 1
    ):
        raise ValueError(
            f"max_frames must be an integer >= 1 or None. Received: max_frames={max_frames!r}"
        )
    if per_second is not None and not rate:
        raise ValueError(
            "per_second needs the video's frame rate; give fps= for frames that are not a "
            f"file. Received: per_second={per_second!r}, fps={fps!r}"
        )
    next_time = 0.0
    for index, frame in enumerate(frames):
        if max_frames is not None and index >= max_frames:
            return
        seconds = index / rate if rate else float("nan")
        if per_second is not None:
            keep = seconds + 1e-9 >= next_time
            if keep:
                next_time = (math.floor(seconds * per_second + 1e-9) + 1) / per_second
        else:
            keep = index % every == 0
        if keep and source is None:
            given = frame
            try:
                frame = np.asarray(frame)
            except ValueError:  # ragged nested lists
                frame = None
            if frame is None or frame.ndim not in (2, 3) or frame.dtype == object:
                raise ValueError(
                    f"frame {index}: expected an image array of shape (height, width) or "
                    f"(height, width, channels); got {type(given).__name__}"
                    + (f" of shape {frame.shape}" if frame is not None else "")
                )
        yield index, seconds, frame, keep


def _decode(path):
    """Yield the frame rate, then each frame (RGB) of a video file."""
    cv2 = _cv2()
    if path.is_dir():
        raise ValueError(f"{path} is a folder, not a video file.")
    if not path.is_file():
        raise FileNotFoundError(f"No such file: {path}")
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise ValueError(
                f"{path}: not a readable video (OpenCV's FFmpeg could not open it: not a "
                "video, a truncated file, or a codec it does not decode)."
            )
        rate = capture.get(cv2.CAP_PROP_FPS) or None
        expected = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        ok, frame = capture.read()
        if not ok:
            raise ValueError(
                f"{path}: no frame could be decoded (an empty video, or a codec OpenCV's "
                "FFmpeg does not decode)."
            )
        yield rate
        count = 0
        while ok:
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            count += 1
            ok, frame = capture.read()
        if expected and count < expected - 1:
            warnings.warn(
                f"{path}: the video stopped at frame {count} of the {expected} its header "
                f"announces (a truncated or damaged file); the results cover frames "
                f"0-{count - 1}.",
                UserWarning,
                stacklevel=3,
            )
    finally:
        capture.release()


def _iou(a, b):
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = min(ax + aw, bx + bw) - max(ax, bx)
    h = min(ay + ah, by + bh) - max(ay, by)
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / (aw * ah + bw * bh - inter)


class _Tracker:
    """Number faces across frames: a face continues the track whose last box overlaps it most."""

    def __init__(self, min_iou=0.3):
        self.min_iou = min_iou
        self.last = {}  # track -> box in the previous sampled frame
        self.count = 0

    def assign(self, boxes):
        pairs = sorted(
            ((_iou(box, prev), i, track) for i, box in enumerate(boxes)
             for track, prev in self.last.items()),
            reverse=True,
        )
        tracks, used = [None] * len(boxes), set()
        for overlap, i, track in pairs:
            if overlap < self.min_iou:
                break
            if tracks[i] is None and track not in used:
                tracks[i] = track
                used.add(track)
        for i, track in enumerate(tracks):
            if track is None:
                tracks[i] = self.count
                self.count += 1
        self.last = dict(zip(tracks, boxes))
        return tracks



def _progress_line(stream, read, total, start):
    elapsed = time.perf_counter() - start
    from ._progress import format_duration

    if total:
        left = elapsed * (total - read) / max(read, 1)
        text = f"frame {read}/{total} - {format_duration(elapsed)}, ETA {format_duration(left)}"
    else:
        text = f"frame {read} - {format_duration(elapsed)}"
    stream.write(f"\r{text}" if stream.isatty() else f"{text}\n")
    stream.flush()


def video_emotions(video, *, classifier=None, cropper=None, every=1, per_second=None,
                   fps=None, max_frames=None, smoothing=None, batch_size=256,
                   progress=False):
    """The emotion of every face in every sampled frame of a video.

    Parameters
    ----------
    video : str, path-like or iterable of arrays
        A video file (MP4, AVI, WebM, ... as OpenCV's FFmpeg decodes them),
        or frames, such as a webcam's read loop. See :func:`read_video`.
    classifier : EmotionCNNClassifier, default=None
        Default: :meth:`EmotionCNNClassifier.pretrained()
        <fer_classifier.EmotionCNNClassifier.pretrained>`.
    cropper : FaceCropper, default=None
        How faces are found and cropped, as for photographs. Default:
        ``FaceCropper(multiple="all", no_face="skip")``.
    every, per_second, fps, max_frames
        Which frames are analysed; see :func:`read_video`. Sampling saves
        time on long videos (faces are detected in sampled frames only).
    smoothing : float in (0, 1], default=None
        Off by default. Else the probabilities of each face are an
        exponential moving average along its track:
        ``smoothing * new + (1 - smoothing) * previous``, so smaller values
        smooth more. A face continues a track when its box overlaps (IoU >=
        0.3) that track's box in the previous sampled frame.
    batch_size : int, default=256
        Faces classified together (from as many frames as it takes).
    progress : bool, default=False
        Print frames read, time spent and time left on stderr.

    Returns
    -------
    table : pandas.DataFrame
        One row per face: ``frame``, ``time`` (seconds), ``face`` (left to
        right within the frame, from 0), ``track``, the box ``x, y, width,
        height``, ``emotion``, ``probability`` and one column per class. A
        frame without a face has no row; ``table.attrs`` holds
        ``frames_read``, ``frames_analysed`` and ``fps``.

    Raises
    ------
    FileNotFoundError, ValueError
        As :func:`read_video`, and for invalid parameters.

    Examples
    --------
    >>> from fer_classifier import video_emotions
    >>> table = video_emotions("clip.mp4", per_second=5)     # doctest: +SKIP
    >>> table.groupby("emotion").size()                      # doctest: +SKIP
    """
    import pandas as pd

    from .photos import _emotion_names

    if smoothing is not None and (
        isinstance(smoothing, bool) or not isinstance(smoothing, (int, float))
        or not 0 < smoothing <= 1
    ):
        raise ValueError(f"smoothing must be a number in (0, 1]. Received: smoothing={smoothing!r}")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1. Received: batch_size={batch_size!r}")
    if cropper is None:
        cropper = FaceCropper(multiple="all", no_face="skip")
    if classifier is None:
        from .estimator import EmotionCNNClassifier

        classifier = EmotionCNNClassifier.pretrained()
    names = _emotion_names(classifier.classes_)

    total, rate = None, fps
    if isinstance(video, (str, Path)):
        total, rate = _header(Path(video))
    stream = sys.stderr
    # A redrawn line on a terminal; a line every 30 s in a log.
    interval = 1.0 if getattr(stream, "isatty", lambda: False)() else 30.0
    start, last_print = time.perf_counter(), time.perf_counter()

    tracker, smoothed = _Tracker(), {}
    rows, crops, probabilities = [], [], []
    frames_read, frames_analysed = 0, 0

    def classify():
        if crops:
            probabilities.append(classifier.predict_proba(np.stack(crops)))
            crops.clear()

    for index, seconds, frame, keep in _frames(video, every, per_second, fps, max_frames):
        frames_read = index + 1
        if progress and time.perf_counter() - last_print >= interval:
            _progress_line(stream, frames_read, total, start)
            last_print = time.perf_counter()
        if not keep:
            continue
        frames_analysed += 1
        faces = cropper.detect([frame])[0]
        tracks = tracker.assign([f.box for f in faces])
        for number, (face, track) in enumerate(zip(faces, tracks)):
            rows.append((index, seconds, number, track, *face.box))
            crops.append(face.image)
        if len(crops) >= batch_size:
            classify()
    classify()
    if progress:
        _progress_line(stream, frames_read, total, start)
        if stream.isatty():
            stream.write("\n")

    proba = np.concatenate(probabilities) if probabilities else np.zeros((0, len(names)))
    table = pd.DataFrame(rows, columns=["frame", "time", "face", "track", "x", "y", "width",
                                        "height"])
    if smoothing is not None:
        for i, track in enumerate(table["track"].tolist()):
            if track in smoothed:
                proba[i] = smoothing * proba[i] + (1 - smoothing) * smoothed[track]
            smoothed[track] = proba[i]
    best = proba.argmax(axis=1) if len(proba) else np.zeros(0, dtype=int)
    table["emotion"] = [names[i] for i in best]
    table["probability"] = proba[np.arange(len(best)), best]
    for j, name in enumerate(names):
        table[name] = proba[:, j]
    table.attrs.update(frames_read=frames_read, frames_analysed=frames_analysed,
                       fps=rate if rate else None)
    return table


def _header(path):
    """(frame count, frame rate) from a video file's header, or (None, None)."""
    try:
        cv2 = _cv2()
    except ImportError:
        return None, None  # read_video raises the ImportError naming the extra
    if not path.is_file():
        return None, None
    capture = cv2.VideoCapture(str(path))
    try:
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0) or None
        return count, capture.get(cv2.CAP_PROP_FPS) or None
    finally:
        capture.release()


def draw_video_emotions(video, table, path, *, fps=None, max_side=1600):
    """Write a copy of a video with each face's box and emotion drawn on it.

    The video is read again and every frame written; a frame that was not
    analysed (sampling) shows the boxes of the last analysed frame before it.

    Parameters
    ----------
    video : str, path-like or iterable of arrays
        What was given to :func:`video_emotions`.
    table : pandas.DataFrame
        What :func:`video_emotions` returned for it.
    path : str or path-like
        The output video: ``.mp4``/``.m4v``/``.mov`` (MPEG-4 Part 2),
        ``.avi``/``.mkv`` (MJPEG) or ``.webm`` (VP8). Written to a temporary
        file beside it and moved into place when complete.
    fps : float, default=None
        Frame rate of the output; default the table's (the video's), else 25.
    max_side : int, default=1600
        Larger frames are drawn downscaled to this longer side.

    Returns
    -------
    path : pathlib.Path
    """
    import os
    import tempfile

    from .photos import FaceEmotion, draw_emotions

    cv2 = _cv2()
    path = Path(path)
    fourcc = _WRITERS.get(path.suffix.lower())
    if fourcc is None:
        raise ValueError(
            f"{path}: unknown video format; use a name ending in "
            f"{', '.join(sorted(_WRITERS))}."
        )
    if not path.parent.is_dir():
        raise FileNotFoundError(f"The folder of {path} does not exist.")
    rate = fps or table.attrs.get("fps") or 25.0
    names = list(table.columns[table.columns.get_loc("probability") + 1:])
    by_frame = {frame: rows for frame, rows in table.groupby("frame")}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    writer, shown = None, []
    try:
        for index, _, frame in read_video(video, fps=fps):
            if index in by_frame:
                shown = [
                    FaceEmotion(box=(int(r.x), int(r.y), int(r.width), int(r.height)),
                                emotion=r.emotion, probability=float(r.probability),
                                probabilities={n: float(getattr(r, n)) for n in names
                                               if n.isidentifier()},
                                face=None)
                    for r in by_frame[index].itertuples(index=False)
                ]
            image = np.asarray(draw_emotions(frame, shown, max_side=max_side))
            if writer is None:
                height, width = image.shape[:2]
                writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*fourcc), float(rate),
                                         (width, height))
                if not writer.isOpened():
                    raise OSError(f"{path}: OpenCV cannot write {fourcc} video here.")
            writer.write(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        if writer is None:
            raise ValueError(f"{video}: no frame to draw.")
        writer.release()
        writer = None
        plain_permissions(tmp)
        os.replace(tmp, path)
    finally:
        if writer is not None:
            writer.release()
        Path(tmp).unlink(missing_ok=True)
    return path
