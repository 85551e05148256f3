"""The dataset spec: what a converted directory holds, so training hard-codes nothing.

`dataset_spec.json` is written last by a conversion, so its presence marks a
complete output: a killed conversion leaves none, and readers refuse the
directory with a clear message instead of training on half the shards.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field

from datasets.records.tasks import (  # noqa: F401  (re-exported: the names records carry)
    CLASSIFICATION,
    MULTILABEL,
    SEGMENTATION,
    RecordTask,
    record_task,
)
from files.atomic_file import write_atomic

SPEC_FILE = "dataset_spec.json"
SPEC_VERSION = 1
_FOLD_VIEW = re.compile(r"(train|validation)_fold(\d+)")


@dataclass
class SplitSpec:
    num_examples: int
    files: list[str]
    shard_lengths: list[int]
    num_bytes: int = 0
    class_counts: dict[str, int] = field(default_factory=dict)
    label_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    """Multi-label: per label, its positive, negative and unknown (masked-out) entries."""
    patients: int = 0
    studies: int = 0
    attribute_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    """Per catalog attribute the records carry, its values' image counts ('unknown':
    the catalog had none)."""


@dataclass
class DatasetSpec:
    dataset_name: str
    task: str
    """A name in datasets.records.tasks; `kind` is what it declares."""
    output_name: str
    class_names: list[str]
    splits: dict[str, SplitSpec]
    channels: int | None
    """1 or 3 when every image has it; None when the set mixes gray and colour."""
    min_size: tuple[int, int]
    max_size: tuple[int, int]
    """(height, width) ranges over all images."""
    bit_depths: list[int]
    seed: int | None = None
    grouped_by_patient: bool = False
    image_format: str = "png"
    """png: each record holds its PNG/JPEG bytes; raw: uncompressed pixels at max(bit_depths)."""
    pixel_preprocessing: dict | None = None
    """{method, value} that preprocess_image applied to the source folder: the records hold
    preprocessed pixels, and a model trained on them applies it to raw inputs."""
    max_image_size: int | None = None
    """tf_convert_data's --max_image_size: larger images were scaled down to it; a model
    trained on these records scales larger inputs the same way."""
    intensity_window: dict | None = None
    """tf_convert_data's --window: {center, width, name} in Hounsfield units, applied to the
    DICOM inputs instead of their own VOI window; a model trained on these records applies
    it to DICOM inputs the same way."""
    label_policy: dict | None = None
    """Multi-label: {uncertain, blank}, how uncertain and blank table entries became
    targets and masks (datasets.records.label_policy)."""
    num_folds: int | None = None
    """tf_convert_data --need_split=kfold: the records hold splits fold1..foldK (and test
    when one was held out); `train_foldK` reads every fold but K, `validation_foldK` fold K."""
    deidentification: dict | None = None
    """The folder's de-identification record (fetch_image's deidentification.json:
    profile, edition, options), stated in the evaluation's model card."""
    attributes: list[str] | None = None
    """The catalog attributes each record carries as `attribute/NAME` (evaluation's
    subgroups), from the folder's metadata.csv."""
    version: int = SPEC_VERSION

    @property
    def kind(self) -> RecordTask:
        """What this dataset's task declares (datasets.records.tasks)."""
        return record_task(self.task)

    @property
    def num_classes(self) -> int:
        """How many classes (or labels) the records hold."""
        return len(self.class_names)

    def split(self, name: str) -> SplitSpec:
        """A stored split, or with folds the view `train_foldK` / `validation_foldK`: its
        files, lengths and counts, summed over the folds it takes."""
        if name in self.splits:
            return self.splits[name]
        view = _FOLD_VIEW.fullmatch(name)
        if view and self.num_folds and 1 <= int(view.group(2)) <= self.num_folds:
            held = f"fold{int(view.group(2))}"
            parts = [held] if view.group(1) == "validation" else [
                f"fold{k}" for k in range(1, self.num_folds + 1) if f"fold{k}" != held]
            return _merged([self.splits[p] for p in parts])
        views = (f", and train_foldK or validation_foldK for K in 1..{self.num_folds}"
                 if self.num_folds else "")
        raise ValueError(
            f"split {name!r} is not in this dataset; it has: {', '.join(self.splits)}{views}"
        )

    def validation_split_for(self, train_split: str) -> str | None:
        """The split that validates training on `train_split`: validation_foldK for
        train_foldK, else `validation`; None when the records have none."""
        view = _FOLD_VIEW.fullmatch(train_split)
        if view and view.group(1) == "train":
            return f"validation_fold{view.group(2)}"
        return "validation" if "validation" in self.splits else None

    def to_json(self) -> str:
        """The spec as the JSON that dataset_spec.json keeps."""
        return json.dumps(asdict(self), indent=2, sort_keys=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> DatasetSpec:
        """The spec `to_json` wrote; raises ValueError for a spec of another version, saying to re-
        run tf_convert_data."""
        raw = json.loads(text)
        if raw.get("version") != SPEC_VERSION:
            raise ValueError(
                f"dataset spec version {raw.get('version')} is not {SPEC_VERSION}: "
                "re-run tf_convert_data with this version of medcv"
            )
        raw["splits"] = {name: SplitSpec(**split) for name, split in raw["splits"].items()}
        raw["min_size"] = tuple(raw["min_size"])
        raw["max_size"] = tuple(raw["max_size"])
        return cls(**raw)


def _merged(parts: list[SplitSpec]) -> SplitSpec:
    merged = SplitSpec(0, [], [])
    for part in parts:
        merged.num_examples += part.num_examples
        merged.files += part.files
        merged.shard_lengths += part.shard_lengths
        merged.num_bytes += part.num_bytes
        merged.patients += part.patients
        merged.studies += part.studies
        for name, counts in part.attribute_counts.items():
            total = merged.attribute_counts.setdefault(name, {})
            for value, count in counts.items():
                total[value] = total.get(value, 0) + count
        for name, count in part.class_counts.items():
            merged.class_counts[name] = merged.class_counts.get(name, 0) + count
        for name, counts in part.label_counts.items():
            summed = merged.label_counts.setdefault(name, dict.fromkeys(counts, 0))
            for key, number in counts.items():
                summed[key] = summed.get(key, 0) + number
    return merged


def write_spec(spec: DatasetSpec, directory: str) -> str:
    """Writes the spec atomically into `directory`; returns its path."""
    path = os.path.join(directory, SPEC_FILE)
    write_atomic(path, spec.to_json().encode("utf-8"))
    return path


def read_spec(directory: str) -> DatasetSpec:
    """The spec of a tf_convert_data output; raises FileNotFoundError saying what is missing when
    `directory` is not a finished one."""
    path = os.path.join(directory, SPEC_FILE)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"dataset directory {directory} does not exist")
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"{directory} has no {SPEC_FILE}: it is not a finished tf_convert_data output "
            "(a killed conversion leaves none); run tf_convert_data.py to create it"
        )
    with open(path, encoding="utf-8") as handle:
        return DatasetSpec.from_json(handle.read())
