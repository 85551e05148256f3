"""The pieces every family here is built from, named TF-Slim style.

The value-range half of TF-Slim's preprocessing lives in the net (the first
layer, `<scope>.Preprocess`), so every consumer of a model (training, eval,
classify, the SavedModel) hands it the same [0, 1] pixels and gets the range
the checkpoint was trained on:

- `inception`: [0, 1] -> [-1, 1] (TF-Slim's inception_preprocessing);
- `vgg`: [0, 1] -> 0-255 minus the ImageNet RGB means (vgg_preprocessing; the
  resnet_v1 zoo checkpoints were trained on it).
"""

from __future__ import annotations

import keras
from keras import layers

from nets.scopes import layer_name

BATCH_NORM_EPSILON = 1e-3
# Keras's default rather than TF-Slim's 0.997: moving statistics settle within the few
# hundred steps a CPU run takes (0.997 leaves them ~40% at their initial values after 300).
BATCH_NORM_MOMENTUM = 0.99
VGG_RGB_MEANS = (123.68, 116.78, 103.94)


def _inception_scale(inputs, name: str):
    return layers.Rescaling(2.0, offset=-1.0, name=name)(inputs)


def _vgg_scale(inputs, name: str):
    channels = inputs.shape[-1]
    means = list(VGG_RGB_MEANS) if channels == 3 else [sum(VGG_RGB_MEANS) / 3] * channels
    return layers.Rescaling(255.0, offset=[-m for m in means], name=name)(inputs)


PREPROCESSING_NAMES = {"inception": _inception_scale, "vgg": _vgg_scale}
"""The registry of `--preprocessing_name`: how [0, 1] images become the range a net's
weights expect ([-1, 1] for Inception-style nets, mean-subtracted 0-255 for VGG-style)."""


def batch_norm(x: keras.KerasTensor, scope: str, scale: bool = True,
               epsilon: float = BATCH_NORM_EPSILON,
               standalone: bool = False) -> keras.KerasTensor:
    """`scope/BatchNorm` under a convolution, or the scope itself when `standalone`
    (TF-Slim's `slim.batch_norm(scope='preact')` in ResNet v2)."""
    return layers.BatchNormalization(
        epsilon=epsilon, momentum=BATCH_NORM_MOMENTUM, scale=scale,
        name=scope if standalone else layer_name(scope, "BatchNorm"),
    )(x)


def conv_bn(
    x: keras.KerasTensor,
    filters: int,
    kernel: int | tuple[int, int],
    name: str,
    strides: int = 1,
    padding: str = "same",
    activation: bool = True,
    bn_scale: bool = True,
) -> keras.KerasTensor:
    """`name` is the layer (TF-Slim scope); BatchNorm and Relu sit under it."""
    x = layers.Conv2D(
        filters, kernel, strides=strides, padding=padding, use_bias=False,
        kernel_initializer="he_normal", name=name,
    )(x)
    x = batch_norm(x, name, scale=bn_scale)
    if activation:
        x = layers.Activation("relu", name=layer_name(name, "Relu"))(x)
    return x


def classifier_head(x: keras.KerasTensor, num_classes: int, scope: str, logits_name: str,
                    dropout_keep: float = 1.0, conv: bool = False) -> keras.KerasTensor:
    """Global average pool, optional dropout, then the logits layer `scope/logits_name`:
    a 1x1 convolution on the pooled map where TF-Slim has one (ResNets, Inception-v3,
    MobileNet-v2), else a fully connected layer (Inception-v4, Inception-ResNet-v2)."""
    x = layers.GlobalAveragePooling2D(keepdims=conv, name=layer_name(scope, "AvgPool"))(x)
    if dropout_keep < 1.0:
        x = layers.Dropout(1.0 - dropout_keep, name=layer_name(scope, "Dropout"))(x)
    name = layer_name(scope, logits_name)
    if not conv:
        return layers.Dense(num_classes, name=name, dtype="float32")(x)
    x = layers.Conv2D(num_classes, 1, name=name, dtype="float32")(x)
    return layers.Flatten(name=layer_name(name, "SpatialSqueeze"), dtype="float32")(x)


def scaled_input(inputs: keras.KerasTensor, scope: str,
                 preprocessing: str = "inception") -> keras.KerasTensor:
    """[0, 1] images from the input pipeline -> the range the net's weights expect."""
    scale = PREPROCESSING_NAMES.get(preprocessing)
    if scale is None:
        raise ValueError(f"preprocessing must be one of {', '.join(PREPROCESSING_NAMES)}, "
                         f"got {preprocessing!r}")
    return scale(inputs, layer_name(scope, "Preprocess"))


def model(inputs: keras.KerasTensor, outputs: dict, name: str) -> keras.Model:
    """The Keras model from `inputs` to the named `outputs` ({'logits'[, ...]})."""
    return keras.Model(inputs=inputs, outputs=outputs, name=name)
