"""UNet (Ronneberger et al. 2015) and UNet++ (Zhou et al. 2018) for segmentation.

Both output per-pixel logits (H, W, num_classes) at the input size, which must
be divisible by 2**depth. UNet++ nests dense skip paths: node X[i][j] sees
every X[i][k<j] and the upsampled X[i+1][j-1]; with deep supervision each
top-row node X[0][j] gets its own head (`deep_j` outputs, averaged into
`logits`), so a pruned, shallower net can be read off after training.
"""

from __future__ import annotations

import keras
from keras import layers

from nets.conv_blocks import batch_norm, model, scaled_input
from nets.scopes import layer_name


def _conv_block(x, filters: int, scope: str, use_batch_norm: bool, dropout: float = 0.0):
    for index in (1, 2):
        name = layer_name(scope, f"conv{index}")
        x = layers.Conv2D(filters, 3, padding="same", use_bias=not use_batch_norm,
                          kernel_initializer="he_normal", name=name)(x)
        if use_batch_norm:
            x = batch_norm(x, name)
        x = layers.Activation("relu", name=layer_name(name, "Relu"))(x)
    if dropout:
        x = layers.Dropout(dropout, name=layer_name(scope, "Dropout"))(x)
    return x


def _up(x, filters: int, scope: str):
    return layers.Conv2DTranspose(filters, 2, strides=2, padding="same",
                                  name=layer_name(scope, "up"))(x)


def _head(x, num_classes: int, name: str):
    return layers.Conv2D(num_classes, 1, name=name, dtype="float32")(x)


def _check(input_shape: tuple[int, int, int], depth: int) -> None:
    step = 2 ** depth
    if input_shape[0] % step or input_shape[1] % step:
        raise ValueError(f"UNet of depth {depth} needs height and width divisible by {step}, "
                         f"got {input_shape[0]}x{input_shape[1]}")


def build_unet(num_classes: int, input_shape: tuple[int, int, int], depth: int = 4,
               base_filters: int = 32, batch_norm: bool = True,
               dropout: float = 0.0, preprocessing: str = "inception") -> keras.Model:
    """A UNet of `depth` levels with `num_classes` logits per pixel."""
    _check(input_shape, depth)
    scope = "UNet"
    inputs = keras.Input(input_shape, name="images")
    x = scaled_input(inputs, scope, preprocessing)
    skips = []
    for level in range(depth):
        x = _conv_block(x, base_filters * 2**level, layer_name(scope, f"down{level}"), batch_norm)
        skips.append(x)
        x = layers.MaxPooling2D(2, name=layer_name(scope, f"down{level}", "pool"))(x)
    x = _conv_block(x, base_filters * 2**depth, layer_name(scope, "bottom"), batch_norm, dropout)
    for level in reversed(range(depth)):
        name = layer_name(scope, f"up{level}")
        x = _up(x, base_filters * 2**level, name)
        x = layers.Concatenate(name=layer_name(name, "concat"))([skips[level], x])
        x = _conv_block(x, base_filters * 2**level, name, batch_norm)
    logits = _head(x, num_classes, layer_name(scope, "logits"))
    return model(inputs, {"logits": logits}, scope)


def build_unet_plus_plus(num_classes: int, input_shape: tuple[int, int, int], depth: int = 4,
                         base_filters: int = 32, batch_norm: bool = True, dropout: float = 0.0,
                         deep_supervision: bool = False,
                         preprocessing: str = "inception") -> keras.Model:
    """A UNet++ of `depth` levels with `num_classes` logits per pixel; with
    `deep_supervision`, one output per nested decoder as well (`deep_*`)."""
    _check(input_shape, depth)
    scope = "UNetPlusPlus"
    inputs = keras.Input(input_shape, name="images")
    x = scaled_input(inputs, scope, preprocessing)
    nodes: dict[tuple[int, int], object] = {}
    for level in range(depth + 1):
        name = layer_name(scope, f"X{level}_0")
        source = x if level == 0 else layers.MaxPooling2D(
            2, name=layer_name(name, "pool"))(nodes[(level - 1, 0)])
        nodes[(level, 0)] = _conv_block(source, base_filters * 2**level, name, batch_norm,
                                        dropout if level == depth else 0.0)
    for column in range(1, depth + 1):
        for level in range(depth + 1 - column):
            name = layer_name(scope, f"X{level}_{column}")
            up = _up(nodes[(level + 1, column - 1)], base_filters * 2**level, name)
            merged = layers.Concatenate(name=layer_name(name, "concat"))(
                [nodes[(level, k)] for k in range(column)] + [up])
            nodes[(level, column)] = _conv_block(merged, base_filters * 2**level, name,
                                                 batch_norm)
    if not deep_supervision:
        logits = _head(nodes[(0, depth)], num_classes, layer_name(scope, "logits"))
        return model(inputs, {"logits": logits}, scope)
    heads = {f"deep_{column}": _head(nodes[(0, column)], num_classes,
                                     layer_name(scope, f"logits_{column}"))
             for column in range(1, depth + 1)}
    logits = layers.Average(name=layer_name(scope, "logits"), dtype="float32")(
        list(heads.values()))
    return model(inputs, {"logits": logits, **heads}, scope)
