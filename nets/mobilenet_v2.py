"""MobileNet-v2 (Sandler et al. 2018): the small, fast net for CPU work, TF-Slim names."""

from __future__ import annotations

import keras
from keras import layers

from nets.conv_blocks import batch_norm, classifier_head, model, scaled_input
from nets.scopes import layer_name

SCOPE = "MobilenetV2"
MIN_SIZE = 32
# (expansion, output channels, repeats, first stride)
BLOCKS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
          (6, 160, 3, 2), (6, 320, 1, 1))


def _divisible(value: float, divisor: int = 8) -> int:
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def _relu6(x, name):
    return layers.ReLU(6.0, name=name)(x)


def _expanded_conv(x, expansion, filters, stride, scope):
    inputs = x
    if expansion != 1:
        x = layers.Conv2D(x.shape[-1] * expansion, 1, use_bias=False,
                          name=layer_name(scope, "expand"))(x)
        x = _relu6(batch_norm(x, layer_name(scope, "expand")), layer_name(scope, "expand.Relu6"))
    x = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False,
                               name=layer_name(scope, "depthwise"))(x)
    x = _relu6(batch_norm(x, layer_name(scope, "depthwise")),
               layer_name(scope, "depthwise.Relu6"))
    x = layers.Conv2D(filters, 1, use_bias=False, name=layer_name(scope, "project"))(x)
    x = batch_norm(x, layer_name(scope, "project"))
    if stride == 1 and inputs.shape[-1] == filters:
        x = layers.Add(name=layer_name(scope, "add"))([inputs, x])
    return x


def build_mobilenet_v2(num_classes: int, input_shape: tuple[int, int, int],
                       depth_multiplier: float = 1.0, dropout_keep: float = 0.8,
                       preprocessing: str = "inception") -> keras.Model:
    """TF-Slim's MobileNet-v2 at `depth_multiplier` with `num_classes` logits, its
    variables named as TF-Slim's checkpoints name them."""
    inputs = keras.Input(input_shape, name="images")
    x = scaled_input(inputs, SCOPE, preprocessing)
    first = _divisible(32 * depth_multiplier)
    x = layers.Conv2D(first, 3, strides=2, padding="same", use_bias=False,
                      name=layer_name(SCOPE, "Conv"))(x)
    x = _relu6(batch_norm(x, layer_name(SCOPE, "Conv")), layer_name(SCOPE, "Conv.Relu6"))
    index = 0
    for expansion, channels, repeats, stride in BLOCKS:
        for repeat in range(repeats):
            name = layer_name(SCOPE, "expanded_conv" + (f"_{index}" if index else ""))
            x = _expanded_conv(x, expansion, _divisible(channels * depth_multiplier),
                               stride if repeat == 0 else 1, name)
            index += 1
    last = _divisible(1280 * max(1.0, depth_multiplier))
    x = layers.Conv2D(last, 1, use_bias=False, name=layer_name(SCOPE, "Conv_1"))(x)
    x = _relu6(batch_norm(x, layer_name(SCOPE, "Conv_1")), layer_name(SCOPE, "Conv_1.Relu6"))
    logits = classifier_head(x, num_classes, layer_name(SCOPE, "Logits"), "Conv2d_1c_1x1",
                             dropout_keep, conv=True)
    return model(inputs, {"logits": logits}, SCOPE)
