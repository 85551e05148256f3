"""TF-Slim's own graphs (the tf-slim package), with random weights, saved the ways TF-Slim
and its model zoo save them; the peer our nets are compared against.

TF 2.21 note: tf-slim 1.1.0's batch norm imports
`tf_keras.legacy_tf_layers.normalization`, which tf-keras 2.21 keeps under
`tf_keras.src.`; the alias below makes it importable.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

from nets.conv_blocks import VGG_RGB_MEANS
from nets.nets_factory import get_net

LOGIT_STD = 3.0


def import_tf_slim():
    import tf_keras.src.legacy_tf_layers.normalization as normalization

    sys.modules.setdefault("tf_keras.legacy_tf_layers.normalization", normalization)
    import tf_slim
    from tf_slim.nets import inception_v3, resnet_v1, resnet_v2

    return tf_slim, {"resnet_v1": resnet_v1, "resnet_v2": resnet_v2,
                     "inception_v3": inception_v3}


def slim_eval_images(pixels: list[np.ndarray], size: int, preprocessing: str) -> np.ndarray:
    """TF-Slim's `preprocess_for_eval` geometry on integer (H, W, 3) images, in [0, 1]:
    inception crops the central 87.5 % then resizes; vgg resizes the shorter side to
    size / 0.875 (TF-Slim's fixed 256 at 224) and crops the centre. Both resize with
    TF1's `resize_bilinear(align_corners=False)`, as TF-Slim does."""
    out = []
    for array in pixels:
        image = tf.image.convert_image_dtype(tf.constant(array), tf.float32)
        if preprocessing == "inception":
            image = tf.image.central_crop(image, 0.875)
            image = tf.compat.v1.image.resize_bilinear(image[None], [size, size],
                                                       align_corners=False)[0]
        else:
            side = round(size / 0.875)
            height, width = image.shape[:2]
            scale = side / min(height, width)
            image = tf.compat.v1.image.resize_bilinear(
                image[None], [round(height * scale), round(width * scale)],
                align_corners=False)[0]
            top, left = (image.shape[0] - size) // 2, (image.shape[1] - size) // 2
            image = image[top:top + size, left:left + size]
        out.append(image.numpy())
    return np.stack(out)


def slim_input(images: np.ndarray, preprocessing: str) -> np.ndarray:
    """What TF-Slim's preprocessing hands its net for [0, 1] images."""
    if preprocessing == "vgg":
        return images * 255.0 - np.array(VGG_RGB_MEANS, np.float32)
    return images * 2.0 - 1.0


@dataclass
class SlimCheckpoints:
    name: str
    num_classes: int
    images: np.ndarray
    """[0, 1] float32 (N, S, S, 3): what our nets take."""
    logits: np.ndarray
    """TF-Slim's logits for `images`, its own preprocessing applied."""
    zoo_v2: str
    """A folder as a zoo tarball extracts: NAME.ckpt.index/.data, no state file."""
    zoo_v1: str
    """A V1 single-file checkpoint (the 2016 zoo tarballs)."""
    train_dir: str
    """TF-Slim's train_dir: model.ckpt-N with global_step, Momentum slots and
    ExponentialMovingAverage shadows, and a `checkpoint` state file."""
    average_logits: np.ndarray
    """TF-Slim's logits with the moving averages in place of the weights."""
    values: dict[str, np.ndarray] = field(default_factory=dict)
    """Every model variable by TF-Slim name."""


def _builder(name: str):
    slim, families = import_tf_slim()
    if name.startswith("resnet"):
        family = families[name[:9]]
        return slim, family.resnet_arg_scope, getattr(family, name)
    module = families[name]
    return slim, module.inception_v3_arg_scope, module.inception_v3


def save_tf_slim_checkpoints(name: str, directory: str, image_size: int, num_classes: int,
                             images: np.ndarray | None = None, seed: int = 0,
                             scale: bool = True, step: int = 8400) -> SlimCheckpoints:
    """Build TF-Slim's `name`, give it random weights and non-trivial batch-norm statistics
    (logits scaled to a standard deviation of about 3), and save it three ways.
    `images` ([0, 1], already at `image_size`) default to two random ones.

    `scale=False` builds the ResNets with TF-Slim's `batch_norm_scale=False` (no gamma)."""
    slim, arg_scope, net_fn = _builder(name)
    rng = np.random.default_rng(seed)
    if images is None:
        images = rng.uniform(0, 1, (2, image_size, image_size, 3)).astype(np.float32)
    preprocessing = get_net(name).preprocessing
    logits_scope = get_net(name).logits
    graph = tf.Graph()
    with graph.as_default():
        inputs = tf.compat.v1.placeholder(tf.float32, [None, image_size, image_size, 3])
        scope_args = {} if scale or not name.startswith("resnet") else {
            "batch_norm_scale": False}
        with slim.arg_scope(arg_scope(**scope_args)):
            output, _ = net_fn(inputs, num_classes=num_classes, is_training=False)
        logits = tf.reshape(output, [-1, num_classes])
        model_variables = tf.compat.v1.global_variables()
        global_step = tf.compat.v1.train.get_or_create_global_step()
        train_op = tf.compat.v1.train.MomentumOptimizer(0.01, 0.9).minimize(
            tf.reduce_mean(logits), global_step=global_step)
        averages = tf.compat.v1.train.ExponentialMovingAverage(0.99)
        average_op = averages.apply(tf.compat.v1.trainable_variables())
        del train_op, average_op
        everything = tf.compat.v1.global_variables()
        feeds = [tf.compat.v1.placeholder(v.dtype.base_dtype, v.shape) for v in everything]
        assign = tf.group(*[v.assign(f) for v, f in zip(everything, feeds, strict=True)])
        # One run per phase: each distinct session.run costs ~50 ms on a graph this size.
        feed = {inputs: slim_input(images, preprocessing)}
        with tf.compat.v1.Session() as session:

            def write(values: dict[str, np.ndarray]) -> None:
                session.run(assign, dict(zip(feeds, (values[v.op.name] for v in everything),
                                             strict=True)))

            session.run(tf.compat.v1.global_variables_initializer())
            values = dict(zip([v.op.name for v in everything], session.run(everything),
                              strict=True))
            for variable in model_variables:
                values[variable.op.name] = _randomised(variable.op.name,
                                                       values[variable.op.name], rng)
            write(values)
            raw = session.run(logits, feed)
            factor = LOGIT_STD / max(float(raw.std()), 1e-6)
            for variable in model_variables:
                if variable.op.name.startswith(logits_scope + "/"):
                    values[variable.op.name] = values[variable.op.name] * factor
            for variable in tf.compat.v1.trainable_variables():
                values[averages.average_name(variable)] = values[variable.op.name] * rng.uniform(
                    0.9, 1.1, values[variable.op.name].shape).astype(np.float32)
            values[global_step.op.name] = np.int64(step)
            write(values)
            expected = session.run(logits, feed)
            os.makedirs(os.path.join(directory, "zoo"), exist_ok=True)
            zoo_v2 = os.path.join(directory, "zoo", f"{name}.ckpt")
            tf.compat.v1.train.Saver(model_variables).save(
                session, zoo_v2, write_meta_graph=False, write_state=False)
            zoo_v1 = os.path.join(directory, f"{name}_v1.ckpt")
            tf.compat.v1.train.Saver(model_variables,
                                     write_version=tf.compat.v1.train.SaverDef.V1).save(
                session, zoo_v1, write_meta_graph=False, write_state=False)
            train_dir = os.path.join(directory, "slim_train")
            tf.compat.v1.train.Saver().save(session, os.path.join(train_dir, "model.ckpt"),
                                            global_step=step, write_meta_graph=False)
            averaged = dict(values)
            for variable in tf.compat.v1.trainable_variables():
                averaged[variable.op.name] = values[averages.average_name(variable)]
            write(averaged)
            average_logits = session.run(logits, feed)
    model_values = {v.op.name: values[v.op.name] for v in model_variables}
    return SlimCheckpoints(name, num_classes, images, expected, os.path.dirname(zoo_v2),
                           zoo_v1, train_dir, average_logits, model_values)


def _randomised(name: str, value: np.ndarray, rng) -> np.ndarray:
    """Batch-norm statistics and affine terms away from their 0/1 initial values."""
    if name.endswith("moving_variance"):
        return rng.uniform(0.5, 2.0, value.shape).astype(np.float32)
    if name.endswith(("moving_mean", "beta", "biases")):
        return rng.normal(0.0, 0.1, value.shape).astype(np.float32)
    if name.endswith("gamma"):
        return rng.uniform(0.8, 1.2, value.shape).astype(np.float32)
    return value
