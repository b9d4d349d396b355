"""Compare face detectors that run offline from PyPI packages, on real photographs.

    pip install "opencv-python-headless>=4.8,<5" scikit-image mtcnn
    python benchmarks/compare_detectors.py [--fer2013 PATH] [--out FILE.json]

Everything comes from files installed with the packages (nothing is
downloaded): scikit-image's ``lfw_subset`` (100 Labeled-Faces-in-the-Wild
face crops and 100 non-face patches, 25x25, shown enlarged to 100x100 on a
150x150 canvas), its astronaut and cameraman portraits, matplotlib's Grace
Hopper portrait (each also mirrored and at half size), a three-person
collage of those portraits, and 14 scikit-image photographs without a face
(a cat, coffee, a rocket, a horse, coins, text, textures, ...).

A detection is a hit when its centre lies inside the face's reference box
and its width is between 0.4 and 2.5 times the reference width; every other
box is a false box. Candidates: OpenCV's Haar cascades (4.x, which still
ships them), scikit-image's LBP cascade, and MTCNN (``mtcnn`` 1.0, weights in
its wheel, runs on TensorFlow). Candidates that are not installed are
reported as skipped. MediaPipe (its 1.x wheels ship no face model) and
OpenCV's YuNet (its ONNX file is not on PyPI) need a download, so they are
not candidates.

With ``--fer2013`` it also measures each detector's framing on FER2013's
PublicTest faces (enlarged 3x, edge-padded): the median side of the box
relative to the face image, which gives the crop margin that reproduces
FER2013's framing (``FaceCropper``'s per-detector default).
"""

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

# Reference face boxes (x, y, width, height) for the bundled portraits, set by eye.
PORTRAIT_BOXES = {
    "astronaut": (165, 55, 125, 135),
    "camera": (190, 105, 85, 100),
    "grace_hopper": (150, 100, 240, 250),
}
NEGATIVES = ["chelsea", "coffee", "rocket", "horse", "coins", "text", "page", "brick",
             "gravel", "grass", "moon", "hubble_deep_field", "immunohistochemistry", "retina"]


def _gray(image):
    image = np.asarray(image)
    if image.ndim == 3:
        image = (image[..., :3] @ np.array([0.299, 0.587, 0.114])).round().astype(np.uint8)
    return image


def _resize(image, scale):
    from PIL import Image

    h, w = image.shape[:2]
    return np.asarray(Image.fromarray(image).resize((round(w * scale), round(h * scale)),
                                                    Image.LANCZOS))


def build_cases():
    """Return a list of (name, rgb uint8 image, [reference boxes])."""
    import skimage.data as data
    from matplotlib import cbook
    from PIL import Image

    cases = []
    portraits = {
        "astronaut": data.astronaut(),
        "camera": np.stack([data.camera()] * 3, axis=-1),
        "grace_hopper": np.asarray(Image.open(cbook.get_sample_data("grace_hopper.jpg"))),
    }
    for name, img in portraits.items():
        x, y, w, h = PORTRAIT_BOXES[name]
        cases.append((name, img, [(x, y, w, h)]))
        width = img.shape[1]
        cases.append((f"{name}_mirrored", img[:, ::-1].copy(), [(width - x - w, y, w, h)]))
        cases.append((f"{name}_half", _resize(img, 0.5),
                      [tuple(round(v * 0.5) for v in (x, y, w, h))]))
    # A group picture: the three portraits side by side at the same height.
    height = 400
    tiles, boxes, offset = [], [], 0
    for name, img in portraits.items():
        scale = height / img.shape[0]
        tile = _resize(img, scale)
        x, y, w, h = PORTRAIT_BOXES[name]
        boxes.append((offset + round(x * scale), round(y * scale), round(w * scale),
                      round(h * scale)))
        tiles.append(tile)
        offset += tile.shape[1]
    cases.append(("group_of_three", np.concatenate(tiles, axis=1), boxes))

    lfw = (data.lfw_subset() * 255).round().astype(np.uint8)
    for i, patch in enumerate(lfw):
        big = _resize(patch, 4.0)
        canvas = np.pad(big, 25, mode="edge")
        rgb = np.stack([canvas] * 3, axis=-1)
        if i < 100:
            cases.append((f"lfw_face_{i:03d}", rgb, [(25, 25, 100, 100)]))
        else:
            cases.append((f"lfw_nonface_{i - 100:03d}", rgb, []))
    for name in NEGATIVES:
        img = getattr(data, name)()
        if img.ndim == 2:
            img = np.stack([img] * 3, axis=-1)
        cases.append((name, img[..., :3], []))
    return cases


def _haar(cascade_name):
    import cv2

    cascade = cv2.CascadeClassifier(
        os.path.join(cv2.data.haarcascades, f"haarcascade_frontalface_{cascade_name}.xml"))

    def detect(rgb):
        boxes = cascade.detectMultiScale(_gray(rgb), scaleFactor=1.1, minNeighbors=5,
                                         minSize=(24, 24))
        return [tuple(int(v) for v in b) for b in boxes]

    return detect


def _skimage_lbp():
    import skimage.data as data
    from skimage.feature import Cascade

    cascade = Cascade(data.lbp_frontal_face_cascade_filename())

    def detect(rgb):
        gray = _gray(rgb)
        found = cascade.detect_multi_scale(img=gray, scale_factor=1.2, step_ratio=1,
                                           min_size=(24, 24), max_size=gray.shape)
        return [(d["c"], d["r"], d["width"], d["height"]) for d in found]

    return detect


def _mtcnn():
    from mtcnn import MTCNN

    model = MTCNN()

    def detect(rgb):
        found = model.detect_faces(np.ascontiguousarray(rgb))
        return [tuple(int(v) for v in d["box"]) for d in found if d["confidence"] >= 0.9]

    return detect


CANDIDATES = {
    "opencv_haar_default": (lambda: _haar("default"), "opencv-python-headless<5"),
    "opencv_haar_alt": (lambda: _haar("alt"), "opencv-python-headless<5"),
    "opencv_haar_alt2": (lambda: _haar("alt2"), "opencv-python-headless<5"),
    "opencv_haar_alt_tree": (lambda: _haar("alt_tree"), "opencv-python-headless<5"),
    "skimage_lbp": (_skimage_lbp, "scikit-image"),
    "mtcnn": (_mtcnn, "mtcnn (TensorFlow)"),
}


def _is_hit(box, ref):
    x, y, w, h = box
    rx, ry, rw, rh = ref
    cx, cy = x + w / 2, y + h / 2
    return rx <= cx <= rx + rw and ry <= cy <= ry + rh and 0.4 * rw <= w <= 2.5 * rw


def score(detect, cases):
    found = missed = false = 0
    per_group = {}
    seconds = []
    for name, rgb, refs in cases:
        start = time.perf_counter()
        boxes = detect(rgb)
        seconds.append(time.perf_counter() - start)
        matched = set()
        for box in boxes:
            hit = next((i for i, ref in enumerate(refs)
                        if i not in matched and _is_hit(box, ref)), None)
            if hit is None:
                false += 1
            else:
                matched.add(hit)
        found += len(matched)
        missed += len(refs) - len(matched)
        group = ("lfw_faces" if name.startswith("lfw_face") else
                 "lfw_nonfaces" if name.startswith("lfw_nonface") else
                 "scenes_without_faces" if not refs else "portraits_and_group")
        g = per_group.setdefault(group, {"faces": 0, "found": 0, "false_boxes": 0})
        g["faces"] += len(refs)
        g["found"] += len(matched)
        g["false_boxes"] += len(boxes) - len(matched)
    big = next(rgb for name, rgb, _ in cases if name == "astronaut")
    start = time.perf_counter()
    for _ in range(5):
        detect(big)
    return {
        "faces": found + missed,
        "found": found,
        "detection_rate": found / (found + missed),
        "false_boxes": false,
        "groups": per_group,
        "ms_per_image_mean": 1000 * float(np.mean(seconds)),
        "ms_per_512x512_photo": 1000 * (time.perf_counter() - start) / 5,
    }


def framing(detect, path, n=1000):
    """Median box side / image side on FER2013 PublicTest faces, and the detection rate."""
    from PIL import Image

    from fer_classifier import load_fer2013

    faces = load_fer2013(path, subset="PublicTest").images[:n]
    sides = []
    for face in faces:
        face = face.squeeze()
        face = (face * 255 if face.max() <= 1 else face).round().astype(np.uint8)
        big = np.asarray(Image.fromarray(face).resize((144, 144), Image.LANCZOS))
        boxes = detect(np.stack([np.pad(big, 48, mode="edge")] * 3, axis=-1))
        if boxes:
            x, y, w, h = max(boxes, key=lambda b: b[2] * b[3])
            sides.append(max(w, h) / 144)
    side = float(np.median(sides))
    return {"faces": len(faces), "found": len(sides), "median_box_side": side,
            "fer2013_margin": (1 / side - 1) / 2}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write the figures to this JSON file")
    parser.add_argument("--fer2013", help="fer2013.csv(.gz): also measure the framing")
    parser.add_argument("--only", nargs="*", choices=sorted(CANDIDATES),
                        help="run only these candidates")
    args = parser.parse_args()

    cases = build_cases()
    print(f"{len(cases)} images, {sum(len(r) for _, _, r in cases)} faces")
    results = {}
    for name in args.only or CANDIDATES:
        make, package = CANDIDATES[name]
        try:
            detect = make()
        except ImportError as exc:
            print(f"{name:22s} skipped ({package} not installed: {exc})")
            continue
        detect(cases[0][1])  # warm-up (graph building for MTCNN)
        results[name] = r = score(detect, cases)
        groups = "  ".join(f"{g}: {v['found']}/{v['faces']} found, {v['false_boxes']} false"
                           for g, v in r["groups"].items())
        print(f"{name:22s} found {r['found']}/{r['faces']} ({r['detection_rate']:.1%}), "
              f"{r['false_boxes']} false boxes, {r['ms_per_512x512_photo']:.0f} ms per 512x512 "
              f"photo\n{'':22s} {groups}")
        if args.fer2013:
            r["fer2013_framing"] = f = framing(detect, args.fer2013)
            print(f"{'':22s} FER2013 PublicTest: found {f['found']}/{f['faces']}, median box side "
                  f"{f['median_box_side']:.3f} of the image -> margin {f['fer2013_margin']:.3f}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.python_version()}",
            "images": len(cases),
            "results": results,
        }, indent=2) + "\n")
        print(f"Wrote {args.out}")


if __name__ == "__main__":
    main()
