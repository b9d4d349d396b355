"""Emotions along a video, plotted over time
==========================================

::

    pip install "fer-classifier[faces,plot]"
    python examples/video.py                               # a clip made from the sample faces
    python examples/video.py clip.mp4 --per-second 5 --out results/

Every face of every sampled frame is found, cropped as FER2013's faces are and
classified; the crops of many frames go through the model together. Faces are
followed from frame to frame (``track``) and, with ``--smoothing``, their
probabilities averaged along the track. The script prints a summary, and writes
the table as CSV, a plot of the emotions over time and a copy of the video with
the boxes drawn on it to ``--out``.

Without a path it first writes a 3-second MP4 clip: the two bundled sample
faces side by side, one sliding right and turning into its mirror image
half-way.
"""

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from fer_classifier import draw_video_emotions, video_emotions
from fer_classifier.plotting import plot_emotions_over_time
from fer_classifier.samples import load_sample_faces


def make_clip(path, seconds=3, fps=10):
    """Write an MP4 clip of the bundled sample faces (OpenCV's own MPEG-4 encoder)."""
    import cv2

    faces = [np.asarray(Image.open(p).convert("RGB").resize((120, 120)))
             for p in load_sample_faces().filenames]
    n = seconds * fps
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (480, 240))
    for i in range(n):
        frame = np.full((240, 480, 3), 90, np.uint8)
        moving = faces[0][:, ::-1] if i >= n // 2 else faces[0]
        frame[60:180, 20 + 5 * i:140 + 5 * i] = moving
        frame[60:180, 340:460] = faces[1]
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("video", nargs="?", help="a video file (default: a clip made here)")
    parser.add_argument("--per-second", type=float, default=None,
                        help="analyse about this many frames per second (default: all)")
    parser.add_argument("--smoothing", type=float, default=0.5,
                        help="weight of each new frame along a track (default: 0.5)")
    parser.add_argument("--out", default=".", help="folder for the outputs (default: .)")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    video = args.video or make_clip(out / "sample_clip.mp4")

    try:
        table = video_emotions(video, per_second=args.per_second, smoothing=args.smoothing)
    except (OSError, ValueError) as exc:  # missing or malformed: say so in one line
        parser.error(str(exc))
    frames = table.attrs
    print(f"{video}: {frames['frames_read']} frames read, {frames['frames_analysed']} analysed "
          f"at {frames['fps']:g} frames/s; {len(table)} faces found")
    for track, rows in table.groupby("track"):
        counts = rows["emotion"].value_counts()
        print(f"  face track {track}: in {len(rows)} frames, mostly {counts.index[0]} "
              f"({counts.iloc[0] / len(rows):.0%} of them); emotions seen: "
              + ", ".join(f"{e} {n}" for e, n in counts.items()))
    print(table[["frame", "time", "track", "x", "emotion", "probability"]].head(6)
          .to_string(index=False))

    table.to_csv(out / "emotions.csv", index=False)
    plot_emotions_over_time(table, title=f"Emotions in {Path(video).name}").savefig(
        out / "emotions_over_time.png", dpi=80)
    draw_video_emotions(video, table, out / "annotated.mp4")
    print(f"wrote emotions.csv, emotions_over_time.png and annotated.mp4 to {out}")


if __name__ == "__main__":
    main()
