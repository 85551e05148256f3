"""Smooth random fields: the texture, bias and deformation ingredients of both steps."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def smooth_noise(shape: tuple[int, ...], rng: np.random.Generator,
                 scales: tuple[float, ...] = (2.0, 4.0, 8.0)) -> np.ndarray:
    """Zero-mean, unit-std noise summed over Gaussian smoothing scales (voxels): a
    multi-scale field with structure at every scale given. Smoothing runs on a grid
    coarsened by the scale, then zooms back, so large scales cost little."""
    field = np.zeros(shape, np.float32)
    for scale in scales:
        step = max(1, int(scale // 2))
        coarse = [max(2, -(-n // step)) for n in shape]
        noise = ndimage.gaussian_filter(rng.standard_normal(coarse).astype(np.float32),
                                        scale / step, mode="wrap")
        zoomed = ndimage.zoom(noise, [n / c for n, c in zip(shape, coarse, strict=True)],
                              order=1, mode="grid-wrap", grid_mode=True)
        field += zoomed[tuple(slice(0, n) for n in shape)] / (noise.std() + 1e-6)
    field -= field.mean()
    return field / (field.std() + 1e-6)


def normalised_grid(shape: tuple[int, ...]) -> list[np.ndarray]:
    """Voxel coordinates mapped to [-1, 1] per axis (open grids, broadcastable)."""
    return np.ogrid[tuple(slice(-1.0, 1.0, complex(0, n)) for n in shape)]
