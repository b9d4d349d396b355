"""Reading a functional Keras model's graph from its config.

A functional model's ``get_config()`` lists each layer with its
``inbound_nodes``: the arguments of each call, where a Keras tensor is written
either as a ``__keras_tensor__`` dict holding ``keras_history`` or, in the
older form, as a bare ``[layer_name, node_index, tensor_index]`` triple. Both
the batch-norm folding (:mod:`._fold`) and the PyTorch engine follow the graph
this way.
"""

__all__ = ["tensor_histories"]


def tensor_histories(obj):
    """The ``(layer_name, node_index, tensor_index)`` of each tensor in a config node.

    ``obj`` is any part of a config (an inbound node, its ``args`` or
    ``kwargs``, ``output_layers``); found tensors are returned in order of
    appearance, nested lists and dicts included.
    """
    if isinstance(obj, dict):
        if obj.get("class_name") == "__keras_tensor__":
            name, node, index = obj["config"]["keras_history"]
            return [(name, node, index)]
        return [found for value in obj.values() for found in tensor_histories(value)]
    if isinstance(obj, (list, tuple)):
        if len(obj) == 3 and isinstance(obj[0], str) and isinstance(obj[1], int):
            return [tuple(obj)]
        return [found for value in obj for found in tensor_histories(value)]
    return []
