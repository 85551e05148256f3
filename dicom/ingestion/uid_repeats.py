"""Files of one ingest that share a SOP Instance UID: the path that sorts first is kept.

Workers commit in whatever order they finish, so the copy a catalog first stored
depends on `--workers`, `--batch_size` and the engine. Once every file is committed,
each UID met more than once in the run is settled by one stated rule: among its files
(same bytes or not) the one whose stored path sorts first is the catalog's. Where a
worker stored another, that file is processed again here and replaces the stored rows
in one transaction; the others are counted as already present (same bytes) or as
conflicts (other bytes) naming the kept path. So the same folder gives the same
catalog, and the same summary, whatever the engine, worker count, batch size or
database. Repeats are rare (a re-sent or re-encoded instance), so the extra work is too.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from dicom.ingestion.catalog import Catalog
from dicom.ingestion.file_processing import NEW, FileOutcome
from dicom.metadata.body_part import UNKNOWN

KEPT_RULE = "the path that sorts first is kept"


@dataclass(frozen=True)
class Repeat:
    """A file of this run whose UID another file of the run was stored under."""

    path: str
    """As the catalog stores it (relative to the ingest's root, or its pseudonym)."""
    sop_uid: str
    sha256: str


@dataclass
class Settled:
    """What settling changed, for the summary: per UID, the kept path and the others."""

    kept: dict[str, tuple[str, str]]
    """UID -> (kept path, its SHA-256)."""
    others: dict[str, list[Repeat]]
    """UID -> the run's other files of that UID."""
    rows_delta: int = 0
    """Rows the replacements added (a multi-frame file kept instead of a single frame)."""
    body_parts_delta: collections.Counter[str] = field(default_factory=collections.Counter)
    swapped: list[tuple[str, str, bool | None]] = field(default_factory=list)
    """(the path counted as ingested, the path kept, whether the kept one's body part is
    UNKNOWN; None: as the other's, the same bytes)."""


def settle_repeats(catalog: Catalog, repeats: list[Repeat],
                   process_again: Callable[[str], FileOutcome],
                   real_paths: Mapping[str, str]) -> Settled:
    """Apply KEPT_RULE to every UID in `repeats`. `process_again(real path)` processes a
    file as new; `real_paths` maps stored paths to files on disk."""
    by_uid: dict[str, list[Repeat]] = collections.defaultdict(list)
    for repeat in repeats:
        by_uid[repeat.sop_uid].append(repeat)
    settled = Settled({}, {})
    for uid in sorted(by_uid):
        stored = catalog.stored_copy(uid)
        if stored is None:  # nothing of it was committed (a failed run): nothing to settle
            continue
        stored_sha, stored_path = stored
        files = {stored_path: stored_sha, **{r.path: r.sha256 for r in by_uid[uid]}}
        kept = min(files)
        if kept != stored_path:
            if files[kept] == stored_sha:  # the same bytes: only the path is another
                catalog.set_source_path(uid, kept)
                settled.swapped.append((stored_path, kept, None))
            else:
                outcome = process_again(real_paths[kept])
                if outcome.status != NEW or outcome.sop_uid != uid:
                    raise ValueError(f"{kept}: changed while it was ingested; run the "
                                       "ingest again")
                before = catalog.body_parts_of(uid)
                catalog.write_batch(outcome.rows, [], {uid: stored_sha}, [])
                settled.rows_delta += outcome.row_count - sum(before.values())
                settled.body_parts_delta.subtract(before)
                settled.body_parts_delta[outcome.body_part or UNKNOWN] += outcome.row_count
                settled.swapped.append((stored_path, kept,
                                        (outcome.body_part or UNKNOWN) == UNKNOWN))
        settled.kept[uid] = (kept, files[kept])
        settled.others[uid] = [Repeat(path, uid, sha) for path, sha in sorted(files.items())
                               if path != kept]
    return settled
