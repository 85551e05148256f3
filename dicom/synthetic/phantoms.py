"""Synthetic radiographs whose anatomy differs by body part, learnable but never constant.

Each body part has its own structure (lungs and ribs, abdominal organs and gas,
a skull ring, long bones), drawn with random pose, size, texture and noise, so
a small CNN must learn shapes rather than a per-class intensity.
Images are float32 in [0, 1], attenuation-like (bone bright, air dark).
"""

from __future__ import annotations

import numpy as np

BODY_PARTS = ("CHEST", "ABDOMEN", "HEAD", "EXTREMITY")


def _grid(size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates in [-1, 1] after a random rotation, scale and shift (the pose)."""
    lin = np.linspace(-1.0, 1.0, size, dtype=np.float32)
    yy, xx = np.meshgrid(lin, lin, indexing="ij")
    angle = rng.uniform(-0.25, 0.25)
    scale = rng.uniform(0.85, 1.12)
    dy, dx = rng.uniform(-0.08, 0.08, size=2)
    cos, sin = np.cos(angle), np.sin(angle)
    y = ((yy - dy) * cos - (xx - dx) * sin) / scale
    x = ((yy - dy) * sin + (xx - dx) * cos) / scale
    return y.astype(np.float32), x.astype(np.float32)


def _ellipse(
    y: np.ndarray, x: np.ndarray, cy: float, cx: float, ry: float, rx: float, soft: float = 0.04
) -> np.ndarray:
    """Soft-edged ellipse mask in [0, 1]."""
    r = np.sqrt(((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2)
    return np.clip((1.0 - r) / soft, 0.0, 1.0)


def smooth_noise(size: int, rng: np.random.Generator, cells: int = 8) -> np.ndarray:
    """Low-frequency texture: bilinear upsampling of a coarse random grid, in [-1, 1]."""
    coarse = rng.uniform(-1.0, 1.0, size=(cells + 1, cells + 1)).astype(np.float32)
    pos = np.linspace(0, cells, size, dtype=np.float32)
    i0 = np.minimum(pos.astype(int), cells - 1)
    f = pos - i0
    rows = coarse[i0] * (1 - f)[:, None] + coarse[i0 + 1] * f[:, None]
    return rows[:, i0] * (1 - f)[None, :] + rows[:, i0 + 1] * f[None, :]


def _chest(y: np.ndarray, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    body = _ellipse(y, x, 0.05, 0.0, rng.uniform(0.85, 0.95), rng.uniform(0.75, 0.9))
    image = 0.45 * body
    sep = rng.uniform(0.3, 0.4)
    for side in (-1, 1):
        lung = _ellipse(
            y,
            x,
            rng.uniform(-0.1, 0.05),
            side * sep,
            rng.uniform(0.5, 0.62),
            rng.uniform(0.22, 0.3),
            soft=0.15,
        )
        image -= 0.3 * lung
    freq = rng.uniform(14, 20)
    ribs = (np.cos(y * freq + 0.8 * x**2 * freq / 4) > 0.6).astype(np.float32)
    image += 0.12 * ribs * body
    image += 0.35 * _ellipse(y, x, 0.1, 0.0, 0.75, 0.07, soft=0.3)  # spine / mediastinum
    image += 0.15 * _ellipse(y, x, rng.uniform(0.1, 0.25), rng.uniform(0.05, 0.15), 0.22, 0.2)
    return image


def _abdomen(y: np.ndarray, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    body = _ellipse(y, x, 0.0, 0.0, rng.uniform(0.7, 0.85), rng.uniform(0.85, 0.95))
    image = 0.5 * body
    image += 0.08 * _ellipse(y, x, -0.25, -0.35, rng.uniform(0.3, 0.4), rng.uniform(0.3, 0.4))
    image += 0.4 * _ellipse(y, x, 0.45, 0.0, 0.14, 0.12, soft=0.2)  # vertebral body
    for _ in range(rng.integers(6, 14)):  # bowel gas
        cy, cx = rng.uniform(-0.4, 0.35), rng.uniform(-0.55, 0.55)
        r = rng.uniform(0.04, 0.1)
        image -= 0.35 * _ellipse(y, x, cy, cx, r, r * rng.uniform(0.7, 1.4), soft=0.3)
    return image


def _head(y: np.ndarray, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    ry, rx = rng.uniform(0.75, 0.85), rng.uniform(0.62, 0.72)
    outer = _ellipse(y, x, 0.0, 0.0, ry, rx)
    inner = _ellipse(y, x, 0.0, 0.0, ry - 0.08, rx - 0.08)
    image = 0.9 * (outer - inner) + 0.4 * inner
    for side in (-1, 1):
        image -= 0.15 * _ellipse(y, x, rng.uniform(-0.12, 0.0), side * 0.1, 0.22, 0.06, soft=0.3)
    return image


def _extremity(y: np.ndarray, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    tissue = _ellipse(y, x, 0.0, 0.0, 1.3, rng.uniform(0.35, 0.5), soft=0.1)
    image = 0.35 * tissue
    gap = rng.uniform(-0.2, 0.2)
    for lo, hi in ((-1.2, gap - 0.05), (gap + 0.05, 1.2)):
        width = rng.uniform(0.1, 0.16)
        shaft = np.clip((width - np.abs(x)) / 0.03, 0, 1) * ((y > lo) & (y < hi))
        marrow = np.clip((width * 0.5 - np.abs(x)) / 0.03, 0, 1) * ((y > lo) & (y < hi))
        image += 0.55 * shaft - 0.2 * marrow
        for end in (lo, hi):
            if -1.0 < end < 1.0:  # condyle at the joint
                image += 0.45 * _ellipse(y, x, end, 0.0, 0.08, width * 1.6, soft=0.3)
    return image


_DRAW = {"CHEST": _chest, "ABDOMEN": _abdomen, "HEAD": _head, "EXTREMITY": _extremity}


def radiograph(body_part: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """One synthetic radiograph for `body_part` (one of BODY_PARTS), float32 in [0, 1]."""
    y, x = _grid(size, rng)
    image = _DRAW[body_part](y, x, rng)
    image = image + 0.06 * smooth_noise(size, rng, cells=int(rng.integers(4, 12)))
    image = image * rng.uniform(0.8, 1.15) + rng.uniform(0.02, 0.12)
    image = image + rng.normal(0.0, rng.uniform(0.01, 0.03), size=image.shape)
    return np.clip(image, 0.0, 1.0).astype(np.float32)


# Findings a chest radiograph can carry, each with a pixel signal, plus one without any
# (its labels are random), so a metric that cannot fail would show.
FINDINGS = ("nodule", "basal_opacity", "cardiomegaly", "no_signal")


def finding_overlay(size: int, findings: set[str], rng: np.random.Generator) -> np.ndarray:
    """What `findings` add to a chest radiograph (float32, to be added before clipping):
    a small bright nodule in a lung, a soft opacity at a lung base, an enlarged heart
    shadow. `no_signal` adds nothing."""
    lin = np.linspace(-1.0, 1.0, size, dtype=np.float32)
    y, x = np.meshgrid(lin, lin, indexing="ij")
    overlay = np.zeros((size, size), np.float32)
    if "nodule" in findings:
        side = rng.choice((-1, 1))
        r = rng.uniform(0.09, 0.12)
        overlay += 0.55 * _ellipse(y, x, rng.uniform(-0.35, 0.15), side * rng.uniform(0.28, 0.42),
                                   r, r, soft=0.25)
    if "basal_opacity" in findings:
        side = rng.choice((-1, 1))
        overlay += 0.45 * _ellipse(y, x, rng.uniform(0.3, 0.42), side * rng.uniform(0.3, 0.4),
                                  rng.uniform(0.16, 0.22), rng.uniform(0.2, 0.26), soft=0.3)
    if "cardiomegaly" in findings:
        overlay += 0.22 * _ellipse(y, x, rng.uniform(0.12, 0.22), rng.uniform(0.05, 0.12),
                                   rng.uniform(0.34, 0.4), rng.uniform(0.32, 0.38), soft=0.2)
    return overlay
