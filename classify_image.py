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

import contextlib
import logging
import sys

from absl import app, flags
from tqdm import tqdm

import console.quiet_start  # noqa: F401  (first: silences TensorFlow's start-up)
from console.flags import define_progress_flag
from dicom.network.client_flags import define_pacs_client_flags
from training.serving.model_flags import (
    chosen_checkpoint,
    define_checkpoint_choice_flag,
    define_model_flags,
    define_serving_flags,
    overrides_from_flags,
)

FLAGS = flags.FLAGS
flags.DEFINE_string("infile", None, "Text file of image paths, or TFRecord file/glob.")
flags.DEFINE_boolean("tfrecord", False, "--infile is a TFRecord file or glob.")
flags.DEFINE_string("outfile", None, "Where the predictions go (default: stdout).")
define_model_flags("Checkpoint prefix, a train_dir (latest checkpoint), a SavedModel dir, or "
                   "TF-Slim's: a zoo .ckpt file or folder, a TF-Slim train_dir or "
                   "model.ckpt-N (net and classes are read from it).")
define_checkpoint_choice_flag()
flags.DEFINE_integer("num_classes", None, "Number of classes; checked against the checkpoint.")
flags.DEFINE_string("dataset_dir", None,
                    "A tf_convert_data output whose class names to use when the checkpoint "
                    "records none.")
flags.DEFINE_integer("image_size", None, "Input size; default: the training size.")
flags.DEFINE_integer("batch_size", 32, "Images per forward pass.", lower_bound=1)
flags.DEFINE_integer("top_k", 5, "How many classes to list per input.", lower_bound=1)
flags.DEFINE_string("output_dir", None,
                    "Segmentation models: where <input>_mask.png (class index per pixel) and "
                    "<input>_overlay.png go.")
flags.DEFINE_float("tile_overlap", 0.5,
                   "Segmentation: overlap of the sliding-window tiles over inputs larger than "
                   "the training size (0 to 0.9).", lower_bound=0.0, upper_bound=0.9)
flags.DEFINE_string("db_url", None,
                    "Read the inputs from this catalog instead of --infile (with --query, "
                    "--column and/or --label_set); their results name the catalog IDs, and "
                    "DICOM results carry the catalog's (possibly de-identified) values.")
flags.DEFINE_string("query", None,
                    "With --db_url: value(s) of --column to classify (CHEST, CHEST,ABDOMEN) or "
                    "'all'.")
flags.DEFINE_string("column", "body_part", "With --db_url: the catalog column --query matches.")
flags.DEFINE_string("label_set", None, "With --db_url: only the images of this label set.")
flags.DEFINE_string("dicom_output_dir", None,
                    "Also write DICOM results here (DICOM inputs only): a Comprehensive 3D SR "
                    "(TID 1500) per image or study for a classifier, a SEG per source series "
                    "for a segmentation model; results.json lists them. Always written before "
                    "anything is sent to --store_to.")
flags.DEFINE_enum("sr_per", "image", ["image", "study"],
                  "One SR per source image, or one per study holding all its images.")
flags.DEFINE_enum("seg_type", "binary", ["binary", "fractional"],
                  "SEG of class labels, or of each class's probability (8-bit).")
flags.DEFINE_string("result_codes", None,
                    'JSON map of class names to codes: {"classes": {"CHEST": {"value": '
                    '"816094009", "scheme_designator": "SCT", "meaning": "Chest"}}, "segments": '
                    '{"blood_pool": {"category": {...}, "type": {...}}}}. Defaults cover the '
                    "synthetic body parts and findings and the cardiac classes; other names "
                    "become local codes (scheme 99MEDCV).")
flags.DEFINE_string("store_to", None,
                    "Then send the DICOM results to a PACS: dicomweb+http(s)://HOST:PORT/PATH "
                    "(STOW-RS) or dimse://AET@HOST:PORT (C-STORE). A re-run sends only what it "
                    "has not acknowledged. Credentials and TLS as for dicom.pull.")
define_progress_flag()
define_serving_flags()
define_pacs_client_flags()


def main(argv: list[str]) -> int:
    from console.errors import require_no_arguments, run_cli
    from training.serving.prediction import (
        HEADER,
        Predictor,
        format_multilabel,
        format_prediction,
        inputs_for,
        multilabel_header,
        predict,
    )

    require_no_arguments(argv)
    logging.getLogger().setLevel(logging.INFO)  # the restore line: "restored N of M ..."

    def run() -> int:
        if not FLAGS.checkpoint_path or not (FLAGS.infile or FLAGS.db_url):
            raise ValueError("--checkpoint_path and --infile (or --db_url with --query) are "
                             "required")
        if FLAGS.db_url and FLAGS.infile:
            raise ValueError("give --infile or --db_url, not both")
        if FLAGS.db_url and not (FLAGS.query or FLAGS.label_set):
            raise ValueError("--db_url needs --query (or --label_set): which images to classify")
        class_names = None
        if FLAGS.dataset_dir:
            from datasets.records.dataset_spec import read_spec

            class_names = read_spec(FLAGS.dataset_dir).class_names
        checkpoint_path = chosen_checkpoint(FLAGS.checkpoint_path, FLAGS.checkpoint)
        predictor = Predictor.load(checkpoint_path, overrides_from_flags(
            FLAGS.image_size, FLAGS.num_classes, class_names))
        names = predictor.config.class_names
        if FLAGS.store_to and not FLAGS.dicom_output_dir:
            raise ValueError("--store_to needs --dicom_output_dir: results are written "
                             "locally first, so nothing is lost when the PACS is down")
        if predictor.config.task == "segmentation":
            return _segment(predictor, inputs_for)
        dicom_out = _dicom_results(predictor, "classification")
        counts = {"ok": 0, "error": 0}
        with contextlib.ExitStack() as stack:
            out = (stack.enter_context(open(FLAGS.outfile, "w", encoding="utf-8"))
                   if FLAGS.outfile else sys.stdout)
            multilabel = predictor.config.multilabel
            header = multilabel_header(predictor.thresholds) if multilabel else HEADER
            note = predictor.calibration_note()
            print(header + (f"; {note}" if note else ""), file=out)
            results = predict(predictor, _inputs(inputs_for, predictor.config),
                              FLAGS.batch_size)
            for result in tqdm(results, unit="image", desc="classify", file=sys.stderr,
                               disable=not FLAGS.progress):
                findings = (predictor.findings(result.probabilities)
                            if multilabel and not result.error else ())
                if multilabel:
                    print(format_multilabel(result, names, findings), file=out)
                else:
                    print(format_prediction(result, names, min(FLAGS.top_k, len(names))),
                          file=out)
                counts["error" if result.error else "ok"] += 1
                if dicom_out is not None and not result.error:
                    dicom_out.add(result.source, result.probabilities,
                                  _CATALOG_ATTRIBUTES.pop(result.source, None)
                                  if FLAGS.db_url else None, findings)
        print(f"classified {counts['ok']} input(s), {counts['error']} unreadable"
              + (f"; results in {FLAGS.outfile}" if FLAGS.outfile else ""), file=sys.stderr)
        return _finish_dicom_results(dicom_out)

    return run_cli(run, describe=_error_line)


def _error_line(exc: Exception) -> str | None:
    from dicom.network.remote import PacsError

    if isinstance(exc, PacsError):
        return str(exc)
    if FLAGS.db_url:
        from dicom.ingestion.database_url import describe_database_error

        return describe_database_error(exc)
    return None


def _segment(predictor, inputs_for) -> int:
    """One mask + overlay per input; a summary line each in --outfile."""
    import os

    from files.safe_names import NameAllocator
    from training.segmentation.prediction import (
        class_fractions,
        output_stem,
        sliding_window,
        write_outputs,
    )

    if not FLAGS.output_dir:
        raise ValueError("--output_dir is required for a segmentation model (masks and "
                         "overlays are written there)")
    os.makedirs(FLAGS.output_dir, exist_ok=True)
    config = predictor.config
    results = _dicom_results(predictor, "segmentation")
    names = NameAllocator()
    counts = {"ok": 0, "error": 0}
    with contextlib.ExitStack() as stack:
        out = (stack.enter_context(open(FLAGS.outfile, "w", encoding="utf-8"))
               if FLAGS.outfile else sys.stdout)
        print("# input\tmask\tclass fractions (class:share of pixels); ERROR lines name "
              "why an input could not be segmented", file=out)
        inputs = _inputs(inputs_for, config)
        for source, value in tqdm(inputs, unit="image", desc="segment", file=sys.stderr,
                                  disable=not FLAGS.progress):
            if isinstance(value, str):
                print(f"{source}\tERROR\t{value}", file=out)
                counts["error"] += 1
                continue
            probabilities = sliding_window(value, config.image_size, predictor,
                                           FLAGS.tile_overlap, FLAGS.batch_size)
            mask = probabilities.argmax(axis=-1).astype("uint8")
            path = write_outputs(FLAGS.output_dir, output_stem(source, names), value, mask)
            print(f"{source}\t{path}\t{class_fractions(mask, config.class_names)}", file=out)
            counts["ok"] += 1
            if results is not None:
                results.add(source, mask, probabilities)
    print(f"segmented {counts['ok']} input(s), {counts['error']} unreadable; masks and "
          f"overlays in {FLAGS.output_dir}", file=sys.stderr)
    return _finish_dicom_results(results)


_CATALOG_ATTRIBUTES: dict[str, dict[str, str]] = {}
"""Catalog ID -> what a DICOM result needs of it, until its prediction is in."""


def _inputs(inputs_for, config):
    """From --infile (files or records) or from the catalog (--db_url)."""
    if not FLAGS.db_url:
        return inputs_for(FLAGS.infile, FLAGS.tfrecord, config)
    from dicom.ingestion.catalog import Catalog
    from dicom.ingestion.catalog_inputs import catalog_images
    from dicom.ingestion.database_url import resolve_db_url
    from dicom.ingestion.fetch import parse_query
    from training.serving.prediction import stored_image_inputs

    def rows():
        catalog = Catalog.open(resolve_db_url(FLAGS.db_url), create=False)
        try:
            only = None
            if FLAGS.label_set:
                from dicom.labels.label_store import LabelStore

                try:
                    only = set(LabelStore(catalog).read(FLAGS.label_set)[1])
                except KeyError as exc:
                    raise ValueError(exc.args[0]) from None
            values = parse_query(FLAGS.query or "all")
            for image in catalog_images(catalog, values, FLAGS.column, only):
                _CATALOG_ATTRIBUTES[image.image_id] = image.attributes
                yield image.image_id, image.png
        finally:
            catalog.dispose()

    return stored_image_inputs(rows(), config)


def _dicom_results(predictor, task: str):
    """The collector of DICOM results, when --dicom_output_dir asks for them."""
    if not FLAGS.dicom_output_dir:
        return None
    import hashlib

    from training.results.dicom_results import ClassificationResults
    from training.results.result_codes import ResultCodes
    from training.results.result_folder import ResultFolder

    logging.getLogger("highdicom").setLevel(logging.WARNING)  # a line per module copied
    folder = ResultFolder(FLAGS.dicom_output_dir)
    codes = ResultCodes.load(FLAGS.result_codes)
    names = predictor.config.class_names
    if task == "segmentation":
        from training.results.segmentation_results import SegmentationResults

        return SegmentationResults(folder, names, predictor.identity(), codes, FLAGS.seg_type)
    if FLAGS.db_url:
        listed = f"{FLAGS.db_url}|{FLAGS.query}|{FLAGS.column}|{FLAGS.label_set}".encode()
    elif FLAGS.tfrecord:
        listed = FLAGS.infile.encode()
    else:
        with open(FLAGS.infile, "rb") as handle:
            listed = handle.read()
    return ClassificationResults(folder, names, predictor.identity(), codes,
                                 hashlib.sha256(listed).hexdigest(), FLAGS.sr_per,
                                 predictor.config.multilabel)


def _finish_dicom_results(results) -> int:
    if results is None:
        return 0
    from console.text import printable

    summary = results.finish()
    print(printable(summary.line(FLAGS.dicom_output_dir)), file=sys.stderr)
    if not FLAGS.store_to:
        return 0
    from dicom.network.network_flags import open_result_store
    from dicom.network.remote import PacsError
    from training.results.dicom_results import store_results

    store = open_result_store(FLAGS.store_to)
    try:
        stored, refused = store_results(results.folder, store, store.describe())
    except PacsError as exc:
        raise PacsError(f"{exc}; the results are in {FLAGS.dicom_output_dir}, re-run the "
                        "same command to store the rest") from None
    for problem in refused:
        print(printable(f"  not stored: {problem}"), file=sys.stderr)
    print(f"stored {stored} object(s) to {store.describe()}"
          + (f", {len(refused)} refused" if refused else ""), file=sys.stderr)
    return 0


if __name__ == "__main__":
    app.run(main)
