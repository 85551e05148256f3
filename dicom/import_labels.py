"""Load a label table into the catalog as a named label set.

    python -m dicom.import_labels --table Data_Entry_2017.csv --label_set nih14 \\
        --format chestxray14
    python -m dicom.import_labels --table train.csv --label_set chexpert --format chexpert
    python -m dicom.import_labels --table findings.csv --label_set reports --format columns \\
        --key "Accession=AccessionNumber"

Values: 1 positive, 0 negative, -1 uncertain, blank not mentioned (not stored).
Re-importing a set replaces it whole, in one transaction. A bad table is one line
naming the file, row and column, and nothing is imported.
Exit status: 0 when imported, 2 on a bad table, flag or unreachable database.
"""

from __future__ import annotations

import json
import os

from absl import app, flags

import console.quiet_start  # noqa: F401  (first: silences TensorFlow's start-up)
from console.errors import require_no_arguments, run_cli
from console.text import printable
from dicom.ingestion.catalog import Catalog
from dicom.ingestion.catalog_flags import define_db_url_flag
from dicom.ingestion.database_url import (
    describe,
    describe_database_error,
    resolve_db_url,
)
from dicom.labels.label_matching import is_deidentified, match
from dicom.labels.label_store import LabelStore
from dicom.labels.label_tables import (
    DEFAULT_KEYS,
    FORMATS,
    LabelTableError,
    check_duplicates,
    read_table,
)
from dicom.metadata.deidentify import KEY_ENVIRONMENT_VARIABLE, Deidentifier, load_key
from files.atomic_file import write_atomic

FLAGS = flags.FLAGS
flags.DEFINE_string("table", None, "The label table (CSV, UTF-8; a BOM is fine).")
flags.DEFINE_string("label_set", None,
                    "Name of the set in the catalog (letters, digits, _ -); re-importing a "
                    "name replaces that set.")
flags.DEFINE_enum("format", None, FORMATS,
                  "chestxray14: Image Index + Finding Labels (`A|B`, `No Finding`); "
                  "chexpert: Path + the 14 observation columns (1.0, 0.0, -1.0, blank), also "
                  "MIMIC-CXR-JPG's table with --key; columns: a key column and label columns.")
flags.DEFINE_string("key", None,
                    "TABLE_COLUMN=CATALOG_COLUMN: SOPInstanceUID, StudyInstanceUID (labels every "
                    "image of the study), AccessionNumber, PatientID, source_path (the end of "
                    "the ingested file's path, extension aside) or any catalog column. Default: "
                    "'Image Index=source_path' (chestxray14), 'Path=source_path' (chexpert).")
flags.DEFINE_list("label_columns", [],
                  "Label columns (default: chexpert's 14 observations; with columns, every "
                  "column but the key).")
define_db_url_flag()
flags.DEFINE_string("deid_key", None,
                    f"The catalog's --deidentify secret (prefer ${KEY_ENVIRONMENT_VARIABLE}): "
                    "the table's keys get the catalog's pseudonyms before matching.")
flags.DEFINE_string("report", None, "Write counts and example rows as JSON to this file.")
flags.mark_flags_as_required(["table", "label_set", "format"])


def _key() -> tuple[str | None, str]:
    if FLAGS.key:
        table_column, sep, catalog_column = FLAGS.key.partition("=")
        if not sep or not table_column.strip() or not catalog_column.strip():
            raise LabelTableError(f"--key {FLAGS.key!r}: expected TABLE_COLUMN=CATALOG_COLUMN")
        return table_column.strip(), catalog_column.strip()
    if FLAGS.format in DEFAULT_KEYS:
        return DEFAULT_KEYS[FLAGS.format]
    raise LabelTableError("--key TABLE_COLUMN=CATALOG_COLUMN is required with --format columns")


def _main() -> int:
    if not FLAGS.label_set.replace("_", "").replace("-", "").isalnum() or len(
            FLAGS.label_set) > 64:
        raise LabelTableError(f"--label_set {FLAGS.label_set!r}: letters, digits, _ and - only")
    table_column, catalog_column = _key()
    table = read_table(FLAGS.table, FLAGS.format, table_column, FLAGS.label_columns or None)
    check_duplicates(table)
    url = resolve_db_url(FLAGS.db_url)
    catalog = Catalog.open(url, create=False)
    try:
        deidentified = is_deidentified(catalog)
        key_given = FLAGS.deid_key or os.environ.get(KEY_ENVIRONMENT_VARIABLE)
        if deidentified and not key_given:
            raise LabelTableError(f"{describe(url)} is de-identified: give its key "
                                  f"(${KEY_ENVIRONMENT_VARIABLE} or --deid_key) so the table's "
                                  f"{table_column} values get the same pseudonyms")
        deidentifier = Deidentifier(load_key(FLAGS.deid_key)) if deidentified and key_given \
            else None
        labelled, report = match(table, catalog, catalog_column, deidentifier)
        store = LabelStore(catalog)
        store.ensure_schema()
        store.replace(FLAGS.label_set, table.labels, labelled, os.path.abspath(FLAGS.table),
                      FLAGS.format, f"{table_column}={catalog_column}")
    finally:
        catalog.dispose()
    print(printable(report.line(FLAGS.label_set)))
    for number, key in report.unmatched_rows[:3]:  # a de-identified catalog's keys stay unsaid
        print(printable(f"  row {number} matched no image" + ("" if deidentified else
                                                              f": {key}")))
    if FLAGS.report:
        document = {"label_set": FLAGS.label_set, "table": os.path.abspath(FLAGS.table),
                    "format": FLAGS.format, "key": f"{table_column}={catalog_column}",
                    "labels": table.labels, "database": describe(url),
                    **report.to_json(with_keys=not deidentified)}
        write_atomic(FLAGS.report, json.dumps(document, indent=2).encode("utf-8"))
    return 0


def main(argv: list[str]) -> int:
    """Imports a label table into the catalog; returns the exit code, and imports nothing on error.
    """
    require_no_arguments(argv)
    return run_cli(_main, "Nothing was imported.", describe_database_error)


if __name__ == "__main__":
    app.run(main)
