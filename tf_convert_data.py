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

from absl import app, flags

import console.quiet_start  # noqa: F401  (first: silences TensorFlow's start-up)
from console.errors import require_no_arguments, run_cli
from console.flags import define_progress_flag
from console.options import define_option_flags, settings_from_flags
from datasets.records.catalog_attributes import DEFAULT_ATTRIBUTES
from datasets.records.conversion import ConversionSettings
from datasets.records.label_policy import BLANK_POLICIES, UNCERTAIN_POLICIES, LabelPolicy
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
define_option_flags(ConversionSettings)
flags.DEFINE_integer(
    "num_workers", os.cpu_count() or 1,
    "Processes that decode and encode images (default: all cores).", lower_bound=1,
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


def main(argv: list[str]) -> int:
    """Converts a folder (or the catalog's fetch) into TFRecords with patient-grouped splits;
    returns the exit code."""
    from datasets.records.conversion_run import attribute_settings, run_conversion

    require_no_arguments(argv)
    logging.getLogger().setLevel(logging.WARNING)

    def run() -> int:
        if not FLAGS.dataset_dir:
            raise ValueError("--dataset_dir is required (the folder holding images/ and "
                             "labels/)")
        beam = (pipeline_arguments(FLAGS.beam_pipeline_options, FLAGS.direct_num_workers)
                if FLAGS.runner == "beam" else None)
        return run_conversion(settings_from_flags(
            ConversionSettings, dataset_name=FLAGS.dataset_name, dataset_dir=FLAGS.dataset_dir,
            output_dir=FLAGS.output_dir or os.path.join(FLAGS.dataset_dir, "tfrecords"),
            output_name=FLAGS.output_name or FLAGS.dataset_name, num_workers=FLAGS.num_workers,
            progress=FLAGS.progress, label_policy=LabelPolicy(FLAGS.uncertain, FLAGS.blank),
            beam_arguments=beam, beam_temp_location=FLAGS.beam_temp_location,
            **attribute_settings(FLAGS.attributes)))

    return run_cli(run, "Re-run the same command: unfinished output is discarded.")


if __name__ == "__main__":
    app.run(main)
