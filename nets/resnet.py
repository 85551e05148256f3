"""ResNet v1 and v2 (He et al. 2015, 2016) as TF-Slim computes them: resnet_v{1,2}_{18..200}.

Depths 18 and 34 use basic units (two 3x3 convolutions), 50 and deeper use
bottleneck units (1x1, 3x3, 1x1 with 4x expansion). Everything that decides
the function follows TF-Slim's `resnet_v1.py` / `resnet_v2.py`, so its
model-zoo checkpoints give its numbers here:

- the stride of blocks 1-3 sits on their *last* unit (block 4 keeps stride 1),
  after the 3x3 max pool of the root;
- a strided convolution is TF-Slim's `conv2d_same`: symmetric zero padding of
  kernel - 1, then VALID (Keras' 'same' would pad (0, 1) at stride 2);
- a unit whose input already has the output depth short-cuts through a 1x1
  max pool with the unit's stride (`subsample`), otherwise through a 1x1 conv;
- batch norm epsilon 1e-5; logits are a 1x1 convolution on the pooled map.

v2 is pre-activation: the shared `preact` batch norm + ReLU feeds the
residual branch (and a projection shortcut), and `postnorm` closes the net.
"""

from __future__ import annotations

import keras
from keras import layers

from nets.conv_blocks import batch_norm, classifier_head, model, scaled_input
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
BLOCK_STRIDES = (2, 2, 2, 1)
MIN_SIZE = 32
BATCH_NORM_EPSILON = 1e-5


def _relu(x, name: str):
    return layers.Activation("relu", name=name)(x)


def _bn(x, name: str, standalone: bool = False):
    return batch_norm(x, name, epsilon=BATCH_NORM_EPSILON, standalone=standalone)


def conv2d_same(x: keras.KerasTensor, filters: int, kernel: int, name: str, strides: int = 1,
                use_bias: bool = False) -> keras.KerasTensor:
    """TF-Slim's `resnet_utils.conv2d_same`: SAME at stride 1, else pad (k-1) split evenly."""
    if strides == 1:
        padding = "same"
    else:
        total = kernel - 1
        x = layers.ZeroPadding2D(((total // 2, total - total // 2),) * 2,
                                 name=layer_name(name, "pad"))(x)
        padding = "valid"
    return layers.Conv2D(filters, kernel, strides=strides, padding=padding, use_bias=use_bias,
                         kernel_initializer="he_normal", name=name)(x)


def _conv_bn_relu(x, filters: int, kernel: int, name: str, strides: int = 1,
                  activation: bool = True):
    x = _bn(conv2d_same(x, filters, kernel, name, strides), name)
    return _relu(x, layer_name(name, "Relu")) if activation else x


def _subsample(x, stride: int, name: str):
    if stride == 1:
        return x
    return layers.MaxPooling2D(1, strides=stride, name=name)(x)


def _unit_v1(x, depth: int, stride: int, bottleneck: bool, name: str):
    out_depth = depth * 4 if bottleneck else depth
    unit = layer_name(name, "bottleneck_v1" if bottleneck else "basic_v1")
    if x.shape[-1] == out_depth:
        shortcut = _subsample(x, stride, layer_name(unit, "shortcut"))
    else:
        shortcut = _conv_bn_relu(x, out_depth, 1, layer_name(unit, "shortcut"), stride,
                                 activation=False)
    if bottleneck:
        y = _conv_bn_relu(x, depth, 1, layer_name(unit, "conv1"))
        y = _conv_bn_relu(y, depth, 3, layer_name(unit, "conv2"), stride)
        y = _conv_bn_relu(y, out_depth, 1, layer_name(unit, "conv3"), activation=False)
    else:
        y = _conv_bn_relu(x, depth, 3, layer_name(unit, "conv1"), stride)
        y = _conv_bn_relu(y, depth, 3, layer_name(unit, "conv2"), activation=False)
    y = layers.Add(name=layer_name(unit, "add"))([shortcut, y])
    return _relu(y, layer_name(unit, "Relu"))


def _unit_v2(x, depth: int, stride: int, bottleneck: bool, name: str):
    out_depth = depth * 4 if bottleneck else depth
    unit = layer_name(name, "bottleneck_v2" if bottleneck else "basic_v2")
    preact = _relu(_bn(x, layer_name(unit, "preact"), standalone=True),
                   layer_name(unit, "preact.Relu"))
    if x.shape[-1] == out_depth:
        shortcut = _subsample(x, stride, layer_name(unit, "shortcut"))
    else:
        shortcut = conv2d_same(preact, out_depth, 1, layer_name(unit, "shortcut"), stride,
                               use_bias=True)
    if bottleneck:
        y = _conv_bn_relu(preact, depth, 1, layer_name(unit, "conv1"))
        y = _conv_bn_relu(y, depth, 3, layer_name(unit, "conv2"), stride)
        y = conv2d_same(y, out_depth, 1, layer_name(unit, "conv3"), use_bias=True)
    else:
        y = _conv_bn_relu(preact, depth, 3, layer_name(unit, "conv1"), stride)
        y = conv2d_same(y, depth, 3, layer_name(unit, "conv2"), use_bias=True)
    return layers.Add(name=layer_name(unit, "add"))([shortcut, y])


def build_resnet(
    version: int,
    depth: int,
    num_classes: int,
    input_shape: tuple[int, int, int],
    preprocessing: str = "inception",
) -> keras.Model:
    """TF-Slim's ResNet v1 or v2 of `depth` layers with `num_classes` logits, its
    variables named as TF-Slim's checkpoints name them."""
    if depth not in UNITS:
        raise ValueError(f"resnet depth {depth} is not one of {sorted(UNITS)}")
    scope = f"resnet_v{version}_{depth}"
    bottleneck = depth >= 50
    inputs = keras.Input(input_shape, name="images")
    x = scaled_input(inputs, scope, preprocessing)
    if version == 1:
        x = _conv_bn_relu(x, 64, 7, layer_name(scope, "conv1"), strides=2)
    else:
        x = conv2d_same(x, 64, 7, layer_name(scope, "conv1"), strides=2, use_bias=True)
    x = layers.MaxPooling2D(3, strides=2, padding="same", name=layer_name(scope, "pool1"))(x)
    unit_fn = _unit_v1 if version == 1 else _unit_v2
    for block, (units, block_depth, block_stride) in enumerate(
            zip(UNITS[depth], BLOCK_DEPTHS, BLOCK_STRIDES, strict=True)):
        for unit in range(units):
            stride = block_stride if unit == units - 1 else 1
            name = layer_name(scope, f"block{block + 1}", f"unit_{unit + 1}")
            x = unit_fn(x, block_depth, stride, bottleneck, name)
    if version == 2:
        x = _relu(_bn(x, layer_name(scope, "postnorm"), standalone=True),
                  layer_name(scope, "postnorm.Relu"))
    logits = classifier_head(x, num_classes, scope, "logits", conv=True)
    return model(inputs, {"logits": logits}, scope)
