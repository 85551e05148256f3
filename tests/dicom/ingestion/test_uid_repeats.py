"""Files that share a SOP Instance UID: the catalog keeps the path that sorts first,
whatever the worker count, batch size or backend, and says so in the same words.

pydicom's own test files hold twelve such groups (single- and multi-frame, other
encodings of one image); a planted pair makes the later path commit first."""

from __future__ import annotations

import glob
import os
import shutil

import pydicom
import pytest
import sqlalchemy as sa
from pydicom.data.data_manager import DATA_ROOT

from dicom.ingestion.catalog import Catalog
from dicom.ingestion.ingest import ingest_directory
from tests.support.dicom_results import multi_frame_source

pytestmark = pytest.mark.slow  # six ingests of pydicom's 78 files


@pytest.fixture(scope="module")
def pydicom_folder(tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("pydicom_repeats")
    for path in sorted(glob.glob(os.path.join(DATA_ROOT, "test_files", "*.dcm"))):
        shutil.copy(path, folder / os.path.basename(path))
    return str(folder)


def _ingest(folder: str, url: str, workers: int, batch: int):
    catalog = Catalog.open(sa.make_url(url))
    try:
        summary = ingest_directory(folder, catalog, workers=workers, batch_files=batch,
                                   progress=False)
    finally:
        catalog.dispose()
    engine = sa.create_engine(url)
    table = sa.Table("images", sa.MetaData(), autoload_with=engine)
    columns = [c for c in table.c if c.name != "ingested_at"]
    with engine.connect() as connection:
        # sorted here: the servers' collations order IDs each their own way
        rows = sorted(tuple(r) for r in connection.execute(sa.select(*columns)))
    engine.dispose()
    return summary, rows


def test_pydicom_files_give_one_catalog_whatever_the_workers_batch_size_and_backend(
        pydicom_folder, tmp_path, mysql_url, postgres_url):
    runs = {}
    for workers, batch in ((1, 64), (2, 4), (2, 64)):
        url = f"sqlite:///{tmp_path / f'w{workers}b{batch}.sqlite'}"
        runs[(workers, batch)] = _ingest(pydicom_folder, url, workers, batch)
    runs["mysql"] = _ingest(pydicom_folder, mysql_url, 2, 4)
    runs["postgresql"] = _ingest(pydicom_folder, postgres_url, 2, 4)
    first_summary, first_rows = runs[(1, 64)]
    assert len(first_summary.conflicts) >= 10
    for summary, rows in runs.values():
        assert rows == first_rows
        assert summary.line() == first_summary.line()
        assert summary.conflicts == first_summary.conflicts  # in path order
    # the rule itself: every conflicting file sorts after the path kept for its UID
    columns = _columns(f"sqlite:///{tmp_path / 'w1b64.sqlite'}")
    kept = {r[columns.index("SOPInstanceUID")]: r[columns.index("source_path")]
            for r in first_rows}
    for conflict in first_summary.conflicts:
        uid = conflict["sop_uid"]
        assert kept[uid] < conflict["path"]
        assert conflict["action"] == (f"same SOP Instance UID as {kept[uid]} with other "
                                      "content in this run; the path that sorts first is kept")


def _columns(url: str) -> list[str]:
    engine = sa.create_engine(url)
    table = sa.Table("images", sa.MetaData(), autoload_with=engine)
    engine.dispose()
    return [c.name for c in table.c if c.name != "ingested_at"]


def test_the_path_that_sorts_first_is_kept_when_a_later_one_commits_first(tmp_path, db_url):
    """a/first.dcm is 16 large frames, z/second.dcm one small one, with its UID: with two
    workers and a file per task, z's worker commits first; a's file is kept."""
    folder = tmp_path / "dicom"
    os.makedirs(folder / "a")
    os.makedirs(folder / "z")
    uid = multi_frame_source(str(folder / "a" / "first.dcm"), frames=16, size=512)
    multi_frame_source(str(folder / "z" / "second.dcm"), frames=1, size=32)
    second = pydicom.dcmread(folder / "z" / "second.dcm")
    second.SOPInstanceUID = second.file_meta.MediaStorageSOPInstanceUID = uid
    second.save_as(folder / "z" / "second.dcm", enforce_file_format=True)
    summary, rows = _ingest(str(folder), db_url, 2, 1)
    assert summary.line().startswith("ingested 1 files (16 rows), already present 0, "
                                     "changed but kept 1")
    columns = _columns(db_url)
    first, second = str(folder / "a" / "first.dcm"), str(folder / "z" / "second.dcm")
    assert {r[columns.index("source_path")] for r in rows} == {first}
    assert len(rows) == 16 and sum(summary.body_parts.values()) == 16
    [conflict] = summary.conflicts
    assert conflict["path"] == second and f"as {first} with" in conflict["action"]
