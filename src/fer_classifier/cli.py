"""The ``fer-classifier`` command: demo, train, evaluate, predict, export, info.

Errors (a missing file, a malformed CSV, an unknown architecture, a bad
option) end with exit status 2 and one line on stderr, never a traceback.
"""

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

from ._version import __version__

EXIT_USAGE = 2


class CommandError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


def _import_keras_quietly():
    """Import Keras with file descriptor 2 silenced.

    TensorFlow's C++ runtime logs start-up lines (CUDA probing) before
    ``TF_CPP_MIN_LOG_LEVEL`` is read, straight to file descriptor 2. The
    command line keeps stderr for its own messages, so it mutes that
    descriptor while Keras is imported. An import error is still raised
    (and reported) once stderr is back.
    """
    from ._quiet import import_keras

    import_keras(quiet=True)


def _one_line(exc):
    """An exception's message on one line; an indented list after "...:" becomes "a, b"."""
    text, in_list = "", False
    for raw in str(exc).splitlines():
        line = raw.strip()
        if not line:
            continue
        item = raw[:1].isspace()
        if not text:
            text = line
        elif item and (in_list or text.endswith(":")):
            text += (", " if in_list else " ") + line
        elif line[:1].isupper():  # a new sentence
            text += (". " if in_list or not text.endswith(".") else " ") + line
        else:
            text += "; " + line
        in_list = item and (in_list or text.endswith(line))
    return text or type(exc).__name__


def _existing_file(path):
    if not Path(path).is_file():
        raise CommandError(f"no such file: {path}")
    return Path(path)


def _class_names(classes):
    from .evaluation import _label_names

    return _label_names(list(classes), None)


# ---------------------------------------------------------------- commands
def cmd_train(args):
    import numpy as np

    from . import EmotionCNNClassifier, load_fer2013
    from ._progress import format_duration
    from .architectures import get_architecture

    output = Path(args.output)
    if not output.parent.is_dir():
        raise CommandError(f"output folder does not exist: {output.parent}")
    get_architecture(args.architecture)  # fail before loading data
    from ._torch_engine import torch_available

    torch_only = [("--mixup-alpha and --cutmix-alpha need", args.mixup_alpha or args.cutmix_alpha),
                  ("--sam-rho needs", args.sam_rho)]
    for options, used in torch_only:
        if used and (args.engine == "keras" or not torch_available()):
            raise CommandError(
                f"{options} the PyTorch engine: "
                'pip install "fer-classifier[torch]" and train with --engine auto or torch '
                f"(engine: {args.engine}, PyTorch installed: {torch_available()})"
            )
    data = load_fer2013(args.data, subset=args.subset)
    images, target = data.images, data.target
    subset_text = f"subset {args.subset}"
    if args.max_samples is not None and args.max_samples < len(target):
        from sklearn.model_selection import train_test_split

        keep, _ = train_test_split(
            np.arange(len(target)), train_size=args.max_samples, stratify=target,
            random_state=args.random_state,
        )
        images, target = images[np.sort(keep)], target[np.sort(keep)]
        subset_text += f", a stratified sample of {len(target):,}"
    print(f"Training on {len(target):,} faces from {data.filename} ({subset_text}).")
    validation = None
    if args.validation_subset:
        held_out = load_fer2013(data.filename, subset=args.validation_subset)
        validation = (held_out.images, held_out.target)
        print(f"Validating on {len(held_out.target):,} faces ({args.validation_subset}).")
    clf = EmotionCNNClassifier(
        args.architecture,
        conv_dropout=args.conv_dropout,
        dense_dropout=args.dense_dropout,
        learning_rate=args.learning_rate,
        optimizer=args.optimizer,
        batch_size=args.batch_size,
        epochs=args.epochs,
        validation_fraction=0.0 if validation else args.validation_fraction,
        early_stopping=args.early_stopping,
        n_iter_no_change=args.patience,
        label_smoothing=args.label_smoothing,
        weight_decay=args.weight_decay,
        lr_schedule=args.lr_schedule,
        augmentation=args.augmentation,
        mixup_alpha=args.mixup_alpha,
        cutmix_alpha=args.cutmix_alpha,
        sam_rho=args.sam_rho,
        tta=args.tta,
        class_weight=args.class_weight,
        engine=args.engine,
        precision=args.precision,
        random_state=args.random_state,
        verbose=0 if args.quiet else 1,
    )
    from ._checkpoint import epochs_done

    resumed_after = epochs_done(args.checkpoint) if args.checkpoint else 0
    start = time.perf_counter()
    clf.fit(images, target, validation_data=validation, checkpoint=args.checkpoint)
    seconds = time.perf_counter() - start
    from ._early_stopping import kept_epoch

    # The metrics of the epoch whose weights the model holds (with early
    # stopping, the best one, not the last).
    kept = kept_epoch(clf.history_, clf.early_stopping)
    final = {k: v[kept] for k, v in clf.history_.items()}
    metadata = {
        "training_data": {
            "path": str(Path(data.filename).resolve()),
            "subset": args.subset,
            "n_samples": int(len(target)),
            "max_samples": args.max_samples,
            "validation": args.validation_subset or (
                f"{args.validation_fraction:.0%} held out" if args.validation_fraction else None
            ),
        },
        "training_seconds": round(seconds, 1),
        "final_metrics": final,
        "command": " ".join(["fer-classifier", *sys.argv[1:]]),
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if resumed_after:
        metadata["resumed_after_epoch"] = resumed_after  # training_seconds: this call's
    clf.save(output, metadata=metadata)
    shown = ", ".join(f"{k} {v:.4f}" for k, v in final.items())
    which = ("last epoch" if kept == clf.n_iter_ - 1
             else f"kept epoch {kept + 1} (early stopping)")
    trained = clf.n_iter_ - resumed_after
    if trained <= 0:
        done = (f"Nothing left to train: {args.checkpoint} holds the finished run "
                f"({clf.n_iter_} epoch{'s' if clf.n_iter_ != 1 else ''})")
    else:
        resumed = (f" (epochs {resumed_after + 1}-{clf.n_iter_}, resumed from "
                   f"{args.checkpoint})" if resumed_after else "")
        done = (f"Trained {trained} epoch{'s' if trained != 1 else ''}{resumed} with the "
                f"{clf.engine_} engine in {format_duration(seconds)}")
    print(
        f"{done}; {which}: {shown}.\n"
        f"Saved {output} ({output.stat().st_size / 1e6:.1f} MB)."
    )
    if clf.engine_ == "keras" and args.engine == "auto":
        from ._torch_engine import torch_available

        if not torch_available():
            print('Tip: with PyTorch installed (pip install "fer-classifier[torch]") train '
                  "runs on the torch engine: about 3x faster, 4-5x in bfloat16 on CPUs "
                  "with bfloat16 units (see 'Training engines' in the README).")
    return 0


def cmd_evaluate(args):
    from . import load_fer2013
    from .evaluation import EvaluationReport

    clf = _load_model(args.model, _tta_choice(args.tta))
    data = load_fer2013(args.data, subset=args.subset)
    report = EvaluationReport.from_estimator(clf, data.images, data.target)
    views = f", TTA '{'flip' if clf.tta is True else clf.tta}'" if clf.tta else ""
    print(f"{args.model} on {report.n_samples:,} faces ({args.subset}, {data.filename}{views}):")
    for key, value in report.summary().items():
        if key == "n_samples":
            continue
        text = f"{value:.4f}" if key in ("log_loss", "mse") else f"{value:.2%}"
        print(f"  {key:<18} {text}")
    recalls = ", ".join(f"{n} {r:.0%}" for n, r in report.per_class["recall"].items())
    print(f"  recall per class:  {recalls}")
    if args.report_dir:
        folder = Path(args.report_dir)
        folder.mkdir(parents=True, exist_ok=True)
        title = f"{Path(args.model).name} on FER2013 {args.subset}"
        report.write_json(folder / "report.json")
        report.write_markdown(folder / "report.md", title=title)
        written = ["report.json", "report.md"]
        if not args.no_plots:
            from .plotting import save_report_plots  # matplotlib is imported inside

            try:
                paths = save_report_plots(report, folder, history=clf.history_)
            except ImportError as exc:  # no 'plot' extra: the report stays useful
                print(f"fer-classifier: warning: {exc}; plots skipped", file=sys.stderr)
            else:
                written += [p.name for p in paths]
        print(f"Wrote {', '.join(written)} to {folder}")
    return 0


def _load_model(path, tta=None):
    """A model file, or a bundled model by name (when no file has that name).

    ``tta`` (from ``--tta``) replaces the model's own test-time augmentation;
    None keeps it.
    """
    from . import EmotionCNNClassifier
    from .estimator import _PRETRAINED

    if path is None:
        clf = EmotionCNNClassifier.pretrained()
    elif path in _PRETRAINED and not Path(path).exists():
        clf = EmotionCNNClassifier.pretrained(path)
    elif not Path(path).is_file():
        raise CommandError(
            f"no such file: {path} (--model takes a model file or a bundled model: "
            f"{', '.join(_PRETRAINED)})")
    else:
        clf = EmotionCNNClassifier.load(path)
    return clf if tta is None else clf.set_params(tta=tta)


TTA_VALUES = ("none", "flip", "crops")  # --tta of evaluate, predict, demo (train: no "none")


def _tta_choice(text):
    """``--tta`` of evaluate, predict and demo: 'none' turns the model's TTA off."""
    return False if text == "none" else text


def _bare_tta_before_positional(argv):
    """``argv`` with a bare ``--tta`` that precedes a file name made ``--tta=flip``.

    ``--tta`` takes an optional value, so argparse would read the file name of
    ``predict --tta photo.jpg`` as that value and refuse it. A token that looks
    like a path (it has a dot or a slash, or exists) or names a pretrained
    model is left for the positionals; any other word stays the value, so
    ``--tta ten`` is still reported as an invalid choice.
    """
    from .estimator import _PRETRAINED

    argv = [str(token) for token in argv]
    for i, token in enumerate(argv[:-1]):
        following = argv[i + 1]
        if token == "--tta" and following not in TTA_VALUES and (
                "." in following or "/" in following or os.sep in following
                or following in _PRETRAINED or os.path.exists(following)):
            argv[i] = "--tta=flip"
    return argv


def _add_tta_option(command):
    command.add_argument(
        "--tta", nargs="?", const="flip", default=None, choices=TTA_VALUES,
        help="test-time augmentation: 'flip' (the default of a bare --tta) averages each "
        "face and its mirror image, 'crops' ten shifted and mirrored views (slower, "
        "usually a little more accurate), 'none' turns it off (default: the model's own); "
        "a bare --tta may precede the input files")


def _publictest_figure(clf):
    """The PublicTest accuracy that the model's metadata records for its TTA mode, or None."""
    meta = getattr(clf, "metadata_", {}) or {}
    key = {False: "publictest_accuracy", True: "publictest_accuracy_tta",
           "flip": "publictest_accuracy_tta"}.get(clf.tta)
    return meta.get(key) if key else None  # no figure on record for 'crops'


_MODEL_HELP = (
    "model file written by 'fer-classifier train' or 'export', or the name of a bundled "
    "model: fer2013 (the default), fer2013-small, fer2013-large, fer2013-wide or ensemble"
)


def _is_csv(path):
    return path.name.lower().endswith((".csv", ".csv.gz"))


def _iter_inputs(args, failed, *, report_no_face=True):
    """Yield (input, images uint8 (n, 48, 48), boxes, is_photo) for each readable input.

    CSV rows, face crops (--crops) or the faces found in a photograph. An input
    that cannot be read is reported on stderr and appended to ``failed``; a
    photograph without a face is too, unless ``report_no_face`` is False (the
    text on stdout already says so).
    """
    import numpy as np

    from .datasets import read_pixels_csv
    from .faces import FaceCropper
    from .samples import read_face_image

    cropper = FaceCropper(
        args.detector, margin=args.margin, min_size=args.min_face_size,
        equalize=args.equalize, multiple="all", no_face="skip",
    )
    for name in args.inputs:
        path = Path(name)
        is_photo = not _is_csv(path) and not args.crops
        try:
            if path.is_dir():
                raise CommandError(
                    f"{name} is a folder; give the files in it (e.g. {path / '*.jpg'})"
                )
            if not path.is_file():
                raise CommandError(f"no such file: {name}")
            if _is_csv(path):
                faces, _ = read_pixels_csv(path)
                images, boxes = faces.reshape(len(faces), 48, 48), [None] * len(faces)
            elif args.crops:
                images, boxes = read_face_image(path)[np.newaxis], [None]
            else:
                found = cropper.detect([path])[0]
                images = np.stack([f.image for f in found]) if found else \
                    np.zeros((0, 48, 48), np.uint8)
                boxes = [f.box for f in found]
                if not found and report_no_face:
                    print(f"{name}: no face found", file=sys.stderr)
        except (CommandError, ValueError, OSError) as exc:
            print(f"fer-classifier: error: {_one_line(exc)}", file=sys.stderr)
            failed.append(name)
            continue
        yield name, images, boxes, is_photo


def _prediction_table(clf, images, records):
    import numpy as np
    import pandas as pd

    names = _class_names(clf.classes_)
    proba = clf.predict_proba(images) if len(images) else np.zeros((0, len(names)))
    best = np.argmax(proba, axis=1)
    table = pd.DataFrame(proba.round(6), columns=names)
    table.insert(0, "probability", proba[np.arange(len(best)), best].round(6))
    table.insert(0, "emotion", [names[i] for i in best])
    boxes = [box or (None,) * 4 for _, _, box in records]
    for i, column in enumerate(["x", "y", "width", "height"]):
        table.insert(0, column, pd.array([b[i] for b in boxes], dtype="Int64"))
    table = table[["x", "y", "width", "height", *table.columns[4:]]]
    table.insert(0, "face", np.array([number for _, number, _ in records], dtype=np.int64))
    table.insert(0, "input", [name for name, _, _ in records])
    return table


def _readable(name, table, names):
    """One input's faces as lines a person reads."""
    import pandas as pd

    count = f"{len(table)} face{'s' * (len(table) != 1)}" if len(table) else "no face found"
    lines = [f"{name}: {count}"]
    for rec in table.to_dict("records"):
        where = ("" if pd.isna(rec["x"])
                 else f" at x={rec['x']} y={rec['y']} {rec['width']}x{rec['height']}")
        others = sorted(((rec[n], n) for n in names if n != rec["emotion"]), reverse=True)
        runners = ", ".join(f"{n} {p:.0%}" for p, n in others[:2])
        lines.append(f"  face {rec['face'] + 1}{where}: {rec['emotion']} "
                     f"{rec['probability']:.0%} ({runners})")
    return "\n".join(lines) + "\n"


def _annotation_target(args):
    """Check --annotate before any work: (folder or file, several photographs?)."""
    from PIL import Image

    photos = [name for name in args.inputs if not _is_csv(Path(name))]
    if args.crops or not photos:
        raise CommandError("--annotate needs photographs (image files, without --crops)")
    target = Path(args.annotate)
    if len(photos) > 1:
        if target.suffix:
            raise CommandError(
                f"--annotate {target}: with several photographs, give a folder "
                "(each photo is written there as <name>_emotions.png)"
            )
        return target, True
    if target.suffix.lower() not in Image.registered_extensions():
        raise CommandError(f"--annotate {target}: unknown image format; use a .png or .jpg name")
    if not target.parent.is_dir():
        raise CommandError(f"--annotate {target}: output folder does not exist")
    return target, False


def _annotate(target, several, photos):
    """Draw each photo's faces; ``photos`` maps a photo to its prediction table."""
    from .photos import FaceEmotion, draw_emotions

    if several:
        target.mkdir(parents=True, exist_ok=True)
    written = []
    for photo, table in photos.items():
        names = list(table.columns[8:])
        faces = [
            FaceEmotion(
                box=(rec["x"], rec["y"], rec["width"], rec["height"]),
                emotion=rec["emotion"], probability=rec["probability"],
                probabilities={n: rec[n] for n in names}, face=None,
            )
            for rec in table.to_dict("records")
        ]
        out = target
        if several:
            stem = f"{Path(photo).stem}_emotions"
            out = target / f"{stem}.png"
            number = 2
            while str(out) in written:  # photos of the same name in different folders
                out, number = target / f"{stem}_{number}.png", number + 1
        draw_emotions(photo, faces, out)
        written.append(str(out))
    return written


def cmd_predict(args):
    import pandas as pd

    from ._keras_io import atomic_write

    from .video import VIDEO_SUFFIXES

    videos = [n for n in args.inputs if Path(n).suffix.lower() in VIDEO_SUFFIXES]
    if videos:
        return _predict_videos(args, videos)
    if args.every != 1 or args.per_second or args.smoothing or args.plot:
        raise CommandError("--every, --per-second, --smoothing and --plot are for videos")
    if args.crops and (args.annotate or args.detector != "haar"):
        raise CommandError("--crops takes images as face crops: no detection, no --annotate")
    annotation = _annotation_target(args) if args.annotate else None
    if args.output and not Path(args.output).parent.is_dir():
        raise CommandError(f"output folder does not exist: {Path(args.output).parent}")
    clf = _load_model(args.model, _tta_choice(args.tta))
    fmt = args.format or (
        ("json" if args.output.endswith(".json") else "csv") if args.output else "text"
    )
    # Text on stdout goes out input by input: progress on a long list of photos.
    stream = fmt == "text" and not args.output
    tables, photos, failed = [], {}, []
    for name, images, boxes, is_photo in _iter_inputs(args, failed,
                                                      report_no_face=not stream):
        table = _prediction_table(clf, images, [(name, i, b) for i, b in enumerate(boxes)])
        tables.append((name, table))
        if is_photo:
            photos[name] = table
        if stream:
            sys.stdout.write(_readable(name, table, list(table.columns[8:])))
            sys.stdout.flush()
    if len(failed) == len(args.inputs):
        return EXIT_USAGE
    table = pd.concat([t for _, t in tables], ignore_index=True)
    names = list(table.columns[8:])
    if fmt == "json":
        records = [
            {
                "input": rec["input"],
                "face": int(rec["face"]),
                "box": None if pd.isna(rec["x"]) else
                [int(rec[k]) for k in ("x", "y", "width", "height")],
                "emotion": rec["emotion"],
                "probabilities": {n: float(rec[n]) for n in names},
            }
            for rec in table.to_dict("records")
        ]
        text = json.dumps(records, indent=2) + "\n"
    elif fmt == "csv":
        text = table.to_csv(index=False)
    else:
        text = "".join(_readable(name, t, names) for name, t in tables)
    if args.output:
        with atomic_write(args.output, "w") as fh:
            fh.write(text)
        counts = pd.Series(table["emotion"]).value_counts()
        summary = ", ".join(f"{k} {v}" for k, v in counts.items())
        print(f"Wrote {len(table)} predictions to {args.output} ({summary or 'no faces'}).")
    elif not stream:
        sys.stdout.write(text)
    if annotation:
        written = _annotate(*annotation, photos)
        # stderr only where stdout carries the JSON or CSV a program reads
        print(f"Drew the faces on {', '.join(written)}",
              file=sys.stdout if stream or args.output else sys.stderr)
    return 1 if failed else 0


def _predict_videos(args, videos):
    """``predict`` on video files: one row per face per analysed frame."""
    import warnings

    import pandas as pd

    from ._keras_io import atomic_write
    from .faces import FaceCropper
    from .video import video_emotions

    if len(videos) != len(args.inputs):
        raise CommandError("give videos and photographs (or CSVs) in separate runs")
    from .video import _WRITERS, draw_video_emotions

    if args.crops:
        raise CommandError("--crops is for face crops, not videos")
    annotate = {}
    if args.annotate:
        target = Path(args.annotate)
        if len(videos) == 1 and target.suffix:
            if target.suffix.lower() not in _WRITERS:
                raise CommandError(f"--annotate {target}: use a video name ending in "
                                   f"{', '.join(sorted(_WRITERS))}")
            annotate[videos[0]] = target
        elif target.suffix:
            raise CommandError(f"--annotate {target}: with several videos, give a folder "
                               "(each is written there as <name>_emotions.<suffix>)")
        else:
            annotate = {v: target / f"{Path(v).stem}_emotions"
                        f"{Path(v).suffix.lower() if Path(v).suffix.lower() in _WRITERS else '.mp4'}"
                        for v in videos}
        folder = next(iter(annotate.values())).parent
        if len(videos) == 1 and not folder.is_dir():
            raise CommandError(f"--annotate {target}: output folder does not exist")
    for option, value in (("--output", args.output), ("--plot", args.plot)):
        if value and not Path(value).parent.is_dir():
            raise CommandError(f"{option}: output folder does not exist: {Path(value).parent}")
    if args.plot and Path(args.plot).suffix.lower() not in (".png", ".svg", ".pdf", ".jpg"):
        raise CommandError(f"--plot {args.plot}: use a .png, .svg, .pdf or .jpg name")
    clf = _load_model(args.model, _tta_choice(args.tta))
    cropper = FaceCropper(
        args.detector, margin=args.margin, min_size=args.min_face_size,
        equalize=args.equalize, multiple="all", no_face="skip",
    )
    tables, failed = [], []
    for name in videos:
        print(f"{name}:", file=sys.stderr)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                table = video_emotions(
                    name, classifier=clf, cropper=cropper, every=args.every,
                    per_second=args.per_second, smoothing=args.smoothing, progress=True,
                )
        except (ValueError, OSError) as exc:
            print(f"fer-classifier: error: {_one_line(exc)}", file=sys.stderr)
            failed.append(name)
            continue
        for warning in caught:  # e.g. a video that stops halfway: its rows are kept
            if issubclass(warning.category, UserWarning):
                print(f"fer-classifier: warning: {_one_line(warning.message)}", file=sys.stderr)
        if name in annotate:
            annotate[name].parent.mkdir(parents=True, exist_ok=True)
            draw_video_emotions(name, table, annotate[name])
            print(f"Drew the faces on {annotate[name]}", file=sys.stderr)
        table.insert(0, "input", name)
        tables.append(table)
        print(_video_summary(name, table))
    if not tables:
        return EXIT_USAGE
    table = pd.concat(tables, ignore_index=True)
    if args.output:
        fmt = args.format or ("json" if args.output.endswith(".json") else "csv")
        with atomic_write(args.output, "w") as fh:
            if fmt == "json":
                fh.write(table.to_json(orient="records", indent=2) + "\n")
            else:
                table.to_csv(fh, index=False, float_format="%.6g")
        print(f"Wrote {len(table)} rows (one per face per analysed frame) to {args.output}.")
    if args.plot:
        from .plotting import plot_emotions_over_time

        figure = plot_emotions_over_time(tables[0], title=f"Emotions in {videos[0]}")
        with atomic_write(args.plot, "wb") as fh:
            figure.savefig(fh, format=Path(args.plot).suffix[1:].lower().replace("jpg", "jpeg"),
                           dpi=120)
        print(f"Drew the emotions over time in {args.plot}"
              + (f" (of {videos[0]}; one video per plot)" if len(videos) > 1 else ""))
    return 1 if failed else 0


def _video_summary(name, table):
    """Frames read and analysed, faces, the dominant emotion overall and over time."""
    read, analysed = table.attrs["frames_read"], table.attrs["frames_analysed"]
    frames_with_faces = table["frame"].nunique()
    lines = [f"{name}: {read:,} frames read, {analysed:,} analysed, {len(table):,} faces in "
             f"{frames_with_faces:,} frames"]
    if len(table):
        shares = table["emotion"].value_counts(normalize=True)
        others = "".join(f", {k} {v:.0%}" for k, v in shares.iloc[1:3].items())
        lines.append(f"  dominant emotion: {shares.index[0]} ({shares.iloc[0]:.0%} of faces"
                     f"{others})")
        if table["time"].notna().all():
            second = table["time"].astype(float).astype(int)
            per_second = table.groupby(second)["emotion"].agg(lambda e: e.value_counts().index[0])
            runs = []
            for t, emotion in per_second.items():
                if runs and runs[-1][2] == emotion and t == runs[-1][1] + 1:
                    runs[-1][1] = t
                else:
                    runs.append([t, t, emotion])
            shown = ", ".join(f"{a}-{b + 1} s {e}" for a, b, e in runs[:8])
            lines.append(f"  over time: {shown}" + (", ..." if len(runs) > 8 else ""))
    return "\n".join(lines)


def cmd_demo(args):
    from .samples import load_sample_faces

    faces = load_sample_faces()
    clf = _load_model(args.model, _tta_choice(args.tta))
    table = _prediction_table(clf, faces.images, [(n, 0, None) for n in faces.names])
    meta = getattr(clf, "metadata_", {}) or {}
    accuracy = _publictest_figure(clf)
    about = f", {accuracy:.1%} accurate on FER2013 PublicTest" if accuracy else ""
    source = "the bundled pretrained model" if args.model is None else args.model
    members = meta.get("members")
    networks = (f"an ensemble of {len(members)} networks" if members
                else f"{clf.architecture!s} network")
    print(f"Emotions of the bundled sample faces, by {source}"
          f" ({networks}{about}):\n")
    shown = table.drop(columns=["face", "x", "y", "width", "height"])
    shown = shown.rename(columns={"input": "face"})
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    print("\nThe faces are public-domain photographs; see "
          "fer_classifier.samples.load_sample_faces().DESCR for their sources.")
    return 0


def _bundled_info(name):
    """``read_model_info`` of a bundled model; for an ensemble, built from its members'.

    Returns the description and the file it came from.
    """
    from importlib import resources

    from .estimator import _PRETRAINED_ENSEMBLES, read_model_info

    folder = resources.files("fer_classifier") / "pretrained"
    if name not in _PRETRAINED_ENSEMBLES:
        with resources.as_file(folder / f"{name}.zip") as path:
            return read_model_info(path), path
    with resources.as_file(folder / f"{name}.json") as path:
        spec = json.loads(Path(path).read_text())
    members = []
    for member in spec["members"]:
        with resources.as_file(folder / f"{member}.zip") as member_path:
            members.append(read_model_info(member_path))
    info = dict(members[0])
    info["params"] = {**info["params"], "architecture": " + ".join(
        str(m["params"].get("architecture")) for m in members)}
    info["n_parameters"] = sum(m.get("n_parameters", 0) for m in members)
    info["history"], info["n_iter"] = {}, None
    info["metadata"] = spec["metadata"]
    return info, path


def cmd_info(args):
    from .estimator import _PRETRAINED, read_model_info

    if args.model in _PRETRAINED and not Path(args.model).exists():
        info, source = _bundled_info(args.model)
        label = f"bundled model {args.model!r}: pretrained({args.model!r}) ({source})"
    else:
        info = read_model_info(_existing_file(args.model))
        label = str(args.model) + (" (ONNX)" if Path(args.model).suffix.lower() == ".onnx"
                                   else "")
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    params = info["params"]
    history = info.get("history", {})
    rows = [
        ("file", label),
        ("architecture", f"{params.get('architecture')} "
         f"({info.get('n_parameters', 0):,} parameters, input {tuple(info['image_shape'])})"),
        ("classes", ", ".join(_class_names(info["classes"]))),
        ("trained epochs", info.get("n_iter")),
        ("parameters", ", ".join(
            f"{k}={'RandomState(...)' if isinstance(v, dict) and 'RandomState' in v else v}"
            for k, v in sorted(params.items()))),
    ]
    rows = [(label, value) for label, value in rows if value is not None]  # ensembles: no epochs
    meta = info.get("metadata") or {}
    recipe = meta.get("recipe")
    if isinstance(recipe, dict) and recipe.get("tta") and not params.get("tta"):
        # The bundled models are measured both ways and load with tta off.
        rows.append(("test-time augmentation", "off as loaded (tta=False); the *_tta figures below "
                     "were measured with it on: set_params(tta=True), or "
                     "pretrained(name, tta=True)"))
    if history:
        from ._early_stopping import kept_epoch

        rows.append(("last epoch", ", ".join(
            f"{k} {v[-1]:.4f}" for k, v in history.items() if v)))
        kept = kept_epoch(history, params.get("early_stopping"))
        if kept is not None and kept != len(next(iter(history.values()))) - 1:
            rows.append(("kept epoch", f"{kept + 1} (early stopping): " + ", ".join(
                f"{k} {v[kept]:.4f}" for k, v in history.items() if v)))
    data = meta.get("training_data")
    if data:
        rows.append(("training data",
                     f"{data.get('path')} (subset {data.get('subset')}, "
                     f"{data.get('n_samples'):,} faces; validation: {data.get('validation')})"))
    for key in ("training_seconds", "trained_at", "command"):
        if key in meta:
            rows.append((key.replace("_", " "), meta[key]))
    extra = {k: v for k, v in meta.items()
             if k not in ("training_data", "training_seconds", "trained_at", "command",
                          "final_metrics")}
    rows.extend((key, json.dumps(value)) for key, value in extra.items())
    rows.append(("written by",
                 f"fer-classifier {info.get('fer_classifier_version')}, "
                 f"Keras {info.get('keras_version')} ({info.get('keras_backend')} backend)"))
    # Values line up in one column, at least 19 wide, and always after a space.
    width = max(19, max(len(label) + 2 for label, _ in rows))
    lines = [f"{label + ':':<{width}}{value}" for label, value in rows]
    print("\n".join(lines))
    return 0


def cmd_export(args):
    import numpy as np

    from . import EmotionCNNClassifier
    from .samples import load_sample_faces

    output = Path(args.output)
    if output.suffix.lower() != ".onnx":
        raise CommandError(f"the output must end in .onnx, got {args.output}")
    clf = _load_model(args.model)
    clf.export_onnx(output)
    exported = EmotionCNNClassifier.load(output)
    # Check the file on the bundled sample faces before reporting success.
    faces = load_sample_faces().images
    if faces.shape[1:] == tuple(clf.image_shape_[:2]):
        reference = clf.set_params(predict_precision="float32").predict_proba(faces)
        gap = float(np.abs(exported.predict_proba(faces) - reference).max())
        check = f"; its probabilities differ from the Keras model's by {gap:.1e} at most"
    else:
        check = ""
    size = output.stat().st_size / 1e6
    print(f"Wrote {output} ({size:.1f} MB, ONNX){check}.\n"
          f"Predict with it: fer-classifier predict --model {output} IMAGE ... "
          "(needs the 'onnx' extra)")
    return 0


# ------------------------------------------------------------------ parser
class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (exit status 2)."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _number(text, kind):
    """``kind(text)``, or an argparse error that says what was expected."""
    try:
        return kind(text)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None


def _fraction(text):
    value = _number(text, float)
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def _smoothing(text):
    value = _number(text, float)
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return value


def _positive_int(text):
    value = _number(text, int)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _nonnegative_float(text):
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text!r}")
    return value


def _non_negative_float(text):
    value = _number(text, float)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def _positive_float(text):
    value = _number(text, float)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def build_parser():
    from .datasets import USAGES

    parser = _Parser(
        prog="fer-classifier",
        description="Facial emotion recognition on FER2013 with a Keras CNN.",
        epilog="Run 'fer-classifier COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    data_help = (
        "FER2013 CSV (plain or .gz) or image folder; default: look in "
        "$FER_CLASSIFIER_DATA, then ~/fer_classifier_data"
    )
    train = sub.add_parser(
        "train", help="train a model and save it to one file",
        description="Train an EmotionCNNClassifier on FER2013 and save it (atomically). "
        "Prints one line per epoch with the time left, then a summary.",
    )
    train.add_argument("--data", help=data_help)
    train.add_argument("--subset", default="Training", choices=USAGES,
                       help="Usage split to train on (default: %(default)s)")
    train.add_argument("-o", "--output", required=True, help="model file to write, e.g. model.zip")
    train.add_argument("--architecture", default="seed",
                       help="registered architecture name (default: %(default)s)")
    train.add_argument("--epochs", type=_positive_int, default=50, help="default: %(default)s")
    train.add_argument("--batch-size", type=_positive_int, default=100, help="default: %(default)s")
    train.add_argument("--learning-rate", type=_positive_float, default=1e-3,
                       help="default: %(default)s")
    train.add_argument("--optimizer", default="adam",
                       choices=["adam", "adamw", "nadam", "rmsprop", "sgd", "sgd_nesterov"],
                       help="default: %(default)s")
    train.add_argument("--conv-dropout", type=_fraction, default=0.25, help="default: %(default)s")
    train.add_argument("--dense-dropout", type=_fraction, default=0.5, help="default: %(default)s")
    train.add_argument("--label-smoothing", type=_fraction, default=0.0,
                       help="default: %(default)s")
    train.add_argument("--weight-decay", type=float, default=None,
                       help="decoupled weight decay (default: the optimizer's)")
    train.add_argument("--lr-schedule", choices=["constant", "cosine"], default="constant",
                       help="'cosine': one epoch of warm-up, then cosine decay to 0 "
                       "(default: %(default)s)")
    train.add_argument("--augmentation", choices=["flip", "standard", "strong"], default=None,
                       help="random changes to the training faces (default: none)")
    train.add_argument("--mixup-alpha", type=_non_negative_float, default=0.0, metavar="A",
                       help="mixup: blend each training face and its target with another "
                       "of its batch, keeping a Beta(A, A) share, at least half (PyTorch "
                       "engine; 0.2-1 are usual; default: off)")
    train.add_argument("--cutmix-alpha", type=_non_negative_float, default=0.0, metavar="A",
                       help="CutMix: paste a rectangle of another face of the batch, "
                       "targets mixed by area (PyTorch engine; default: off)")
    train.add_argument("--sam-rho", type=_non_negative_float, default=0.0, metavar="R",
                       help="sharpness-aware minimization: take each step's gradient at the "
                       "weights moved R along the batch's gradient (PyTorch engine; twice "
                       "the cost per step; 0.05 is usual; default: off)")
    train.add_argument("--tta", nargs="?", const=True, default=False, choices=["flip", "crops"],
                       help="test-time augmentation of the trained model's predictions: "
                       "'flip' (the default of a bare --tta) averages each face and its "
                       "mirror image, 'crops' ten shifted and mirrored views")
    train.add_argument("--class-weight", choices=["balanced"], default=None,
                       help="'balanced' weights classes inversely to their frequency")
    train.add_argument("--validation-fraction", type=_fraction, default=0.1,
                       help="fraction of the training subset held out for validation curves "
                       "(default: %(default)s; 0 trains on all)")
    train.add_argument("--validation-subset", choices=USAGES, default=None,
                       help="evaluate this Usage split after every epoch instead "
                       "(e.g. PublicTest, to watch test accuracy; not used for training)")
    train.add_argument("--early-stopping", action="store_true",
                       help="stop when validation loss stalls; keep the best epoch")
    train.add_argument("--patience", type=_positive_int, default=10,
                       help="early-stopping patience in epochs (default: %(default)s)")
    train.add_argument("--max-samples", type=_positive_int, default=None,
                       help="train on a stratified random sample of this many faces "
                       "(quick trials; default: all)")
    train.add_argument("--engine", choices=["auto", "torch", "keras"], default="auto",
                       help="what trains the network: 'torch' (needs the torch extra; "
                       "several times faster on CPUs), 'keras', or 'auto' (torch where "
                       "installed; default)")
    train.add_argument("--precision", choices=["auto", "float32", "bfloat16"], default="auto",
                       help="training arithmetic of the torch engine (default: bfloat16 where "
                       "the CPU has bfloat16 instructions)")
    train.add_argument("--random-state", type=int, default=0,
                       help="seed for reproducible training (default: %(default)s, so that "
                       "a command is reproducible; in Python the default is None, as in "
                       "scikit-learn)")
    train.add_argument("--checkpoint", default=None,
                       help="file to save progress to after every epoch; if it exists, "
                       "training resumes from it")
    train.add_argument("-q", "--quiet", action="store_true", help="no per-epoch lines")
    train.set_defaults(func=cmd_train)

    evaluate = sub.add_parser(
        "evaluate", help="score a model and write a report",
        description="Print the headline metrics of a model on a FER2013 split and, with "
        "--report-dir, write report.json, report.md and PNG plots.",
    )
    evaluate.add_argument("model", help=_MODEL_HELP.replace(" (the default)", ""))
    evaluate.add_argument("--data", help=data_help)
    evaluate.add_argument("--subset", default="PublicTest", choices=USAGES,
                          help="Usage split to score on (default: %(default)s)")
    evaluate.add_argument("--report-dir", help="folder for the report files (created if needed)")
    evaluate.add_argument("--no-plots", action="store_true", help="write no PNG plots")
    _add_tta_option(evaluate)
    evaluate.set_defaults(func=cmd_evaluate)

    predict = sub.add_parser(
        "predict", help="find faces in photographs (or CSVs) and predict their emotions",
        description="Predict the emotions of faces. In each image file every face is found "
        "(needs the 'faces' extra), cropped like FER2013's faces and classified; with --crops "
        "each image file is taken as one face crop instead. Each row of a CSV with a 'pixels' "
        "column is one 48x48 face. Prints each input's faces, their boxes and emotions; "
        "-o/--format write CSV or JSON with every class probability. Unreadable inputs are "
        "reported on stderr and the others still predicted (exit status 1).",
    )
    predict.add_argument("inputs", nargs="+", metavar="INPUT",
                         help="photographs (PNG, JPEG, ...), face crops with --crops, or CSVs")
    predict.add_argument("-m", "--model", help=_MODEL_HELP)
    predict.add_argument("-o", "--output", help="CSV or .json file; default: text on stdout")
    predict.add_argument("--format", choices=["text", "csv", "json"],
                         help="output format (default: from the output suffix, else text)")
    predict.add_argument("--annotate", metavar="OUT",
                         help="draw boxes and emotions on the photograph (or video), saved as "
                         "OUT (an image or video file; a folder when there are several)")
    predict.add_argument("--crops", action="store_true",
                         help="image files are face crops already: no face detection")
    predict.add_argument("--detector", choices=["haar", "mtcnn"], default="haar",
                         help="face detector (default: %(default)s; mtcnn needs the "
                         "'mtcnn' extra)")
    predict.add_argument("--margin", type=_nonnegative_float, default=None,
                         help="widen each face box by this fraction on every side "
                         "(default: the detector's FER2013 framing)")
    predict.add_argument("--min-face-size", type=_positive_int, default=24, metavar="PIXELS",
                         help="smallest face side looked for (default: %(default)s)")
    predict.add_argument("--equalize", action="store_true",
                         help="equalise each face crop's histogram")
    predict.add_argument("--every", type=_positive_int, default=1, metavar="N",
                         help="videos: analyse every Nth frame (default: every frame)")
    predict.add_argument("--per-second", type=_positive_float, default=None, metavar="F",
                         help="videos: analyse about F frames per second instead")
    predict.add_argument("--smoothing", type=_smoothing, default=None, metavar="A",
                         help="videos: average each face's probabilities along its track, "
                         "A x new + (1 - A) x previous (0 < A <= 1; default: off)")
    predict.add_argument("--plot", metavar="PNG",
                         help="videos: plot the emotions over time into this image")
    _add_tta_option(predict)
    predict.set_defaults(func=cmd_predict)

    demo = sub.add_parser(
        "demo", help="classify the sample faces bundled with the package",
        description="Print the emotions, with their probabilities, that the bundled "
        "pretrained model (or --model) sees in the sample face photographs shipped with "
        "the package. Needs no data.",
    )
    demo.add_argument("-m", "--model", help=_MODEL_HELP)
    _add_tta_option(demo)
    demo.set_defaults(func=cmd_demo)

    export = sub.add_parser(
        "export", help="write a model as an ONNX file for fast inference",
        description="Export a model (default: the bundled pretrained model) to ONNX, which "
        "onnxruntime runs about twice as fast as Keras on a CPU. Every command's --model "
        "takes the .onnx file. Needs the 'onnx' extra.",
    )
    export.add_argument("-m", "--model", help=_MODEL_HELP)
    export.add_argument("-o", "--output", required=True, help="ONNX file to write, e.g. model.onnx")
    export.set_defaults(func=cmd_export)

    info = sub.add_parser(
        "info", help="describe a saved model",
        description="Show a model's architecture, parameters, classes, training data "
        "and metrics, without loading the network.",
    )
    info.add_argument("model", help=_MODEL_HELP.replace(" (the default)", ""))
    info.add_argument("--json", action="store_true", help="print the raw description as JSON")
    info.set_defaults(func=cmd_info)
    return parser


@contextlib.contextmanager
def _interrupts_not_lost():
    """Deliver again a Ctrl-C that Python swallowed.

    A KeyboardInterrupt raised while a garbage-collector callback or a
    ``__del__`` runs is printed as "Exception ignored" and dropped, and the
    command would go on. JAX (imported by Keras where installed) runs such a
    callback at every collection, so a Ctrl-C during training is now and then
    lost. The exception is sent here instead; the signal is raised again a
    moment later, outside the callback.
    """
    previous = sys.unraisablehook

    def hook(unraisable):
        if isinstance(unraisable.exc_value, KeyboardInterrupt):
            timer = threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGINT))
            timer.daemon = True
            timer.start()
        else:
            previous(unraisable)

    sys.unraisablehook = hook
    try:
        yield
    finally:
        sys.unraisablehook = previous


def main(argv=None):
    """Entry point of the ``fer-classifier`` console script."""
    # An application may quiet TensorFlow's C++ start-up logging; the library does not.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # ... and FFmpeg's own lines about a broken video (ours name the file instead).
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(_bare_tta_before_positional(argv))
    try:
        with _interrupts_not_lost():
            if args.func is not cmd_info:
                _import_keras_quietly()
            return args.func(args)
    except BrokenPipeError:
        # Whoever read stdout stopped (``fer-classifier info m.zip | head -3``):
        # end quietly, as shell tools do, and let the flush at exit write nowhere.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (CommandError, FileNotFoundError, ValueError, TypeError, OSError, ImportError) as exc:
        print(f"fer-classifier: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("fer-classifier: interrupted; no output was written", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
