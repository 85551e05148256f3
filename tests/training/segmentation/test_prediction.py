"""Sliding-window prediction, losses, overlays."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from nets.nets_factory import build_model
from training.segmentation.losses import pixel_cross_entropy, soft_dice_loss
from training.segmentation.prediction import overlay, sliding_window


def _per_pixel(images: np.ndarray) -> np.ndarray:
    """An exactly translation-equivariant 'net': class scores from each pixel alone."""
    value = images[..., :1]
    logits = np.concatenate([1 - value, value, 0.5 * np.ones_like(value)], axis=-1) * 4
    return tf.nn.softmax(logits).numpy()


@pytest.mark.parametrize("shape", [(64, 64), (64, 80), (20, 24)])
def test_sliding_window_equals_direct_prediction_for_a_per_pixel_model(shape):
    image = np.random.default_rng(0).random((*shape, 1), dtype=np.float32)
    tiled = sliding_window(image, 32, _per_pixel, overlap=0.5)
    assert tiled.shape == (*shape, 3)
    np.testing.assert_allclose(tiled, _per_pixel(image[np.newaxis])[0], atol=1e-5)


def test_sliding_window_matches_a_convolutional_net_away_from_tile_seams():
    keras.utils.set_random_seed(0)  # untrained weights: fixed, so the figure is repeatable
    tile_model = build_model("unet", 3, 32, 1, {"depth": 2, "base_filters": 4})
    whole_model = build_model("unet", 3, 64, 1, {"depth": 2, "base_filters": 4})
    whole_model.set_weights(tile_model.get_weights())  # the same fully convolutional net
    image = np.random.default_rng(1).random((64, 64, 1), dtype=np.float32)

    def predict(model, batch):
        return tf.nn.softmax(model(batch, training=False)["logits"]).numpy()

    direct = predict(whole_model, image[np.newaxis])[0]
    tiled = sliding_window(image, 32, lambda batch: predict(tile_model, batch), overlap=0.5)
    # Tiles see zero padding where the whole image sees neighbours, so the two differ near
    # seams; the documented tolerance: the same class on at least 90 % of pixels.
    agreement = (tiled.argmax(-1) == direct.argmax(-1)).mean()
    assert agreement >= 0.9, agreement


def test_losses_on_perfect_and_wrong_logits():
    masks = tf.constant([[[0, 1], [2, 1]]])
    perfect = tf.one_hot(masks, 3) * 20.0
    wrong = tf.one_hot((masks + 1) % 3, 3) * 20.0
    assert float(soft_dice_loss(masks, perfect)[0]) == pytest.approx(0.0, abs=1e-3)
    assert float(soft_dice_loss(masks, wrong)[0]) > 0.6
    assert float(pixel_cross_entropy(masks, perfect)[0]) == pytest.approx(0.0, abs=1e-3)
    assert float(pixel_cross_entropy(masks, wrong)[0]) > 10


def test_overlay_tints_foreground_only():
    image = np.full((2, 2, 1), 0.5, np.float32)
    mask = np.array([[0, 1], [2, 0]])
    tinted = overlay(image, mask)
    assert tinted.dtype == np.uint8 and tinted.shape == (2, 2, 3)
    assert (tinted[0, 0] == 127).all() and not (tinted[0, 1] == 127).all()
