"""Step 1 of the generator: one label ensemble from random, randomly warped organ masks.

An ensemble is a (S, S, S) uint8 label map. n shapes (n uniform in
[min_templates, max_templates]) are drawn: each a random non-empty organ mask,
cropped to its bounding box, centred in S^3 (a larger box is centre-cropped),
warped by a random affine with nearest-neighbour sampling on a wrapping grid,
and pasted with its own label 1..n, later shapes over earlier ones. A 3^3
median filter smooths the result. With probability 2/3 a foreground mask (a
sphere of radius 48-72 voxels at S = 128, its centre up to 32 voxels off,
both scaled with S, deformed by a multi-scale smooth displacement field) keeps
the labels inside it, shifted by +1 (the sphere's own background becomes 1);
in half of those ensembles the sphere's shell (dilation minus erosion, radius
2-4) becomes one more label.

Every draw comes from `numpy.random.default_rng([seed, index])`: the same
seed and index give the same ensemble, whichever worker makes it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from datasets.synthetic_volumes.ensemble_settings import EnsembleSettings
from datasets.synthetic_volumes.random_fields import smooth_noise
from datasets.synthetic_volumes.volume_files import read_volume

REFERENCE_SIDE = 128
EMPTY_TEMPLATE_TRIES = 100


@dataclass
class RandomAffine:
    """Output-to-input map of one shape: x_in = matrix @ (x_out - centre - shift) + centre."""

    scales: np.ndarray
    angles: np.ndarray
    shears: np.ndarray
    reflections: np.ndarray
    translation: np.ndarray

    @property
    def forward(self) -> np.ndarray:
        """Input-to-output linear part: rotation @ shear @ scale @ reflection."""
        rotation = np.eye(3)
        for axis, angle in enumerate(self.angles):
            rotation = rotation @ _rotation(axis, angle)
        shear = np.eye(3)
        shear[np.triu_indices(3, 1)] = self.shears[:3]
        shear[np.tril_indices(3, -1)] = self.shears[3:]
        return rotation @ shear @ np.diag(self.scales * np.where(self.reflections, -1.0, 1.0))


def _rotation(axis: int, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    i, j = [a for a in range(3) if a != axis]
    matrix = np.eye(3)
    matrix[i, i], matrix[i, j], matrix[j, i], matrix[j, j] = c, -s, s, c
    return matrix


def random_affine(rng: np.random.Generator, settings: EnsembleSettings) -> RandomAffine:
    """A random scaling, rotation, shear and reflection within the settings' bounds."""
    limit = np.deg2rad(settings.rotation_degrees)
    return RandomAffine(
        scales=rng.uniform(*settings.scale_range, 3),
        angles=rng.uniform(-limit, limit, 3),
        shears=rng.uniform(-settings.shear, settings.shear, 6),
        reflections=rng.random(3) < 0.5,
        translation=rng.uniform(-settings.translation_voxels, settings.translation_voxels, 3),
    )


def centred(mask: np.ndarray, side: int) -> np.ndarray:
    """A bounding-box crop placed in the middle of an S^3 cube (centre-cropped if larger)."""
    out = np.zeros((side,) * 3, np.uint8)
    source, target = [], []
    for length in mask.shape:
        if length > side:
            start = (length - side) // 2
            source.append(slice(start, start + side))
            target.append(slice(0, side))
        else:
            start = (side - length) // 2
            source.append(slice(0, length))
            target.append(slice(start, start + length))
    out[tuple(target)] = mask[tuple(source)]
    return out


def warp(cube: np.ndarray, affine: RandomAffine) -> np.ndarray:
    """Nearest-neighbour resampling of `cube` through `affine`, the grid wrapping round.

    Only the output boxes that can receive the cube's non-zero part (or one of its
    wrapped copies) are resampled; the rest of the output is zero by construction.
    """
    side = np.array(cube.shape)
    centre = (side - 1) / 2.0
    inverse = np.linalg.inv(affine.forward)
    offset = centre - inverse @ (centre + affine.translation)
    out = np.zeros_like(cube)
    boxes = ndimage.find_objects((cube > 0).astype(np.uint8))
    if not boxes or boxes[0] is None:
        return out
    low = np.array([b.start for b in boxes[0]], float)
    high = np.array([b.stop for b in boxes[0]], float)
    corners = _corners(np.zeros(3), side - 1.0)
    reach = corners @ inverse.T + offset  # where the output cube samples the input
    first = np.floor((reach.min(axis=0) - high) / side).astype(int)
    last = np.ceil((reach.max(axis=0) - low) / side).astype(int)
    regions = []
    for shift in np.stack(np.meshgrid(*[range(a, b + 1) for a, b in zip(first, last,
                                                                        strict=True)],
                                      indexing="ij"), -1).reshape(-1, 3):
        copy = _corners(low - 1 + shift * side, high + shift * side)
        landing = (copy - offset) @ affine.forward.T  # input -> output
        start = np.maximum(np.floor(landing.min(axis=0)) - 1, 0).astype(int)
        stop = np.minimum(np.ceil(landing.max(axis=0)) + 2, side).astype(int)
        if np.all(stop > start):
            regions.append((start, stop))
    if sum(np.prod(stop - start) for start, stop in regions) >= np.prod(side):
        regions = [(np.zeros(3, int), side.astype(int))]  # boxes cover it all: one pass
    for start, stop in regions:
        region = tuple(slice(a, b) for a, b in zip(start, stop, strict=True))
        sampled = ndimage.affine_transform(cube, inverse, offset=offset + inverse @ start,
                                           output_shape=tuple(stop - start), order=0,
                                           mode="grid-wrap")
        np.maximum(out[region], sampled, out=out[region])
    return out


def _corners(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    return np.array([[top if bit else bottom
                      for bit, bottom, top in zip(bits, low, high, strict=True)]
                     for bits in np.ndindex(2, 2, 2)], float)


@functools.lru_cache(maxsize=256)
def _cropped_template(path: str) -> np.ndarray:
    """The mask cropped to its bounding box (empty: shape (0, 0, 0)); cached per process."""
    mask = read_volume(path) > 0
    boxes = ndimage.find_objects(mask.astype(np.uint8))
    if not boxes or boxes[0] is None:
        return np.zeros((0, 0, 0), np.uint8)
    return mask[boxes[0]].astype(np.uint8)


def _draw_template(templates: list[str], rng: np.random.Generator) -> np.ndarray:
    for _ in range(EMPTY_TEMPLATE_TRIES):
        cropped = _cropped_template(templates[int(rng.integers(len(templates)))])
        if cropped.size:
            return cropped
    raise ValueError(f"{EMPTY_TEMPLATE_TRIES} templates drawn in a row were empty: run "
                     "preprocess_totalsegmentator on the template folder first")


@dataclass
class EnsembleInfo:
    shapes: int
    foreground: bool
    shell_radius: int = 0
    affines: list[RandomAffine] = field(default_factory=list)


def foreground_sphere(side: int, rng: np.random.Generator) -> np.ndarray:
    """A sphere of radius 48-72 (at S = 128), centre up to 32 off, deformed by a smooth
    multi-scale displacement field: the body a volume's labels sit in."""
    unit = side / REFERENCE_SIDE
    radius = rng.uniform(48, 72) * unit
    centre = (side - 1) / 2.0 + rng.uniform(-32, 32, 3) * unit
    amplitude = 8.0 * unit
    scales = tuple(s * unit for s in (8.0, 16.0, 32.0))
    grid = np.ogrid[:side, :side, :side]
    distance = np.zeros((side,) * 3, np.float32)
    for axis in range(3):
        displaced = grid[axis] + amplitude * smooth_noise((side,) * 3, rng, scales)
        distance += (displaced - centre[axis]) ** 2
    return distance <= radius**2


def generate_ensemble(templates: list[str], index: int, seed: int,
                      settings: EnsembleSettings) -> tuple[np.ndarray, EnsembleInfo]:
    """Label volume `index`: random templates, each randomly warped, optionally inside a foreground
    body with a shell. The same seed and index give the same volume."""
    rng = np.random.default_rng([seed, index])
    side = settings.side_length
    count = int(rng.integers(settings.min_templates, settings.max_templates + 1))
    labels = np.zeros((side,) * 3, np.uint8)
    info = EnsembleInfo(count, foreground=False)
    for label in range(1, count + 1):
        affine = random_affine(rng, settings)
        info.affines.append(affine)
        shape = warp(centred(_draw_template(templates, rng), side), affine)
        labels[shape > 0] = label
    if settings.median_size > 1:
        labels = ndimage.median_filter(labels, size=settings.median_size, mode="nearest")
    if rng.random() < settings.foreground_probability:
        info.foreground = True
        body = foreground_sphere(side, rng)
        labels = np.where(body, labels + 1, 0).astype(np.uint8)
        if rng.random() < settings.shell_probability:
            info.shell_radius = int(rng.integers(2, 5))
            ball = _ball(info.shell_radius)
            shell = (ndimage.binary_dilation(body, ball)
                     & ~ndimage.binary_erosion(body, ball))
            labels[shell] = labels.max() + 1
    return labels, info


def _ball(radius: int) -> np.ndarray:
    grid = np.ogrid[tuple(slice(-radius, radius + 1) for _ in range(3))]
    return np.asarray(sum(g**2 for g in grid) <= radius**2)
