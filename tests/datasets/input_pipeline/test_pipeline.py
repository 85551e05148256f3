"""The tf.data pipeline and dataset_factory over real converted records."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from datasets.dataset_factory import get_dataset
from datasets.input_pipeline.augmentation import AugmentOptions, augment
from datasets.records.conversion import ConversionSettings, convert
from files.png_codec import write_image
from tests.support.folders import (
    add_jpeg,
    classification_folder,
    segmentation_folder,
    textured,
)


@pytest.fixture(scope="module")
def records(tmp_path_factory) -> tuple[str, dict[str, np.ndarray]]:
    root = tmp_path_factory.mktemp("pipeline")
    pixels = classification_folder(str(root / "in"), {"A": 10, "B": 6}, size=16)
    convert(ConversionSettings("dicom", str(root / "in"), str(root / "out"), "dicom",
                               need_split="tt_split", test_size=4, num_shards=3,
                               progress=False))
    return str(root / "out"), pixels


@pytest.fixture(scope="module")
def shapes(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("shapes")
    segmentation_folder(str(root / "in"), 8, size=32)
    convert(ConversionSettings("segmentation", str(root / "in"), str(root / "out"), "shapes",
                               progress=False))
    return str(root / "out")


def test_evaluation_batches_hold_the_stored_pixels_as_floats(records):
    out, pixels = records
    spec, dataset = get_dataset("dicom", "test", out, batch_size=3, with_ids=True)
    assert spec.num_classes == 2
    seen = 0
    for images, labels, ids in dataset:
        assert images.dtype == tf.float32 and images.shape[1:] == (16, 16, 1)
        for image, label, example_id in zip(images.numpy(), labels.numpy(), ids.numpy(),
                                            strict=True):
            expected = pixels[example_id.decode()] / 65535.0
            np.testing.assert_allclose(image[..., 0], expected, atol=1e-6)
            assert label == (0 if int(example_id.decode()) < 10 else 1)
            seen += 1
    assert seen == 4


@pytest.mark.parametrize("channels", [1, 3])
def test_pixel_records_read_back_the_same_floats_as_png(tmp_path, channels):
    source = tmp_path / "in"
    classification_folder(str(source), {"A": 10, "B": 6}, size=16)
    add_jpeg(str(source), "photo", "B", size=16)
    write_image(str(source / "images" / "eight.png"), textured(3, 16, bits=8))
    (source / "labels" / "eight.txt").write_text("B")  # 8-bit among 16-bit: scaled by 257
    for image_format in ("png", "raw", "planar"):
        convert(ConversionSettings("dicom", str(source), str(tmp_path / image_format), "dicom",
                                   image_format=image_format, progress=False))
    batches = {}
    for image_format in ("png", "raw", "planar"):
        spec, dataset = get_dataset("dicom", "train", str(tmp_path / image_format),
                                    batch_size=18, channels=channels, with_ids=True)
        assert spec.image_format == image_format
        images, labels, ids = next(iter(dataset))
        order = np.argsort(ids.numpy())
        batches[image_format] = (images.numpy()[order], labels.numpy()[order])
    png = batches["png"][0]
    for image_format in ("raw", "planar"):
        pixels = batches[image_format][0]
        np.testing.assert_allclose(pixels[:17], png[:17], atol=1e-6)  # PNG: bit-exact
        # JPEG: PIL and TensorFlow decode with different IDCT/upsampling: a few levels apart
        np.testing.assert_allclose(pixels[17], png[17], atol=4 / 255)
        assert np.array_equal(batches[image_format][1], batches["png"][1])
    # planar computes its levels as PNG's are: the same floats, bit for bit
    assert np.array_equal(batches["planar"][0][:17], png[:17])
    assert np.array_equal(batches["planar"][0], batches["raw"][0])


def test_resize_and_channels_follow_the_model(records):
    out, _ = records
    _, dataset = get_dataset("dicom", "train", out, batch_size=4, image_size=(24, 20),
                             channels=3)
    images, labels = next(iter(dataset))
    assert images.shape == (4, 24, 20, 3) and labels.shape == (4,)
    assert np.array_equal(images[..., 0].numpy(), images[..., 2].numpy())


def test_deterministic_training_runs_repeat_and_seeds_differ(records):
    out, _ = records

    def first_batches(seed: int) -> list[np.ndarray]:
        _, dataset = get_dataset("dicom", "train", out, batch_size=4, is_training=True,
                                 deterministic=True, seed=seed, num_epochs=1)
        return [images.numpy() for images, _ in dataset]

    first = first_batches(1)
    again = first_batches(1)
    other = first_batches(2)
    assert len(first) == 3  # 12 train images, batch 4
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other, strict=True))


def test_training_repeats_forever_when_asked(records):
    out, _ = records
    _, dataset = get_dataset("dicom", "train", out, batch_size=5, is_training=True,
                             num_epochs=None)
    assert len(list(dataset.take(10))) == 10  # 12 images -> more than two epochs


def test_masks_move_with_their_images(shapes):
    spec, dataset = get_dataset(None, "train", shapes, batch_size=8, is_training=True,
                                deterministic=True, seed=4,
                                augment=AugmentOptions(max_rotation_degrees=25,
                                                       flip_up_down=True,
                                                       max_brightness_delta=0,
                                                       contrast_range=(1.0, 1.0)))
    assert spec.task == "segmentation"
    images, masks = next(iter(dataset))
    assert masks.dtype == tf.int32 and masks.shape == (8, 32, 32)
    assert set(np.unique(masks.numpy())) <= {0, 1, 2}  # nearest: labels never blended
    # the images are mask * 100 / 255: after the same warp they still agree
    expected = masks.numpy() * 100 / 255
    agree = np.abs(images.numpy()[..., 0] - expected) < 0.05
    assert agree.mean() > 0.93


def test_augment_without_geometry_leaves_the_mask_alone():
    image = tf.fill([8, 8, 1], 0.5)
    mask = tf.reshape(tf.range(64, dtype=tf.int32) % 3, [8, 8, 1])
    options = AugmentOptions(flip_left_right=False, max_rotation_degrees=0)
    new_image, new_mask = augment(image, mask, tf.constant([1, 2], tf.int64), options)
    assert np.array_equal(new_mask.numpy(), mask.numpy())
    assert float(tf.reduce_min(new_image)) >= 0.0 and float(tf.reduce_max(new_image)) <= 1.0
    assert not np.allclose(new_image.numpy(), 0.5)  # brightness moved it


def test_synthetic_mode_needs_no_records(records):
    out, _ = records
    spec, dataset = get_dataset("dicom", "train", out, batch_size=6, synthetic=True,
                                image_size=(32, 32), channels=3, is_training=True)
    images, labels = next(iter(dataset.take(1)))
    assert images.shape == (6, 32, 32, 3)
    assert labels.numpy().max() < spec.num_classes


def test_factory_errors_name_the_problem(records, tmp_path):
    out, _ = records
    with pytest.raises(ValueError, match="holds 'dicom'"):
        get_dataset("flowers", "train", out)
    with pytest.raises(ValueError, match="split 'validation' is not in this dataset"):
        get_dataset("dicom", "validation", out)
    with pytest.raises(FileNotFoundError, match="not a finished tf_convert_data output"):
        get_dataset("dicom", "train", str(tmp_path))


@pytest.mark.parametrize("policy", ["FILE", "DATA"])
def test_augmented_training_input_shards_across_two_workers(records, policy):
    """What tf.distribute does to each worker's input, on the training pipeline with its
    default augmentation: every record once, across the two workers. By record (DATA),
    the trainer reads in one fixed order (training.loop.distribution.shards_by_record)."""
    from tensorflow.python.data.experimental.ops.distribute import _AutoShardDataset

    out, pixels = records
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = getattr(
        tf.data.experimental.AutoShardPolicy, policy)
    seen = []
    for index in range(2):  # each worker builds its own pipeline
        spec, dataset = get_dataset("dicom", "train", out, batch_size=1, is_training=True,
                                    num_epochs=1, seed=3, with_ids=True,
                                    deterministic=policy == "DATA")
        assert len(spec.split("train").files) >= 2  # FILE needs a file per worker
        shard = _AutoShardDataset(dataset.with_options(options), num_workers=2, index=index)
        seen.append(sorted(i.decode() for _, _, ids in shard for i in ids.numpy()))
    assert seen[0] and seen[1] and not set(seen[0]) & set(seen[1])
    assert sorted(seen[0] + seen[1]) == sorted(
        stem for stem in pixels if stem in _split_members(out, "train"))


def _split_members(out: str, split: str) -> set[str]:
    _, dataset = get_dataset("dicom", split, out, batch_size=64, with_ids=True)
    return {i.decode() for _, _, ids in dataset for i in ids.numpy()}
