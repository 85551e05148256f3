"""Check a pixel store against its catalog: every blob there and unchanged, no orphans.

    python -m dicom.verify_store --image_store /data/pixels [--db_url URL] [--report FILE]

Reads every blob the catalog's rows name and checks its SHA-256, then lists the
blobs no row names (orphans: left by an ingest that was killed between writing a
blob and committing its row, or by rows since replaced). Prints one line per
problem (the first 20; --report lists all) and a summary. Exit status 1 when a
blob is missing or changed (unless --forget_broken dropped their rows for a re-ingest),
0 otherwise (orphans cost only disk).
"""

from __future__ import annotations

import json
import sys

import sqlalchemy as sa
from absl import app, flags

from console.errors import require_no_arguments, run_cli
from console.text import printable
from dicom.ingestion.catalog import Catalog
from dicom.ingestion.catalog_flags import define_db_url_flag
from dicom.ingestion.database_url import describe_database_error, resolve_db_url
from dicom.ingestion.pixel_store import PixelStore, PixelStoreError, read_blob
from files.atomic_file import write_atomic

FLAGS = flags.FLAGS
flags.DEFINE_string("image_store", None, "The pixel store (--image_store of create_database): "
                    "a folder or an fsspec URL.")
define_db_url_flag()
flags.DEFINE_string("report", None, "Also write every problem and orphan to this JSON file.")
flags.DEFINE_boolean("remove_orphans", False,
                     "Delete the orphans and unfinished writes found. Not while an ingest into "
                     "this store runs: its blobs are written before their rows are committed.")
flags.DEFINE_boolean("forget_broken", False,
                     "Delete the catalog rows (every frame of the instance) whose blob is missing "
                     "or changed, so that create_database on their sources ingests them again.")
flags.mark_flag_as_required("image_store")
_SHOWN = 20


def _main() -> int:
    store = PixelStore(FLAGS.image_store)
    catalog = Catalog.open(resolve_db_url(FLAGS.db_url), create=False)
    problems: list[str] = []
    broken: set[str] = set()  # SOP Instance UIDs
    named: set[str] = set()
    checked = 0
    try:
        catalog.require_schema()
        table = catalog.reflected_images()
        if "image_uri" not in table.c:
            raise ValueError(f"{catalog.describe()} has no pixel store columns: its images "
                             "were never ingested with --image_store")
        query = (sa.select(table.c.ID, table.c.image_uri, table.c.image_sha256,
                           table.c.SOPInstanceUID)
                 .where(table.c.image_uri.is_not(None)).order_by(table.c.ID))
        with catalog.engine.connect().execution_options(stream_results=True,
                                                        yield_per=512) as connection:
            for image_id, uri, digest, sop_uid in connection.execute(query):
                named.add(uri)
                checked += 1
                try:
                    read_blob(uri, digest, image_id)
                except PixelStoreError as exc:
                    problems.append(str(exc))
                    broken.add(sop_uid)
        if FLAGS.forget_broken and broken:
            with catalog.engine.begin() as connection:
                connection.execute(sa.delete(table).where(table.c.SOPInstanceUID.in_(broken)))
    finally:
        catalog.dispose()
    orphans = [uri for uri in store.blobs() if uri not in named]
    leftovers = list(store.leftovers())
    for line in problems[:_SHOWN]:
        print(printable(line), file=sys.stderr)
    for uri in orphans[:_SHOWN]:
        print(printable(f"orphan {uri}: no catalog row names it"), file=sys.stderr)
    for path in leftovers[:_SHOWN]:
        print(printable(f"leftover {path}: a write that never finished"), file=sys.stderr)
    if FLAGS.remove_orphans:
        for uri in orphans + leftovers:
            store.remove(uri)
    shown = len(problems) + len(orphans)
    if shown > 2 * _SHOWN:
        print(f"  ... {shown - 2 * _SHOWN} more{' in ' + FLAGS.report if FLAGS.report else ''}",
              file=sys.stderr)
    if FLAGS.report:
        write_atomic(FLAGS.report, json.dumps({"store": store.describe(), "checked": checked,
                                               "problems": problems, "orphans": orphans,
                                               "leftovers": leftovers}, indent=2).encode())
    removed = " (removed)" if FLAGS.remove_orphans and (orphans or leftovers) else ""
    forgotten = (f"; forgot the rows of {len(broken)} instance(s): run create_database on "
                 "their sources again" if FLAGS.forget_broken and broken else "")
    print(printable(f"checked {checked} blob(s) in {store.describe()}: {len(problems)} missing "
                    f"or changed, {len(orphans)} orphan(s), {len(leftovers)} unfinished "
                    f"write(s){removed}{forgotten}"))
    return 1 if problems and not FLAGS.forget_broken else 0


def main(argv: list[str]) -> int:
    """Checks that the catalog's stored pixels match their digests; returns the exit code."""
    require_no_arguments(argv)
    return run_cli(_main, describe=describe_database_error)


if __name__ == "__main__":
    app.run(main)
