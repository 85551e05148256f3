"""Commit processed files to the catalog: whole files per transaction, from any worker.

Every worker process writes the files it processed, so image bytes never pass
through the parent. A transaction holds whole files (all frames, their reject
clean-up), so a job killed at any moment leaves only complete files and a
re-run finishes the rest. Two files of one run with one SOP Instance UID meet
at the catalog's unique keys: the transaction is rolled back and its files are
written one by one; the later file is marked a repeat of the stored one, and once
the run is committed dicom.ingestion.uid_repeats keeps the path that sorts first.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import sqlalchemy as sa

from dicom.ingestion.catalog import Catalog
from dicom.ingestion.file_processing import CONFLICT, NEW, PRESENT, REJECTED, FileOutcome

_ATTEMPTS = 5


def commit_outcomes(catalog: Catalog, outcomes: Sequence[FileOutcome]) -> list[FileOutcome]:
    """Write the new files and rejects of `outcomes` in one transaction where they agree.

    Returns the outcomes settled (repeats marked present or conflict), rows dropped.
    """
    settled = _settle_repeats(outcomes)
    _commit_group(catalog, settled)
    for outcome in settled:
        outcome.rows = []  # committed: only the counts travel back to the parent
    return settled


def _settle_repeats(outcomes: Sequence[FileOutcome]) -> list[FileOutcome]:
    """Settle UIDs repeated within `outcomes` before the database has to."""
    first: dict[str, FileOutcome] = {}
    for outcome in outcomes:
        if outcome.status != NEW:
            continue
        assert outcome.sop_uid is not None
        earlier = first.setdefault(outcome.sop_uid, outcome)
        if earlier is not outcome:
            _mark_repeat(outcome, earlier.sha256 or "", earlier.path)
    return list(outcomes)


def _commit_group(catalog: Catalog, group: list[FileOutcome]) -> None:
    new = [o for o in group if o.status == NEW]
    rejects = [o for o in group if o.status == REJECTED]
    if not new and not rejects:
        return
    try:
        _write(catalog, new, rejects)
    except sa.exc.IntegrityError:
        # Another writer of this run stored one of these UIDs first: go file by file.
        _write(catalog, [], rejects)
        for outcome in new:
            _commit_alone(catalog, outcome)


def _commit_alone(catalog: Catalog, outcome: FileOutcome) -> None:
    assert outcome.sop_uid is not None
    for _ in range(_ATTEMPTS):
        try:
            _write(catalog, [outcome], [])
            return
        except sa.exc.IntegrityError:
            stored = catalog.stored_copy(outcome.sop_uid)
            if stored is not None:
                _mark_repeat(outcome, *stored)
                return
            # The copy that collided was rolled back meanwhile: try again.
    raise RuntimeError(
        f"{outcome.path}: SOP Instance UID {outcome.sop_uid} keeps colliding with "
        "rows that are never committed"
    )


def _mark_repeat(outcome: FileOutcome, stored_sha256: str, stored_path: str) -> None:
    """`outcome` repeats a UID stored from `stored_path` in this run."""
    outcome.rows = []
    outcome.replaces = False
    outcome.repeat_of = stored_path
    if stored_sha256 == outcome.sha256:
        outcome.status = PRESENT
        return
    outcome.status = CONFLICT
    outcome.stored_sha256 = stored_sha256
    outcome.conflict_action = (
        f"same SOP Instance UID as {stored_path} with other content in this run; "
        "the first stored was kept"
    )


def _write(catalog: Catalog, new: list[FileOutcome], rejects: list[FileOutcome]) -> None:
    rows = [row for outcome in new for row in outcome.rows]
    replaced = {o.sop_uid: o.stored_sha256 for o in new
                if o.replaces and o.sop_uid is not None and o.stored_sha256 is not None}
    reject_rows = [o.reject for o in rejects if o.reject is not None]
    accepted = [o.path for o in new]
    _retry_transient(catalog, lambda: catalog.write_batch(rows, reject_rows, replaced, accepted))


def _retry_transient(catalog: Catalog, write: Callable[[], None]) -> None:
    """Run `write`, again after a deadlock or lock timeout (the server rolled it back)."""
    for attempt in range(_ATTEMPTS):
        try:
            write()
            return
        except sa.exc.IntegrityError:
            raise
        except sa.exc.DBAPIError as exc:
            if not catalog.dialect.is_transient(exc) or attempt == _ATTEMPTS - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
