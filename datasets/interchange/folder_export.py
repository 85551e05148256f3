"""Write a plain image folder with `metadata.csv` for tools outside TensorFlow.

    python -m datasets.image_folder --dataset_dir TFRECORDS --split_name test --output_dir F
    python -m datasets.image_folder --source_dir FETCHED --output_dir F

`F/<id>.png|jpg` are the stored bytes unchanged (16-bit stays 16-bit) and
`F/metadata.csv` has `filename,label,patient_id`; for segmentation records the
masks go to `F/masks/<id>.png` and the columns are `filename,mask,patient_id`.
The folder is built under a temporary name and renamed when complete.
"""

from __future__ import annotations

import os
import shutil
import sys

from tqdm import tqdm

from datasets.interchange.staged_directory import staged_directory
from datasets.records.dataset_spec import CLASSIFICATION, read_spec
from datasets.records.source_folder import scan_source
from files.folder_layout import MASKS_DIR, METADATA_FILE, write_metadata_csv
from files.safe_names import NameAllocator

METADATA = METADATA_FILE
_EXTENSIONS = {"png": ".png", "jpeg": ".jpg"}


def folder_from_records(
    dataset_dir: str, split_name: str, output_dir: str, progress: bool = True
) -> int:
    """Writes a records split as image files (and masks) with metadata.csv, into a staged folder
    renamed when complete; returns the image count."""
    from datasets.records.record_reader import iter_split

    spec = read_spec(dataset_dir)
    total = spec.split(split_name).num_examples
    rows: list[dict[str, str]] = []
    names = NameAllocator()
    segmentation = spec.kind.dense
    with staged_directory(output_dir) as staging:
        if segmentation:
            os.makedirs(os.path.join(staging, MASKS_DIR))
        for example in tqdm(iter_split(spec, split_name, dataset_dir), total=total,
                            unit="image", desc="write", disable=not progress, file=sys.stderr):
            stem = names.allocate(example.example_id, "image")
            name = stem + _EXTENSIONS.get(example.image_format, ".png")
            with open(os.path.join(staging, name), "wb") as handle:
                handle.write(example.image)
            row = {"filename": name, "patient_id": example.patient_id}
            if segmentation:
                mask_name = os.path.join(MASKS_DIR, stem + ".png")
                with open(os.path.join(staging, mask_name), "wb") as handle:
                    handle.write(example.mask or b"")
                row["mask"] = mask_name
            else:
                row["label"] = example.label_text or (
                    "" if example.label is None else spec.class_names[example.label])
            rows.append(row)
        columns = ["filename", "mask" if segmentation else "label", "patient_id"]
        write_metadata_csv(os.path.join(staging, METADATA), columns, rows)
    return len(rows)


def folder_from_fetched(source_dir: str, output_dir: str, progress: bool = True) -> int:
    """Copies a fetched folder's images with metadata.csv, into a staged folder renamed when
    complete; returns the image count. Raises ValueError when the folder has problems."""
    items, problems = scan_source(source_dir, CLASSIFICATION)
    if problems:
        raise ValueError(
            f"{len(problems)} problem(s) in {source_dir}, e.g. {problems[0].line()}"
        )
    rows = []
    with staged_directory(output_dir) as staging:
        for item in tqdm(items, unit="image", desc="copy", disable=not progress, file=sys.stderr):
            name = os.path.basename(item.image_path)
            shutil.copyfile(item.image_path, os.path.join(staging, name))
            rows.append({"filename": name, "label": item.label, "patient_id": item.patient_id})
        write_metadata_csv(os.path.join(staging, METADATA), ["filename", "label", "patient_id"],
                           rows)
    return len(rows)

