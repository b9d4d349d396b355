"""Tests for reading tensors out of a functional model's config."""

import pytest

from fer_classifier._keras_graph import tensor_histories
from fer_classifier._quiet import import_keras


def test_finds_every_tensor_a_node_reads_in_order():
    keras = import_keras()
    inputs = keras.Input((4,), name="x")
    left = keras.layers.Dense(3, name="left")(inputs)
    right = keras.layers.Dense(3, name="right")(inputs)
    outputs = keras.layers.Add(name="sum")([left, right])
    config = keras.Model(inputs, outputs).get_config()
    specs = {spec["name"]: spec for spec in config["layers"]}
    assert tensor_histories(specs["sum"]["inbound_nodes"]) == [("left", 0, 0), ("right", 0, 0)]
    assert tensor_histories(specs["left"]["inbound_nodes"]) == [("x", 0, 0)]
    assert tensor_histories(specs["x"]["inbound_nodes"]) == []
    assert tensor_histories(config["output_layers"]) == [("sum", 0, 0)]


def test_a_shared_layer_called_twice_has_a_node_per_call():
    keras = import_keras()
    inputs = keras.Input((4,), name="x")
    shared = keras.layers.Dense(4, name="shared")
    outputs = shared(shared(inputs))
    config = keras.Model(inputs, outputs).get_config()
    (spec,) = [s for s in config["layers"] if s["name"] == "shared"]
    assert [tensor_histories(node) for node in spec["inbound_nodes"]] == [
        [("x", 0, 0)], [("shared", 0, 0)]]
    assert tensor_histories(config["output_layers"]) == [("shared", 1, 0)]


@pytest.mark.parametrize("node, expected", [
    (["conv", 0, 0], [("conv", 0, 0)]),  # the older bare-triple form
    ([["a", 0, 0], ["b", 2, 1]], [("a", 0, 0), ("b", 2, 1)]),
    ({"args": [], "kwargs": {"training": False}}, []),
    ("conv", []),
    (["conv", "0", 0], []),  # not a triple: a node index is an int
])
def test_reads_both_written_forms_and_ignores_other_values(node, expected):
    assert tensor_histories(node) == expected
