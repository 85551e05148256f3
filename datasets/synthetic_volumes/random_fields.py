"""Smooth random fields: the texture, bias and deformation ingredients of both steps."""

from __future__ import annotations

import functools

import numpy as np
from scipy import fft


def smooth_noise(shape: tuple[int, ...], rng: np.random.Generator,
                 scales: tuple[float, ...] = (2.0, 4.0, 8.0)) -> np.ndarray:
    """Zero-mean, unit-std noise summed over Gaussian smoothing scales (sigma in voxels):
    independent white noise per scale, each smoothed to unit variance, then summed; a
    periodic field with structure at every scale given. The smoothing is a product in
    Fourier space (a few FFTs instead of full-size convolutions and zooms)."""
    shape = tuple(int(n) for n in shape)
    total = None
    for transfer in _unit_transfers(shape, tuple(float(s) for s in scales)):
        term = fft.rfftn(rng.standard_normal(shape, dtype=np.float32)) * transfer
        total = term if total is None else total + term
    field = fft.irfftn(total, s=shape).astype(np.float32)
    field -= field.mean()
    return field / (field.std() + 1e-6)


@functools.lru_cache(maxsize=16)
def _unit_transfers(shape: tuple[int, ...], scales: tuple[float, ...]) -> list[np.ndarray]:
    """Per scale, the Gaussian's half-spectrum transfer function scaled so that white noise
    of unit variance comes out with unit variance (Parseval: var = mean |H|^2 over the
    full spectrum, whose half stores every column but 0 and n/2 once for two)."""
    frequencies = [fft.fftfreq(n) for n in shape[:-1]] + [fft.rfftfreq(shape[-1])]
    grid = np.meshgrid(*frequencies, indexing="ij", sparse=True)
    squared = sum(f.astype(np.float32) ** 2 for f in grid)
    weights = np.full(shape[-1] // 2 + 1, 2.0, np.float32)
    weights[0] = 1.0
    if shape[-1] % 2 == 0:
        weights[-1] = 1.0
    transfers = []
    for scale in scales:
        transfer = np.exp(-2.0 * np.pi**2 * scale**2 * squared).astype(np.float32)
        variance = float((transfer**2 * weights).sum()) / float(np.prod(shape))
        transfers.append(transfer / np.float32(np.sqrt(max(variance, 1e-12))))
    return transfers


def normalised_grid(shape: tuple[int, ...]) -> list[np.ndarray]:
    """Voxel coordinates mapped to [-1, 1] per axis (open grids, broadcastable)."""
    return list(np.ogrid[tuple(slice(-1.0, 1.0, complex(0, n)) for n in shape)])
