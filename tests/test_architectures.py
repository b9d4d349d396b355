import numpy as np
import pytest

from fer_classifier.architectures import (
    available_architectures,
    get_architecture,
    register_architecture,
    seed_cnn,
)


def _n_params(weights):
    return sum(int(np.prod(w.shape)) for w in weights)


def test_seed_matches_the_research_model():
    model = seed_cnn()
    assert model.name == "seed"
    assert model.count_params() == 1_049_159
    assert _n_params(model.non_trainable_weights) == 576
    assert tuple(model.get_layer("flatten").output.shape) == (None, 7744)
    assert tuple(model.output.shape) == (None, 7)
    dropouts = {l.name: l.rate for l in model.layers if "dropout" in l.name}
    assert dropouts == {"block1_dropout": 0.25, "block2_dropout": 0.25, "dense_dropout": 0.5}
    kinds = [type(l).__name__ for l in model.layers]
    assert kinds.count("Conv2D") == 3 and kinds.count("BatchNormalization") == 4
    assert not model.compiled  # uncompiled: the estimator compiles it


def test_seed_dropout_and_classes_are_passed_through():
    model = seed_cnn((48, 48, 1), 3, conv_dropout=0.1, dense_dropout=0.3)
    assert model.get_layer("block2_dropout").rate == 0.1
    assert model.get_layer("dense_dropout").rate == 0.3
    assert tuple(model.output.shape) == (None, 3)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"input_shape": (48, 48)}, "input_shape"),
        ({"input_shape": (8, 8, 1)}, "at least 10x10"),
        ({"num_classes": 1}, "num_classes"),
        ({"conv_dropout": 1.0}, "conv_dropout"),
        ({"dense_dropout": -0.1}, "dense_dropout"),
    ],
)
def test_seed_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=rf"{message}.*Received|Received: {message}"):
        seed_cnn(**kwargs)


def test_registry():
    assert "seed" in available_architectures()
    assert get_architecture("seed") is seed_cnn
    with pytest.raises(ValueError, match="Unknown architecture 'nope'; available: .*seed"):
        get_architecture("nope")
    with pytest.raises(ValueError, match="already registered"):
        register_architecture("seed", seed_cnn)
    with pytest.raises(ValueError, match="callable"):
        register_architecture("x", 3)


def test_register_custom_architecture():
    from conftest import tiny_cnn

    register_architecture("tiny-test", tiny_cnn)
    try:
        assert get_architecture("tiny-test") is tiny_cnn
        register_architecture("tiny-test", seed_cnn, overwrite=True)
        assert get_architecture("tiny-test") is seed_cnn
    finally:
        from fer_classifier import architectures

        architectures._REGISTRY.pop("tiny-test")


def test_vgg_sizes_and_layers():
    from fer_classifier.architectures import vgg_cnn, vgg_small_cnn

    big, small = vgg_cnn(), vgg_small_cnn()
    assert (big.name, small.name) == ("vgg", "vgg_small")
    assert big.count_params() == 1_309_735
    assert small.count_params() == 329_495
    assert get_architecture("vgg") is vgg_cnn and get_architecture("vgg_small") is vgg_small_cnn
    convs = [l for l in small.layers if type(l).__name__ == "Conv2D"]
    assert [c.filters for c in convs] == [16, 16, 32, 32, 64, 64, 128, 128]
    assert all(not c.use_bias for c in convs)  # batch norm follows each convolution
    # 48 -> 24 -> 12 -> 6, then global average pooling and a 256-unit layer
    assert tuple(small.get_layer("block4_relu2").output.shape) == (None, 6, 6, 128)
    assert tuple(small.get_layer("dense").output.shape) == (None, 256)
    assert not small.compiled


def test_vgg_medium_widens_only_the_small_maps():
    from fer_classifier.architectures import vgg_medium_cnn, vgg_small_cnn

    medium, small = get_architecture("vgg_medium")(), vgg_small_cnn()
    assert get_architecture("vgg_medium") is vgg_medium_cnn and medium.name == "vgg_medium"
    widths = [l.filters for l in medium.layers if type(l).__name__ == "Conv2D"]
    assert widths == [16, 16, 32, 32, 96, 96, 192, 192]
    assert medium.count_params() == 704_023
    # the 48x48 and 24x24 blocks are vgg_small's, weight for weight
    for name in ("block1_conv1", "block1_conv2", "block2_conv1", "block2_conv2"):
        assert medium.get_layer(name).kernel.shape == small.get_layer(name).kernel.shape
    assert tuple(medium.get_layer("block4_relu2").output.shape) == (None, 6, 6, 192)
    assert tuple(medium.get_layer("dense").output.shape) == (None, 384)


def test_vgg_wide_stays_under_the_10_mb_file_limit(tmp_path):
    from fer_classifier.architectures import vgg_wide_cnn

    wide = get_architecture("vgg_wide")()
    assert get_architecture("vgg_wide") is vgg_wide_cnn and wide.name == "vgg_wide"
    convs = [l for l in wide.layers if type(l).__name__ == "Conv2D"]
    assert [c.filters for c in convs] == [48, 48, 96, 96, 192, 192, 320, 320]
    assert wide.count_params() == 2_332_983
    wide.save(tmp_path / "wide.keras")
    assert (tmp_path / "wide.keras").stat().st_size < 10e6


def test_vgg_options_are_passed_through():
    from fer_classifier.architectures import vgg_cnn

    model = vgg_cnn((32, 32, 3), 4, conv_dropout=0.2, dense_dropout=0.3, widths=(8, 16),
                    convs_per_block=3, name="v")
    assert tuple(model.output.shape) == (None, 4)
    assert model.get_layer("block2_conv3").filters == 16
    assert model.get_layer("block1_dropout").rate == 0.2
    assert model.get_layer("dense_dropout").rate == 0.3
    assert tuple(model.get_layer("block2_relu3").output.shape) == (None, 16, 16, 16)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"widths": ()}, "widths"),
        ({"widths": (8, 0)}, "widths"),
        ({"convs_per_block": 0}, "convs_per_block"),
        ({"input_shape": (4, 4, 1)}, "at least 8x8"),
        ({"dense_dropout": 1.5}, "dense_dropout"),
    ],
)
def test_vgg_rejects_bad_arguments(kwargs, message):
    from fer_classifier.architectures import vgg_cnn

    with pytest.raises(ValueError, match=rf"{message}.*Received|Received: {message}"):
        vgg_cnn(**kwargs)


def test_resnet_layout_and_skip_connections(tmp_path):
    from fer_classifier.architectures import resnet_cnn

    net = get_architecture("resnet")()
    assert get_architecture("resnet") is resnet_cnn and net.name == "resnet"
    assert net.count_params() == 1_905_895
    # pooled stem, then stages on 24, 12 and 6 pixel maps
    assert tuple(net.get_layer("stem_pool").output.shape) == (None, 24, 24, 32)
    assert tuple(net.get_layer("stage1_block2_relu2").output.shape) == (None, 24, 24, 64)
    assert tuple(net.get_layer("stage2_block1_add").output.shape) == (None, 12, 12, 128)
    assert tuple(net.get_layer("stage3_block2_relu2").output.shape) == (None, 6, 6, 192)
    adds = [l for l in net.layers if type(l).__name__ == "Add"]
    assert len(adds) == 6
    # a projection shortcut only where the width or map size changes
    shortcuts = sorted(l.name for l in net.layers if "shortcut_conv" in l.name)
    assert shortcuts == [f"stage{s}_block1_shortcut_conv" for s in (1, 2, 3)]
    assert net.get_layer("stage2_block1_shortcut_conv").strides == (2, 2)
    assert all(not l.use_bias for l in net.layers if type(l).__name__ == "Conv2D")
    # block 2 of a stage adds its input unchanged: the identity path
    add = net.get_layer("stage1_block2_add")
    assert {t._keras_history[0].name for t in add.input} == {
        "stage1_block1_relu2", "stage1_block2_2_bn"}
    net.save(tmp_path / "resnet.keras")
    assert (tmp_path / "resnet.keras").stat().st_size < 10e6


def test_resnet_options_and_bad_arguments():
    from fer_classifier.architectures import resnet_cnn

    model = resnet_cnn((16, 16, 3), 4, conv_dropout=0.2, dense_dropout=0.3, stem_width=4,
                       widths=(8, 16), blocks_per_stage=3, name="r")
    assert model.name == "r" and tuple(model.output.shape) == (None, 4)
    assert tuple(model.get_layer("stage2_block3_relu2").output.shape) == (None, 4, 4, 16)
    assert model.get_layer("stage1_dropout").rate == 0.2
    assert model.get_layer("dense_dropout").rate == 0.3
    assert model.get_layer("stem_conv").filters == 4
    for kwargs, message in [
        ({"widths": ()}, "widths"),
        ({"widths": (8, 0)}, "widths"),
        ({"stem_width": 0}, "stem_width"),
        ({"blocks_per_stage": 0}, "blocks_per_stage"),
        ({"input_shape": (4, 4, 1)}, "at least 8x8"),
        ({"conv_dropout": 1.0}, "conv_dropout"),
    ]:
        with pytest.raises(ValueError, match=rf"{message}.*Received|Received: {message}"):
            resnet_cnn(**kwargs)
