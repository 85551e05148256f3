"""Our weights under TF-Slim's variable names, so TF-Slim checkpoints map one to one.

A Keras layer `resnet_v2_50.block1.unit_1.bottleneck_v2.conv1` is TF-Slim's scope
`resnet_v2_50/block1/unit_1/bottleneck_v2/conv1`; its weights take TF-Slim's
variable names: a convolution's or dense layer's `kernel` is `weights` and its
`bias` `biases`, a depthwise convolution's kernel is `depthwise_weights`, and
batch norm keeps `gamma`, `beta`, `moving_mean`, `moving_variance`. The shapes
agree as they are (the logits that TF-Slim computes with a 1x1 convolution
are one here too).
"""

from __future__ import annotations

import keras
from keras import layers

from nets.scopes import SEPARATOR

_KERNEL_NAMES = {layers.DepthwiseConv2D: "depthwise_weights"}
_RENAMED = {"kernel": "weights", "bias": "biases"}
BATCH_NORM_GAMMA = "gamma"


def _variable_name(layer: keras.layers.Layer, weight_name: str) -> str:
    if weight_name == "kernel":
        for kind, name in _KERNEL_NAMES.items():
            if isinstance(layer, kind):
                return name
    return _RENAMED.get(weight_name, weight_name)


def slim_variables(model: keras.Model) -> dict[str, keras.Variable]:
    """{TF-Slim variable name: our variable} for every weight and batch-norm statistic."""
    named: dict[str, keras.Variable] = {}
    for layer in model.layers:
        scope = layer.name.replace(SEPARATOR, "/")
        for weight in layer.weights:
            name = f"{scope}/{_variable_name(layer, weight.name)}"
            if name in named:
                raise ValueError(f"two weights of {model.name} map to TF-Slim's {name}")
            named[name] = weight
    return named
