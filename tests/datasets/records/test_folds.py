"""Patient-grouped k-fold splits: whole patients, stratified shares, seeded."""

from __future__ import annotations

import os
from collections import Counter, defaultdict

import numpy as np
import pytest

from datasets.dataset_factory import get_dataset
from datasets.records.conversion import ConversionSettings, convert
from datasets.records.splits import TEST, assign_folds, fold_name
from tests.support.folders import classification_folder, multilabel_folder


def _patients(count: int, seed: int) -> tuple[list[str], list[int]]:
    """A hospital-like set: 1 to 6 images per patient; returns groups and patient index."""
    rng = np.random.default_rng(seed)
    groups, owner = [], []
    for patient in range(count):
        for _ in range(int(rng.integers(1, 7))):
            groups.append(f"P{patient:04d}")
            owner.append(patient)
    return groups, owner


def _one_fold_per_patient(groups: list[str], splits: list[str]) -> None:
    seen: dict[str, set[str]] = defaultdict(set)
    for group, split in zip(groups, splits, strict=True):
        seen[group].add(split)
    assert all(len(s) == 1 for s in seen.values())


def test_single_label_folds_keep_patients_whole_and_shares_within_5_points():
    groups, owner = _patients(160, seed=1)
    rng = np.random.default_rng(2)
    patient_label = rng.choice(["normal", "nodule", "effusion"], size=160, p=[0.6, 0.25, 0.15])
    labels = [str(patient_label[p]) for p in owner]
    splits = assign_folds(labels, None, groups, num_folds=5, test_size=0.0, seed=0)
    _one_fold_per_patient(groups, splits)
    assert set(splits) == {fold_name(k) for k in range(1, 6)}
    sizes = Counter(splits)
    assert all(abs(n - len(labels) / 5) <= 0.05 * len(labels) for n in sizes.values()), sizes
    whole = Counter(labels)
    for fold in sizes:
        in_fold = Counter(label for label, s in zip(labels, splits, strict=True) if s == fold)
        for label, total in whole.items():
            assert abs(in_fold[label] / sizes[fold] - total / len(labels)) <= 0.05, (
                fold, label, in_fold)


def test_multilabel_folds_stratify_every_label_and_hold_out_a_test_split():
    groups, owner = _patients(200, seed=3)
    rng = np.random.default_rng(4)
    prevalence = {"atelectasis": 0.3, "effusion": 0.2, "nodule": 0.15, "edema": 0.1}
    positives = [[name for name, p in prevalence.items() if rng.random() < p]
                 for _ in owner]
    splits = assign_folds(None, positives, groups, num_folds=5, test_size=0.2, seed=7)
    _one_fold_per_patient(groups, splits)
    sizes = Counter(splits)
    assert abs(sizes[TEST] - 0.2 * len(groups)) <= 6
    folds = [fold_name(k) for k in range(1, 6)]
    pool = [i for i, s in enumerate(splits) if s != TEST]
    for name in prevalence:
        whole = sum(name in positives[i] for i in pool) / len(pool)
        for fold in folds:
            members = [i for i in pool if splits[i] == fold]
            share = sum(name in positives[i] for i in members) / len(members)
            assert abs(share - whole) <= 0.05, (name, fold, share, whole)


def test_same_seed_same_folds_another_seed_other_folds():
    groups, owner = _patients(80, seed=5)
    labels = ["A" if p % 3 else "B" for p in owner]
    first = assign_folds(labels, None, groups, 4, 0.0, seed=11)
    assert first == assign_folds(labels, None, groups, 4, 0.0, seed=11)
    assert first != assign_folds(labels, None, groups, 4, 0.0, seed=12)


def test_too_few_patients_for_the_folds_is_one_clear_error():
    with pytest.raises(ValueError, match=r"3 patient group.*5 folds"):
        assign_folds(["A", "B", "A"], None, ["p1", "p2", "p3"], 5, 0.0, seed=0)


def test_kfold_records_read_as_train_and_validation_views(tmp_path):
    source = str(tmp_path / "in")
    classification_folder(source, {"A": 20, "B": 20}, size=16, patients=10)
    out = str(tmp_path / "records")
    result = convert(ConversionSettings("dicom", source, out, "dicom", need_split="kfold",
                                        num_folds=5, progress=False, num_workers=1))
    spec = result.spec
    assert spec.num_folds == 5
    assert sorted(spec.splits) == [fold_name(k) for k in range(1, 6)]
    assert all(os.path.basename(f).startswith("dicom_fold") for s in spec.splits.values()
               for f in s.files)
    view = spec.split("train_fold3")
    assert view.num_examples == 40 - spec.splits["fold3"].num_examples
    assert sorted(view.files) == sorted(f for k in (1, 2, 4, 5)
                                        for f in spec.splits[fold_name(k)].files)
    assert spec.split("validation_fold3").files == spec.splits["fold3"].files
    assert spec.validation_split_for("train_fold3") == "validation_fold3"
    _, dataset = get_dataset("dicom", "train_fold3", out, batch_size=64, with_ids=True)
    train_ids = {i.decode() for _, _, ids in dataset for i in ids.numpy()}
    _, dataset = get_dataset("dicom", "validation_fold3", out, batch_size=64, with_ids=True)
    held_ids = {i.decode() for _, _, ids in dataset for i in ids.numpy()}
    assert len(train_ids) == view.num_examples and not train_ids & held_ids
    assert len(train_ids | held_ids) == 40
    with pytest.raises(ValueError, match=r"train_foldK or validation_foldK for K in 1\.\.5"):
        spec.split("train_fold6")


def test_kfold_multilabel_records_with_a_test_split(tmp_path):
    source = str(tmp_path / "in")
    rng = np.random.default_rng(0)
    rows = {f"{i:04d}": {"effusion": str(int(rng.random() < 0.3)),
                         "nodule": str(int(rng.random() < 0.2))} for i in range(60)}
    multilabel_folder(source, rows, size=16, patients=20)
    out = str(tmp_path / "records")
    spec = convert(ConversionSettings("dicom", source, out, "dicom", need_split="kfold",
                                      num_folds=3, fold_test_size=0.2, progress=False,
                                      num_workers=1)).spec
    assert sorted(spec.splits) == ["fold1", "fold2", "fold3", "test"]
    assert spec.split("train_fold1").label_counts["effusion"]["positive"] == sum(
        spec.splits[f].label_counts["effusion"]["positive"] for f in ("fold2", "fold3"))
