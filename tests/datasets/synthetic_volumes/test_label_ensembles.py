"""Step 1: shape counts, the random affine's statistics, reflection and wrapping, and the
foreground sphere with its shell, all by seed."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from datasets.synthetic_volumes.ensemble_settings import EnsembleSettings
from datasets.synthetic_volumes.label_ensembles import (
    RandomAffine,
    generate_ensemble,
    random_affine,
    warp,
)
from datasets.synthetic_volumes.template_phantoms import write_fake_totalsegmentator
from datasets.synthetic_volumes.totalsegmentator import template_files


@pytest.fixture(scope="module")
def templates(tmp_path_factory) -> list[str]:
    root = str(tmp_path_factory.mktemp("templates"))
    write_fake_totalsegmentator(root, 2, (24, 24, 28))
    return template_files(root)


def _identity(**changes) -> RandomAffine:
    values = {"scales": np.ones(3), "angles": np.zeros(3), "shears": np.zeros(6),
              "reflections": np.zeros(3, bool), "translation": np.zeros(3)}
    values.update(changes)
    return RandomAffine(**values)


def test_label_count_stays_within_the_flags(templates):
    settings = EnsembleSettings(side_length=32, min_templates=3, max_templates=6,
                                foreground_probability=0.0)
    counts = []
    for index in range(6):
        labels, info = generate_ensemble(templates, index, 0, settings)
        assert labels.shape == (32, 32, 32) and labels.dtype == np.uint8
        assert 3 <= info.shapes <= 6
        present = set(np.unique(labels)) - {0}
        assert present and max(present) <= info.shapes
        counts.append(info.shapes)
    assert len(set(counts)) > 1  # the count itself is drawn


def test_random_affine_draws_follow_the_published_ranges():
    rng = np.random.default_rng(0)
    draws = [random_affine(rng, EnsembleSettings()) for _ in range(3000)]
    scales = np.stack([d.scales for d in draws])
    angles = np.stack([d.angles for d in draws])
    shears = np.stack([d.shears for d in draws])
    shifts = np.stack([d.translation for d in draws])
    reflections = np.stack([d.reflections for d in draws])
    assert scales.min() >= 0.5 and scales.max() <= 1.5 and abs(scales.mean() - 1.0) < 0.02
    assert np.abs(angles).max() <= np.pi and np.abs(angles).max() > 0.99 * np.pi
    assert np.abs(shears).max() <= 0.5 and np.abs(shifts).max() <= 5.0
    assert np.all(np.abs(reflections.mean(axis=0) - 0.5) < 0.04)  # each axis half the time


def test_reflection_mirrors_and_translation_wraps_the_grid():
    cube = np.zeros((16, 16, 16), np.uint8)
    cube[1:4, 2:9, 5:6] = 1
    mirrored = warp(cube, _identity(reflections=np.array([True, False, False])))
    assert np.array_equal(mirrored, np.flip(cube, axis=0))
    shifted = warp(cube, _identity(translation=np.array([0.0, 0.0, 13.0])))
    assert np.array_equal(shifted, np.roll(cube, 13, axis=2))  # past the edge: wraps round


def test_the_foreground_sphere_shifts_labels_and_its_shell_is_one_more_label(templates):
    settings = EnsembleSettings(side_length=48, min_templates=2, max_templates=3,
                                foreground_probability=1.0, shell_probability=1.0)
    labels, info = generate_ensemble(templates, 0, 0, settings)
    plain, _ = generate_ensemble(templates, 0, 0, EnsembleSettings(
        side_length=48, min_templates=2, max_templates=3, foreground_probability=0.0))
    assert info.foreground and 2 <= info.shell_radius <= 4
    shell = labels.max()
    inside = (labels > 0) & (labels < shell)
    assert (labels == 0).any() and (labels == 1).sum() > 1000  # the sphere's background is 1
    assert np.array_equal(labels[inside], plain[inside] + 1)
    thickness = ndimage.distance_transform_edt(labels == shell).max()
    assert (labels == shell).any() and thickness <= 2 * info.shell_radius + 1  # a thin layer


def test_foreground_and_shell_happen_at_their_rates(templates):
    settings = EnsembleSettings(side_length=24, min_templates=1, max_templates=1)
    infos = [generate_ensemble(templates, index, 5, settings)[1] for index in range(45)]
    foreground = [i for i in infos if i.foreground]
    assert 0.5 < len(foreground) / len(infos) < 0.8  # 2/3
    assert 0.25 < sum(bool(i.shell_radius) for i in foreground) / len(foreground) < 0.75
    assert all(not i.shell_radius for i in infos if not i.foreground)


def test_bad_flags_are_refused():
    with pytest.raises(ValueError, match="1 <= min <= max"):
        EnsembleSettings(min_templates=5, max_templates=2)
