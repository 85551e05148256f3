"""tf.train.Example layout: TF-Slim's feature keys plus channels, class text, ids.

Building an Example needs only the protobuf classes, so conversion workers
never start the TensorFlow runtime; parsing is done by tf.data in the reader.
"""

from __future__ import annotations

from tensorflow.core.example import example_pb2, feature_pb2

from datasets.records.record_images import RecordImage
from datasets.records.tasks import record_task

ENCODED = "image/encoded"
FORMAT = "image/format"
HEIGHT = "image/height"
WIDTH = "image/width"
CHANNELS = "image/channels"
LABEL = "image/class/label"
LABEL_TEXT = "image/class/text"
MULTI_HOT = "image/class/multi_hot"
LABEL_MASK = "image/class/mask"
ID = "image/id"
PATIENT_ID = "image/patient_id"
MASK_ENCODED = "image/segmentation/class/encoded"
MASK_FORMAT = "image/segmentation/class/format"


def _bytes(value: bytes | str) -> feature_pb2.Feature:
    data = value.encode("utf-8") if isinstance(value, str) else value
    return feature_pb2.Feature(bytes_list=feature_pb2.BytesList(value=[data]))


def _int(value: int) -> feature_pb2.Feature:
    return feature_pb2.Feature(int64_list=feature_pb2.Int64List(value=[value]))


def _ints(values: list[int]) -> feature_pb2.Feature:
    return feature_pb2.Feature(int64_list=feature_pb2.Int64List(value=values))


Attributes = tuple[tuple[str, str], ...]
"""(name, value) pairs of catalog attributes, stored as `attribute/NAME` (evaluation
slices by them; the model never reads them)."""
ATTRIBUTE_PREFIX = "attribute/"


def _image_features(image: RecordImage, example_id: str, patient_id: str,
                    attributes: Attributes = ()) -> dict:
    return {
        ENCODED: _bytes(image.data),
        FORMAT: _bytes(image.format),
        HEIGHT: _int(image.height),
        WIDTH: _int(image.width),
        CHANNELS: _int(image.channels),
        ID: _bytes(example_id),
        PATIENT_ID: _bytes(patient_id),
        **{ATTRIBUTE_PREFIX + name: _bytes(value) for name, value in attributes},
    }


def classification_example(
    image: RecordImage, label: int, label_text: str, example_id: str, patient_id: str,
    attributes: Attributes = (),
) -> bytes:
    """The serialized tf.train.Example of a labelled image."""
    features = _image_features(image, example_id, patient_id, attributes)
    features[LABEL] = _int(label)
    features[LABEL_TEXT] = _bytes(label_text)
    return _serialize(features)


def multilabel_example(
    image: RecordImage, targets: list[int], mask: list[int], label_text: str,
    example_id: str, patient_id: str, attributes: Attributes = (),
) -> bytes:
    """Multi-hot targets and a mask (1: known, 0: left out of the loss), one per label."""
    features = _image_features(image, example_id, patient_id, attributes)
    features[MULTI_HOT] = _ints(targets)
    features[LABEL_MASK] = _ints(mask)
    features[LABEL_TEXT] = _bytes(label_text)
    return _serialize(features)


def segmentation_example(
    image: RecordImage, mask_png: bytes, example_id: str, patient_id: str,
    attributes: Attributes = (),
) -> bytes:
    """The serialized tf.train.Example of an image and its PNG mask."""
    features = _image_features(image, example_id, patient_id, attributes)
    features[MASK_ENCODED] = _bytes(mask_png)
    features[MASK_FORMAT] = _bytes("png")
    return _serialize(features)


def _serialize(features: dict) -> bytes:
    # deterministic: map keys sorted, so the same image gives the same bytes in any process
    example = example_pb2.Example(features=feature_pb2.Features(feature=features))
    return example.SerializeToString(deterministic=True)


def image_parsing_spec() -> dict:
    """`tf.io.parse_single_example` features every record holds, whatever its task: the
    image, its size and its names (what a reader of the image alone needs)."""
    import tensorflow as tf

    return {
        ENCODED: tf.io.FixedLenFeature([], tf.string),
        FORMAT: tf.io.FixedLenFeature([], tf.string, default_value="png"),
        HEIGHT: tf.io.FixedLenFeature([], tf.int64),
        WIDTH: tf.io.FixedLenFeature([], tf.int64),
        CHANNELS: tf.io.FixedLenFeature([], tf.int64, default_value=0),
        ID: tf.io.FixedLenFeature([], tf.string, default_value=""),
        PATIENT_ID: tf.io.FixedLenFeature([], tf.string, default_value=""),
    }


def parsing_spec(task: str, num_labels: int = 0) -> dict:
    """`tf.io.parse_single_example` features for a record of `task` (multi-label records
    carry `num_labels` targets and mask entries)."""
    import tensorflow as tf

    spec = image_parsing_spec()
    kind = record_task(task)
    if kind.dense:
        spec[MASK_ENCODED] = tf.io.FixedLenFeature([], tf.string)
    elif kind.multi_label:
        spec[MULTI_HOT] = tf.io.FixedLenFeature([num_labels], tf.int64)
        spec[LABEL_MASK] = tf.io.FixedLenFeature([num_labels], tf.int64)
        spec[LABEL_TEXT] = tf.io.FixedLenFeature([], tf.string, default_value="")
    else:
        spec[LABEL] = tf.io.FixedLenFeature([], tf.int64)
        spec[LABEL_TEXT] = tf.io.FixedLenFeature([], tf.string, default_value="")
    return spec
