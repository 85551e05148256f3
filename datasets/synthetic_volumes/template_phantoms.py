"""A small TotalSegmentator-v1-shaped tree of organ-like label volumes.

For tests, the demo and users without the 1 GB download: `sNNNN/ct.nii.gz`
(noise, which step 0 deletes) and `sNNNN/segmentations/<organ>.nii.gz` with
TotalSegmentator v1 names: deformed ellipsoids for the organs, thin rods for
`rib_*`, stacked discs for `vertebrae_*`, and a few empty masks (organs outside
the field of view, as in real scans). 1.5 mm voxels, as TotalSegmentator ships.
"""

from __future__ import annotations

import os

import numpy as np

from datasets.synthetic_volumes.random_fields import smooth_noise
from datasets.synthetic_volumes.totalsegmentator import CT_FILE, SEGMENTATIONS
from datasets.synthetic_volumes.volume_files import NIFTI_SUFFIX, write_volume

ORGANS = ("spleen", "kidney_right", "kidney_left", "gallbladder", "liver", "stomach", "aorta",
          "inferior_vena_cava", "pancreas", "adrenal_gland_right", "urinary_bladder",
          "heart_myocardium", "lung_upper_lobe_left", "colon")
RIBS = tuple(f"rib_{side}_{n}" for side in ("left", "right") for n in range(1, 5))
VERTEBRAE = ("vertebrae_L1", "vertebrae_L2", "vertebrae_L3", "vertebrae_L4", "vertebrae_L5")
ABSENT = ("brain", "face", "femur_left")
SPACING_MM = 1.5


def _rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((3, 3)))
    return q * np.sign(np.diag(r))


def _ellipsoid(shape, centre, radii, rotation, wobble: np.ndarray | None = None) -> np.ndarray:
    grid = np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"), -1) - centre
    local = grid @ rotation
    distance = np.sum((local / radii) ** 2, axis=-1)
    if wobble is not None:
        distance = distance * (1.0 + 0.25 * wobble)
    return distance <= 1.0


def subject_masks(shape: tuple[int, int, int], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One phantom subject's organ masks: smooth, randomly placed blobs."""
    side = min(shape)
    masks: dict[str, np.ndarray] = {}
    for organ in ORGANS:
        radii = rng.uniform(0.08, 0.22, 3) * side
        centre = rng.uniform(0.25, 0.75, 3) * np.array(shape)
        wobble = smooth_noise(shape, rng, (side / 8, side / 4))
        masks[organ] = _ellipsoid(shape, centre, radii, _rotation(rng), wobble)
    for index, rib in enumerate(RIBS):
        height = (0.3 + 0.1 * (index % 4)) * shape[2]
        x = (0.3 if "left" in rib else 0.7) * shape[0]
        radii = np.array([0.03, 0.25, 0.03]) * side
        masks[rib] = _ellipsoid(shape, np.array([x, shape[1] / 2, height]), radii, np.eye(3))
    for index, vertebra in enumerate(VERTEBRAE):
        centre = np.array([shape[0] / 2, 0.75 * shape[1], (0.2 + 0.12 * index) * shape[2]])
        masks[vertebra] = _ellipsoid(shape, centre, np.array([0.08, 0.08, 0.04]) * side,
                                     np.eye(3))
    for organ in ABSENT:
        masks[organ] = np.zeros(shape, bool)
    return masks


def write_fake_totalsegmentator(output_dir: str, num_subjects: int, shape: tuple[int, int, int],
                                seed: int = 0) -> list[str]:
    """Write `num_subjects` subjects s0001... (an existing complete subject is kept)."""
    affine = np.diag([SPACING_MM] * 3 + [1.0])
    written = []
    for number in range(1, num_subjects + 1):
        subject = os.path.join(output_dir, f"s{number:04d}")
        folder = os.path.join(subject, SEGMENTATIONS)
        rng = np.random.default_rng([seed, number])
        masks = subject_masks(shape, rng)
        ct = rng.integers(-1024, 1500, shape).astype(np.int16)
        write_volume(os.path.join(subject, CT_FILE), ct, affine)
        for name, mask in masks.items():
            write_volume(os.path.join(folder, name + NIFTI_SUFFIX), mask.astype(np.uint8), affine)
        written.append(subject)
    return written
