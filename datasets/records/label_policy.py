"""How a table's uncertain and blank entries become multi-label targets and a loss mask.

A label-table cell is 1 (positive), 0 (negative), -1 (uncertain, CheXpert's `-1.0`) or
blank (not mentioned). The CheXpert paper's policies decide the uncertain ones:
U-Ignore masks them out of the loss, U-Zeros reads them as negative, U-Ones as
positive. A blank is read as negative (what "not mentioned" means in a report), or
masked out too. The result is a target (1/0) and a mask (1: known, counts in the
loss and the metrics) per label.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

UNCERTAIN_POLICIES = ("ignore", "zeros", "ones")
BLANK_POLICIES = ("negative", "ignore")
VALUES = {"1": 1, "1.0": 1, "0": 0, "0.0": 0, "-1": -1, "-1.0": -1, "": None}


@dataclass(frozen=True)
class LabelPolicy:
    uncertain: str = "ignore"
    blank: str = "negative"

    def __post_init__(self) -> None:
        if self.uncertain not in UNCERTAIN_POLICIES:
            raise ValueError(f"--uncertain={self.uncertain!r}; choose one of "
                             f"{', '.join(UNCERTAIN_POLICIES)}")
        if self.blank not in BLANK_POLICIES:
            raise ValueError(f"--blank={self.blank!r}; choose one of {', '.join(BLANK_POLICIES)}")

    def encode(self, values: Sequence[int | None]) -> tuple[list[int], list[int]]:
        """Raw cell values -> (targets, mask), one entry per label."""
        targets, mask = [], []
        for value in values:
            if value is None:
                known = self.blank == "negative"
                targets.append(0)
            elif value == -1:
                known = self.uncertain != "ignore"
                targets.append(1 if self.uncertain == "ones" else 0)
            else:
                known = True
                targets.append(int(value))
            mask.append(1 if known else 0)
        return targets, mask

    def to_dict(self) -> dict[str, str]:
        """The policy as JSON-ready values, as the dataset spec keeps it."""
        return asdict(self)


def parse_value(text: str) -> int | None:
    """One cell as written by fetch_image (or a CheXpert-style table); ValueError if it is
    none of 1, 0, -1 (with or without `.0`) or blank."""
    cleaned = text.strip()
    if cleaned not in VALUES:
        raise ValueError(f"{text!r} is not 1, 0, -1 or blank")
    return VALUES[cleaned]


def count_labels(class_names: Sequence[str],
                 encoded: Sequence[tuple[Sequence[int], Sequence[int]]]) -> dict[str, dict]:
    """Per label: positives, negatives and unknowns (masked out) over `encoded` examples."""
    counts = {name: {"positive": 0, "negative": 0, "unknown": 0} for name in class_names}
    for targets, mask in encoded:
        for name, target, known in zip(class_names, targets, mask, strict=True):
            key = "unknown" if not known else ("positive" if target else "negative")
            counts[name][key] += 1
    return counts
