"""Seeded, stratified train/validation/test splits that keep a patient in one split.

Images are grouped by patient (an image without a patient key is its own
group) and each group is labelled by its commonest label. Groups are laid out
in a seeded sequence where every label is spread evenly (systematic sampling:
a label with n groups appears at positions (k + u) / n), then dealt along it:
a group goes to test, else validation, while that brings the split closer to
its size, and otherwise to train. Without patients this gives each label its
proportional share to within one image; with patients, whole patients move.
A size is a fraction of the images (0 < x < 1) or a count (a whole number).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence

import numpy as np

TRAIN, VALIDATION, TEST = "train", "validation", "test"
KFOLD = "kfold"
SPLIT_MODES = {"None": (), "tt_split": (TEST,), "tvt_split": (VALIDATION, TEST), KFOLD: ()}
DEFAULT_NUM_FOLDS = 5


def parse_size(text: str | float, flag: str) -> float:
    """'0.1' -> 0.1 (a fraction); '50' -> 50.0 (a count). Rejects negatives and 1.5."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ValueError(f"--{flag} must be a fraction below 1 or a count, got {text!r}") from None
    if value < 0 or math.isnan(value) or (value >= 1 and not value.is_integer()):
        raise ValueError(f"--{flag} must be a fraction below 1 or a whole count, got {text!r}")
    return value


def assign_splits(
    labels: Sequence[str | None],
    groups: Sequence[str],
    sizes: dict[str, float],
    seed: int,
) -> list[str]:
    """The split name of each image; `sizes` maps held-out splits to a fraction or count."""
    total = len(labels)
    _check_sizes(sizes, total)
    members, strata = _patient_strata(labels, groups)
    rng = np.random.default_rng(seed)
    sequence: list[tuple[float, str, str]] = []
    for stratum in sorted(strata):
        names = sorted(strata[stratum])
        offset = rng.random()
        for k, position in enumerate(rng.permutation(len(names))):
            sequence.append(((k + offset) / len(names), stratum, names[position]))
    sequence.sort()
    targets = {name: round(size * total) if size < 1 else int(size) for name, size in sizes.items()}
    filled = dict.fromkeys(sizes, 0)
    placed: dict[str, str] = {}
    for _, _, group in sequence:
        size = len(members[group])
        split = next((s for s in sizes if filled[s] + size / 2 <= targets[s]), TRAIN)
        placed[group] = split
        if split != TRAIN:
            filled[split] += size
    for split in sizes:  # a requested split never ends empty while train can spare a group
        if targets[split] > 0 and filled[split] == 0:
            spare = [g for _, _, g in sequence if placed[g] == TRAIN]
            if len(spare) > 1:
                smallest = min(spare, key=lambda g: len(members[g]))
                placed[smallest] = split
                filled[split] += len(members[smallest])
    assignment = [TRAIN] * total
    for group, split in placed.items():
        for i in members[group]:
            assignment[i] = split
    return assignment


def _patient_strata(labels: Sequence[str | None], groups: Sequence[str]
                    ) -> tuple[dict[str, list[int]], dict[str, list[str]]]:
    """Each group's image indices, and the groups of each stratum (a group's commonest
    label, the first by name among equals)."""
    members: dict[str, list[int]] = defaultdict(list)
    for index, group in enumerate(groups):
        members[group].append(index)
    strata: dict[str, list[str]] = defaultdict(list)
    for group, indices in members.items():
        counts = Counter(labels[i] or "" for i in indices)
        strata[min(counts, key=lambda label: (-counts[label], label))].append(group)
    return members, strata


def _check_sizes(sizes: dict[str, float], total: int) -> None:
    fraction = sum(v for v in sizes.values() if v < 1)
    count = sum(v for v in sizes.values() if v >= 1)
    if fraction + count / max(total, 1) >= 1:
        asked = ", ".join(f"{k} {_describe(v)}" for k, v in sizes.items())
        raise ValueError(f"the held-out splits ({asked}) leave no training images out of {total}")


def _describe(value: float) -> str:
    return f"{value:g} of the images" if value < 1 else f"{int(value)} images"


def assign_multilabel_splits(
    positives: Sequence[Sequence[int | str]],
    groups: Sequence[str],
    sizes: dict[str, float],
    seed: int,
) -> list[str]:
    """The split of each image, stratified over every label at once and keeping groups
    whole: iterative stratification (Sechidis, Tsoumakas and Vlahavas, 2011) over patient
    groups. The rarest label still to place goes first; each group carrying it joins the
    split that most lacks that label (then the one that most lacks images), and every
    placement lowers what that split still wants of each of the group's labels. Groups
    without positives fill what the splits still lack in size."""
    total = len(positives)
    _check_sizes(sizes, total)
    members: dict[str, list[int]] = defaultdict(list)
    for index, group in enumerate(groups):
        members[group].append(index)
    group_labels = {g: Counter(label for i in idx for label in positives[i])
                    for g, idx in members.items()}
    targets = {name: round(size * total) if size < 1 else int(size) for name, size in sizes.items()}
    targets[TRAIN] = total - sum(targets.values())
    names = [TRAIN, *sizes]
    share = {name: targets[name] / total for name in names}
    label_totals = Counter(label for row in positives for label in row)
    wanted = {name: {label: share[name] * n for label, n in label_totals.items()}
              for name in names}
    room = {name: float(targets[name]) for name in names}
    rng = np.random.default_rng(seed)
    tie_break = {name: value for name, value in zip(names, rng.permutation(len(names)),
                                                    strict=True)}
    unplaced = sorted(members)
    unplaced = [unplaced[i] for i in rng.permutation(len(unplaced))]
    placed: dict[str, str] = {}

    def place(group: str, split: str) -> None:
        placed[group] = split
        room[split] -= len(members[group])
        for label, n in group_labels[group].items():
            wanted[split][label] -= n

    while True:
        remaining = Counter(label for g in unplaced if g not in placed
                            for label in group_labels[g])
        if not remaining:
            break
        label = min(remaining, key=lambda name: (remaining[name], name))
        for group in [g for g in unplaced if g not in placed and label in group_labels[g]]:
            split = max(names, key=lambda s: (wanted[s][label], room[s], tie_break[s]))
            place(group, split)
    for group in (g for g in unplaced if g not in placed):
        place(group, max(names, key=lambda s: (room[s], tie_break[s])))
    assignment = [TRAIN] * total
    for group, split in placed.items():
        for i in members[group]:
            assignment[i] = split
    return assignment


def fold_name(fold: int) -> str:
    """The split that holds fold `fold` (1-based): fold1, fold2, ..."""
    return f"fold{fold}"


def assign_folds(
    labels: Sequence[str | None] | None,
    positives: Sequence[Sequence[int | str]] | None,
    groups: Sequence[str],
    num_folds: int,
    test_size: float,
    seed: int,
) -> list[str]:
    """The split of each image for k-fold cross-validation: `test` first when `test_size`
    holds one out, then `num_folds` folds (fold1..foldK) of equal size over the rest.

    Folds are dealt as the other splits are: whole patient groups, stratified over the
    single label (`labels`) or over every label at once (`positives`, multi-label), and
    the same `seed` gives the same folds. Fold k is the validation split of run k, and
    the other folds its training split (`DatasetSpec.split("train_fold3")`).
    """
    if num_folds < 2:
        raise ValueError(f"--num_folds={num_folds}: cross-validation needs 2 folds or more")
    total = len(groups)
    if len(set(groups)) < num_folds:
        raise ValueError(f"{len(set(groups))} patient group(s) cannot fill {num_folds} folds: "
                         "lower --num_folds or add images")
    assignment = [TRAIN] * total
    rest = list(range(total))
    if test_size > 0:
        held = _assign(labels, positives, groups, {TEST: test_size}, seed, range(total))
        assignment = held
        rest = [i for i, split in enumerate(held) if split == TRAIN]
    names = [fold_name(k) for k in range(1, num_folds + 1)]
    if positives is not None:
        sizes = {name: 1.0 / num_folds for name in names[1:]}
        dealt = assign_multilabel_splits([positives[i] for i in rest],
                                         [groups[i] for i in rest], sizes, seed)
        dealt = [names[0] if split == TRAIN else split for split in dealt]
    else:
        assert labels is not None
        dealt = _deal_folds([labels[i] for i in rest], [groups[i] for i in rest], names, seed)
    for index, split in zip(rest, dealt, strict=True):
        assignment[index] = split
    return assignment


def _deal_folds(labels: Sequence[str | None], groups: Sequence[str], names: list[str],
                seed: int) -> list[str]:
    """Each stratum's groups, largest first (seeded order among equals), go to the fold
    holding the fewest images of that stratum, then the fewest images: every fold gets
    its share of each label to within about one patient."""
    members, strata = _patient_strata(labels, groups)
    rng = np.random.default_rng(seed)
    tie_break = dict(zip(names, rng.permutation(len(names)), strict=True))
    held: dict[str, Counter] = {name: Counter() for name in names}
    size = dict.fromkeys(names, 0)
    assignment = [names[0]] * len(labels)
    for stratum in sorted(strata):
        shuffled = [strata[stratum][i] for i in rng.permutation(len(strata[stratum]))]
        for group in sorted(shuffled, key=lambda g: -len(members[g])):
            fold = min(names, key=lambda n: (held[n][stratum], size[n], tie_break[n]))
            held[fold][stratum] += len(members[group])
            size[fold] += len(members[group])
            for index in members[group]:
                assignment[index] = fold
    return assignment


def _assign(labels, positives, groups, sizes: dict[str, float], seed: int,
            subset: Sequence[int]) -> list[str]:
    picked_groups = [groups[i] for i in subset]
    if positives is not None:
        return assign_multilabel_splits([positives[i] for i in subset], picked_groups, sizes,
                                        seed)
    assert labels is not None
    return assign_splits([labels[i] for i in subset], picked_groups, sizes, seed)
