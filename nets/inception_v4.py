"""Inception-v4 (Szegedy et al. 2016) with TF-Slim's scope names (InceptionV4/...)."""

from __future__ import annotations

import keras
from keras import layers

from nets.conv_blocks import classifier_head, model
from nets.inception_blocks import (
    aux_head,
    branch,
    concat,
    pool_branch,
    stem_convolutions,
)
from nets.scopes import layer_name

SCOPE = "InceptionV4"
MIN_SIZE = 75


def _block_a(x, scope):
    return concat([
        branch(x, scope, 0, [(96, 1, "Conv2d_0a_1x1")]),
        branch(x, scope, 1, [(64, 1, "Conv2d_0a_1x1"), (96, 3, "Conv2d_0b_3x3")]),
        branch(x, scope, 2, [(64, 1, "Conv2d_0a_1x1"), (96, 3, "Conv2d_0b_3x3"),
                             (96, 3, "Conv2d_0c_3x3")]),
        branch(pool_branch(x, scope, 3, "avg", "AvgPool_0a_3x3"), scope, 3,
               [(96, 1, "Conv2d_0b_1x1")]),
    ], scope)


def _reduction_a(x, scope):
    return concat([
        branch(x, scope, 0, [(384, 3, "Conv2d_1a_3x3", 2, "valid")]),
        branch(x, scope, 1, [(192, 1, "Conv2d_0a_1x1"), (224, 3, "Conv2d_0b_3x3"),
                             (256, 3, "Conv2d_1a_3x3", 2, "valid")]),
        pool_branch(x, scope, 2, "max", "MaxPool_1a_3x3", 2, "valid"),
    ], scope)


def _block_b(x, scope):
    return concat([
        branch(x, scope, 0, [(384, 1, "Conv2d_0a_1x1")]),
        branch(x, scope, 1, [(192, 1, "Conv2d_0a_1x1"), (224, (1, 7), "Conv2d_0b_1x7"),
                             (256, (7, 1), "Conv2d_0c_7x1")]),
        branch(x, scope, 2, [(192, 1, "Conv2d_0a_1x1"), (192, (7, 1), "Conv2d_0b_7x1"),
                             (224, (1, 7), "Conv2d_0c_1x7"), (224, (7, 1), "Conv2d_0d_7x1"),
                             (256, (1, 7), "Conv2d_0e_1x7")]),
        branch(pool_branch(x, scope, 3, "avg", "AvgPool_0a_3x3"), scope, 3,
               [(128, 1, "Conv2d_0b_1x1")]),
    ], scope)


def _reduction_b(x, scope):
    return concat([
        branch(x, scope, 0, [(192, 1, "Conv2d_0a_1x1"), (192, 3, "Conv2d_1a_3x3", 2, "valid")]),
        branch(x, scope, 1, [(256, 1, "Conv2d_0a_1x1"), (256, (1, 7), "Conv2d_0b_1x7"),
                             (320, (7, 1), "Conv2d_0c_7x1"),
                             (320, 3, "Conv2d_1a_3x3", 2, "valid")]),
        pool_branch(x, scope, 2, "max", "MaxPool_1a_3x3", 2, "valid"),
    ], scope)


def _split(x, scope, index, names):
    return layers.Concatenate(name=layer_name(scope, f"Branch_{index}", "concat"))([
        branch(x, scope, index, [(256, (1, 3), names[0])]),
        branch(x, scope, index, [(256, (3, 1), names[1])]),
    ])


def _block_c(x, scope):
    b1 = branch(x, scope, 1, [(384, 1, "Conv2d_0a_1x1")])
    b2 = branch(x, scope, 2, [(384, 1, "Conv2d_0a_1x1"), (448, (3, 1), "Conv2d_0b_3x1"),
                              (512, (1, 3), "Conv2d_0c_1x3")])
    return concat([
        branch(x, scope, 0, [(256, 1, "Conv2d_0a_1x1")]),
        _split(b1, scope, 1, ("Conv2d_0b_1x3", "Conv2d_0c_3x1")),
        _split(b2, scope, 2, ("Conv2d_0d_1x3", "Conv2d_0e_3x1")),
        branch(pool_branch(x, scope, 3, "avg", "AvgPool_0a_3x3"), scope, 3,
               [(256, 1, "Conv2d_0b_1x1")]),
    ], scope)


def build_inception_v4(num_classes: int, input_shape: tuple[int, int, int],
                       dropout_keep: float = 0.8, preprocessing: str = "inception") -> keras.Model:
    """TF-Slim's Inception-v4 with `num_classes` logits (and AuxLogits), its variables
    named as TF-Slim's checkpoints name them."""
    inputs = keras.Input(input_shape, name="images")
    s = lambda name: layer_name(SCOPE, name)  # noqa: E731
    x = stem_convolutions(inputs, SCOPE, preprocessing)
    x = concat([
        pool_branch(x, s("Mixed_3a"), 0, "max", "MaxPool_0a_3x3", 2, "valid"),
        branch(x, s("Mixed_3a"), 1, [(96, 3, "Conv2d_0a_3x3", 2, "valid")]),
    ], s("Mixed_3a"))
    x = concat([
        branch(x, s("Mixed_4a"), 0, [(64, 1, "Conv2d_0a_1x1"),
                                     (96, 3, "Conv2d_1a_3x3", 1, "valid")]),
        branch(x, s("Mixed_4a"), 1, [(64, 1, "Conv2d_0a_1x1"), (64, (1, 7), "Conv2d_0b_1x7"),
                                     (64, (7, 1), "Conv2d_0c_7x1"),
                                     (96, 3, "Conv2d_1a_3x3", 1, "valid")]),
    ], s("Mixed_4a"))
    x = concat([
        branch(x, s("Mixed_5a"), 0, [(192, 3, "Conv2d_1a_3x3", 2, "valid")]),
        pool_branch(x, s("Mixed_5a"), 1, "max", "MaxPool_1a_3x3", 2, "valid"),
    ], s("Mixed_5a"))
    for letter in "bcde":
        x = _block_a(x, s(f"Mixed_5{letter}"))
    x = _reduction_a(x, s("Mixed_6a"))
    for letter in "bcdefgh":
        x = _block_b(x, s(f"Mixed_6{letter}"))
    aux = aux_head(x, num_classes, s("AuxLogits"), mid_name="Conv2d_2a",
                   logits_name="Aux_logits")
    x = _reduction_b(x, s("Mixed_7a"))
    for letter in "bcd":
        x = _block_c(x, s(f"Mixed_7{letter}"))
    logits = classifier_head(x, num_classes, s("Logits"), "Logits", dropout_keep)
    return model(inputs, {"logits": logits, "aux_logits": aux}, SCOPE)
