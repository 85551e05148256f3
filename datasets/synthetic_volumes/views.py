"""Step 2 of the generator: two intensity views of one label ensemble.

Both views share the label map voxel for voxel (no spatial change); they
differ in everything else, drawn independently per view:

1. per label a mean U[25, 255] and a std U[5, 20], Gaussian intensities; the
   background is zero with probability 1/4; clipped to [0, 255], rescaled to
   [0, 1];
2. a multiplicative smooth noise texture (1 + 0.1 x a multi-scale field);
3. then, each with its probability: bias field (0.98; exp of a degree-3
   polynomial, coefficients U[0, 0.075]), k-space spike (0.2), gamma (0.5;
   U[0.5, 2]), Gaussian blur (0.5; sigma U[0, 0.333] voxel per axis), Gibbs
   ringing (0.5; k-space truncated by alpha U[0, 0.333]), sharpening (0.25;
   unsharp mask with alpha U[10, 30]), simulated low resolution (1/3;
   nearest-neighbour zoom down by U[0.5, 1], trilinear back up);
4. clipped at 0, rescaled to 0-255, uint8.

Draws come from `default_rng([seed, index, view])`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import fft, ndimage

from datasets.synthetic_volumes.random_fields import normalised_grid, smooth_noise

TEXTURE_STRENGTH = 0.1


def base_image(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An image with a random mean and noise per label (the background sometimes black)."""
    count = int(labels.max()) + 1
    means = rng.uniform(25, 255, count).astype(np.float32)
    stds = rng.uniform(5, 20, count).astype(np.float32)
    if rng.random() < 0.25:
        means[0] = stds[0] = 0.0
    image = means[labels] + stds[labels] * rng.standard_normal(labels.shape, dtype=np.float32)
    image = np.clip(image, 0, 255)
    image = _rescale(image)
    texture = np.clip(1.0 + TEXTURE_STRENGTH * smooth_noise(labels.shape, rng), 0.0, None)
    return image * texture


def _rescale(image: np.ndarray) -> np.ndarray:
    low, high = float(image.min()), float(image.max())
    return (image - low) / (high - low) if high > low else np.zeros_like(image)


def bias_field(image: np.ndarray, coefficients: np.ndarray, degree: int = 3) -> np.ndarray:
    """Multiply by exp(polynomial of `degree` in [-1, 1] coordinates); one coefficient per
    monomial x^i y^j z^k, i + j + k <= degree (20 for degree 3)."""
    x, y, z = normalised_grid(image.shape)
    log_field = np.zeros(image.shape, np.float32)
    terms = iter(coefficients)
    for i in range(degree + 1):
        for j in range(degree + 1 - i):
            for k in range(degree + 1 - i - j):
                log_field = log_field + next(terms) * x**i * y**j * z**k
    return image * np.exp(log_field)


def kspace_spike(image: np.ndarray, location: tuple[int, ...], strength: float) -> np.ndarray:
    """Set one k-space coefficient to `strength` x the largest magnitude: a stripe pattern."""
    spectrum = fft.fftn(image)  # scipy keeps float32 -> complex64 (numpy: complex128)
    spectrum[location] = np.abs(spectrum).max() * strength
    return np.abs(fft.ifftn(spectrum)).astype(np.float32)


def gamma(image: np.ndarray, exponent: float) -> np.ndarray:
    """The image's intensities raised to `exponent` within their range."""
    low, high = float(image.min()), float(image.max())
    return low + (high - low) * _rescale(image) ** exponent


def gaussian_blur(image: np.ndarray, sigmas: np.ndarray) -> np.ndarray:
    """The image blurred by a Gaussian of `sigmas` per axis."""
    return ndimage.gaussian_filter(image, sigmas)


def gibbs_ringing(image: np.ndarray, alpha: float) -> np.ndarray:
    """Keep the central (1 - alpha) of k-space per axis: truncation rings at edges."""
    spectrum = fft.fftshift(fft.fftn(image))
    keep = np.ones(image.shape, bool)
    for axis, length in enumerate(image.shape):
        half = max(1, round(length * (1 - alpha) / 2))
        centre = length // 2
        inside = np.zeros(length, bool)
        inside[max(0, centre - half):centre + half] = True
        keep &= inside.reshape([-1 if a == axis else 1 for a in range(image.ndim)])
    return np.abs(fft.ifftn(fft.ifftshift(spectrum * keep))).astype(np.float32)


def sharpen(image: np.ndarray, sigma1: float, sigma2: float, alpha: float) -> np.ndarray:
    """Unsharp masking: blurred + alpha x (blurred - blurred again)."""
    first = ndimage.gaussian_filter(image, sigma1)
    second = ndimage.gaussian_filter(first, sigma2)
    return first + alpha * (first - second)


def low_resolution(image: np.ndarray, zoom: float) -> np.ndarray:
    """Nearest-neighbour down by `zoom`, trilinear back to the shape."""
    small = ndimage.zoom(image, zoom, order=0)
    back = ndimage.zoom(small, [n / s for n, s in zip(image.shape, small.shape, strict=True)],
                        order=1)
    out = np.zeros_like(image)
    region = tuple(slice(0, min(a, b)) for a, b in zip(image.shape, back.shape, strict=True))
    out[region] = back[region]
    return out


Draw = Callable[[np.ndarray, np.random.Generator], np.ndarray]
TRANSFORMS: list[tuple[str, float, Draw]] = [
    ("bias_field", 0.98, lambda x, rng: bias_field(x, rng.uniform(0, 0.075, 20))),
    ("kspace_spike", 0.2, lambda x, rng: kspace_spike(
        x, tuple(int(rng.integers(n)) for n in x.shape), rng.uniform(0.5, 1.0))),
    ("gamma", 0.5, lambda x, rng: gamma(x, rng.uniform(0.5, 2.0))),
    ("gaussian_blur", 0.5, lambda x, rng: gaussian_blur(x, rng.uniform(0, 0.333, 3))),
    ("gibbs_ringing", 0.5, lambda x, rng: gibbs_ringing(x, rng.uniform(0, 0.333))),
    ("sharpen", 0.25, lambda x, rng: sharpen(x, rng.uniform(0.5, 1.0), rng.uniform(0.5, 1.0),
                                             rng.uniform(10, 30))),
    ("low_resolution", 1 / 3, lambda x, rng: low_resolution(x, rng.uniform(0.5, 1.0))),
]


def to_uint8(image: np.ndarray) -> np.ndarray:
    """The image scaled so that its peak is 255, negatives clipped."""
    image = np.clip(image, 0, None)
    peak = float(image.max())
    return np.zeros(image.shape, np.uint8) if peak <= 0 else np.round(
        image * (255.0 / peak)).astype(np.uint8)


def synthesize_view(labels: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
    """A view of the labels: a base image with each artefact applied at its probability, and the
    names of those applied."""
    image = base_image(labels, rng)
    applied = []
    for name, probability, draw in TRANSFORMS:
        if rng.random() < probability:
            image = draw(image, rng).astype(np.float32)
            applied.append(name)
    return to_uint8(image), applied


def synthesize_pair(labels: np.ndarray, index: int,
                    seed: int) -> list[tuple[np.ndarray, list[str]]]:
    """(view1, view2) of one ensemble, and the transforms each received."""
    return [synthesize_view(labels, np.random.default_rng([seed, index, view]))
            for view in (1, 2)]
