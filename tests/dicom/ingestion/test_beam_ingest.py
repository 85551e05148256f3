"""create_database --runner=beam against the native engine on the same files (pydicom's
real test files plus synthetic CR/DX with defects): the same rows, rejects and report;
a re-run ingests nothing; with a pixel store, the same blobs and a clean verify_store;
SQLite with several Beam workers is refused in one line."""

from __future__ import annotations

import json
import os
import shutil
import sys

import pytest
import sqlalchemy as sa

from dicom.synthetic.synthetic_dicom import SyntheticSpec, synthesize
from tests.support.cli import run_module, run_offline
from tests.support.pacs_peers import pydicom_test_files

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("beam_ingest")
    folder = root / "dicom"
    synthesize(str(folder / "synthetic"), SyntheticSpec(num_images=24, seed=4, size=32))
    os.makedirs(folder / "pydicom")
    for path in pydicom_test_files():
        shutil.copy(path, folder / "pydicom" / os.path.basename(path))
    return str(folder)


def _ingest(source: str, url: str, report: str, *extra: str):
    result = run_module("dicom.create_database", f"--directory={source}", f"--db_url={url}",
                        "--progress=false", f"--report={report}", *extra)
    assert result.returncode == 0, result.stderr[-3000:]
    with open(report) as handle:
        return result, json.load(handle)


def _catalog(url: str) -> tuple[list, list]:
    engine = sa.create_engine(url)
    table = sa.Table("images", sa.MetaData(), autoload_with=engine)
    columns = [c for c in table.c if c.name != "ingested_at"]
    with engine.connect() as connection:
        # sorted here: the servers' collations order text each their own way
        rows = sorted(tuple(r) for r in connection.execute(sa.select(*columns)))
        rejects = sorted(tuple(r) for r in connection.exec_driver_sql(
            "SELECT path, kind, reason FROM rejects"))
    engine.dispose()
    return rows, rejects


def test_beam_workers_on_postgresql_write_the_catalog_the_native_engine_writes_on_mysql(
        source, mysql_url, postgres_url, tmp_path):
    beam_url = postgres_url
    _, native = _ingest(source, mysql_url, str(tmp_path / "native.json"), "--workers=2")
    result, beam = _ingest(source, beam_url, str(tmp_path / "beam.json"),
                           "--runner=beam", "--direct_num_workers=2")
    assert "on Beam (--runner=FnApiRunner" in result.stderr
    assert "apitools" not in result.stderr and "Logging handler" not in result.stderr
    assert native["summary"]["ingested"] > 40 and native["summary"]["rejected"] >= 4
    assert beam["summary"] == native["summary"]
    for key in ("rejects", "warnings", "conflicts"):  # listed in commit order: sort them
        assert sorted(map(json.dumps, beam[key])) == sorted(map(json.dumps, native[key]))
    assert _catalog(beam_url) == _catalog(mysql_url)
    _, report = _ingest(source, beam_url, str(tmp_path / "again.json"),
                        "--runner=beam", "--direct_num_workers=2")
    assert report["summary"]["ingested"] == 0
    assert report["summary"]["already_present"] == native["summary"]["ingested"]
    assert _catalog(beam_url) == _catalog(mysql_url)


def _relative(rows: list, store: str) -> list:
    """Rows with the store's folder left out of the blob URIs (the two stores differ)."""
    return [tuple(str(v).replace(store, "STORE") for v in row) for row in rows]


def test_beam_workers_write_the_pixel_store_the_native_engine_writes(source, mysql_url,
                                                                     other_mysql_url, tmp_path):
    native_store, beam_store = str(tmp_path / "native_store"), str(tmp_path / "beam_store")
    _, native = _ingest(source, mysql_url, str(tmp_path / "n.json"), "--workers=2",
                        f"--image_store={native_store}")
    _, beam = _ingest(source, other_mysql_url, str(tmp_path / "b.json"), "--runner=beam",
                      "--direct_num_workers=2", f"--image_store={beam_store}")
    assert beam["summary"] == native["summary"]
    native_rows, _ = _catalog(mysql_url)
    beam_rows, _ = _catalog(other_mysql_url)
    stored = {os.path.relpath(os.path.join(d, f), native_store)
              for d, _, files in os.walk(native_store) for f in files}
    assert stored == {os.path.relpath(os.path.join(d, f), beam_store)
                      for d, _, files in os.walk(beam_store) for f in files}
    engine = sa.create_engine(other_mysql_url)
    with engine.connect() as connection:
        digests = connection.exec_driver_sql(
            "SELECT COUNT(DISTINCT image_sha256) FROM images").scalar()
    engine.dispose()
    assert len(stored) == digests > 40  # one blob per distinct image
    assert _relative(beam_rows, beam_store) == _relative(native_rows, native_store)
    check = run_module("dicom.verify_store", f"--db_url={other_mysql_url}",
                       f"--image_store={beam_store}")
    assert check.returncode == 0, check.stdout + check.stderr[-2000:]


def test_in_process_beam_offline_de_identifies_as_the_native_engine_does(source, tmp_path,
                                                                          monkeypatch):
    monkeypatch.setenv("MEDCV_DEID_KEY", "a secret kept for the test")
    native_url = f"sqlite:///{tmp_path / 'native.sqlite'}"
    beam_url = f"sqlite:///{tmp_path / 'beam.sqlite'}"
    _, native = _ingest(source, native_url, str(tmp_path / "n.json"), "--deidentify",
                        "--workers=2")
    beam_report = str(tmp_path / "b.json")
    result = run_offline(sys.executable, "-m", "dicom.create_database", f"--directory={source}",
                         f"--db_url={beam_url}", "--progress=false", f"--report={beam_report}",
                         "--deidentify", "--runner=beam")  # no network but loopback
    assert result.returncode == 0, result.stderr[-3000:]
    with open(beam_report) as handle:
        beam = json.load(handle)
    assert beam["summary"] == native["summary"]
    assert _catalog(beam_url) == _catalog(native_url)


def test_sqlite_with_several_beam_workers_is_refused_in_one_line(source, tmp_path):
    result = run_module("dicom.create_database", f"--directory={source}",
                        f"--db_url=sqlite:///{tmp_path / 'c.sqlite'}", "--runner=beam",
                        "--direct_num_workers=2")
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: --runner=beam with several workers needs a MySQL or "
                           "PostgreSQL catalog")
