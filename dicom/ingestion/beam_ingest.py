"""create_database --runner=beam: the native engine's per-file work and commits, as Beam
transforms.

Each element is a task (a list of paths); a worker decodes its files with the same
FileProcessor and commits them with the same commit_outcomes, on its own connection,
so idempotency by SOP Instance UID and SHA-256, rejects as rows and
de-identification are the native engine's. The committed outcomes (counts only,
no pixels) come back to the driver, which builds the same summary and report.

SQLite takes one writer at a time: with several local Beam workers, or any other
runner, a SQLite catalog is refused in one line (use MySQL, or
--direct_num_workers=1). The native engine's guards for one file (its memory
limit, its timeout, a worker killed on a file) are its own: on Beam, a failed
bundle is retried by the runner.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping

from dicom.ingestion.catalog import Catalog
from dicom.ingestion.file_processing import FileOutcome, FileProcessor, IngestSettings
from dicom.ingestion.ingest_commit import commit_outcomes
from dicom.ingestion.ingest_workers import decoded_groups
from dicom.metadata.cleansing import AttributeLists
from pipelines.beam_runner import run_on_beam, uses_local_runner


class IngestTask:
    """Decode and commit one task's files; the catalog connection opens once per worker."""

    def __init__(self, settings: IngestSettings, known: Mapping[str, str], url,
                 lists: AttributeLists) -> None:
        self.settings, self.known, self.url, self.lists = settings, dict(known), url, lists
        self._processor: FileProcessor | None = None
        self._catalog: Catalog | None = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_processor": None, "_catalog": None}

    def __call__(self, paths: list[str]) -> list[FileOutcome]:
        if self._catalog is None:
            self._processor = FileProcessor(self.settings, self.known)
            self._catalog = Catalog.attach(self.url, self.lists)
        outcomes: list[FileOutcome] = []
        assert self._processor is not None
        for group in decoded_groups(paths, self._processor):
            outcomes += commit_outcomes(self._catalog, group)
        return outcomes


def check_catalog_for_beam(catalog: Catalog, arguments: list[str]) -> None:
    """SQLite: one writer, so one local worker only."""
    if catalog.dialect.concurrent_writers:
        return
    several = any(a.startswith("--direct_num_workers=") and a != "--direct_num_workers=1"
                  for a in arguments)
    if several or not uses_local_runner(arguments):
        raise ValueError(f"--runner=beam with several workers needs a MySQL or PostgreSQL catalog: "
                         f"{catalog.describe()} takes one writer at a time; "
                         "use MySQL or PostgreSQL (and --image_store), or --direct_num_workers=1")


def ingest_tasks_on_beam(tasks: list[list[str]], catalog: Catalog, settings: IngestSettings,
                         known: Mapping[str, str], arguments: list[str],
                         temp_location: str | None = None) -> list[list[FileOutcome]]:
    """Each task's committed outcomes, in task order."""
    check_catalog_for_beam(catalog, arguments)
    settings = dataclasses.replace(settings, root=os.path.abspath(settings.root))
    task = IngestTask(settings, known, catalog.url, catalog.lists)
    return run_on_beam(task, tasks, arguments, temp_location, label="ingest")
