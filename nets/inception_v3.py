"""Inception-v3 (Szegedy et al. 2015) with TF-Slim's scope names (InceptionV3/...)."""

from __future__ import annotations

import keras
from keras import layers

from nets.conv_blocks import classifier_head, model
from nets.inception_blocks import aux_head, branch, concat, pool_branch, pooled_stem
from nets.scopes import layer_name

SCOPE = "InceptionV3"
MIN_SIZE = 75


def _mixed_5(x, scope, pool_filters, branch_1_names=("Conv2d_0a_1x1", "Conv2d_0b_5x5")):
    first, second = branch_1_names
    return concat([
        branch(x, scope, 0, [(64, 1, "Conv2d_0a_1x1")]),
        branch(x, scope, 1, [(48, 1, first), (64, 5, second)]),
        branch(x, scope, 2, [(64, 1, "Conv2d_0a_1x1"), (96, 3, "Conv2d_0b_3x3"),
                             (96, 3, "Conv2d_0c_3x3")]),
        branch(pool_branch(x, scope, 3, "avg", "AvgPool_0a_3x3"), scope, 3,
               [(pool_filters, 1, "Conv2d_0b_1x1")]),
    ], scope)


def _mixed_6(x, scope, width):
    return concat([
        branch(x, scope, 0, [(192, 1, "Conv2d_0a_1x1")]),
        branch(x, scope, 1, [(width, 1, "Conv2d_0a_1x1"), (width, (1, 7), "Conv2d_0b_1x7"),
                             (192, (7, 1), "Conv2d_0c_7x1")]),
        branch(x, scope, 2, [(width, 1, "Conv2d_0a_1x1"), (width, (7, 1), "Conv2d_0b_7x1"),
                             (width, (1, 7), "Conv2d_0c_1x7"), (width, (7, 1), "Conv2d_0d_7x1"),
                             (192, (1, 7), "Conv2d_0e_1x7")]),
        branch(pool_branch(x, scope, 3, "avg", "AvgPool_0a_3x3"), scope, 3,
               [(192, 1, "Conv2d_0b_1x1")]),
    ], scope)


def _mixed_7(x, scope, branch_1_3x1="Conv2d_0c_3x1"):
    def split(y, index):
        return layers.Concatenate(name=layer_name(scope, f"Branch_{index}", "concat"))([
            branch(y, scope, index, [(384, (1, 3), "Conv2d_0b_1x3")]),
            branch(y, scope, index, [(384, (3, 1), branch_1_3x1)]),
        ])

    b1 = branch(x, scope, 1, [(384, 1, "Conv2d_0a_1x1")])
    b2 = branch(x, scope, 2, [(448, 1, "Conv2d_0a_1x1"), (384, 3, "Conv2d_0b_3x3")])
    return concat([
        branch(x, scope, 0, [(320, 1, "Conv2d_0a_1x1")]),
        split(b1, 1),
        layers.Concatenate(name=layer_name(scope, "Branch_2", "concat"))([
            branch(b2, scope, 2, [(384, (1, 3), "Conv2d_0c_1x3")]),
            branch(b2, scope, 2, [(384, (3, 1), "Conv2d_0d_3x1")]),
        ]),
        branch(pool_branch(x, scope, 3, "avg", "AvgPool_0a_3x3"), scope, 3,
               [(192, 1, "Conv2d_0b_1x1")]),
    ], scope)


def build_inception_v3(num_classes: int, input_shape: tuple[int, int, int],
                       dropout_keep: float = 0.8, preprocessing: str = "inception") -> keras.Model:
    """TF-Slim's Inception-v3 with `num_classes` logits (and AuxLogits), its variables
    named as TF-Slim's checkpoints name them."""
    inputs = keras.Input(input_shape, name="images")
    s = lambda name: layer_name(SCOPE, name)  # noqa: E731
    x = pooled_stem(inputs, SCOPE, preprocessing)
    x = _mixed_5(x, s("Mixed_5b"), 32)
    # TF-Slim's own names, typos included, so its checkpoints map one to one.
    x = _mixed_5(x, s("Mixed_5c"), 64, ("Conv2d_0b_1x1", "Conv_1_0c_5x5"))
    x = _mixed_5(x, s("Mixed_5d"), 64)
    x = concat([
        branch(x, s("Mixed_6a"), 0, [(384, 3, "Conv2d_1a_1x1", 2, "valid")]),
        branch(x, s("Mixed_6a"), 1, [(64, 1, "Conv2d_0a_1x1"), (96, 3, "Conv2d_0b_3x3"),
                                     (96, 3, "Conv2d_1a_1x1", 2, "valid")]),
        pool_branch(x, s("Mixed_6a"), 2, "max", "MaxPool_1a_3x3", 2, "valid"),
    ], s("Mixed_6a"))
    x = _mixed_6(x, s("Mixed_6b"), 128)
    x = _mixed_6(x, s("Mixed_6c"), 160)
    x = _mixed_6(x, s("Mixed_6d"), 160)
    x = _mixed_6(x, s("Mixed_6e"), 192)
    aux = aux_head(x, num_classes, s("AuxLogits"), mid_name="Conv2d_2a_{size}x{size}",
                   logits_name="Conv2d_2b_1x1", conv_logits=True)
    x = concat([
        branch(x, s("Mixed_7a"), 0, [(192, 1, "Conv2d_0a_1x1"),
                                     (320, 3, "Conv2d_1a_3x3", 2, "valid")]),
        branch(x, s("Mixed_7a"), 1, [(192, 1, "Conv2d_0a_1x1"), (192, (1, 7), "Conv2d_0b_1x7"),
                                     (192, (7, 1), "Conv2d_0c_7x1"),
                                     (192, 3, "Conv2d_1a_3x3", 2, "valid")]),
        pool_branch(x, s("Mixed_7a"), 2, "max", "MaxPool_1a_3x3", 2, "valid"),
    ], s("Mixed_7a"))
    x = _mixed_7(x, s("Mixed_7b"), branch_1_3x1="Conv2d_0b_3x1")
    x = _mixed_7(x, s("Mixed_7c"))
    logits = classifier_head(x, num_classes, s("Logits"), "Conv2d_1c_1x1", dropout_keep,
                             conv=True)
    return model(inputs, {"logits": logits, "aux_logits": aux}, SCOPE)
