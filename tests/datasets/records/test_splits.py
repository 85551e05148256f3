from collections import Counter

import pytest

from datasets.records.splits import TEST, TRAIN, VALIDATION, assign_splits, parse_size


def _labels(counts: dict[str, int]) -> list[str]:
    return [label for label, n in counts.items() for _ in range(n)]


def test_fraction_sizes_and_stratification():
    labels = _labels({"A": 100, "B": 60, "C": 40})
    groups = [f"image:{i}" for i in range(len(labels))]
    splits = assign_splits(labels, groups, {VALIDATION: 0.1, TEST: 0.2}, seed=0)
    sizes = Counter(splits)
    assert sizes == {TRAIN: 140, VALIDATION: 20, TEST: 40}
    for name, fraction in ((VALIDATION, 0.1), (TEST, 0.2)):
        per_label = Counter(label for label, s in zip(labels, splits, strict=True) if s == name)
        for label, total in Counter(labels).items():
            assert abs(per_label[label] - fraction * total) <= 1, (name, label, per_label)


def test_count_sizes_are_exact():
    labels = _labels({"A": 30, "B": 21})
    groups = [str(i) for i in range(len(labels))]
    splits = assign_splits(labels, groups, {TEST: 7}, seed=3)
    assert Counter(splits)[TEST] == 7


def test_no_patient_in_two_splits():
    labels = _labels({"A": 60, "B": 60})
    groups = [f"patient:{i % 17}" for i in range(len(labels))]
    splits = assign_splits(labels, groups, {VALIDATION: 0.15, TEST: 0.15}, seed=5)
    seen: dict[str, set[str]] = {}
    for group, split in zip(groups, splits, strict=True):
        seen.setdefault(group, set()).add(split)
    assert all(len(s) == 1 for s in seen.values())
    sizes = Counter(splits)
    assert sizes[VALIDATION] > 0 and sizes[TEST] > 0
    # whole patients of ~7 images: each held-out split is within one patient of 18
    assert abs(sizes[VALIDATION] - 18) <= 8 and abs(sizes[TEST] - 18) <= 8


def test_reproducible_with_seed_and_different_with_another():
    labels = _labels({"A": 50, "B": 50})
    groups = [str(i) for i in range(100)]
    first = assign_splits(labels, groups, {TEST: 0.2}, seed=1)
    assert first == assign_splits(labels, groups, {TEST: 0.2}, seed=1)
    assert first != assign_splits(labels, groups, {TEST: 0.2}, seed=2)


def test_requested_split_is_never_empty_when_groups_are_large():
    labels = ["A"] * 30
    groups = [f"patient:{i // 10}" for i in range(30)]  # 3 patients of 10 images
    splits = assign_splits(labels, groups, {TEST: 0.1}, seed=0)
    assert Counter(splits) == {TRAIN: 20, TEST: 10}


def test_sizes_that_leave_no_training_data_are_refused():
    with pytest.raises(ValueError, match="leave no training images"):
        assign_splits(["A"] * 10, [str(i) for i in range(10)], {VALIDATION: 0.5, TEST: 5}, 0)


@pytest.mark.parametrize(("text", "value"), [("0.1", 0.1), ("50", 50.0), ("0", 0.0), ("1", 1.0)])
def test_parse_size(text, value):
    assert parse_size(text, "test_size") == value


@pytest.mark.parametrize("text", ["-0.1", "1.5", "ten", "nan"])
def test_parse_size_rejects(text):
    with pytest.raises(ValueError, match="--test_size"):
        parse_size(text, "test_size")
