"""Pieces shared by the Inception families: branches, pooling, the auxiliary head."""

from __future__ import annotations

import keras
from keras import layers

from nets.conv_blocks import classifier_head, conv_bn, scaled_input
from nets.scopes import layer_name

AUX_LOSS_WEIGHT = 0.4


def branch(x: keras.KerasTensor, scope: str, index: int, specs: list[tuple]) -> keras.KerasTensor:
    """A chain of conv_bn; each spec is (filters, kernel, slim_name[, strides, padding])."""
    for spec in specs:
        filters, kernel, name = spec[:3]
        strides = spec[3] if len(spec) > 3 else 1
        padding = spec[4] if len(spec) > 4 else "same"
        x = conv_bn(x, filters, kernel, layer_name(scope, f"Branch_{index}", name),
                    strides=strides, padding=padding, bn_scale=False)
    return x


def pool_branch(x: keras.KerasTensor, scope: str, index: int, kind: str, name: str,
                strides: int = 1, padding: str = "same") -> keras.KerasTensor:
    """An average or max pooling branch of an Inception block, named as TF-Slim names it."""
    pool = layers.AveragePooling2D if kind == "avg" else layers.MaxPooling2D
    return pool(3, strides=strides, padding=padding,
                name=layer_name(scope, f"Branch_{index}", name))(x)


def concat(branches: list[keras.KerasTensor], scope: str) -> keras.KerasTensor:
    """The block's branches joined on the channel axis (`scope/concat`)."""
    return layers.Concatenate(name=layer_name(scope, "concat"))(branches)


def stem_convolutions(inputs: keras.KerasTensor, scope: str,
                      preprocessing: str = "inception") -> keras.KerasTensor:
    """The three 3x3 convolutions every Inception family opens with."""
    x = scaled_input(inputs, scope, preprocessing)
    x = conv_bn(x, 32, 3, layer_name(scope, "Conv2d_1a_3x3"), strides=2, padding="valid",
                bn_scale=False)
    x = conv_bn(x, 32, 3, layer_name(scope, "Conv2d_2a_3x3"), padding="valid", bn_scale=False)
    return conv_bn(x, 64, 3, layer_name(scope, "Conv2d_2b_3x3"), bn_scale=False)


def pooled_stem(inputs: keras.KerasTensor, scope: str,
                preprocessing: str = "inception") -> keras.KerasTensor:
    """Inception-v3's stem, shared by Inception-ResNet-v2: to 192 channels at 1/8 size."""
    x = stem_convolutions(inputs, scope, preprocessing)
    x = layers.MaxPooling2D(3, strides=2, name=layer_name(scope, "MaxPool_3a_3x3"))(x)
    x = conv_bn(x, 80, 1, layer_name(scope, "Conv2d_3b_1x1"), padding="valid", bn_scale=False)
    x = conv_bn(x, 192, 3, layer_name(scope, "Conv2d_4a_3x3"), padding="valid", bn_scale=False)
    return layers.MaxPooling2D(3, strides=2, name=layer_name(scope, "MaxPool_5a_3x3"))(x)


def aux_head(x: keras.KerasTensor, num_classes: int, scope: str, mid_name: str = "Conv2d_2a_5x5",
             logits_name: str = "Logits", conv_logits: bool = False) -> keras.KerasTensor:
    """TF-Slim's AuxLogits: 5x5 avg pool, 1x1 conv 128, conv 768 over the rest, logits.

    The second convolution covers the whole pooled map (5x5 at the default size,
    'valid'), as TF-Slim's did; at larger inputs it stays 5x5 and is pooled after.
    The names of that convolution (`{size}`: its kernel size, as Inception-v3
    names it) and of the logits layer (a 1x1 convolution in Inception-v3, fully
    connected elsewhere) differ per family in TF-Slim.
    """
    pool = min(5, x.shape[1] or 5, x.shape[2] or 5)  # small inputs: the grid is under 5x5
    a = layers.AveragePooling2D(pool, strides=3, padding="valid",
                                name=layer_name(scope, "AvgPool_1a_5x5"))(x)
    a = conv_bn(a, 128, 1, layer_name(scope, "Conv2d_1b_1x1"), bn_scale=False)
    size = min(5, a.shape[1] or 5, a.shape[2] or 5)
    a = conv_bn(a, 768, size, layer_name(scope, mid_name.format(size=size)), padding="valid",
                bn_scale=False)
    return classifier_head(a, num_classes, scope, logits_name, conv=conv_logits)
