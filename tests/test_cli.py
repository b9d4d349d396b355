"""The fer-classifier console script: run for real in subprocesses where a user's view matters
(start-up, stderr, exit status), and its main() in-process for the rest."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fer_classifier._fold import cpu_has_bf16
from fer_classifier import EMOTIONS, EmotionCNNClassifier, make_synthetic_faces
from fer_classifier.samples import load_sample_faces, read_face_image


def _script():
    found = Path(sys.executable).with_name("fer-classifier")
    return str(found) if found.exists() else shutil.which("fer-classifier")


SCRIPT = _script()
pytestmark = pytest.mark.skipif(SCRIPT is None, reason="fer-classifier script not installed")


def run(*args, cwd=None):
    # As a user runs it: without the test suite's own TF_CPP_MIN_LOG_LEVEL.
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run(
        [SCRIPT, *map(str, args)], capture_output=True, text=True, timeout=600, cwd=cwd, env=env
    )


@pytest.fixture
def run_here(capsys, monkeypatch):
    """``run`` in this process: the same ``main``, without starting Python and TensorFlow.

    For argument and input errors (dozens of cases) a subprocess each would cost
    minutes; the script itself is run for real by the tests that use ``run``.
    """
    from fer_classifier import cli

    # main() sets these with setdefault; monkeypatch restores the suite's values.
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3"))
    monkeypatch.setenv("OPENCV_FFMPEG_LOGLEVEL", os.environ.get("OPENCV_FFMPEG_LOGLEVEL", "-8"))

    def call(*args, cwd=None):
        if cwd is not None:
            monkeypatch.chdir(cwd)
        capsys.readouterr()
        try:
            status = cli.main([str(a) for a in args])
        except SystemExit as exc:  # argparse: errors and --help
            status = exc.code
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(args, status, out, err)

    return call


def assert_one_line_error(result, text):
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "error:" in lines[0] and text in lines[0]
    assert "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    faces = make_synthetic_faces(140, random_state=0)
    pd.DataFrame(
        {
            "emotion": faces.target,
            "pixels": [" ".join(map(str, im.ravel())) for im in faces.images],
            "Usage": faces.usage,
        }
    ).to_csv(folder / "faces.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def trained(workdir):
    result = run(
        "train", "--data", workdir / "faces.csv", "-o", workdir / "model.zip",
        "--epochs", 2, "--batch-size", 16, "--validation-subset", "PublicTest",
    )
    assert result.returncode == 0, result.stderr
    return workdir / "model.zip", result


def test_train_reports_progress_and_saves(trained, workdir):
    model, result = trained
    out = result.stdout
    assert "Training on 112 faces" in out and "Validating on 28 faces (PublicTest)" in out
    # An epoch slower than 30 s (a busy machine) also logs "Epoch 1/2 - batch 5/7 - ..."
    epoch_lines = [l for l in out.splitlines()
                   if l.startswith("Epoch ") and " - batch " not in l]
    assert [l.split(" - ")[0] for l in epoch_lines] == ["Epoch 1/2", "Epoch 2/2"]
    assert all("ETA" in l and "val_accuracy" in l for l in epoch_lines)
    assert "Trained 2 epochs" in out and f"Saved {model}" in out
    assert result.stderr == ""
    clf = EmotionCNNClassifier.load(model)
    assert clf.n_iter_ == 2 and clf.model_.name == "seed"
    assert clf.metadata_["training_data"]["subset"] == "Training"
    assert clf.metadata_["training_data"]["n_samples"] == 112


def test_train_with_early_stopping_reports_the_epoch_it_kept(workdir, run_here):
    # Random labels: validation loss soon rises, and the model is an earlier epoch's.
    data = pd.read_csv(workdir / "faces.csv")
    data["emotion"] = np.random.default_rng(0).integers(0, 7, len(data))
    data.to_csv(workdir / "noise.csv", index=False)
    out = workdir / "stopped.zip"
    result = run_here("train", "--data", workdir / "noise.csv", "-o", out, "--epochs", 20,
                      "--architecture", "vgg_small", "--batch-size", 16, "--learning-rate",
                      0.01, "--early-stopping", "--patience", 1, "--validation-fraction", 0.3,
                      "--random-state", 0)
    assert result.returncode == 0, result.stderr
    clf = EmotionCNNClassifier.load(out)
    history = clf.history_
    kept = int(np.argmin(history["val_loss"]))
    assert clf.n_iter_ < 20 and kept == clf.n_iter_ - 2
    assert f"kept epoch {kept + 1} (early stopping): loss {history['loss'][kept]:.4f}" in (
        result.stdout)
    assert clf.metadata_["final_metrics"] == {k: v[kept] for k, v in history.items()}
    info = run_here("info", out).stdout
    assert f"last epoch:        loss {history['loss'][-1]:.4f}" in info
    assert f"kept epoch:        {kept + 1} (early stopping): loss {history['loss'][kept]:.4f}" in (
        info)


def test_train_without_pytorch_says_how_to_train_faster(workdir, run_here, monkeypatch):
    from fer_classifier import _torch_engine

    monkeypatch.setattr(_torch_engine, "torch_available", lambda: False)
    out = workdir / "no_torch.zip"
    result = run_here("train", "--data", workdir / "faces.csv", "-o", out, "--epochs", 1,
                      "--max-samples", 35, "--architecture", "vgg_small", "--quiet")
    assert result.returncode == 0, result.stderr
    assert "with the keras engine" in result.stdout
    assert 'pip install "fer-classifier[torch]"' in result.stdout
    assert EmotionCNNClassifier.load(out).engine == "auto"


def test_train_mixing_flags_reach_the_estimator(workdir, run_here):
    pytest.importorskip("torch")
    out = workdir / "mixed.zip"
    result = run_here("train", "--data", workdir / "faces.csv", "-o", out, "--epochs", 1,
                      "--max-samples", 35, "--architecture", "vgg_small", "--engine", "torch",
                      "--mixup-alpha", 0.3, "--cutmix-alpha", 1, "--sam-rho", 0.05, "--quiet")
    assert result.returncode == 0, result.stderr
    params = EmotionCNNClassifier.load(out).get_params()
    assert (params["mixup_alpha"], params["cutmix_alpha"], params["sam_rho"]) == (0.3, 1.0, 0.05)


def test_train_mixing_with_the_keras_engine_is_refused_before_writing(workdir, run_here):
    out = workdir / "refused.zip"
    result = run_here("train", "--data", workdir / "faces.csv", "-o", out, "--epochs", 1,
                      "--max-samples", 35, "--engine", "keras", "--mixup-alpha", 0.3)
    assert_one_line_error(result, "--mixup-alpha and --cutmix-alpha need the PyTorch engine")
    assert not out.exists()
    result = run_here("train", "--data", workdir / "faces.csv", "-o", out, "--epochs", 1,
                      "--max-samples", 35, "--engine", "keras", "--sam-rho", 0.05)
    assert_one_line_error(result, "--sam-rho needs the PyTorch engine")
    assert not out.exists()
    result = run_here("train", "--data", workdir / "faces.csv", "-o", out,
                      "--cutmix-alpha", -1)
    assert result.returncode == 2 and "--cutmix-alpha: must be 0 or more, got -1" in result.stderr


def test_train_mixing_without_pytorch_is_refused_before_reading_data(workdir, run_here,
                                                                     monkeypatch):
    from fer_classifier import _torch_engine

    monkeypatch.setattr(_torch_engine, "torch_available", lambda: False)
    not_a_csv = workdir / "not_a_csv.csv"
    not_a_csv.write_text("this is not FER2013\n")
    out = workdir / "refused.zip"
    result = run_here("train", "--data", not_a_csv, "-o", out, "--cutmix-alpha", 1)
    assert_one_line_error(result, "PyTorch installed: False")
    assert 'pip install "fer-classifier[torch]"' in result.stderr
    assert not out.exists()


def test_train_flags_reach_the_estimator_and_max_samples_subsamples(workdir):
    out = workdir / "flags.zip"
    result = run(
        "train", "--data", workdir / "faces.csv", "-o", out, "--epochs", 1,
        "--max-samples", 35, "--architecture", "vgg_small", "--engine", "keras",
        "--batch-size", 8, "--learning-rate", 0.01, "--optimizer", "adamw",
        "--weight-decay", 0.02, "--label-smoothing", 0.1, "--lr-schedule", "cosine",
        "--augmentation", "flip", "--conv-dropout", 0.2, "--dense-dropout", 0.3,
        "--class-weight", "balanced", "--validation-fraction", 0, "--random-state", 7,
        "--tta",
    )
    assert result.returncode == 0, result.stderr
    assert "Training on 35 faces" in result.stdout and "a stratified sample of 35" in result.stdout
    assert "Trained 1 epoch with the keras engine" in result.stdout
    assert "Tip:" not in result.stdout  # the user chose the Keras engine
    clf = EmotionCNNClassifier.load(out)
    expected = dict(
        architecture="vgg_small", engine="keras", batch_size=8, learning_rate=0.01,
        optimizer="adamw", weight_decay=0.02, label_smoothing=0.1, lr_schedule="cosine",
        augmentation="flip", conv_dropout=0.2, dense_dropout=0.3, class_weight="balanced",
        validation_fraction=0.0, random_state=7, tta=True, epochs=1,
    )
    assert {k: clf.get_params()[k] for k in expected} == expected
    assert clf.metadata_["training_data"]["n_samples"] == 35
    # stratified: all 7 classes of the file (20 faces each) are in the 35
    assert clf.classes_.tolist() == list(range(7))


@pytest.mark.parametrize("argv, tta", [([], False), (["--tta"], True), (["--tta", "flip"], "flip"),
                                       (["--tta", "crops"], "crops")])
def test_train_tta_takes_an_optional_mode(argv, tta):
    from fer_classifier.cli import build_parser

    assert build_parser().parse_args(["train", "--data", "f.csv", "-o", "m.zip", *argv]).tta == tta


def test_train_refuses_an_unknown_tta_mode(capsys):
    from fer_classifier.cli import build_parser

    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["train", "--data", "f.csv", "-o", "m.zip", "--tta", "ten"])
    assert exit_.value.code == 2
    assert "argument --tta: invalid choice: 'ten'" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["evaluate", "predict", "demo"])
@pytest.mark.parametrize("argv, tta", [([], None), (["--tta"], "flip"),
                                       (["--tta", "crops"], "crops"), (["--tta", "none"], "none")])
def test_tta_option_of_the_commands_that_predict(command, argv, tta):
    from fer_classifier.cli import build_parser

    first = {"evaluate": ["m.zip"], "predict": ["x.png"], "demo": []}[command]
    assert build_parser().parse_args([command, *first, *argv]).tta == tta


@pytest.mark.parametrize("argv, expected", [
    (["predict", "--tta", "x.png"], ["predict", "--tta=flip", "x.png"]),
    (["predict", "--tta", "crops", "x.png"], ["predict", "--tta", "crops", "x.png"]),
    (["predict", "--tta", "-o", "p.csv", "x.png"], ["predict", "--tta", "-o", "p.csv", "x.png"]),
    (["predict", "x.png", "--tta"], ["predict", "x.png", "--tta"]),
    (["evaluate", "m.zip", "--tta", "none"], ["evaluate", "m.zip", "--tta", "none"]),
    (["evaluate", "m.zip", "--tta", "ten"], ["evaluate", "m.zip", "--tta", "ten"]),
    (["predict", "--tta", "../faces/x"], ["predict", "--tta=flip", "../faces/x"]),
    (["evaluate", "--tta", "ensemble", "--data", "f.csv"],
     ["evaluate", "--tta=flip", "ensemble", "--data", "f.csv"]),
])
def test_a_bare_tta_before_a_file_name_means_flip(argv, expected):
    from fer_classifier.cli import _bare_tta_before_positional, build_parser

    assert _bare_tta_before_positional(argv) == expected
    if argv[0] == "predict":
        args = build_parser().parse_args(_bare_tta_before_positional(argv))
        assert args.inputs == [t for t in argv if t.endswith(("x.png", "/x"))]
        assert args.tta in ("flip", "crops")


def test_tta_option_replaces_the_models_own(trained, workdir, run_here, tmp_path):
    model, _ = trained
    flipped = tmp_path / "flipped.zip"
    EmotionCNNClassifier.load(model).set_params(tta=True).save(flipped)
    faces = make_synthetic_faces(140, random_state=0)
    proba = {}
    for tta in (False, True, "crops"):
        proba[tta] = EmotionCNNClassifier.load(model).set_params(tta=tta).predict_proba(
            faces.images)
    assert np.abs(proba[False] - proba["crops"]).max() > 1e-3
    from io import StringIO

    for argv, expected in [([], True), (["--tta", "none"], False), (["--tta", "crops"], "crops")]:
        result = run_here("predict", workdir / "faces.csv", "-m", flipped, "--format",
                          "csv", *argv)
        assert result.returncode == 0, result.stderr
        table = pd.read_csv(StringIO(result.stdout))
        np.testing.assert_allclose(table[list(EMOTIONS)], proba[expected], atol=1e-4)
    # A bare --tta in front of the file name is the mirror, not a bad --tta value.
    result = run_here("predict", "--tta", workdir / "faces.csv", "-m", model, "--format", "csv")
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(StringIO(result.stdout))
    np.testing.assert_allclose(table[list(EMOTIONS)], proba[True], atol=1e-4)

    result = run_here("evaluate", model, "--data", workdir / "faces.csv", "--tta", "crops")
    assert result.returncode == 0, result.stderr
    assert "faces.csv, TTA 'crops'):" in result.stdout
    test = faces.usage == "PublicTest"
    accuracy = np.mean(proba["crops"][test].argmax(axis=1) == faces.target[test])
    assert f"accuracy           {accuracy:.2%}" in result.stdout
    bad = run_here("evaluate", model, "--data", workdir / "faces.csv", "--tta", "ten")
    assert_one_line_error(bad, "argument --tta: invalid choice: 'ten'")


def test_demo_quotes_the_figure_of_its_tta_mode(run_here):
    meta = EmotionCNNClassifier.pretrained().metadata_
    flip = run_here("demo", "--tta")
    assert f"{meta['publictest_accuracy_tta']:.1%} accurate" in flip.stdout
    crops = run_here("demo", "--tta", "crops")  # no figure on record for ten views
    assert crops.returncode == 0 and "accurate on FER2013" not in crops.stdout
    faces = load_sample_faces()
    proba = EmotionCNNClassifier.pretrained(tta="crops").predict_proba(faces.images)
    rows = {line.split()[0]: line.split() for line in crops.stdout.splitlines() if line}
    for name, p in zip(faces.names, proba):
        assert rows[name][1] == EMOTIONS[p.argmax()]
        assert float(rows[name][2]) == pytest.approx(p.max(), abs=0.006)


def test_info(trained):
    model, _ = trained
    result = run("info", model)
    assert result.returncode == 0, result.stderr
    assert "seed (1,049,159 parameters, input (48, 48, 1))" in result.stdout
    assert "Angry, Disgust, Fear, Happy, Sad, Surprise, Neutral" in result.stdout
    assert "faces.csv (subset Training, 112 faces; validation: PublicTest)" in result.stdout
    assert "written by:        fer-classifier 0.1.0" in result.stdout
    raw = json.loads(run("info", model, "--json").stdout)
    assert raw["n_iter"] == 2 and raw["params"]["batch_size"] == 16


def test_info_describes_a_bundled_model_by_name(tmp_path):
    from importlib import resources

    from fer_classifier.estimator import read_model_info

    folder = resources.files("fer_classifier") / "pretrained"
    by_name = run("info", "fer2013", cwd=tmp_path)
    by_file = run("info", str(folder / "fer2013.zip"))
    assert by_name.returncode == 0, by_name.stderr
    assert by_name.stderr == ""
    assert "file:" in by_name.stdout and "pretrained('fer2013')" in by_name.stdout
    # the same description as the file's, apart from the line naming the source
    assert by_name.stdout.splitlines()[1:] == by_file.stdout.splitlines()[1:]
    # it loads with tta off though its recipe and *_tta figures have it on: said once
    assert "tta=False" in by_name.stdout and '"tta": true' in by_name.stdout
    assert by_name.stdout.count("off as loaded (tta=False)") == 1

    ensemble = run("info", "ensemble", "--json", cwd=tmp_path)
    assert ensemble.returncode == 0, ensemble.stderr
    raw = json.loads(ensemble.stdout)
    spec = json.loads((folder / "ensemble.json").read_text())
    members = [read_model_info(folder / f"{m}.zip") for m in spec["members"]]
    assert raw["n_parameters"] == sum(m["n_parameters"] for m in members)
    assert raw["params"]["architecture"] == " + ".join(
        m["params"]["architecture"] for m in members)
    assert raw["metadata"]["publictest_accuracy"] == spec["metadata"]["publictest_accuracy"]
    text = run("info", "ensemble", cwd=tmp_path).stdout
    assert "trained epochs" not in text  # an ensemble was not trained as one network
    assert "member_models:" in text


def test_a_closed_stdout_ends_the_command_quietly():
    # As `fer-classifier info fer2013 | head -0`: the reader is gone before the
    # first line is written.
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    proc = subprocess.Popen([SCRIPT, "info", "fer2013"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    proc.stdout.close()
    stderr = proc.stderr.read()
    assert proc.wait(timeout=120) == 1
    assert stderr == ""


def test_info_lines_up_every_value_after_its_longest_key():
    from importlib import resources

    bundled = resources.files("fer_classifier") / "pretrained" / "fer2013.zip"
    result = run("info", str(bundled))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    # The bundled metadata has keys longer than the 19-character column.
    assert "publictest_balanced_accuracy:" in result.stdout
    columns = set()
    for line in lines:
        key, _, value = line.partition(":")
        assert value.startswith(" ") and not value.strip().startswith(":"), line
        columns.add(len(line) - len(line[len(key) + 1:].lstrip(" ")))
    assert len(columns) == 1, columns


def test_evaluate_writes_a_report(trained, workdir):
    model, _ = trained
    report = workdir / "report"
    result = run("evaluate", model, "--data", workdir / "faces.csv", "--report-dir", report)
    assert result.returncode == 0, result.stderr
    saved = json.loads((report / "report.json").read_text())
    assert saved["n_samples"] == 28
    assert f"accuracy           {saved['accuracy']:.2%}" in result.stdout
    assert "recall per class:" in result.stdout
    names = {p.name for p in report.iterdir()}
    assert {"report.json", "report.md", "confusion_matrix.png", "per_class_recall.png",
            "training_curves.png"} <= names
    # the same figures as the Python API on the same data
    clf = EmotionCNNClassifier.load(model)
    faces = make_synthetic_faces(140, random_state=0)
    test = faces.usage == "PublicTest"
    assert saved["accuracy"] == pytest.approx(clf.score(faces.images[test], faces.target[test]))


def test_predict_csv_and_json(trained, workdir, run_here):
    model, _ = trained
    result = run_here("predict", workdir / "faces.csv", "--model", model, "--format", "csv")
    assert result.returncode == 0, result.stderr
    from io import StringIO

    table = pd.read_csv(StringIO(result.stdout))
    assert list(table.columns) == ["input", "face", "x", "y", "width", "height", "emotion",
                                   "probability", *EMOTIONS]
    assert table["face"].tolist() == list(range(140))
    assert table["x"].isna().all()  # CSV rows are faces already: no boxes
    assert len(table) == 140
    np.testing.assert_allclose(table[list(EMOTIONS)].sum(axis=1), 1.0, atol=1e-4)
    clf = EmotionCNNClassifier.load(model)
    faces = make_synthetic_faces(140, random_state=0)
    expected = [EMOTIONS[k] for k in clf.predict(faces.images)]
    assert table["emotion"].tolist() == expected

    out = workdir / "pred.json"
    result = run_here("predict", workdir / "faces.csv", "-m", model, "-o", out)
    assert result.returncode == 0 and "Wrote 140 predictions" in result.stdout
    records = json.loads(out.read_text())
    assert records[0]["emotion"] == expected[0]
    assert set(records[0]["probabilities"]) == set(EMOTIONS)


def test_export_to_onnx_and_predict_with_it(trained, workdir, run_here):
    pytest.importorskip("onnxruntime")
    model, _ = trained
    onnx_file = workdir / "model.onnx"
    result = run("export", "--model", model, "-o", onnx_file)
    assert result.returncode == 0, result.stderr
    assert f"Wrote {onnx_file} (" in result.stdout
    assert "differ from the Keras model's by" in result.stdout and not result.stderr
    # The script itself ran above; the rest runs main() in this process.
    keras_rows = run_here("predict", workdir / "faces.csv", "-m", model, "--format", "csv")
    onnx_rows = run_here("predict", workdir / "faces.csv", "-m", onnx_file, "--format", "csv")
    assert onnx_rows.returncode == 0, onnx_rows.stderr
    from io import StringIO

    a, b = (pd.read_csv(StringIO(r.stdout)) for r in (keras_rows, onnx_rows))
    if cpu_has_bf16():  # Keras predicts in bfloat16 here (predict_precision="auto"), ONNX not
        assert (a["emotion"] == b["emotion"]).mean() >= 0.97
        np.testing.assert_allclose(a[list(EMOTIONS)], b[list(EMOTIONS)], atol=0.03)
    else:
        assert a["emotion"].tolist() == b["emotion"].tolist()
        np.testing.assert_allclose(a[list(EMOTIONS)], b[list(EMOTIONS)], atol=1e-4)
    info = run_here("info", onnx_file)
    assert info.returncode == 0 and f"file:              {onnx_file} (ONNX)" in info.stdout
    assert "seed (1,049,159 parameters" in info.stdout


def test_predict_face_crops_with_the_pretrained_model(workdir):
    from PIL import Image

    faces = load_sample_faces(size=96)
    paths = []
    for name, image in zip(faces.names, faces.images):
        paths.append(workdir / f"{name}.jpg")
        Image.fromarray(image).convert("RGB").save(paths[-1], quality=95)
    result = run("predict", *paths, "--crops", "--format", "json")
    assert result.returncode == 0, result.stderr
    records = json.loads(result.stdout)
    assert all(r["box"] is None and r["face"] == 0 for r in records)
    assert [r["input"] for r in records] == [str(p) for p in paths]
    clf = EmotionCNNClassifier.pretrained()
    proba = clf.predict_proba(np.stack([read_face_image(p) for p in paths]))
    for record, row in zip(records, proba):
        assert record["emotion"] == EMOTIONS[int(np.argmax(row))]
        got = [record["probabilities"][name] for name in EMOTIONS]
        np.testing.assert_allclose(got, row, atol=1e-5)


@pytest.fixture(scope="module")
def photos(workdir):
    """A real portrait (NASA, public domain), a two-person picture, a cat, a broken file."""
    skdata = pytest.importorskip("skimage.data")
    pytest.importorskip("cv2")
    from PIL import Image

    folder = workdir / "photos"
    folder.mkdir()
    astronaut = skdata.astronaut()
    Image.fromarray(astronaut).save(folder / "astronaut.jpg", quality=92)
    Image.fromarray(np.concatenate([astronaut, astronaut[:, ::-1]], axis=1)).save(
        folder / "pair.png")
    Image.fromarray(skdata.chelsea()).save(folder / "cat.png")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG")
    return folder


def test_predict_finds_the_faces_in_photos_and_draws_them(photos, tmp_path, run_here):
    from PIL import Image

    from fer_classifier import detect_emotions

    pair, cat = photos / "pair.png", photos / "cat.png"
    out = tmp_path / "pair_annotated.png"
    result = run_here("predict", pair, "--format", "json", "--annotate", out)
    assert result.returncode == 0, result.stderr
    records = json.loads(result.stdout)
    assert result.stderr == f"Drew the faces on {out}\n"  # stdout stays JSON
    expected = detect_emotions(str(pair))
    assert [r["input"] for r in records] == [str(pair)] * 2
    assert [r["box"] for r in records] == [list(f.box) for f in expected]
    assert [r["emotion"] for r in records] == [f.emotion for f in expected]
    image = np.asarray(Image.open(out))
    original = np.asarray(Image.open(pair))
    assert image.shape == original.shape
    changed = (image != original).any(axis=-1)
    x, y, w, h = expected[0].box
    assert changed[y:y + h, x].all()            # the box's left edge is drawn
    assert not changed[300:, 300:700].any()     # below the faces nothing is

    folder = tmp_path / "drawn"
    text = run_here("predict", pair, cat, "--annotate", folder)  # text on stdout
    assert text.returncode == 0, text.stderr
    assert "no face found" not in text.stderr  # said once, in the text on stdout
    lines = text.stdout.splitlines()
    assert lines[0] == f"{pair}: 2 faces" and lines[3] == f"{cat}: no face found"
    assert lines[1].startswith(f"  face 1 at x={x} y={y} {w}x{h}: {expected[0].emotion} ")
    assert lines[-1].startswith("Drew the faces on ") and text.stderr == ""
    assert sorted(p.name for p in folder.iterdir()) == ["cat_emotions.png", "pair_emotions.png"]


def test_predict_reports_each_bad_input_and_goes_on(photos, run_here):
    good, broken = photos / "astronaut.jpg", photos / "broken.jpg"
    cat = photos / "cat.png"  # readable, but no face: no rows, not an error
    result = run_here("predict", broken, cat, good, photos / "missing.jpg", "--format", "csv")
    assert result.returncode == 1
    errors = [e for e in result.stderr.strip().splitlines() if "no face found" not in e]
    assert len(errors) == 2 and "Traceback" not in result.stderr
    assert f"{broken}: not a readable image" in errors[0]
    assert "no such file" in errors[1] and "missing.jpg" in errors[1]
    from io import StringIO

    table = pd.read_csv(StringIO(result.stdout))
    assert table["input"].tolist() == [str(good)] and table["emotion"][0] == "Happy"
    assert result.stdout.splitlines()[1].startswith(f"{good},0,")  # face numbers stay integers


def test_demo_classifies_the_bundled_faces():
    result = run("demo")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    clf = EmotionCNNClassifier.pretrained()
    faces = load_sample_faces()
    predicted = [EMOTIONS[c] for c in clf.predict(faces.images)]
    lines = {line.split()[0]: line.split() for line in result.stdout.splitlines() if line}
    for name, emotion in zip(faces.names, predicted):
        assert lines[name][1] == emotion
    figure = clf.metadata_["publictest_accuracy"]  # pretrained(): tta off
    assert f"{figure:.1%} accurate on FER2013 PublicTest" in result.stdout


def test_checkpoint_and_resume(workdir, run_here):
    ckpt, out = workdir / "run.ckpt", workdir / "resumed.zip"
    common = ["train", "--data", workdir / "faces.csv", "-o", out, "--batch-size", 32,
              "--checkpoint", ckpt]
    first = run_here(*common, "--epochs", 1)
    assert first.returncode == 0, first.stderr
    assert ckpt.exists()
    second = run_here(*common, "--epochs", 2)
    assert second.returncode == 0, second.stderr
    assert f"Resuming from {ckpt} after epoch 1." in second.stdout
    assert "Epoch 2/2" in second.stdout and "Epoch 1/2" not in second.stdout
    assert f"Trained 1 epoch (epochs 2-2, resumed from {ckpt})" in second.stdout
    resumed = EmotionCNNClassifier.load(out)
    assert resumed.n_iter_ == 2 and resumed.metadata_["resumed_after_epoch"] == 1
    # Again with the finished checkpoint: nothing trains, and the summary says so.
    third = run_here(*common, "--epochs", 2)
    assert third.returncode == 0, third.stderr
    assert f"Nothing left to train: {ckpt} holds the finished run (2 epochs)" in third.stdout
    assert "Trained" not in third.stdout


def test_failed_training_leaves_the_previous_model_untouched(trained, workdir, run_here):
    model, _ = trained
    before = model.read_bytes()
    bad = workdir / "bad.csv"
    lines = (workdir / "faces.csv").read_text().splitlines()
    lines[2] = lines[2].replace(" ", " x ", 1)  # data row 1, a Training row
    bad.write_text("\n".join(lines) + "\n")
    result = run_here("train", "--data", bad, "-o", model, "--epochs", 1)
    assert_one_line_error(result, "line 3: non-numeric pixel value 'x'")
    assert model.read_bytes() == before
    assert not any(p.name.endswith(".part") for p in workdir.iterdir())


@pytest.mark.parametrize(
    "args, text",
    [
        (["evaluate", "missing.zip"], "no such file: missing.zip"),
        (["info", "faces.csv"], "is not a fer-classifier model file"),
        (["train", "--data", "nowhere.csv", "-o", "m.zip"], "FER2013 data not found at nowhere.csv"),
        (["train", "--data", "faces.csv", "-o", "m.zip", "--architecture", "nope"],
         "Unknown architecture 'nope'"),
        (["train", "--data", "faces.csv", "-o", "m.zip", "--epochs", "0"],
         "argument --epochs: must be a positive integer"),
        (["train", "--data", "faces.csv"], "the following arguments are required: -o/--output"),
        (["train", "--data", "faces.csv", "-o", "no/such/dir/m.zip"], "output folder does not exist"),
        (["predict", "faces.csv", "--format", "xml"], "invalid choice: 'xml'"),
        (["predict", "missing.png"], "no such file: missing.png"),
        (["predict", "faces.csv", "--crops", "--annotate", "a.png"], "--crops takes images"),
        (["predict", "faces.csv", "--annotate", "a.png"], "--annotate needs photographs"),
        (["predict", "a.jpg", "b.jpg", "--annotate", "out.png"], "give a folder"),
        (["predict", "a.jpg", "--annotate", "out.xyz"], "unknown image format"),
        (["predict", "a.jpg", "--annotate", "no/such/out.png"], "output folder does not exist"),
        (["predict", "faces.csv", "--margin", "-1"], "argument --margin: must be a number >= 0"),
        (["predict", "faces.csv", "--model", "missing.zip"], "no such file: missing.zip"),
        (["predict", "."], ". is a folder; give the files in it (e.g. *.jpg)"),
        (["predict", "faces.csv", "-o", "no/such/p.json"], "output folder does not exist: no/such"),
        (["train", "--data", "faces.csv", "-o", "m.zip", "--epochs", "x"],
         "argument --epochs: must be an integer, got 'x'"),
        (["train", "--data", "empty.csv", "-o", "m.zip"], "empty.csv: the file is empty"),
        (["predict", "header_only.csv"], "header_only.csv: no faces, only the header line"),
        (["predict", "model.zip"], "model.zip: not a readable image"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["export", "-o", "model.zip"], "the output must end in .onnx, got model.zip"),
        (["export", "-o", "no/such/m.onnx"], "folder no/such does not exist"),
        (["predict", "faces.csv", "-m", "faces.onnx"], "no such file: faces.onnx"),
        (["demo", "-m", "fer2013-smal"], "no such file: fer2013-smal (--model takes a model "
         "file or a bundled model: fer2013, fer2013-small, fer2013-large, fer2013-wide, "
         "ensemble)"),
    ],
)
def test_errors_are_one_line_with_status_2(args, text, workdir, trained, run_here):
    (workdir / "empty.csv").write_text("")
    (workdir / "header_only.csv").write_text("emotion,pixels,Usage\n")
    result = run_here(*args, cwd=workdir)
    assert_one_line_error(result, text)
    assert not list(workdir.rglob("*.part"))


def test_a_message_with_a_list_reads_as_one_line():
    from fer_classifier.cli import _one_line

    message = "Not found: x.csv. Looked in:\n  /a/x.csv\n  /b/x.csv\nPass a path.\nor a folder"
    assert _one_line(OSError(message)) == (
        "Not found: x.csv. Looked in: /a/x.csv, /b/x.csv. Pass a path.; or a folder")
    assert _one_line(ValueError("First line\nSecond sentence")) == (
        "First line. Second sentence")
    assert _one_line(ValueError("")) == "ValueError"


@pytest.mark.parametrize(
    "args, text",
    [
        (["train", "--data", "faces.csv", "-o", "m.zip", "--epochs", "0"],
         "argument --epochs: must be a positive integer"),  # argparse's own error
        (["predict", "faces.csv", "--model", "missing.zip"], "no such file: missing.zip"),
    ],
)
def test_the_script_reports_errors_on_one_line(args, text, workdir):
    # As a user sees them: a new process, TensorFlow's start-up lines included.
    assert_one_line_error(run(*args, cwd=workdir), text)


@pytest.mark.parametrize(
    "command, options",
    [
        ("train", ["--data", "--subset", "--output", "--architecture", "--epochs", "--batch-size",
                   "--learning-rate", "--optimizer", "--conv-dropout", "--dense-dropout",
                   "--label-smoothing", "--class-weight", "--validation-fraction",
                   "--validation-subset", "--early-stopping", "--patience", "--random-state",
                   "--checkpoint", "--quiet", "--augmentation", "--lr-schedule",
                   "--weight-decay", "--tta", "--mixup-alpha", "--cutmix-alpha",
                   "--sam-rho"]),
        ("evaluate", ["--data", "--subset", "--report-dir", "--no-plots", "--tta"]),
        ("predict", ["--model", "--output", "--format", "--annotate", "--crops", "--detector",
                     "--margin", "--min-face-size", "--equalize", "--tta"]),
        ("demo", ["--model", "--tta"]),
        ("info", ["--json"]),
        ("export", ["--model", "--output"]),
    ],
)
def test_help_documents_every_option(command, options, run_here):
    result = run_here(command, "--help")
    assert result.returncode == 0
    for option in options:
        assert option in result.stdout


def test_version_and_python_m():
    from fer_classifier import __version__

    result = run("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"fer-classifier {__version__}"
    module = subprocess.run([sys.executable, "-m", "fer_classifier", "--version"],
                            capture_output=True, text=True, timeout=120)
    assert module.returncode == 0 and __version__ in module.stdout


def test_ctrl_c_exits_130_and_leaves_the_previous_model(trained, workdir):
    import signal
    import time

    model, _ = trained
    before = model.read_bytes()
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    proc = subprocess.Popen(
        [SCRIPT, "train", "--data", str(workdir / "faces.csv"), "-o", str(model),
         "--epochs", "500", "--batch-size", "8"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        # A shell without job control starts background jobs (`cmd &`, nohup) with
        # SIGINT ignored, children inherit that, and Python then never raises
        # KeyboardInterrupt: give the command the Ctrl-C handling a terminal gives it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    for line in proc.stdout:  # wait until training has begun
        if line.startswith("Training on"):
            break
    time.sleep(2)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert stderr.strip().splitlines()[-1] == (
        "fer-classifier: interrupted; no output was written")
    assert "Traceback" not in stderr
    assert model.read_bytes() == before
    assert not any(p.name.endswith(".part") for p in workdir.iterdir())


def test_a_ctrl_c_swallowed_by_a_gc_callback_is_delivered_again():
    """Python drops a KeyboardInterrupt raised in a gc callback (JAX has one)."""
    import gc
    import signal
    import time

    from fer_classifier.cli import _interrupts_not_lost

    swallowed = []

    def callback(phase, info):
        if phase == "start" and not swallowed:
            swallowed.append(phase)
            raise KeyboardInterrupt  # as if Ctrl-C came during the callback

    # Background jobs (CI under nohup) start with SIGINT ignored.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    gc.callbacks.append(callback)
    try:
        start = time.perf_counter()
        with pytest.raises(KeyboardInterrupt):
            with _interrupts_not_lost():
                gc.collect()
                time.sleep(10)  # interrupted by the SIGINT sent again
        assert swallowed and time.perf_counter() - start < 5
    finally:
        gc.callbacks.remove(callback)
        signal.signal(signal.SIGINT, previous)


def test_a_save_that_fails_midway_keeps_the_previous_model(trained, workdir, monkeypatch,
                                                           capsys):
    import zipfile

    from fer_classifier import cli

    model, _ = trained
    before = model.read_bytes()
    real_writestr = zipfile.ZipFile.writestr
    written = []

    def writestr_then_fail(self, name, data, *args, **kwargs):
        real_writestr(self, name, data, *args, **kwargs)
        written.append(name)
        if name == "model.keras":  # the new archive is half written
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(zipfile.ZipFile, "writestr", writestr_then_fail)
    status = cli.main(["train", "--data", str(workdir / "faces.csv"), "-o", str(model),
                       "--epochs", "1", "--batch-size", "32", "--quiet"])
    assert status == 2
    assert "model.keras" in written  # it failed inside the write, not before it
    assert "No space left on device" in capsys.readouterr().err
    assert model.read_bytes() == before
    assert not any(p.name.endswith(".part") for p in workdir.iterdir())


def test_evaluate_no_plots_and_without_matplotlib(trained, workdir, monkeypatch, capsys):
    from fer_classifier import cli

    model, _ = trained
    args = ["evaluate", str(model), "--data", str(workdir / "faces.csv")]
    bare = workdir / "bare"
    assert cli.main([*args, "--report-dir", str(bare), "--no-plots"]) == 0
    assert sorted(p.name for p in bare.iterdir()) == ["report.json", "report.md"]
    assert "Wrote report.json, report.md to" in capsys.readouterr().out

    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if it were not installed
    fallback = workdir / "fallback"
    assert cli.main([*args, "--report-dir", str(fallback)]) == 0
    captured = capsys.readouterr()
    assert sorted(p.name for p in fallback.iterdir()) == ["report.json", "report.md"]
    assert "fer-classifier: warning:" in captured.err and "plots skipped" in captured.err
    assert "fer-classifier[plot]" in captured.err


def test_demo_uses_the_model_it_is_given(trained, run_here):
    model, _ = trained
    result = run_here("demo", "--model", model)
    assert result.returncode == 0, result.stderr
    assert f"by {model} (seed network" in result.stdout
    clf = EmotionCNNClassifier.load(model)
    faces = load_sample_faces()
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines() if line}
    proba = clf.predict_proba(faces.images)
    for name, p in zip(faces.names, proba):
        assert rows[name][1] == EMOTIONS[clf.classes_[p.argmax()]]
        assert float(rows[name][2]) == pytest.approx(p.max(), abs=0.006)


def test_model_options_take_a_bundled_models_name(run_here, tmp_path):
    from fer_classifier.estimator import _PRETRAINED

    result = run_here("demo", "--model", "fer2013-small", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    small = EmotionCNNClassifier.pretrained("fer2013-small")
    assert f"{small.metadata_['publictest_accuracy']:.1%} accurate" in result.stdout
    faces = load_sample_faces()
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines() if line}
    for name, p in zip(faces.names, small.predict_proba(faces.images)):
        assert float(rows[name][2]) == pytest.approx(p.max(), abs=0.006)
    assert "(vgg_small network, " in result.stdout
    ensemble = run_here("demo", "--model", "ensemble", cwd=tmp_path)
    assert "by ensemble (an ensemble of 4 networks, " in ensemble.stdout
    # a file of that name wins over the bundled model
    EmotionCNNClassifier.pretrained("fer2013").save(tmp_path / "fer2013-small")
    again = run_here("demo", "--model", "fer2013-small", cwd=tmp_path)
    assert f"{small.metadata_['publictest_accuracy']:.1%} accurate" not in again.stdout
    # every command that takes a model lists the bundled names
    for command in ("predict", "demo", "export", "evaluate"):
        text = run_here(command, "--help").stdout
        assert all(name in text for name in _PRETRAINED), command


def test_predict_face_options_reach_the_cropper(photos, tmp_path, run_here):
    from fer_classifier import FaceCropper, detect_emotions

    astronaut = str(photos / "astronaut.jpg")
    out = tmp_path / "x.csv"
    result = run_here("predict", astronaut, "--margin", 0.5, "--min-face-size", 60,
                      "--equalize", "-o", out)
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(out)
    cropper = FaceCropper(margin=0.5, min_size=60, equalize=True, multiple="all",
                          no_face="skip")
    expected = detect_emotions(astronaut, cropper=cropper)
    default = detect_emotions(astronaut)
    assert len(table) == len(expected) == 1
    assert list(table.loc[0, ["x", "y", "width", "height"]]) == list(expected[0].box)
    got = table.loc[0, EMOTIONS].to_numpy(float)
    want = np.array([expected[0].probabilities[e] for e in EMOTIONS])
    np.testing.assert_allclose(got, want, atol=1e-4)
    # another crop of the same box than the default options give
    assert expected[0].box == default[0].box
    plain = np.array([default[0].probabilities[e] for e in EMOTIONS])
    assert np.abs(got - plain).max() > 0.01

    too_big = run_here("predict", astronaut, "--min-face-size", 400)
    assert too_big.returncode == 0 and f"{astronaut}: no face found" in too_big.stdout
    assert "no face found" not in too_big.stderr
    as_csv = run_here("predict", astronaut, "--min-face-size", 400, "--format", "csv")
    assert f"{astronaut}: no face found" in as_csv.stderr  # the CSV has no row to say it


def test_predict_with_the_mtcnn_detector(photos, run_here):
    pytest.importorskip("mtcnn")
    from fer_classifier import FaceCropper, detect_emotions

    astronaut = str(photos / "astronaut.jpg")
    result = run_here("predict", astronaut, "--detector", "mtcnn", "--format", "json")
    assert result.returncode == 0, result.stderr
    records = json.loads(result.stdout)
    expected = detect_emotions(astronaut, cropper=FaceCropper("mtcnn", multiple="all",
                                                              no_face="skip"))
    haar = detect_emotions(astronaut)
    assert [r["box"] for r in records] == [list(f.box) for f in expected]
    assert records[0]["box"] != list(haar[0].box)  # another detector, another box


def test_the_sample_output_in_the_docs_is_what_predict_prints(photos):
    """docs/cli.rst shows 'group.jpg' = scikit-image's astronaut beside its mirror image."""
    docs = Path(__file__).resolve().parents[1] / "docs" / "cli.rst"
    if not docs.is_file():
        pytest.skip("run from a source checkout")
    text = docs.read_text()
    start = text.index("   group.jpg: 2 faces\n")
    shown = text[start:text.index("   cat.png: no face found\n", start)].splitlines()
    result = run("predict", "pair.png", "cat.png", cwd=photos)
    assert result.returncode == 0, result.stderr
    printed = result.stdout.replace("pair.png", "group.jpg").splitlines()

    def parts(line):
        # the words as printed, and each percentage: one at a rounding edge
        # (1.508% here) may print 1 off on a CPU that multiplies otherwise
        return re.sub(r"\d+%", "%", line), [int(p) for p in re.findall(r"(\d+)%", line)]

    for doc_line, line in zip(shown, printed[:3], strict=True):
        (doc_words, doc_numbers), (words, numbers) = parts(doc_line[3:]), parts(line)
        assert doc_words == words, "\n".join(printed)
        assert np.abs(np.subtract(doc_numbers, numbers)).max(initial=0) <= 1, "\n".join(printed)
    assert printed[3] == "cat.png: no face found"
