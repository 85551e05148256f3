"""Classify images in batches from a checkpoint or an exported SavedModel.

    python classify_image.py --infile=input.txt --tfrecord=False \\
      --outfile=prediction_result.txt --checkpoint_path=DIR/model.ckpt-8400
    python classify_image.py --infile='test-dicom*.tfrecord' --tfrecord=True ...

--infile lists image paths (PNG, JPEG or DICOM), one per line, or with
--tfrecord=True names a TFRecord file or glob. --outfile gets one line per input,
in input order: input, predicted class, its probability, the top-k; a missing
or corrupt input gets a line with ERROR and the reason, and the run goes on.

A multi-label model writes, per input: input, its findings (the labels at or
above the thresholds eval_image_classifier chose on the validation split and
recorded in the train_dir, '|'-joined, or 'none'), then every label's
probability; the header line lists the thresholds and where they came from.

When eval_image_classifier fitted a calibration (calibration.json beside the
checkpoint: temperature scaling, or Platt scaling per label), every probability
written here, in the SavedModel and in the DICOM SRs is the calibrated one, and
the header line (and the SR's algorithm version) says so.
"""

from __future__ import annotations

import logging

from absl import app, flags

import console.quiet_start  # noqa: F401  (first: silences TensorFlow's start-up)
from batch_prediction.request import ClassifyRequest
from console.flags import define_progress_flag
from console.options import define_option_flags, settings_from_flags
from dicom.network.client_flags import define_pacs_client_flags
from training.serving.model_flags import (
    chosen_checkpoint,
    define_checkpoint_choice_flag,
    define_model_flags,
    define_serving_flags,
    overrides_from_flags,
)

FLAGS = flags.FLAGS
define_model_flags("Checkpoint prefix, a train_dir (latest checkpoint), a SavedModel dir, or "
                   "TF-Slim's: a zoo .ckpt file or folder, a TF-Slim train_dir or "
                   "model.ckpt-N (net and classes are read from it).")
define_checkpoint_choice_flag()
flags.DEFINE_integer("num_classes", None, "Number of classes; checked against the checkpoint.")
flags.DEFINE_string("dataset_dir", None,
                    "A tf_convert_data output whose class names to use when the checkpoint "
                    "records none.")
flags.DEFINE_integer("image_size", None, "Input size; default: the training size.")
define_option_flags(ClassifyRequest)
define_progress_flag()
define_serving_flags()
define_pacs_client_flags()


def main(argv: list[str]) -> int:
    """Classifies (or segments) the inputs the flags name and writes the text, DICOM and PACS
    results asked for; returns 0, or 2 with one line saying what went wrong."""
    from batch_prediction.runs import run_request
    from console.errors import require_no_arguments, run_cli

    require_no_arguments(argv)
    logging.getLogger().setLevel(logging.INFO)  # the restore line: "restored N of M ..."

    def run() -> int:
        request = settings_from_flags(ClassifyRequest, checkpoint_path=FLAGS.checkpoint_path,
                                      progress=FLAGS.progress)
        request.check()
        class_names = None
        if FLAGS.dataset_dir:
            from datasets.records.dataset_spec import read_spec

            class_names = read_spec(FLAGS.dataset_dir).class_names
        from dicom.network.network_flags import open_result_store
        from training.serving.prediction import Predictor

        predictor = Predictor.load(chosen_checkpoint(FLAGS.checkpoint_path, FLAGS.checkpoint),
                                   overrides_from_flags(FLAGS.image_size, FLAGS.num_classes,
                                                        class_names))
        return run_request(request, predictor, open_result_store)

    return run_cli(run, describe=_error_line)


def _error_line(exc: Exception) -> str | None:
    """One line for a PACS's or a catalog database's failure."""
    from dicom.network.remote import PacsError

    if isinstance(exc, PacsError):
        return str(exc)
    if FLAGS.db_url:
        from dicom.ingestion.database_url import describe_database_error

        return describe_database_error(exc)
    return None


if __name__ == "__main__":
    app.run(main)
