"""Export whole de-identified DICOM objects from a de-identified catalog, for sharing.

    python -m dicom.export_deidentified --directory SRC --query CHEST --output_dir OUT
        [--db_url URL] [--column body_part]

SRC is the folder the catalog was ingested from (create_database --deidentify
--directory SRC); the key is the catalog's ($MEDCV_DEID_KEY or --deid_key). Writes
OUT/<patient>/<study>/<series>/<instance>.dcm, all pseudonyms, plus OUT/manifest.csv and
OUT/deidentification.json (edition and options). A re-run writes the same bytes.
Run `python -m dicom.scan_phi OUT` before the folder leaves. Exit status: 0 done (even
with files that failed, listed), 2 on a fatal error.
"""

from __future__ import annotations

import sys

from absl import app, flags

import console.quiet_start  # noqa: F401  (first: silences TensorFlow's start-up)
from console.errors import require_no_arguments, run_cli
from console.text import printable
from dicom.ingestion.catalog import Catalog
from dicom.ingestion.catalog_flags import define_db_url_flag
from dicom.ingestion.database_url import describe_database_error, resolve_db_url
from dicom.ingestion.deidentified_export import export_deidentified
from dicom.ingestion.fetch import parse_query
from dicom.metadata.deidentify import (
    KEY_ENVIRONMENT_VARIABLE,
    DeidLists,
    load_key,
)

FLAGS = flags.FLAGS
flags.DEFINE_string("directory", None,
                    "The folder the catalog was ingested from: the objects are read there.")
flags.DEFINE_string("output_dir", None, "Where the de-identified objects and manifest go.")
flags.DEFINE_string("query", None,
                    "Value(s) to select, as fetch_image takes them: CHEST, CHEST,ABDOMEN or "
                    "'all'. Always treated as data.")
flags.DEFINE_string("column", "body_part", "Catalog column the query matches.")
define_db_url_flag()
flags.DEFINE_string("deid_key", None,
                    f"The catalog's --deidentify secret (prefer ${KEY_ENVIRONMENT_VARIABLE}).")
flags.DEFINE_string("deid_descriptor_allow", None,
                    "The allow list the catalog was built with (clean_descriptors), if any.")
flags.DEFINE_string("deid_safe_private", None,
                    "The safe private list the catalog was built with (retain_safe_private), "
                    "if any.")
flags.mark_flags_as_required(["directory", "output_dir", "query"])


def _main() -> int:
    values = parse_query(FLAGS.query)
    key = load_key(FLAGS.deid_key)
    catalog = Catalog.open(resolve_db_url(FLAGS.db_url), create=False)
    try:
        summary = export_deidentified(
            catalog, FLAGS.directory, FLAGS.output_dir, key, values, FLAGS.column,
            DeidLists.load(FLAGS.deid_descriptor_allow, FLAGS.deid_safe_private))
    finally:
        catalog.dispose()
    for pseudonym, reason in summary.failed[:5]:
        print(printable(f"  not exported {pseudonym}: {reason}"), file=sys.stderr)
    print(printable(summary.line()))
    return 0


def main(argv: list[str]) -> int:
    """Writes the de-identified export the flags select; returns the exit code."""
    require_no_arguments(argv)
    return run_cli(_main, "Re-run the same command; files are written atomically.",
                   describe_database_error)


if __name__ == "__main__":
    app.run(main)
