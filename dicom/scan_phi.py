"""Report values that look identifying in files or in a catalog, before anything is shared.

    python -m dicom.scan_phi PATH [PATH ...] [--values FILE] [--value MRN123 ...]
    python -m dicom.scan_phi --db_url URL [--values FILE]

Lists each finding on a line, `where: kind 'value'`: the listed values anywhere; in
DICOM objects person names, IDs and dates that are not pseudonyms, and private
attributes; elsewhere DICOM-style names (FAMILY^GIVEN), record numbers and DICOM dates.
File and folder names are checked for the listed values too. Exit status: 0 nothing
found, 1 findings, 2 on an error. docs/deidentification.md says what it cannot see.
"""

from __future__ import annotations

import itertools
import os

from absl import app, flags

from console.errors import fail, run_cli
from console.text import printable
from dicom.ingestion.database_url import create_engine, describe_database_error, resolve_db_url
from dicom.metadata.phi_scan import PhiScanner

FLAGS = flags.FLAGS
flags.DEFINE_string("db_url", None, "Scan this catalog's text columns (instead of, or beside, "
                    "the paths given).")
flags.DEFINE_string("values", None, "A text file of values to look for, one a line (MRNs, "
                    "names, accession numbers): each is reported wherever it occurs.")
flags.DEFINE_multi_string("value", [], "A value to look for; may be repeated.")
flags.DEFINE_integer("max_findings", 200, "Stop listing after this many findings (the count "
                     "still says how many there were).", lower_bound=1)
EXIT_FOUND = 1


def _values() -> list[str]:
    values = list(FLAGS.value)
    if FLAGS.values:
        try:
            with open(FLAGS.values, encoding="utf-8") as handle:
                values += [line.strip() for line in handle if line.strip()]
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"--values {FLAGS.values}: cannot read ({exc})") from exc
    return values


def _main(paths: list[str]) -> int:
    if not paths and not FLAGS.db_url:
        return fail("give a PATH to scan, or --db_url")
    for path in paths:
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path}: no such file or folder")
    scanner = PhiScanner(_values())
    sources = [scanner.scan_path(p) for p in paths]
    if FLAGS.db_url:
        engine = create_engine(resolve_db_url(FLAGS.db_url))
        sources.append(scanner.scan_catalog(engine))
    count = 0
    for finding in itertools.chain(*sources):
        count += 1
        if count <= FLAGS.max_findings:
            print(printable(finding.line()))
    print(printable(f"{count} findings" + (f" ({FLAGS.max_findings} listed)"
                                           if count > FLAGS.max_findings else "")))
    return EXIT_FOUND if count else 0


def main(argv: list[str]) -> int:
    """Scans the named files or the catalog for identifying text; returns the exit code."""
    return run_cli(lambda: _main(argv[1:]), "", describe_database_error)


if __name__ == "__main__":
    app.run(main)
