"""Step 2: two views share the labels but differ; each transform's effect, measured."""

from __future__ import annotations

import numpy as np

from datasets.synthetic_volumes import views


def _labels(side: int = 24) -> np.ndarray:
    labels = np.zeros((side,) * 3, np.uint8)
    labels[4:12, 4:20, 4:20] = 1
    labels[12:20, 4:20, 4:20] = 2
    return labels


def _high_frequency_share(image: np.ndarray) -> float:
    spectrum = np.abs(np.fft.fftshift(np.fft.fftn(image - image.mean()))) ** 2
    grid = np.ogrid[tuple(slice(-(n // 2), n - n // 2) for n in image.shape)]
    radius = np.sqrt(sum((g / (n / 2)) ** 2 for g, n in zip(grid, image.shape, strict=True)))
    return float(spectrum[radius > 0.5].sum() / spectrum.sum())


def test_views_share_the_label_map_but_differ():
    labels = _labels()
    (first, applied_1), (second, applied_2) = views.synthesize_pair(labels, 3, 0)
    assert first.shape == second.shape == labels.shape
    assert first.dtype == second.dtype == np.uint8
    assert not np.array_equal(first, second)
    assert first.max() == 255  # rescaled to the full range
    again = views.synthesize_pair(labels, 3, 0)
    assert np.array_equal(again[0][0], first) and again[1][1] == applied_2
    assert not np.array_equal(views.synthesize_pair(labels, 4, 0)[0][0], first)
    del applied_1


def test_each_label_gets_its_own_intensity():
    labels = _labels()
    image = views.base_image(labels, np.random.default_rng(1))
    means = [image[labels == k].mean() for k in (0, 1, 2)]
    spread = [image[labels == k].std() for k in (0, 1, 2)]
    assert max(spread) < np.ptp(means)  # labels stand apart from each other


def test_bias_field_changes_the_mean_of_a_uniform_region():
    flat = np.ones((16, 16, 16), np.float32)
    biased = views.bias_field(flat, np.full(20, 0.075))
    assert abs(biased.mean() - 1.0) > 0.05 and biased.std() > 0.05
    assert np.array_equal(views.bias_field(flat, np.zeros(20)), flat)


def test_kspace_spike_adds_a_stripe_pattern():
    flat = np.ones((16, 16, 16), np.float32)
    spiked = views.kspace_spike(flat, (0, 3, 0), 0.8)
    assert spiked.std() > 0.3
    spectrum = np.abs(np.fft.fftn(spiked))
    assert spectrum[0, 3, 0] > 0.3 * spectrum[0, 0, 0]


def test_gamma_keeps_the_range_and_bends_the_middle():
    ramp = np.linspace(0, 1, 4096, dtype=np.float32).reshape(16, 16, 16)
    bent = views.gamma(ramp, 2.0)
    assert bent.min() == 0 and np.isclose(bent.max(), 1.0)
    assert np.isclose(bent.reshape(-1)[2048], ramp.reshape(-1)[2048] ** 2, atol=1e-4)


def test_blur_and_low_resolution_remove_high_frequencies_and_sharpening_adds_them():
    noise = np.random.default_rng(0).random((24, 24, 24)).astype(np.float32)
    assert views.gaussian_blur(noise, np.full(3, 0.333)).std() < 0.97 * noise.std()  # mild
    assert _high_frequency_share(views.low_resolution(noise, 0.5)) < (
        0.5 * _high_frequency_share(noise))
    smooth = views.gaussian_blur(noise, np.full(3, 1.5))
    sharpened = views.sharpen(smooth, 0.5, 0.5, 20.0)
    assert _high_frequency_share(sharpened) > 1.2 * _high_frequency_share(smooth)


def test_gibbs_ringing_overshoots_at_an_edge():
    step = np.zeros((32, 32, 32), np.float32)
    step[:, :, 16:] = 1.0
    ringing = views.gibbs_ringing(step, 0.3)
    assert ringing.max() > 1.03  # truncating k-space rings past the edge's height
    assert np.allclose(views.gibbs_ringing(step, 0.0), step, atol=1e-5)
