"""The dataset spec: what a converted directory holds, so training hard-codes nothing.

`dataset_spec.json` is written last by a conversion, so its presence marks a
complete output: a killed conversion leaves none, and readers refuse the
directory with a clear message instead of training on half the shards.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field

from files.atomic_file import write_atomic

SPEC_FILE = "dataset_spec.json"
SPEC_VERSION = 1
CLASSIFICATION = "classification"
SEGMENTATION = "segmentation"
MULTILABEL = "multilabel"
TASKS = (CLASSIFICATION, SEGMENTATION, MULTILABEL)


@dataclass
class SplitSpec:
    num_examples: int
    files: list[str]
    shard_lengths: list[int]
    num_bytes: int = 0
    class_counts: dict[str, int] = field(default_factory=dict)
    label_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    """Multi-label: per label, its positive, negative and unknown (masked-out) entries."""


@dataclass
class DatasetSpec:
    dataset_name: str
    task: str
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
    label_policy: dict | None = None
    """Multi-label: {uncertain, blank}, how uncertain and blank table entries became
    targets and masks (datasets.records.label_policy)."""
    version: int = SPEC_VERSION

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def split(self, name: str) -> SplitSpec:
        if name not in self.splits:
            raise ValueError(
                f"split {name!r} is not in this dataset; it has: {', '.join(self.splits)}"
            )
        return self.splits[name]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> DatasetSpec:
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


def write_spec(spec: DatasetSpec, directory: str) -> str:
    path = os.path.join(directory, SPEC_FILE)
    write_atomic(path, spec.to_json().encode("utf-8"))
    return path


def read_spec(directory: str) -> DatasetSpec:
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
