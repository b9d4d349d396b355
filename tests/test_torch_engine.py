"""The PyTorch training engine: graph translation, training, checkpoints."""

import copy
import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from fer_classifier import EmotionCNNClassifier, make_synthetic_faces  # noqa: E402
from fer_classifier import _torch_engine as engine  # noqa: E402
from fer_classifier.architectures import resnet_cnn, seed_cnn, vgg_cnn  # noqa: E402

from conftest import make_faces, tiny_cnn  # noqa: E402


def _mixed_net(input_shape, num_classes, *, conv_dropout=0.1, dense_dropout=0.1):
    """Every translated layer kind: residual add, concat, strided 'same' conv, flatten."""
    import keras
    from keras import layers

    inputs = keras.Input(shape=input_shape, name="image")
    x = layers.Rescaling(2.0, offset=-1.0, name="rescale")(inputs)
    x = layers.Conv2D(6, 3, strides=2, padding="same", activation="relu", name="c1")(x)
    y = layers.Conv2D(6, 3, padding="same", use_bias=False, name="c2")(x)
    y = layers.BatchNormalization(name="bn", momentum=0.5)(y)
    x = layers.Add(name="add")([x, layers.Activation("tanh", name="tanh")(y)])
    z = layers.Conv2D(3, 1, name="c3")(x)
    x = layers.Concatenate(name="cat")([x, z])
    x = layers.SpatialDropout2D(conv_dropout, name="sdrop")(x)
    x = layers.AveragePooling2D(2, name="avg")(x)
    x = layers.MaxPooling2D(2, name="max")(x)
    a = layers.GlobalMaxPooling2D(name="gmax")(x)
    b = layers.Flatten(name="flat")(x)
    x = layers.Concatenate(name="cat2")([a, b])
    x = layers.Dense(8, activation="gelu", name="dense")(x)
    x = layers.BatchNormalization(name="bn1d")(x)
    x = layers.Dropout(dense_dropout, name="drop")(x)
    x = layers.Dense(num_classes, name="logits")(x)
    outputs = layers.Softmax(name="softmax")(x)
    return keras.Model(inputs, outputs, name="mixed")


def _torch_proba(graph, images):
    return torch.softmax(torch.from_numpy(engine.predict_logits(graph, images)), 1).numpy()


def _same_pooling_net(input_shape, num_classes, *, conv_dropout=0.0, dense_dropout=0.0):
    """'same' pooling on odd sizes, where TensorFlow pads unevenly."""
    import keras
    from keras import layers

    inputs = keras.Input(shape=input_shape, name="image")
    x = layers.Conv2D(3, 3, name="c")(inputs)  # 24 -> 22
    x = layers.MaxPooling2D(4, padding="same", name="max")(x)  # 22 -> 6, padded 2
    x = layers.AveragePooling2D(3, strides=2, padding="same", name="avg")(x)  # 6 -> 3
    x = layers.AveragePooling2D(2, padding="same", name="avg2")(x)  # 3 -> 2, padded 1
    x = layers.Flatten(name="flat")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="out")(x)
    return keras.Model(inputs, outputs, name="same_pooling")


@pytest.mark.parametrize(
    "builder", [seed_cnn, vgg_cnn, resnet_cnn, _mixed_net, _same_pooling_net, tiny_cnn]
)
def test_translation_computes_what_keras_computes(builder):
    model = (builder((24, 24, 1), 5) if builder is not tiny_cnn
             else builder((23, 23, 1), 5, conv_dropout=0.0, dense_dropout=0.0))
    graph = engine.to_torch(model)
    images = np.random.default_rng(0).random((6, *model.input_shape[1:]), dtype=np.float32)
    images -= 0.5  # negative values: a zero-padded max pool would differ
    expected = np.asarray(model(images, training=False))
    np.testing.assert_allclose(_torch_proba(graph, images), expected, atol=2e-5)


def test_trained_weights_go_back_into_the_keras_model():
    model = _mixed_net((24, 24, 1), 4)
    graph = engine.to_torch(model)
    images = np.random.default_rng(1).random((5, 24, 24, 1), dtype=np.float32)
    with torch.no_grad():
        for param in graph.parameters():
            param.mul_(1.5).add_(0.01)
        for module in graph.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.add_(0.3)
                module.running_var.mul_(2.0)
    before = np.asarray(model(images, training=False))
    graph.copy_to_keras()
    after = np.asarray(model(images, training=False))
    assert np.abs(after - before).max() > 1e-3  # the weights did change
    np.testing.assert_allclose(after, _torch_proba(graph, images), atol=2e-5)


def test_a_layer_without_translation_is_named():
    import keras
    from keras import layers

    inputs = keras.Input((8, 8, 1))
    x = layers.LayerNormalization(name="my_norm")(inputs)
    outputs = layers.Dense(3, activation="softmax")(layers.Flatten()(x))
    with pytest.raises(engine.UnsupportedModelError, match=r"'my_norm' \(LayerNormalization\)"):
        engine.to_torch(keras.Model(inputs, outputs))


def test_a_model_must_end_in_softmax():
    import keras
    from keras import layers

    inputs = keras.Input((8, 8, 1))
    outputs = layers.Dense(3, activation="sigmoid")(layers.Flatten()(inputs))
    with pytest.raises(engine.UnsupportedModelError, match="softmax"):
        engine.to_torch(keras.Model(inputs, outputs, name="sig"))


def _norm_net(input_shape, num_classes, *, conv_dropout, dense_dropout):
    import keras
    from keras import layers

    inputs = keras.Input(shape=input_shape)
    x = layers.LayerNormalization(name="my_norm")(layers.Flatten()(inputs))
    return keras.Model(inputs, layers.Dense(num_classes, activation="softmax")(x))


def test_engine_auto_falls_back_and_torch_refuses():
    X, y = make_faces(40, size=12)
    auto = EmotionCNNClassifier(_norm_net, epochs=1, validation_fraction=0, random_state=0)
    assert auto.fit(X, y).engine_ == "keras"
    forced = auto.set_params(engine="torch")
    with pytest.raises(ValueError, match="my_norm"):
        forced.fit(X, y)


def test_bfloat16_needs_the_torch_engine():
    X, y = make_faces(30, size=12)
    clf = EmotionCNNClassifier(tiny_cnn, epochs=1, engine="keras", precision="bfloat16")
    with pytest.raises(ValueError, match="precision='bfloat16' needs engine='torch'"):
        clf.fit(X, y)


def test_bfloat16_without_bfloat16_instructions_warns(monkeypatch):
    X, y = make_faces(30, size=12)
    monkeypatch.setattr(engine, "bf16_supported", lambda: False)
    clf = EmotionCNNClassifier(tiny_cnn, epochs=1, engine="torch", precision="bfloat16")
    with pytest.warns(UserWarning, match="CPU without bfloat16 instructions.*precision='auto'"):
        clf.fit(X, y)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 'auto' quietly takes float32 there
        assert not clf.set_params(precision="auto")._use_bf16()


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_torch_engine_learns_and_the_model_is_a_keras_model(tmp_path, precision):
    faces = make_synthetic_faces(420, image_size=24, random_state=0)
    train = faces.usage == "Training"
    clf = EmotionCNNClassifier(
        "vgg_small", epochs=10, batch_size=32, learning_rate=3e-3, engine="torch",
        precision=precision, validation_fraction=0, random_state=0,
    )
    if precision == "bfloat16" and not engine.bf16_supported():
        # Emulated bfloat16 takes minutes here; the warning test above trains in it.
        pytest.skip("this CPU has no bfloat16 instructions")
    clf.fit(faces.images[train], faces.target[train])
    assert clf.engine_ == "torch"
    # 10 epochs: after 6, five seeds scored 0.52-0.91 here, too near the bar
    held_out = clf.score(faces.images[~train], faces.target[~train])
    assert held_out > 0.6, held_out  # 7 balanced classes: chance is 0.14
    proba = clf.predict_proba(faces.images[:5])
    # save -> load (safe_mode) and pickle give the same predictions
    clf.save(tmp_path / "m.zip")
    loaded = EmotionCNNClassifier.load(tmp_path / "m.zip")
    np.testing.assert_allclose(loaded.predict_proba(faces.images[:5]), proba, atol=1e-6)
    np.testing.assert_allclose(
        pickle.loads(pickle.dumps(clf)).predict_proba(faces.images[:5]), proba, atol=1e-6
    )


def test_same_random_state_same_model():
    X, y = make_faces(90, size=24)
    params = dict(architecture="vgg_small", epochs=2, batch_size=16, engine="torch",
                  augmentation="standard", random_state=3)
    a = EmotionCNNClassifier(**params).fit(X, y).predict_proba(X[:8])
    b = EmotionCNNClassifier(**params).fit(X, y).predict_proba(X[:8])
    np.testing.assert_array_equal(a, b)
    c = EmotionCNNClassifier(**{**params, "random_state": 4}).fit(X, y).predict_proba(X[:8])
    assert not np.array_equal(a, c)


def test_fit_leaves_the_global_torch_generator_alone():
    X, y = make_faces(30, size=12)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    EmotionCNNClassifier("vgg_small", epochs=1, engine="torch", random_state=0).fit(X, y)
    np.testing.assert_array_equal(torch.rand(3).numpy(), expected.numpy())


def interrupted_fit(params, X, y, checkpoint, after_epoch, monkeypatch):
    """Fit with ``checkpoint``, stopped as by Ctrl-C once ``after_epoch`` is written."""
    from fer_classifier import _checkpoint

    write = _checkpoint.write_checkpoint

    def write_then_stop(path, model, state, **kw):
        write(path, model, state, **kw)
        if state["epoch"] == after_epoch:
            raise KeyboardInterrupt

    monkeypatch.setattr(_checkpoint, "write_checkpoint", write_then_stop)
    with pytest.raises(KeyboardInterrupt):
        EmotionCNNClassifier(**params).fit(X, y, checkpoint=checkpoint)
    monkeypatch.undo()


def test_a_resumed_run_equals_an_uninterrupted_one(tmp_path, monkeypatch):
    X, y = make_faces(96, size=24)
    params = dict(architecture="vgg_small", epochs=3, batch_size=16, engine="torch",
                  optimizer="adamw", lr_schedule="cosine", augmentation="standard",
                  validation_fraction=0.25, random_state=0)
    whole = EmotionCNNClassifier(**params).fit(X, y)
    ckpt = tmp_path / "run.ckpt"
    interrupted_fit(params, X, y, ckpt, 2, monkeypatch)
    resumed = EmotionCNNClassifier(**params).fit(X, y, checkpoint=ckpt)
    assert resumed.n_iter_ == 3
    # Optimizer moments, step count and all random streams survived the stop:
    # the third epoch is the same one.
    np.testing.assert_allclose(resumed.history_["loss"], whole.history_["loss"], rtol=1e-6)
    np.testing.assert_allclose(resumed.predict_proba(X[:6]), whole.predict_proba(X[:6]),
                               atol=1e-6)
    # Resuming the finished checkpoint trains nothing and still ends with the
    # batch-norm pass: the checkpoint's weights are from before it.
    again = EmotionCNNClassifier(**params).fit(X, y, checkpoint=ckpt)
    assert again.n_iter_ == 3
    np.testing.assert_allclose(again.predict_proba(X[:6]), whole.predict_proba(X[:6]),
                               atol=1e-6)


def test_class_weight_reaches_the_loss():
    X, y = make_faces(120, size=24)
    y = np.where(np.arange(120) % 10 == 0, 2, y % 2)  # class 2 is 10% of the faces
    params = dict(architecture="vgg_small", epochs=1, batch_size=30, engine="torch",
                  validation_fraction=0, random_state=0)
    plain = EmotionCNNClassifier(**params).fit(X, y).history_["loss"][0]
    heavy = EmotionCNNClassifier(class_weight={2: 20.0}, **params).fit(X, y).history_["loss"][0]
    light = EmotionCNNClassifier(class_weight={2: 0.01}, **params).fit(X, y).history_["loss"][0]
    # Weighting the 10% minority by 20 multiplies its share of the mean loss.
    assert heavy > 2.0 * plain > 2.0 * light


def test_early_stopping_keeps_the_best_epoch_also_when_resumed(tmp_path, monkeypatch):
    # Interrupted after the best epoch and before the stop, the resumed run
    # must remember the best epoch (and its weights) to stop where and with
    # what the uninterrupted run did.
    X, y = make_faces(120, size=24)
    params = dict(architecture="vgg_small", epochs=30, batch_size=16, learning_rate=0.05,
                  engine="torch", early_stopping=True, n_iter_no_change=2, random_state=0)
    whole = EmotionCNNClassifier(**params).fit(X, y)
    losses = whole.history_["val_loss"]
    assert whole.n_iter_ < 30
    assert int(np.argmin(losses)) == whole.n_iter_ - 1 - 2
    ckpt = tmp_path / "run.ckpt"
    interrupted_fit(params, X, y, ckpt, whole.n_iter_ - 1, monkeypatch)
    resumed = EmotionCNNClassifier(**params).fit(X, y, checkpoint=ckpt)
    assert resumed.n_iter_ == whole.n_iter_
    np.testing.assert_allclose(resumed.predict_proba(X[:6]), whole.predict_proba(X[:6]),
                               atol=1e-6)
    # The finished (stopped) run's checkpoint gives the same model again.
    again = EmotionCNNClassifier(**params).fit(X, y, checkpoint=ckpt)
    assert again.history_ == resumed.history_
    np.testing.assert_allclose(again.predict_proba(X[:6]), whole.predict_proba(X[:6]),
                               atol=1e-6)


def test_augment_flip_mirrors_about_half_and_keeps_range():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(400, 1, 12, 12)
    flipped = engine.augment(x, "flip", gen)
    same = (flipped == x).flatten(1).all(1)
    mirrored = (flipped == x.flip(3)).flatten(1).all(1)
    assert bool((same | mirrored).all())
    assert 150 < int(mirrored.sum()) < 250
    strong = engine.augment(x, "strong", gen)
    assert strong.shape == x.shape
    assert float(strong.min()) >= 0.0 and float(strong.max()) <= 1.0
    assert not torch.equal(strong, x)


@pytest.mark.parametrize("channels_last", [True, False])
@pytest.mark.parametrize("rate", [0.1, 0.4])
def test_dropout_drops_the_rate_and_rescales_what_it_keeps(rate, channels_last):
    drop = engine._build_modules()["Dropout"](rate).train()
    x = torch.rand(64, 16, 12, 12) + 0.5
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    torch.manual_seed(0)
    out = drop(x)
    kept = out != 0
    assert abs(float(kept.float().mean()) - (1 - rate)) < 0.01
    assert torch.allclose(out[kept], x[kept] / (1 - rate))
    # no pattern along any axis: each channel and each row loses about the rate
    assert float((kept.float().mean((0, 2, 3)) - (1 - rate)).abs().max()) < 0.03
    assert float((kept.float().mean((0, 1, 3)) - (1 - rate)).abs().max()) < 0.03
    torch.manual_seed(0)
    assert torch.equal(drop(x), out)  # the global generator, as nn.Dropout
    assert not torch.equal(drop(x), out)
    dense = drop(torch.ones(3000, 7))
    assert abs(float((dense != 0).float().mean()) - (1 - rate)) < 0.02


def test_dropout_gradient_flows_through_kept_units_only():
    drop = engine._build_modules()["Dropout"](0.25).train()
    x = torch.rand(8, 4, 6, 6, requires_grad=True)
    out = drop(x)
    out.sum().backward()
    assert torch.allclose(x.grad, (out != 0).float() / 0.75)
    drop.eval()
    y = torch.rand(5, 3)
    assert drop(y) is y
    assert engine._build_modules()["Dropout"](0.0).train()(y) is y


def test_learning_rate_schedule():
    lrs = [engine.learning_rate_at(s, 100, 1.0, "cosine", 10) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(lrs[9:], lrs[10:]))
    assert lrs[-1] < 0.01
    assert engine.learning_rate_at(50, 100, 0.3, "constant", 10) == 0.3


@pytest.mark.parametrize("name", ["adam", "adamw", "nadam", "rmsprop", "sgd", "sgd_nesterov"])
def test_optimizer_steps_match_keras_with_decoupled_weight_decay(name):
    import keras

    from fer_classifier.estimator import _OPTIMIZERS

    def kernel_only(weights):
        inputs = keras.Input(shape=(3, 3, 1), name="image")
        x = keras.layers.Flatten(name="flat")(inputs)
        x = keras.layers.Dense(4, use_bias=False, name="dense")(x)
        model = keras.Model(inputs, keras.layers.Softmax(name="softmax")(x))
        model.set_weights([weights])
        return model

    rng = np.random.default_rng(0)
    start = rng.normal(size=(9, 4)).astype(np.float32)
    # gradients away from 0: there RMSprop's epsilon, inside the square root in
    # Keras and outside in torch, would decide the step
    grads = [(rng.choice([-1, 1], size=(9, 4)) * rng.uniform(0.5, 1.5, size=(9, 4)))
             .astype(np.float32) for _ in range(3)]
    learning_rate, decay = 0.05, 0.5  # a decay large enough to dominate the steps

    class_name, options = _OPTIMIZERS[name]
    expected = kernel_only(start)
    optimizer = getattr(keras.optimizers, class_name)(learning_rate=learning_rate,
                                                      weight_decay=decay, **options)
    for grad in grads:
        optimizer.apply([grad], expected.trainable_variables)

    model = kernel_only(start)
    graph = engine.to_torch(model)
    # the same arrays in the torch layout: translate a model holding them
    torch_grads = [[p.detach().clone() for p in engine.to_torch(kernel_only(g)).parameters()]
                   for g in grads]
    opt = engine.make_optimizer(graph, name, learning_rate, decay)
    for grad in torch_grads:
        for param, g in zip(graph.parameters(), grad):
            param.grad = g
        engine.decay_weights(opt)
        opt.step()
    graph.copy_to_keras()
    after = model.get_weights()[0]
    assert np.abs(after - start).max() > 0.05
    np.testing.assert_allclose(after, expected.get_weights()[0], rtol=0, atol=1e-5)


def _tiny_graph(seed, size=12, n_classes=3):
    import keras

    keras.utils.set_random_seed(seed)
    return engine.to_torch(tiny_cnn((size, size, 1), n_classes, conv_dropout=0.0,
                                    dense_dropout=0.0))


def test_make_teacher_averages_the_networks_probabilities():
    X, _ = make_faces(20, size=12)
    images = (X[..., None] / 255.0).astype(np.float32)
    a, b = _tiny_graph(1), _tiny_graph(2)
    expected = (_torch_proba(a, images) + _torch_proba(b, images)) / 2
    teacher = engine.make_teacher([a, b])
    got = teacher(engine._as_tensor(images)).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-6)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=1e-6)
    assert not any(p.requires_grad for p in a.parameters())  # frozen, never trained


def _batches_seen_by_teacher_and_student(**train_options):
    """Train a tiny student one epoch on 40 faces; return the stored images and
    the batches the teacher and the student were shown."""
    X, y = make_faces(40, size=12)
    images = (X[..., None] / 255.0).astype(np.float32)
    targets = np.eye(3, dtype=np.float32)[y]
    student, seen = _tiny_graph(0), {"teacher": [], "student": []}
    student.register_forward_pre_hook(
        lambda module, args: seen["student"].append(args[0].clone()))
    inner = engine.make_teacher([_tiny_graph(5)])

    def teacher(xb, bf16=False):
        seen["teacher"].append(xb.clone())
        return inner(xb, bf16)

    engine.train(student, images, targets, epochs=1, optimizer="adam", learning_rate=1e-3,
                 bf16=False, seed=0, teacher=teacher, teacher_weight=0.5, **train_options)
    for t, s in zip(seen["teacher"], seen["student"], strict=True):
        torch.testing.assert_close(t, s)
    return torch.from_numpy(images).permute(0, 3, 1, 2), seen


def test_the_teacher_sees_each_augmented_batch_the_student_sees():
    stored, seen = _batches_seen_by_teacher_and_student(batch_size=16,
                                                        augmentation="standard")
    assert len(seen["teacher"]) == 3  # ceil(40 / 16) batches, the same for both
    # ... and they are augmented views, not the stored images
    shown = torch.cat(seen["teacher"])
    assert not any(torch.equal(shown[i], stored[j]) for i in range(40) for j in range(40))


def test_teacher_weight_one_learns_the_teacher_not_the_labels():
    X, y = make_faces(60, size=12)
    images = (X[..., None] / 255.0).astype(np.float32)
    targets = np.eye(3, dtype=np.float32)[y]

    def always_class_2(xb, bf16=False):  # a teacher that ignores the face
        return torch.tensor([[0.0, 0.0, 1.0]]).expand(len(xb), 3)

    runs = {}
    for weight in (0.0, 1.0):
        graph = _tiny_graph(0)
        history = engine.train(graph, images, targets, epochs=15, batch_size=20,
                               optimizer="adam", learning_rate=0.03, bf16=False, seed=0,
                               teacher=always_class_2, teacher_weight=weight)
        runs[weight] = (engine.predict_logits(graph, images).argmax(1), history)
    labels_run, teacher_run = runs[0.0][0], runs[1.0][0]
    assert (labels_run == y).mean() > 0.9
    assert (teacher_run == 2).all()
    # "accuracy" in the history still counts agreement with the labels
    assert runs[1.0][1]["accuracy"][-1] < 0.5 < runs[0.0][1]["accuracy"][-1]


def test_teacher_view_bank_holds_seeded_views_and_the_teachers_answers_for_each():
    X, _ = make_faces(30, size=12)
    images = (X[..., None] / 255.0).astype(np.float32)
    teacher = engine.make_teacher([_tiny_graph(5)])
    before = torch.get_rng_state()
    bank, proba = engine.teacher_view_bank(images, teacher, 3, "standard", 0, batch_size=8)
    assert torch.equal(torch.get_rng_state(), before)  # a generator of its own
    assert bank.shape == (3, 30, 1, 12, 12) and bank.dtype == torch.uint8
    assert proba.shape == (3, 2, 30, 3)
    stored = torch.from_numpy(X).to(torch.uint8)[:, None]
    # augmented views: not the stored faces, and not the same view three times
    assert not any(torch.equal(bank[v, i], stored[i]) for v in range(3) for i in range(30))
    assert not torch.equal(bank[0], bank[1])
    for v in range(3):  # the teacher's answer for exactly the view kept, and its mirror
        view = bank[v].float() / 255.0
        torch.testing.assert_close(proba[v, 0], teacher(view), atol=1e-6, rtol=0)
        torch.testing.assert_close(proba[v, 1], teacher(view.flip(3)), atol=1e-6, rtol=0)
    again = engine.teacher_view_bank(images, teacher, 3, "standard", 0, batch_size=8)
    other = engine.teacher_view_bank(images, teacher, 3, "standard", 1, batch_size=8)
    assert torch.equal(again[0], bank) and torch.equal(again[1], proba)
    assert not torch.equal(other[0], bank)


def test_training_on_a_bank_shows_its_views_and_never_asks_the_teacher():
    X, y = make_faces(40, size=12)
    images = (X[..., None] / 255.0).astype(np.float32)
    inner = engine.make_teacher([_tiny_graph(5)])
    bank = engine.teacher_view_bank(images, inner, 2, "standard", 0)
    student, shown = _tiny_graph(0), []
    student.register_forward_pre_hook(lambda module, args: shown.append(args[0].clone()))

    def teacher(xb, bf16=False):
        raise AssertionError("the bank already holds the teacher's answers")

    engine.train(student, images, np.eye(3, dtype=np.float32)[y], epochs=2, batch_size=16,
                 optimizer="adam", learning_rate=1e-3, bf16=False, seed=0,
                 augmentation="standard", teacher=teacher, teacher_weight=0.7,
                 teacher_bank=bank)
    kept = [bank[0][v].float() / 255.0 for v in range(2)]
    views = torch.cat([view for v in kept for view in (v, v.flip(3))]).flatten(1)
    seen = torch.cat(shown).flatten(1)
    assert len(seen) == 80  # two epochs of 40 faces
    # every face the student saw is one of the 4 views kept of some face
    distance = torch.cdist(seen, views, compute_mode="donot_use_mm_for_euclid_dist")
    assert float(distance.min(1).values.max()) < 1e-5
    # ... and over two epochs more than one view of the same face turns up
    assert len(set(distance.argmin(1).tolist())) > 45


def _numbered_batch(n=256, size=16, n_classes=8):
    """Image i is filled with the value i, so a mixed pixel tells where it came from."""
    x = torch.arange(n, dtype=torch.float32)[:, None, None, None].expand(n, 1, size, size)
    return x.clone(), torch.eye(n_classes)[torch.arange(n) % n_classes]


def test_mixup_blends_pixels_and_targets_by_the_same_share():
    x, t = _numbered_batch()
    mixed, targets, partner, own = engine.mix(x, t, 0.4, 0.0, np.random.default_rng(0))
    expected = own[:, None, None, None] * x + (1 - own[:, None, None, None]) * x[partner]
    torch.testing.assert_close(mixed, expected)
    torch.testing.assert_close(targets, own[:, None] * t + (1 - own[:, None]) * t[partner])
    assert ((own >= 0.5) & (own <= 1)).all()  # the face's own label keeps the larger share
    assert own.std() > 0.05  # one share per image, not one per batch
    assert sorted(partner.tolist()) == list(range(256))  # a permutation of the batch


def test_cutmix_pastes_a_rectangle_and_targets_follow_its_area():
    x, t = _numbered_batch()
    mixed, targets, partner, own = engine.mix(x, t, 0.0, 1.0, np.random.default_rng(0))
    pasted = (mixed != x)[:, 0]
    moved = partner != torch.arange(256)
    # pixels are either the face's own or its partner's, never a blend
    assert ((mixed == x) | (mixed == x[partner])).all()
    # the pasted pixels form one rectangle whose area is 1 - own share
    for i in torch.nonzero(moved).flatten().tolist():
        rows, cols = torch.nonzero(pasted[i], as_tuple=True)
        if len(rows):
            box = pasted[i, rows.min():rows.max() + 1, cols.min():cols.max() + 1]
            assert box.all()
        assert abs(float(pasted[i].float().mean()) - (1 - float(own[i]))) < 1e-6
    torch.testing.assert_close(targets, own[:, None] * t + (1 - own[:, None]) * t[partner])
    assert (own >= 0.5).all() and (own < 1).float().mean() > 0.9


def test_both_alphas_give_each_image_one_of_the_two():
    x, t = _numbered_batch(512)
    mixed, _, partner, own = engine.mix(x, t, 1.0, 1.0, np.random.default_rng(1))
    moved = (partner != torch.arange(512)) & (own < 0.99)
    blended = ((mixed != x) & (mixed != x[partner])).flatten(1).any(1)
    share = float(blended[moved].float().mean())
    assert 0.4 < share < 0.6, share


def test_mix_is_seeded():
    x, t = _numbered_batch()
    a = engine.mix(x, t, 0.4, 1.0, np.random.default_rng(7))
    b = engine.mix(x, t, 0.4, 1.0, np.random.default_rng(7))
    c = engine.mix(x, t, 0.4, 1.0, np.random.default_rng(8))
    for u, v in zip(a, b):
        torch.testing.assert_close(u, v)
    assert not torch.equal(a[0], c[0])


def test_the_teacher_and_the_student_see_the_mixed_faces():
    stored, seen = _batches_seen_by_teacher_and_student(batch_size=40, mixup_alpha=1.0)
    shown = seen["student"][0]
    # no augmentation: a face that is not a stored one is a blend of two of them
    unchanged = sum(any(torch.equal(shown[i], stored[j]) for j in range(40)) for i in range(40))
    assert unchanged < 4


def test_mixing_changes_the_fit_and_keeps_it_reproducible():
    X, y = make_faces(90, size=24)
    params = dict(architecture="vgg_small", epochs=2, batch_size=16, engine="torch",
                  validation_fraction=0, random_state=3)
    plain = EmotionCNNClassifier(**params).fit(X, y)
    a = EmotionCNNClassifier(mixup_alpha=0.4, cutmix_alpha=1.0, **params).fit(X, y)
    b = EmotionCNNClassifier(mixup_alpha=0.4, cutmix_alpha=1.0, **params).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X[:8]), b.predict_proba(X[:8]))
    assert not np.array_equal(a.predict_proba(X[:8]), plain.predict_proba(X[:8]))
    # soft, mixed targets cost more cross-entropy than the labels alone
    assert a.history_["loss"][-1] > plain.history_["loss"][-1]


def test_mixing_needs_the_torch_engine():
    X, y = make_faces(30, size=12)
    for params in (dict(mixup_alpha=0.2), dict(cutmix_alpha=1.0)):
        clf = EmotionCNNClassifier(tiny_cnn, epochs=1, engine="keras", **params)
        with pytest.raises(ValueError, match="need the PyTorch engine.*engine='keras'"):
            clf.fit(X, y)
    with pytest.raises(ValueError, match="mixup_alpha"):
        EmotionCNNClassifier(tiny_cnn, epochs=1, mixup_alpha=-0.1).fit(X, y)


def test_sharpness_aware_gradients_are_those_at_the_ascended_weights():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.BatchNorm1d(4),
                              torch.nn.Tanh(), torch.nn.Linear(4, 3))
    x, t = torch.randn(16, 5), torch.softmax(torch.randn(16, 3), 1)

    def loss_of(model):
        return -(t * torch.log_softmax(model(x), 1)).sum(1).mean()

    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    loss_of(net).backward()
    before = [p.detach().clone() for p in net.parameters()]
    grads = [p.grad.clone() for p in net.parameters()]
    stats = net[1].running_mean.clone()
    # The reference: a copy moved 0.05 along the normalised gradient, differentiated there.
    norm = torch.sqrt(sum((g ** 2).sum() for g in grads))
    moved = copy.deepcopy(net)
    with torch.no_grad():
        for p, g in zip(moved.parameters(), grads):
            p.add_(0.05 * g / norm)
    moved.zero_grad()
    loss_of(moved).backward()

    engine.sharpness_aware_gradients(net, opt, lambda: loss_of(net), 0.05)
    for p, w, m in zip(net.parameters(), before, moved.parameters()):
        torch.testing.assert_close(p.detach(), w, rtol=0, atol=1e-6)  # weights put back
        torch.testing.assert_close(p.grad, m.grad)
    assert not all(torch.allclose(p.grad, g) for p, g in zip(net.parameters(), grads))
    # the second pass leaves the batch-norm statistics and momentum as they were
    torch.testing.assert_close(net[1].running_mean, stats, rtol=0, atol=0)
    assert net[1].momentum == 0.1


def test_sam_changes_the_fit_and_keeps_it_reproducible():
    X, y = make_faces(90, size=24)
    params = dict(architecture="vgg_small", epochs=2, batch_size=16, engine="torch",
                  validation_fraction=0, random_state=3)
    plain = EmotionCNNClassifier(**params).fit(X, y)
    a = EmotionCNNClassifier(sam_rho=0.05, **params).fit(X, y)
    b = EmotionCNNClassifier(sam_rho=0.05, **params).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X[:8]), b.predict_proba(X[:8]))
    assert not np.array_equal(a.predict_proba(X[:8]), plain.predict_proba(X[:8]))
    assert pickle.loads(pickle.dumps(a)).get_params()["sam_rho"] == 0.05


def test_sam_needs_the_torch_engine_and_a_radius_of_zero_or_more():
    X, y = make_faces(30, size=12)
    clf = EmotionCNNClassifier(tiny_cnn, epochs=1, engine="keras", sam_rho=0.05)
    with pytest.raises(ValueError, match="sam_rho needs the PyTorch engine.*engine='keras'"):
        clf.fit(X, y)
    with pytest.raises(ValueError, match="sam_rho"):
        EmotionCNNClassifier(tiny_cnn, epochs=1, sam_rho=-0.1).fit(X, y)


def test_a_checkpoint_without_sam_resumes_only_without_it(tmp_path):
    X, y = make_faces(40, size=12)
    params = dict(architecture=tiny_cnn, batch_size=20, engine="torch",
                  validation_fraction=0, random_state=0)
    ckpt = tmp_path / "run.ckpt"
    EmotionCNNClassifier(epochs=1, **params).fit(X, y, checkpoint=ckpt)
    with pytest.raises(ValueError, match="sam_rho: checkpoint has None, this fit has 0.05"):
        EmotionCNNClassifier(epochs=2, sam_rho=0.05, **params).fit(X, y, checkpoint=ckpt)
    resumed = EmotionCNNClassifier(epochs=2, **params).fit(X, y, checkpoint=ckpt)
    assert resumed.n_iter_ == 2
