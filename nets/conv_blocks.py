"""The conv -> batch norm -> ReLU unit every family here is built from, named TF-Slim style."""

from __future__ import annotations

import keras
from keras import layers

from nets.scopes import layer_name

BATCH_NORM_EPSILON = 1e-3
# Keras's default rather than TF-Slim's 0.997: moving statistics settle within the few
# hundred steps a CPU run takes (0.997 leaves them ~40% at their initial values after 300).
BATCH_NORM_MOMENTUM = 0.99


def batch_norm(x, name: str, scale: bool = True):
    return layers.BatchNormalization(
        epsilon=BATCH_NORM_EPSILON, momentum=BATCH_NORM_MOMENTUM, scale=scale,
        name=layer_name(name, "BatchNorm"),
    )(x)


def conv_bn(
    x,
    filters: int,
    kernel: int | tuple[int, int],
    name: str,
    strides: int = 1,
    padding: str = "same",
    activation: bool = True,
    bn_scale: bool = True,
):
    """`name` is the layer (TF-Slim scope); BatchNorm and Relu sit under it."""
    x = layers.Conv2D(
        filters, kernel, strides=strides, padding=padding, use_bias=False,
        kernel_initializer="he_normal", name=name,
    )(x)
    x = batch_norm(x, name, scale=bn_scale)
    if activation:
        x = layers.Activation("relu", name=layer_name(name, "Relu"))(x)
    return x


def classifier_head(x, num_classes: int, scope: str, dropout_keep: float = 1.0):
    """Global average pool, optional dropout, then the logits layer `scope`."""
    x = layers.GlobalAveragePooling2D(name=layer_name(scope, "AvgPool"))(x)
    if dropout_keep < 1.0:
        x = layers.Dropout(1.0 - dropout_keep, name=layer_name(scope, "Dropout"))(x)
    return layers.Dense(num_classes, name=scope, dtype="float32")(x)


def scaled_input(inputs, scope: str):
    """[0, 1] images from the input pipeline -> [-1, 1], the range TF-Slim nets train on."""
    return layers.Rescaling(2.0, offset=-1.0, name=layer_name(scope, "Preprocess"))(inputs)


def model(inputs, outputs: dict, name: str) -> keras.Model:
    return keras.Model(inputs=inputs, outputs=outputs, name=name)
