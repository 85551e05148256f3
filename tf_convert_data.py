"""Convert an images/ + labels/ (or images/ + masks/) folder into sharded TFRecords.

    python tf_convert_data.py --dataset_name=dicom --dataset_dir=DIR \\
      --output_name=dicom_train --output_dir=OUT --need_split=tvt_split

Writes OUT/<output_name>_<split>-00000-of-0000N.tfrecord, labels.txt (id:name),
dataset_spec.json (task, classes, split sizes, image sizes, channels) and the
tensorflow-datasets metadata, so `tfds.builder_from_directory(OUT)` loads it.
If DIR/metadata.csv names each image's patient (`patient_key` or `patient_id`),
all images of one patient land in the same split: no patient leaks between
train, validation and test.

A folder with DIR/labels.csv (`fetch_image --label_set` writes one: filename, then
one column per label holding 1, 0, -1 for uncertain, or blank) converts to
multi-label records: multi-hot targets plus a mask of the entries that count, with
--uncertain and --blank deciding the -1 and blank entries, and splits stratified
over every label at once.

--runner=beam runs the per-image work (the check, then the writing of each shard) as
Apache Beam pipelines, with the same plan and the same records (docs/scaling.md).

--need_split=kfold writes patient-grouped folds for cross_validate.py
(docs/experiments.md).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from absl import app, flags

import console.quiet_start  # noqa: F401  (first: silences TensorFlow's start-up)
from console.errors import require_no_arguments, run_cli
from console.flags import define_progress_flag
from console.text import printable
from datasets.records.catalog_attributes import DEFAULT_ATTRIBUTES, parse_attribute_names
from datasets.records.conversion import ConversionSettings, InvalidInput, convert
from datasets.records.label_policy import BLANK_POLICIES, UNCERTAIN_POLICIES, LabelPolicy
from datasets.records.splits import DEFAULT_NUM_FOLDS, SPLIT_MODES, parse_size
from dicom.decoding.intensity_window import PRESETS, parse_window
from pipelines import beam_flags
from pipelines.beam_flags import define_beam_flags
from pipelines.beam_runner import pipeline_arguments

FLAGS = flags.FLAGS
flags.DEFINE_string(
    "dataset_name", "dicom",
    "'segmentation' converts DIR/images + DIR/masks (label PNGs, or colour PNGs mapped "
    "through DIR/class_dict.csv with name,r,g,b); any other name (dicom, flowers, ...) "
    "converts DIR/images + DIR/labels/<stem>.txt for classification.",
)
flags.DEFINE_string(
    "dataset_dir", None,
    "Input folder with images/ (PNG 8/16-bit, JPEG or DICOM) and labels/, labels.csv "
    "(multi-label) or masks/; an image and its label share a file stem (000000.png + "
    "000000.txt holding e.g. 'Chest'). Optional metadata.csv with ID and patient_key "
    "columns keeps each patient in one split.",
)
flags.DEFINE_string("output_dir", None, "Where the records go (default: DATASET_DIR/tfrecords).")
flags.DEFINE_string(
    "output_name", None,
    "File name prefix: <output_name>_<split>-00000-of-0000N.tfrecord (default: dataset_name).",
)
flags.DEFINE_enum(
    "need_split", "None", list(SPLIT_MODES),
    "None: one output named <output_name>-NNNNN-of-NNNNN.tfrecord holding the split "
    "--split_name; tt_split: train/test; tvt_split: train/validation/test; kfold: "
    "--num_folds folds fold1..foldK for cross-validation (cross_validate.py), after an "
    "optional --fold_test_size test split. Splits are stratified by label, reproducible "
    "with --seed, and never split one patient.",
)
flags.DEFINE_integer(
    "num_folds", DEFAULT_NUM_FOLDS,
    "kfold: how many folds. Run K trains on every fold but K (split train_foldK) and "
    "validates on fold K (split validation_foldK).", lower_bound=2,
)
flags.DEFINE_string(
    "fold_test_size", "0",
    "kfold: a test split held out before the folds are dealt, a fraction of the images "
    "below 1 (0.2) or a count (50); 0: none.",
)
flags.DEFINE_string(
    "validation_size", "0.1",
    "Validation split (tvt_split): a fraction of the images below 1 (0.1) or a count (50).",
)
flags.DEFINE_string(
    "test_size", "0.1",
    "Test split (tt_split, tvt_split): a fraction of the images below 1 (0.1) or a count (50).",
)
flags.DEFINE_string("split_name", "train", "Name of the single split when --need_split=None.")
flags.DEFINE_integer("seed", 0, "Seed of the split and of the record order inside each split.")
flags.DEFINE_integer(
    "num_shards", 0,
    "Shards per split; 0 picks the count from --shard_size_mb.", lower_bound=0,
)
flags.DEFINE_float(
    "shard_size_mb", 100.0, "Target shard size when --num_shards=0.", lower_bound=0.001
)
flags.DEFINE_integer(
    "num_workers", os.cpu_count() or 1,
    "Processes that decode and encode images (default: all cores).", lower_bound=1,
)
flags.DEFINE_boolean(
    "skip_invalid", False,
    "Skip (and list) images without labels, labels without images, empty labels and "
    "unreadable images instead of stopping before anything is written.",
)
flags.DEFINE_enum(
    "image_format", "planar", ["planar", "png", "raw"],
    "How records hold the pixels, all lossless. planar (default): the decoded pixels as byte "
    "planes, each zlib-compressed where that pays; within about 15 % of PNG's size and "
    "two to three times as fast for training to read. png: the image as stored (PNG "
    "8/16-bit or JPEG bytes; DICOM as 16-bit PNG), the format tensorflow-datasets decodes "
    "itself. raw: the decoded pixels uncompressed, the fastest to read, a third to a half "
    "more disk than PNG.",
)
flags.DEFINE_integer(
    "max_image_size", None,
    "Scale images whose longer side exceeds this down to it, once, here (aspect kept, never "
    "upscaled, anti-aliased, bit depth kept; masks by nearest neighbour). Recorded in "
    "dataset_spec.json: eval, classify_image and the SavedModel scale larger inputs the same "
    "way. Use it for full-size radiographs trained at a few hundred pixels: each epoch then "
    "decodes small images instead of 5-megapixel ones. Unset: images as they are.",
    lower_bound=1,
)
flags.DEFINE_string(
    "window", None,
    "CT intensity window for DICOM inputs, in Hounsfield units after the rescale: a preset "
    f"({', '.join(f'{n} {c:g},{w:g}' for n, (c, w) in PRESETS.items())}) or center,width "
    "(e.g. -600,1500). Replaces each file's own window; recorded in dataset_spec.json, and "
    "a model trained on the records applies it to the DICOM files it classifies. A file "
    "without Hounsfield units (not CT, no RescaleType HU) stops the run with one line.",
)
flags.DEFINE_enum(
    "uncertain", "ignore", list(UNCERTAIN_POLICIES),
    "Multi-label: what an uncertain (-1) entry of labels.csv means, as in the CheXpert "
    "paper. ignore (U-Ignore): left out of the loss and the metrics for that label; zeros "
    "(U-Zeros): negative; ones (U-Ones): positive. Recorded in dataset_spec.json.",
)
flags.DEFINE_enum(
    "blank", "negative", list(BLANK_POLICIES),
    "Multi-label: what a blank (not mentioned) entry of labels.csv means. negative: "
    "absent; ignore: left out of the loss and the metrics. Recorded in dataset_spec.json.",
)
flags.DEFINE_string(
    "attributes", None,
    "Catalog attributes copied from the folder's metadata.csv into each record, beside the "
    "image (never model input), for eval_image_classifier --subgroups and the report's data "
    "make-up: comma-separated metadata.csv columns, or age_band (decades of PatientAge), "
    "study_year (of StudyDate) and site (the catalog's site: InstitutionName, a keyed "
    f"pseudonym under --deidentify). Default: {','.join(DEFAULT_ATTRIBUTES)}, those the "
    "folder has; named here, a missing one is an error. Empty: none.",
)
define_progress_flag()
define_beam_flags()
flags.adopt_module_key_flags(beam_flags)
flags.DEFINE_boolean(
    "tfds_metadata", True, "Write dataset_info.json/features.json for tensorflow-datasets."
)


def _settings() -> ConversionSettings:
    if not FLAGS.dataset_dir:
        raise ValueError("--dataset_dir is required (the folder holding images/ and labels/)")
    return ConversionSettings(
        dataset_name=FLAGS.dataset_name,
        dataset_dir=FLAGS.dataset_dir,
        output_dir=FLAGS.output_dir or os.path.join(FLAGS.dataset_dir, "tfrecords"),
        output_name=FLAGS.output_name or FLAGS.dataset_name,
        need_split=FLAGS.need_split,
        validation_size=parse_size(FLAGS.validation_size, "validation_size"),
        test_size=parse_size(FLAGS.test_size, "test_size"),
        num_folds=FLAGS.num_folds,
        fold_test_size=parse_size(FLAGS.fold_test_size, "fold_test_size"),
        seed=FLAGS.seed,
        num_shards=FLAGS.num_shards or None,
        shard_size_mb=FLAGS.shard_size_mb,
        num_workers=FLAGS.num_workers,
        skip_invalid=FLAGS.skip_invalid,
        split_name=FLAGS.split_name,
        image_format=FLAGS.image_format,
        progress=FLAGS.progress,
        tfds_metadata=FLAGS.tfds_metadata,
        max_image_size=FLAGS.max_image_size,
        intensity_window=parse_window(FLAGS.window),
        label_policy=LabelPolicy(FLAGS.uncertain, FLAGS.blank),
        beam_arguments=(pipeline_arguments(FLAGS.beam_pipeline_options, FLAGS.direct_num_workers)
                        if FLAGS.runner == "beam" else None),
        beam_temp_location=FLAGS.beam_temp_location,
        **_attribute_settings(FLAGS.attributes),
    )


def _attribute_settings(named: str | None) -> dict[str, Any]:
    """--attributes names the attributes and requires them; left out, the defaults are
    copied where the folder has them."""
    if named is None:
        return {}
    return {"attributes": parse_attribute_names(named), "attributes_required": True}


def _run() -> int:
    settings = _settings()
    try:
        result = convert(settings)
    except InvalidInput as exc:
        for problem in exc.problems:
            print(printable(f"  {problem.line()}"), file=sys.stderr)
        raise
    for problem in result.skipped:
        print(printable(f"skipped {problem.line()}"), file=sys.stderr)
    print(result.line(settings.output_dir))
    return 0


def main(argv: list[str]) -> int:
    require_no_arguments(argv)
    logging.getLogger().setLevel(logging.WARNING)
    return run_cli(_run, "Re-run the same command: unfinished output is discarded.")


if __name__ == "__main__":
    app.run(main)
