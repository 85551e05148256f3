"""Fetch catalog images by body part (or any catalog column) into images/ + labels/.

    python -m dicom.fetch_image --query CHEST,ABDOMEN --directory OUT [--metadata True]

Writes OUT/images/<ID>.png, OUT/labels/<ID>.txt (label text, same stem) and,
with --metadata, OUT/metadata.csv including the patient key.
"""

from __future__ import annotations

from absl import app, flags

import console.quiet_start  # noqa: F401  (first: silences TensorFlow's start-up)
from console.errors import require_no_arguments, run_cli
from console.flags import define_progress_flag
from console.text import printable
from dicom.ingestion.catalog import Catalog
from dicom.ingestion.catalog_flags import define_db_url_flag
from dicom.ingestion.database_url import describe_database_error, resolve_db_url
from dicom.ingestion.fetch import fetch_images, parse_query

FLAGS = flags.FLAGS
flags.DEFINE_string(
    "query",
    None,
    "Value(s) to select: one body part (CHEST), a "
    "comma-separated list (CHEST,ABDOMEN) or 'all'. Always treated as data.",
)
flags.DEFINE_string("directory", None, "Output folder; images/ and labels/ are created in it.")
flags.DEFINE_string(
    "column",
    "body_part",
    "Catalog column the query matches (e.g. Modality, "
    "ViewPosition); the label written is that column's value.",
)
# A value-taking boolean, so the seed's `--metadata True` works as well as `--metadata=false`.
flags.DEFINE(
    flags.BooleanParser(),
    "metadata",
    True,
    "True|False: also write metadata.csv "
    "(ID, label, patient_key, study/series UIDs, cleansed attributes).",
)
define_db_url_flag()
flags.DEFINE_string("label_set", None,
                    "A label set (python -m dicom.import_labels): fetch the images it labels "
                    "(within --query, default all) and write OUT/labels.csv, one row per "
                    "image: filename, then each label's 1, 0, -1 (uncertain) or blank.")
define_progress_flag()
flags.mark_flags_as_required(["directory"])


def _main() -> int:
    if FLAGS.query is None and not FLAGS.label_set:
        raise ValueError("--query is required (or --label_set)")
    values = parse_query(FLAGS.query or "all")
    catalog = Catalog.open(resolve_db_url(FLAGS.db_url), create=False)
    try:
        label_set = None
        if FLAGS.label_set:
            from dicom.labels.label_store import LabelStore

            try:
                label_set = LabelStore(catalog).read(FLAGS.label_set)
            except KeyError as exc:
                raise ValueError(exc.args[0]) from None
        summary = fetch_images(
            catalog, FLAGS.directory, values, FLAGS.column, FLAGS.metadata, FLAGS.progress,
            label_set,
        )
    finally:
        catalog.dispose()
    print(printable(summary.line(FLAGS.directory)))
    return 0


def main(argv: list[str]) -> int:
    """Writes the catalog's images the flags select as PNG files; returns the exit code."""
    require_no_arguments(argv)
    return run_cli(_main, "Re-run the same command; files are rewritten atomically.",
                   describe_database_error)


if __name__ == "__main__":
    app.run(main)
