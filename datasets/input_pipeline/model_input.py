"""The one input path: stored pixels -> what a net takes, for training, eval and serving.

`model_input` is the only place where image bytes become model input. The
tf.data pipeline (training and eval), classify_image (files, DICOM, records)
and the SavedModel's serving signature all call it, so a model never sees
images prepared two ways. In order:

1. decode: PNG (8/16-bit; the depth read from its header), JPEG, or raw or
   planar record pixels, to [0, 1] levels of the stored bit depth;
2. the folder preprocessing recorded with the data (`preprocess_image`'s method
   and value: metadata.csv -> dataset_spec.json -> the run config), applied to
   raw inputs only (records converted from a preprocessed folder already hold it),
   then tf_convert_data's `--max_image_size` scaling on inputs larger than it;
3. channels: gray <-> RGB (a zoo net takes RGB: gray is replicated);
4. size: TF-Slim's eval framing for serving and eval, a plain resize in
   training (whose augmentation follows in the pipeline), or the image's own
   size (segmentation predicts it in tiles).

The net's value range (TF-Slim's inception/vgg preprocessing) is its own first
layer, so it is part of every path too.
"""

from __future__ import annotations

from dataclasses import dataclass

import tensorflow as tf

from datasets.input_pipeline.eval_framing import frame_for_eval
from datasets.input_pipeline.size_limit import UINT16_TOP, limit_size
from dicom.preprocessing.methods import PixelPreprocessing, apply_method
from files.image_limits import MAX_IMAGE_PIXELS, PNG_SIGNATURE

PNG_BIT_DEPTH_OFFSET = 24  # IHDR: signature (8), length (4), type (4), width, height (8)


@dataclass(frozen=True)
class InputSpec:
    """How stored pixels become one model's input (from its run config or dataset spec)."""

    channels: int
    size: tuple[int, int] | None
    """(height, width) the net takes; None keeps the image's size."""
    framing: str | None = None
    """TF-Slim eval framing (`inception`, `vgg`); None resizes the whole image."""
    preprocessing: PixelPreprocessing | None = None
    """The folder preprocessing the model was trained on, applied to raw inputs."""
    max_image_size: int | None = None
    """The longer side tf_convert_data scaled the training records to (--max_image_size);
    larger inputs are scaled down the same way first."""


def encoded_levels(data: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """PNG (8/16-bit) or JPEG bytes -> ([0, 1] float32 (H, W, 1 or 3), bit depth).

    PNG is decoded at 16 bits (8-bit levels scaled by 257: exact); anything else at 8
    bits, scaled the same way (TensorFlow's own 8 -> 16-bit conversion multiplies by 256).
    """
    is_png = tf.strings.substr(data, 0, len(PNG_SIGNATURE)) == PNG_SIGNATURE
    _check_declared_size(data, is_png)

    def png():
        depth_byte = tf.strings.substr(data, PNG_BIT_DEPTH_OFFSET, 1)
        bits = tf.cast(tf.io.decode_raw(depth_byte, tf.uint8)[0], tf.int32)
        return tf.io.decode_png(data, channels=0, dtype=tf.uint16), tf.minimum(bits, 16)

    def other():
        pixels = tf.io.decode_image(data, channels=0, dtype=tf.uint8, expand_animations=False)
        return tf.cast(pixels, tf.uint16) * 257, tf.constant(8)

    pixels, bits = tf.cond(is_png, png, other)
    pixels = tf.cond(tf.shape(pixels)[-1] % 2 == 0, lambda: pixels[..., :-1],  # drop alpha
                     lambda: pixels)
    return tf.cast(pixels, tf.float32) / UINT16_TOP, bits


def _check_declared_size(data: tf.Tensor, is_png: tf.Tensor) -> None:
    """The pixel limit on the header's size, before decoding (a PNG bomb stops here)."""
    def png_size():
        header = tf.io.decode_raw(tf.strings.substr(data, 16, 8), tf.uint8)
        values = tf.cast(header, tf.int64)
        width = values[0] * 2**24 + values[1] * 2**16 + values[2] * 2**8 + values[3]
        height = values[4] * 2**24 + values[5] * 2**16 + values[6] * 2**8 + values[7]
        return width * height

    def other_size():
        shape = tf.cast(tf.image.extract_jpeg_shape(data), tf.int64)
        return shape[0] * shape[1]

    is_jpeg = tf.strings.substr(data, 0, 3) == b"\xff\xd8\xff"
    pixels = tf.cond(is_png, png_size,
                     lambda: tf.cond(is_jpeg, other_size, lambda: tf.constant(0, tf.int64)))
    tf.debugging.assert_less_equal(
        pixels, tf.constant(MAX_IMAGE_PIXELS, tf.int64),
        message=f"image too large: over the limit of {MAX_IMAGE_PIXELS:,} pixels")


def preprocessing_still_due(model: PixelPreprocessing | None,
                            records: PixelPreprocessing | None) -> PixelPreprocessing | None:
    """What is left to apply to records a model reads: nothing when the records already hold
    the model's preprocessing, the model's own when they hold raw pixels."""
    if records is None or records == model:
        return None if records == model else model
    raise ValueError(f"these records hold pixels preprocessed with {records.describe()}, but "
                     f"the model was trained on {model.describe() if model else 'raw pixels'}")


def raw_levels(data: tf.Tensor, height: tf.Tensor, width: tf.Tensor, channels: tf.Tensor,
               bits: int) -> tuple[tf.Tensor, tf.Tensor]:
    """Raw little-endian record pixels (8 or 16 bit) -> ([0, 1] float32, bit depth)."""
    dtype = tf.uint16 if bits == 16 else tf.uint8
    pixels = tf.reshape(tf.io.decode_raw(data, dtype), tf.stack([height, width, channels]))
    return tf.cast(pixels, tf.float32) / float(dtype.max), tf.constant(bits)


def planar_levels(data: tf.Tensor, height: tf.Tensor, width: tf.Tensor,
                  channels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """`planar` record pixels (datasets.records.planar_pixels) -> ([0, 1] float32, bit depth).

    The levels are computed as PNG's are (16-bit value / 65535, 8-bit value * 257 / 65535),
    so planar and PNG records of the same image give the same floats, bit for bit.
    The header's lengths are read with a bitcast: little-endian hosts (x86, ARM).
    """
    count = tf.cast(height * width * channels, tf.int32)
    num_planes = tf.io.decode_raw(tf.strings.substr(data, 0, 1), tf.uint8)[0]

    def plane(offset, length):
        chunk = tf.strings.substr(data, offset, length)
        stored = tf.cond(length < count, lambda: tf.io.decode_compressed(chunk, "ZLIB"),
                         lambda: chunk)
        return tf.cast(tf.io.decode_raw(stored, tf.uint8), tf.float32)

    def sixteen():
        lengths = tf.bitcast(tf.reshape(
            tf.io.decode_raw(tf.strings.substr(data, 1, 8), tf.uint8), [2, 4]), tf.int32)
        high, low = plane(9, lengths[0]), plane(9 + lengths[0], lengths[1])
        return high * 256.0 + low, tf.constant(16)

    def eight():
        length = tf.bitcast(tf.io.decode_raw(tf.strings.substr(data, 1, 4), tf.uint8), tf.int32)
        return plane(5, length) * 257.0, tf.constant(8)

    values, bits = tf.cond(num_planes == 2, sixteen, eight)
    levels = tf.reshape(values, tf.stack([height, width, channels]))
    return levels / UINT16_TOP, bits


def prepare(image: tf.Tensor, bits: tf.Tensor, spec: InputSpec) -> tf.Tensor:
    """Steps 2-4 of the path on decoded [0, 1] levels: preprocessing, channels, size."""
    if spec.preprocessing is not None:
        image = apply_method(image, bits, spec.preprocessing.method, spec.preprocessing.value)
    image = limit_size(image, bits, spec.max_image_size)
    stored = tf.shape(image)[-1]
    if spec.channels == 3:
        image = tf.cond(stored == 1, lambda: tf.image.grayscale_to_rgb(image), lambda: image)
    else:
        image = tf.cond(stored == 3, lambda: tf.image.rgb_to_grayscale(image), lambda: image)
    image = tf.ensure_shape(image, [None, None, spec.channels])
    if spec.size is None:
        return image
    height, width = spec.size
    if spec.framing:
        return frame_for_eval(image, height, width, spec.framing)
    return tf.image.resize(image, [height, width])


def model_input(data: tf.Tensor, spec: InputSpec) -> tf.Tensor:
    """Encoded image bytes -> float32 (height, width, channels): the one input path."""
    image, bits = encoded_levels(data)
    return prepare(image, bits, spec)
