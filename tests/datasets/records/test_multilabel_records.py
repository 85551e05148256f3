"""labels.csv -> multi-label records: targets and masks under each policy, counts in the
spec, splits stratified over every label with patients kept whole, tfds metadata, and
bad tables refused before anything is written."""

from __future__ import annotations

import json
import os
from collections import Counter

import numpy as np
import pytest
import tensorflow as tf

from datasets.records import example_codec
from datasets.records.conversion import ConversionSettings, InvalidInput, convert
from datasets.records.label_policy import LabelPolicy
from datasets.records.splits import TEST, TRAIN, VALIDATION, assign_multilabel_splits
from tests.support.folders import multilabel_folder

ROWS = {"a": {"Edema": "1", "Nodule": "-1"}, "b": {"Edema": "0", "Nodule": ""},
        "c": {"Edema": "-1.0", "Nodule": "1.0"}, "d": {"Edema": "", "Nodule": "0.0"}}


def _convert(root, policy: LabelPolicy | None = None, **options):
    out = str(root / "out")
    policy = policy or LabelPolicy()
    result = convert(ConversionSettings("dicom", str(root / "in"), out, "ml", progress=False,
                                        label_policy=policy, **options))
    return out, result


def _records(out: str, spec: dict) -> dict[str, tuple[list[int], list[int], str]]:
    parse = example_codec.parsing_spec("multilabel", len(spec["class_names"]))
    found = {}
    for split in spec["splits"].values():
        for name in split["files"]:
            for record in tf.data.TFRecordDataset(os.path.join(out, name)):
                example = tf.io.parse_single_example(record, parse)
                found[example[example_codec.ID].numpy().decode()] = (
                    example[example_codec.MULTI_HOT].numpy().tolist(),
                    example[example_codec.LABEL_MASK].numpy().tolist(),
                    example[example_codec.LABEL_TEXT].numpy().decode())
    return found


@pytest.mark.parametrize(("uncertain", "blank", "expected"), [
    # per image: (Edema, Nodule) targets, then masks
    ("ignore", "negative", {"a": ([1, 0], [1, 0]), "b": ([0, 0], [1, 1]),
                            "c": ([0, 1], [0, 1]), "d": ([0, 0], [1, 1])}),
    ("zeros", "ignore", {"a": ([1, 0], [1, 1]), "b": ([0, 0], [1, 0]),
                         "c": ([0, 1], [1, 1]), "d": ([0, 0], [0, 1])}),
    ("ones", "negative", {"a": ([1, 1], [1, 1]), "b": ([0, 0], [1, 1]),
                          "c": ([1, 1], [1, 1]), "d": ([0, 0], [1, 1])}),
])
def test_policies_decide_targets_and_masks(tmp_path, uncertain, blank, expected):
    multilabel_folder(str(tmp_path / "in"), ROWS)
    out, result = _convert(tmp_path, LabelPolicy(uncertain, blank))
    assert "4 multilabel records" in result.line(out) and "2 labels" in result.line(out)
    with open(os.path.join(out, "dataset_spec.json")) as handle:
        spec = json.load(handle)
    assert spec["task"] == "multilabel" and spec["class_names"] == ["Edema", "Nodule"]
    assert spec["label_policy"] == {"uncertain": uncertain, "blank": blank}
    records = _records(out, spec)
    assert {k: v[:2] for k, v in records.items()} == {k: (list(t), list(m))
                                                      for k, (t, m) in expected.items()}
    assert records["a"][2] == "Edema" and records["c"][2] == "Nodule"  # the table's positives
    counts = spec["splits"]["train"]["label_counts"]
    for index, name in enumerate(spec["class_names"]):
        known = [t[index] for t, m in expected.values() if m[index]]
        assert counts[name] == {"positive": sum(known), "negative": len(known) - sum(known),
                                "unknown": 4 - len(known)}


def test_splits_keep_patients_whole_and_each_label_share(tmp_path):
    rng = np.random.default_rng(5)
    rates = {"Edema": 0.4, "Nodule": 0.15, "Mass": 0.06}
    rows = {f"{i:04d}": {n: "1" if rng.random() < r else "0" for n, r in rates.items()}
            for i in range(300)}
    multilabel_folder(str(tmp_path / "in"), rows, patients=100)
    out, _ = _convert(tmp_path, need_split="tvt_split", validation_size=0.2, test_size=0.2)
    with open(os.path.join(out, "dataset_spec.json")) as handle:
        spec = json.load(handle)
    assert spec["grouped_by_patient"]
    sizes = {name: split["num_examples"] for name, split in spec["splits"].items()}
    assert sizes == {"train": 180, "validation": 60, "test": 60}
    for name in rates:
        total = sum(1 for row in rows.values() if row[name] == "1")
        for split, size in sizes.items():
            share = spec["splits"][split]["label_counts"][name]["positive"] / size
            assert abs(share - total / 300) < 0.05, (name, split, share)
    ds = tf.data.TFRecordDataset([os.path.join(out, f) for s in spec["splits"].values()
                                  for f in s["files"]])
    parse = example_codec.parsing_spec("multilabel", 3)
    split_of_patient = {}
    for split in spec["splits"]:
        for name in spec["splits"][split]["files"]:
            for record in tf.data.TFRecordDataset(os.path.join(out, name)):
                patient = tf.io.parse_single_example(record, parse)[example_codec.PATIENT_ID]
                assert split_of_patient.setdefault(patient.numpy(), split) == split
    assert len(split_of_patient) == 100 and sum(1 for _ in ds) == 300


def test_iterative_stratification_places_a_rare_label_in_every_split():
    # 6 groups carry the rare label: 60/20/20 % of them is 3.6/1.2/1.2, so 4/1/1, whatever
    # the seed, and the common label and the sizes still come out right.
    positives = [["rare"] if i < 6 else (["common"] if i % 2 else []) for i in range(60)]
    groups = [f"p{i}" for i in range(60)]
    for seed in range(5):
        splits = assign_multilabel_splits(positives, groups, {VALIDATION: 0.2, TEST: 0.2},
                                          seed)
        rare = Counter(s for s, p in zip(splits, positives, strict=True) if "rare" in p)
        assert rare == {TRAIN: 4, VALIDATION: 1, TEST: 1}, (seed, rare)
        common = Counter(s for s, p in zip(splits, positives, strict=True) if "common" in p)
        assert abs(common[VALIDATION] - 5.4) <= 1 and abs(common[TEST] - 5.4) <= 1, common
        assert Counter(splits) == {TRAIN: 36, VALIDATION: 12, TEST: 12}


def test_tensorflow_datasets_reads_the_multilabel_records(tmp_path):
    import tensorflow_datasets as tfds

    multilabel_folder(str(tmp_path / "in"), ROWS)
    out, _ = _convert(tmp_path)
    read = {e["image"]["id"].numpy().decode(): e["image"]["class"]["mask"].numpy().tolist()
            for e in tfds.builder_from_directory(out).as_dataset(split="train")}
    assert read == {"a": [1, 0], "b": [1, 1], "c": [0, 1], "d": [1, 1]}


@pytest.mark.parametrize(("cells", "expected"), [
    ({"a": {"Edema": "maybe"}}, "labels.csv:2: column 'Edema': 'maybe' is not 1, 0, -1 or blank"),
    ({"a": {"Edema": "2"}}, "labels.csv:2: column 'Edema': '2' is not 1, 0, -1 or blank"),
])
def test_a_bad_cell_names_file_row_and_column_and_nothing_is_written(tmp_path, cells,
                                                                      expected):
    multilabel_folder(str(tmp_path / "in"), {**ROWS, **cells})
    with pytest.raises(InvalidInput) as raised:
        _convert(tmp_path)
    assert [p.line() for p in raised.value.problems] == [
        f"{tmp_path / 'in' / expected.split(':')[0]}:{expected.split(':', 1)[1]}"]
    assert not os.path.exists(tmp_path / "out" / "dataset_spec.json")


def test_unpaired_rows_and_images_are_problems(tmp_path):
    multilabel_folder(str(tmp_path / "in"), ROWS)
    os.remove(tmp_path / "in" / "images" / "b.png")
    with open(tmp_path / "in" / "labels.csv", "a") as handle:
        handle.write("a.png,1,1\n")
    with pytest.raises(InvalidInput) as raised:
        _convert(tmp_path)
    reasons = sorted(p.reason for p in raised.value.problems)
    assert reasons == ["a second row for 'a.png'", "row 'b' has no image in images/"]
    _, result = _convert(tmp_path, skip_invalid=True)
    assert result.spec.splits["train"].num_examples == 3
