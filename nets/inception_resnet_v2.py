"""Inception-ResNet-v2 (Szegedy et al. 2016) with TF-Slim's scope names."""

from __future__ import annotations

import keras
from keras import layers

from nets.conv_blocks import classifier_head, conv_bn, model
from nets.inception_blocks import aux_head, branch, concat, pool_branch, pooled_stem
from nets.scopes import layer_name

SCOPE = "InceptionResnetV2"
MIN_SIZE = 75


def _residual(x, mixed, scope, scale, activation=True):
    up = layers.Conv2D(x.shape[-1], 1, use_bias=True, name=layer_name(scope, "Conv2d_1x1"))(mixed)
    up = layers.Rescaling(scale, name=layer_name(scope, "Scale"))(up)
    x = layers.Add(name=layer_name(scope, "add"))([x, up])
    if activation:
        x = layers.Activation("relu", name=layer_name(scope, "Relu"))(x)
    return x


def _block35(x, scope):
    mixed = concat([
        branch(x, scope, 0, [(32, 1, "Conv2d_1x1")]),
        branch(x, scope, 1, [(32, 1, "Conv2d_0a_1x1"), (32, 3, "Conv2d_0b_3x3")]),
        branch(x, scope, 2, [(32, 1, "Conv2d_0a_1x1"), (48, 3, "Conv2d_0b_3x3"),
                             (64, 3, "Conv2d_0c_3x3")]),
    ], scope)
    return _residual(x, mixed, scope, 0.17)


def _block17(x, scope):
    mixed = concat([
        branch(x, scope, 0, [(192, 1, "Conv2d_1x1")]),
        branch(x, scope, 1, [(128, 1, "Conv2d_0a_1x1"), (160, (1, 7), "Conv2d_0b_1x7"),
                             (192, (7, 1), "Conv2d_0c_7x1")]),
    ], scope)
    return _residual(x, mixed, scope, 0.10)


def _block8(x, scope, scale=0.2, activation=True):
    mixed = concat([
        branch(x, scope, 0, [(192, 1, "Conv2d_1x1")]),
        branch(x, scope, 1, [(192, 1, "Conv2d_0a_1x1"), (224, (1, 3), "Conv2d_0b_1x3"),
                             (256, (3, 1), "Conv2d_0c_3x1")]),
    ], scope)
    return _residual(x, mixed, scope, scale, activation)


def build_inception_resnet_v2(num_classes: int, input_shape: tuple[int, int, int],
                              dropout_keep: float = 0.8,
                              preprocessing: str = "inception") -> keras.Model:
    """TF-Slim's Inception-ResNet-v2 with `num_classes` logits (and AuxLogits), its
    variables named as TF-Slim's checkpoints name them."""
    inputs = keras.Input(input_shape, name="images")
    s = lambda name: layer_name(SCOPE, name)  # noqa: E731
    x = pooled_stem(inputs, SCOPE, preprocessing)
    x = concat([
        branch(x, s("Mixed_5b"), 0, [(96, 1, "Conv2d_1x1")]),
        branch(x, s("Mixed_5b"), 1, [(48, 1, "Conv2d_0a_1x1"), (64, 5, "Conv2d_0b_5x5")]),
        branch(x, s("Mixed_5b"), 2, [(64, 1, "Conv2d_0a_1x1"), (96, 3, "Conv2d_0b_3x3"),
                                     (96, 3, "Conv2d_0c_3x3")]),
        branch(pool_branch(x, s("Mixed_5b"), 3, "avg", "AvgPool_0a_3x3"), s("Mixed_5b"), 3,
               [(64, 1, "Conv2d_0b_1x1")]),
    ], s("Mixed_5b"))
    for index in range(10):
        x = _block35(x, s(f"Repeat.block35_{index + 1}"))
    x = concat([
        branch(x, s("Mixed_6a"), 0, [(384, 3, "Conv2d_1a_3x3", 2, "valid")]),
        branch(x, s("Mixed_6a"), 1, [(256, 1, "Conv2d_0a_1x1"), (256, 3, "Conv2d_0b_3x3"),
                                     (384, 3, "Conv2d_1a_3x3", 2, "valid")]),
        pool_branch(x, s("Mixed_6a"), 2, "max", "MaxPool_1a_3x3", 2, "valid"),
    ], s("Mixed_6a"))
    for index in range(20):
        x = _block17(x, s(f"Repeat_1.block17_{index + 1}"))
    aux = aux_head(x, num_classes, s("AuxLogits"))
    x = concat([
        branch(x, s("Mixed_7a"), 0, [(256, 1, "Conv2d_0a_1x1"),
                                     (384, 3, "Conv2d_1a_3x3", 2, "valid")]),
        branch(x, s("Mixed_7a"), 1, [(256, 1, "Conv2d_0a_1x1"),
                                     (288, 3, "Conv2d_1a_3x3", 2, "valid")]),
        branch(x, s("Mixed_7a"), 2, [(256, 1, "Conv2d_0a_1x1"), (288, 3, "Conv2d_0b_3x3"),
                                     (320, 3, "Conv2d_1a_3x3", 2, "valid")]),
        pool_branch(x, s("Mixed_7a"), 3, "max", "MaxPool_1a_3x3", 2, "valid"),
    ], s("Mixed_7a"))
    for index in range(9):
        x = _block8(x, s(f"Repeat_2.block8_{index + 1}"))
    x = _block8(x, s("Block8"), scale=1.0, activation=False)
    x = conv_bn(x, 1536, 1, s("Conv2d_7b_1x1"), bn_scale=False)
    logits = classifier_head(x, num_classes, s("Logits"), "Logits", dropout_keep)
    return model(inputs, {"logits": logits, "aux_logits": aux}, SCOPE)
