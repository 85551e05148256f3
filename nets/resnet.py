"""ResNet v1 and v2 (He et al. 2015, 2016) in TF-Slim's naming: resnet_v{1,2}_{18..200}.

Depths 18 and 34 use basic units (two 3x3 convolutions), 50 and deeper use
bottleneck units (1x1, 3x3, 1x1 with 4x expansion). The stride of a block sits
on the 3x3 convolution of its first unit. v2 is pre-activation: batch norm and
ReLU come before each convolution, with a final `postnorm`.
"""

from __future__ import annotations

import keras
from keras import layers

from nets.conv_blocks import batch_norm, classifier_head, conv_bn, model, scaled_input
from nets.scopes import layer_name

UNITS = {
    18: (2, 2, 2, 2),
    34: (3, 4, 6, 3),
    50: (3, 4, 6, 3),
    101: (3, 4, 23, 3),
    152: (3, 8, 36, 3),
    200: (3, 24, 36, 3),
}
BLOCK_DEPTHS = (64, 128, 256, 512)
MIN_SIZE = 32


def _relu(x, name: str):
    return layers.Activation("relu", name=name)(x)


def _unit_v1(x, depth: int, stride: int, bottleneck: bool, name: str):
    out_depth = depth * 4 if bottleneck else depth
    unit = layer_name(name, "bottleneck_v1" if bottleneck else "basic_v1")
    if x.shape[-1] != out_depth or stride != 1:
        shortcut = conv_bn(x, out_depth, 1, layer_name(unit, "shortcut"), strides=stride,
                           activation=False)
    else:
        shortcut = x
    if bottleneck:
        y = conv_bn(x, depth, 1, layer_name(unit, "conv1"))
        y = conv_bn(y, depth, 3, layer_name(unit, "conv2"), strides=stride)
        y = conv_bn(y, out_depth, 1, layer_name(unit, "conv3"), activation=False)
    else:
        y = conv_bn(x, depth, 3, layer_name(unit, "conv1"), strides=stride)
        y = conv_bn(y, depth, 3, layer_name(unit, "conv2"), activation=False)
    y = layers.Add(name=layer_name(unit, "add"))([shortcut, y])
    return _relu(y, layer_name(unit, "Relu"))


def _conv(x, filters, kernel, name, strides=1, use_bias=False):
    return layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=use_bias,
                         kernel_initializer="he_normal", name=name)(x)


def _unit_v2(x, depth: int, stride: int, bottleneck: bool, name: str):
    out_depth = depth * 4 if bottleneck else depth
    unit = layer_name(name, "bottleneck_v2" if bottleneck else "basic_v2")
    preact = _relu(batch_norm(x, layer_name(unit, "preact")), layer_name(unit, "preact.Relu"))
    if x.shape[-1] != out_depth:
        shortcut = _conv(preact, out_depth, 1, layer_name(unit, "shortcut"), strides=stride,
                         use_bias=True)
    elif stride != 1:
        shortcut = layers.MaxPooling2D(1, strides=stride, name=layer_name(unit, "shortcut"))(x)
    else:
        shortcut = x
    if bottleneck:
        y = conv_bn(preact, depth, 1, layer_name(unit, "conv1"))
        y = conv_bn(y, depth, 3, layer_name(unit, "conv2"), strides=stride)
        y = _conv(y, out_depth, 1, layer_name(unit, "conv3"), use_bias=True)
    else:
        y = conv_bn(preact, depth, 3, layer_name(unit, "conv1"), strides=stride)
        y = _conv(y, depth, 3, layer_name(unit, "conv2"), use_bias=True)
    return layers.Add(name=layer_name(unit, "add"))([shortcut, y])


def build_resnet(
    version: int,
    depth: int,
    num_classes: int,
    input_shape: tuple[int, int, int],
) -> keras.Model:
    if depth not in UNITS:
        raise ValueError(f"resnet depth {depth} is not one of {sorted(UNITS)}")
    scope = f"resnet_v{version}_{depth}"
    bottleneck = depth >= 50
    inputs = keras.Input(input_shape, name="images")
    x = scaled_input(inputs, scope)
    if version == 1:
        x = conv_bn(x, 64, 7, layer_name(scope, "conv1"), strides=2)
    else:
        x = _conv(x, 64, 7, layer_name(scope, "conv1"), strides=2, use_bias=True)
    x = layers.MaxPooling2D(3, strides=2, padding="same", name=layer_name(scope, "pool1"))(x)
    unit_fn = _unit_v1 if version == 1 else _unit_v2
    for block, (units, block_depth) in enumerate(zip(UNITS[depth], BLOCK_DEPTHS, strict=True)):
        for unit in range(units):
            stride = 2 if unit == 0 and block > 0 else 1
            name = layer_name(scope, f"block{block + 1}", f"unit_{unit + 1}")
            x = unit_fn(x, block_depth, stride, bottleneck, name)
    if version == 2:
        x = _relu(batch_norm(x, layer_name(scope, "postnorm")), layer_name(scope, "postnorm.Relu"))
    logits = classifier_head(x, num_classes, layer_name(scope, "logits"))
    return model(inputs, {"logits": logits}, scope)
