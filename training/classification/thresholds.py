"""Per-label decision thresholds of a multi-label model, kept in its train_dir.

eval_image_classifier chooses them on the validation split and writes
`thresholds.json`; classify_image and the SavedModel export read it, so a finding
is reported above the same threshold everywhere. Without the file every label
uses 0.5, and the tools say so.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass

from files.atomic_file import write_atomic

THRESHOLDS_FILE = "thresholds.json"
DEFAULT = 0.5


@dataclass
class Thresholds:
    rule: str
    """youden or f1; 'default' when no eval chose them."""
    split: str
    step: int
    values: dict[str, float | None]
    """label -> threshold; None where the split could not define one (0.5 is used)."""

    def for_labels(self, class_names: list[str]) -> list[float]:
        """The threshold of each label, 0.5 where none was chosen."""
        chosen = [self.values.get(n) for n in class_names]
        return [DEFAULT if value is None else float(value) for value in chosen]


@dataclass(frozen=True)
class LabelFindings:
    """Multi-label findings: the labels at or above their thresholds. A plain, picklable
    callable, so a writer process can apply it too (the inference node's study SRs)."""

    class_names: tuple[str, ...]
    limits: tuple[float, ...]

    def __call__(self, probabilities) -> tuple[str, ...]:
        return tuple(name for name, p, t in zip(self.class_names, probabilities,
                                                self.limits, strict=True) if p >= t)


def default_thresholds(class_names: list[str]) -> Thresholds:
    """0.5 for every label: what applies when no thresholds.json was written."""
    return Thresholds("default", "", 0, dict.fromkeys(class_names, DEFAULT))


def write_thresholds(thresholds: Thresholds, directory: str) -> str:
    """Writes thresholds.json atomically into `directory`; returns its path."""
    path = os.path.join(directory or ".", THRESHOLDS_FILE)
    write_atomic(path, (json.dumps(asdict(thresholds), indent=2) + "\n").encode())
    return path


def read_thresholds(directory: str) -> Thresholds | None:
    """The thresholds recorded in `directory` (a train_dir or a SavedModel), or None."""
    path = os.path.join(directory, THRESHOLDS_FILE)
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as handle:
        raw = json.load(handle)
    try:
        return Thresholds(raw["rule"], raw["split"], int(raw["step"]), dict(raw["values"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path} is not a thresholds file ({exc})") from None
