import json
import os
import signal
import time

import numpy as np
import pytest
import sqlalchemy as sa

from dicom.ingestion.catalog import Catalog
from dicom.ingestion.database_url import resolve_db_url
from dicom.ingestion.file_processing import IngestSettings
from dicom.ingestion.ingest import ingest_directory
from dicom.metadata.deidentify import Deidentifier
from dicom.synthetic.synthetic_dicom import SyntheticSpec, synthesize
from files.png_codec import decode_png
from tests.support.cli import popen_module, run_module
from tests.support.dicom_files import gradient, image_dataset, to_bytes
from tests.support.ingest_runs import children, settled_rows, wait_for_rows, wait_gone

SECRET = b"medcv-test-secret-key"


def _ingest(url, directory, **kwargs):
    catalog = Catalog.open(resolve_db_url(url))
    try:
        return ingest_directory(directory, catalog, progress=False, **kwargs), catalog.count()
    finally:
        catalog.dispose()


def test_ingest_then_rerun_ingests_nothing_twice(db_url, synthetic_tree):
    root, made = synthetic_tree
    first, rows = _ingest(db_url, root, workers=2, batch_files=5)
    assert (first.ingested, first.rows, first.present) == (24, 24, 0)
    assert rows == 24
    assert dict(first.reject_counts()) == {"not-dicom": 2, "no-pixel-data": 1, "truncated": 1}
    rejected = {os.path.basename(r.path): r.kind for r in first.rejects}
    assert rejected == {
        "notes.txt": "not-dicom",
        "export.bin": "not-dicom",
        "report_sr.dcm": "no-pixel-data",
        "truncated.dcm": "truncated",
    }
    labels = {os.path.abspath(p): label for p, label in made.labels.items()}
    catalog = Catalog.open(resolve_db_url(db_url))
    with catalog.engine.connect() as c:
        stored = {
            p: b
            for p, b in c.execute(
                sa.select(catalog.images.c.source_path, catalog.images.c.body_part)
            )
        }
        image = c.execute(sa.select(catalog.images.c.image).limit(1)).scalar_one()
        reject_rows = c.execute(sa.select(sa.func.count()).select_from(catalog.rejects)).scalar()
    catalog.dispose()
    assert stored == labels  # every file once, with the body part the synthesizer meant
    assert decode_png(image).dtype == np.uint16
    second, rows = _ingest(db_url, root, workers=2, batch_files=5)
    assert (second.ingested, second.present, len(second.rejects)) == (0, 24, 4)
    assert rows == 24 and reject_rows == 4


def test_multiframe_file_gives_one_row_per_frame(db_url, tmp_path):
    frames = np.stack([gradient(bits=12) + i for i in range(3)]).astype(np.uint16)
    ds = image_dataset(frames, bits_stored=12, BodyPartExamined="Thorax")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "multi.dcm").write_bytes(to_bytes(ds))
    summary, rows = _ingest(db_url, str(tmp_path / "in"), workers=1)
    assert (summary.ingested, summary.rows, rows) == (1, 3, 3)
    catalog = Catalog.open(resolve_db_url(db_url))
    with catalog.engine.connect() as c:
        got = c.execute(
            sa.select(
                catalog.images.c.ID, catalog.images.c.frame, catalog.images.c.body_part
            ).order_by("frame")
        ).all()
    catalog.dispose()
    uid = ds.SOPInstanceUID
    assert [tuple(r) for r in got] == [(f"{uid}-f{i}", i, "CHEST") for i in (1, 2, 3)]


def _ingested_chest_file(db_url, folder):
    """`folder`/a.dcm, a CHEST image already in the catalog; returns its dataset."""
    folder.mkdir()
    ds = image_dataset(gradient(bits=12), bits_stored=12, BodyPartExamined="CHEST")
    (folder / "a.dcm").write_bytes(to_bytes(ds))
    _ingest(db_url, str(folder), workers=1)
    return ds


def test_changed_file_is_kept_or_replaced_as_overwrite_says(db_url, tmp_path):
    folder = tmp_path / "in"
    ds = _ingested_chest_file(db_url, folder)
    ds.BodyPartExamined = "ABDOMEN"  # same UID, other content
    (folder / "a.dcm").write_bytes(to_bytes(ds))
    kept, rows = _ingest(db_url, str(folder), workers=1)
    assert (kept.ingested, len(kept.conflicts), rows) == (0, 1, 1)
    assert kept.conflicts[0]["sop_uid"] == ds.SOPInstanceUID
    replaced, rows = _ingest(
        db_url, str(folder), workers=1, settings=IngestSettings(overwrite="if_changed")
    )
    assert (replaced.ingested, replaced.replaced, rows) == (1, 1, 1)
    catalog = Catalog.open(resolve_db_url(db_url))
    with catalog.engine.connect() as c:
        assert c.execute(sa.select(catalog.images.c.body_part)).scalar_one() == "ABDOMEN"
    catalog.dispose()


def test_duplicate_copy_in_one_run_is_stored_once(db_url, tmp_path):
    folder = tmp_path / "in"
    (folder / "x").mkdir(parents=True)
    data = to_bytes(image_dataset(gradient(bits=12), bits_stored=12))
    (folder / "a.dcm").write_bytes(data)
    (folder / "x" / "copy.dcm").write_bytes(data)
    summary, rows = _ingest(db_url, str(folder), workers=2)
    assert (summary.ingested, summary.present, rows) == (1, 1, 1)


def _stored_paths(url):
    catalog = Catalog.open(resolve_db_url(url))
    with catalog.engine.connect() as c:
        paths = [r[0] for r in c.execute(sa.select(catalog.images.c.source_path))]
    catalog.dispose()
    return paths


def test_one_uid_with_other_content_in_one_run_keeps_the_path_that_sorts_first(db_url,
                                                                              tmp_path):
    folder = tmp_path / "in"
    (folder / "x").mkdir(parents=True)
    ds = image_dataset(gradient(bits=12), bits_stored=12, BodyPartExamined="CHEST")
    (folder / "a.dcm").write_bytes(to_bytes(ds))
    ds.BodyPartExamined = "ABDOMEN"
    (folder / "x" / "b.dcm").write_bytes(to_bytes(ds))
    # Two files, two workers: each file is committed by its own worker process.
    summary, rows = _ingest(db_url, str(folder), workers=2)
    assert (summary.ingested, summary.present, len(summary.conflicts), rows) == (1, 0, 1, 1)
    [stored] = _stored_paths(db_url)
    assert stored == str(folder / "a.dcm")
    assert summary.body_parts == {"CHEST": 1}
    conflict = summary.conflicts[0]
    assert conflict["sop_uid"] == ds.SOPInstanceUID
    assert conflict["path"] == str(folder / "x" / "b.dcm")
    assert conflict["action"] == (
        f"same SOP Instance UID as {stored} with other content in this run; "
        "the path that sorts first is kept"
    )


def test_single_and_multiframe_file_with_one_uid_store_one_file(db_url, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    single = image_dataset(gradient(bits=12), bits_stored=12)
    multi = image_dataset(
        np.stack([gradient(bits=12)] * 2), bits_stored=12, SOPInstanceUID=single.SOPInstanceUID
    )
    (folder / "a.dcm").write_bytes(to_bytes(single))
    (folder / "b.dcm").write_bytes(to_bytes(multi))
    summary, rows = _ingest(db_url, str(folder), workers=2)
    assert (summary.ingested, len(summary.conflicts)) == (1, 1)
    assert rows in (1, 2)  # the single frame, or both frames of the multi-frame file


def test_two_changed_copies_replace_the_stored_file_once(db_url, tmp_path):
    folder = tmp_path / "in"
    ds = _ingested_chest_file(db_url, folder)
    (folder / "a.dcm").unlink()
    for name, body in (("b.dcm", "ABDOMEN"), ("c.dcm", "HEAD")):
        ds.BodyPartExamined = body
        (folder / name).write_bytes(to_bytes(ds))
    summary, rows = _ingest(
        db_url, str(folder), workers=2, settings=IngestSettings(overwrite="if_changed")
    )
    assert (summary.ingested, summary.replaced, len(summary.conflicts), rows) == (1, 1, 1, 1)
    [stored] = _stored_paths(db_url)
    assert summary.conflicts[0]["path"] != stored


def test_deidentified_catalog_holds_no_phi_of_the_source(db_url, synthetic_tree):
    root, made = synthetic_tree
    summary, _ = _ingest(db_url, root, workers=2, settings=IngestSettings(deid_key=SECRET))
    assert summary.ingested == 24
    import pydicom

    phi: set[str] = set()
    for path in made.images:
        ds = pydicom.dcmread(path)
        phi |= {
            str(ds.PatientName),
            ds.PatientID,
            ds.PatientBirthDate,
            ds.InstitutionName,
            str(ds.ReferringPhysicianName),
            ds.AccessionNumber,
            ds.StudyDate,
            ds.PatientAddress.split("^")[0],
            ds.SOPInstanceUID,
            ds.StudyInstanceUID,
            ds.SeriesInstanceUID,
            os.path.dirname(os.path.abspath(root)),
        }
        family = str(ds.PatientName).split("^")[0]
        phi.add(family)
    catalog = Catalog.open(resolve_db_url(db_url))
    with catalog.engine.connect() as c:
        dump = []
        for table in (catalog.images, catalog.rejects):
            for row in c.execute(sa.select(table)):
                dump += [str(v) for k, v in row._mapping.items() if k != "image"]
        keys = {r[0] for r in c.execute(sa.select(catalog.images.c.patient_key).distinct())}
    catalog.dispose()
    text = "\n".join(dump).upper()
    leaked = sorted(s for s in phi if s and s.upper() in text)
    assert leaked == []
    # Consistent pseudonyms: one key per synthetic patient, equal to a fresh computation.
    first = pydicom.dcmread(made.images[0])
    assert Deidentifier(SECRET).patient_key(first) in keys
    assert len(keys) == len({pydicom.dcmread(p).PatientID for p in made.images})


@pytest.mark.slow
def test_killed_ingest_reruns_to_every_file_exactly_once(db_url, tmp_path):
    source = tmp_path / "dicom"
    synthesize(str(source), SyntheticSpec(num_images=400, seed=3, size=96, defects=False))
    args = ("--directory", str(source), "--db_url", db_url, "--workers", "2", "--progress=false")
    process = popen_module("dicom.create_database", *args, "--batch_size", "8")
    engine = sa.create_engine(db_url)
    try:
        wait_for_rows(engine, "images", 40, process)
        workers = children(process.pid)
        process.send_signal(signal.SIGKILL)  # the parent only: its workers must follow it
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert workers and wait_gone(workers, timeout=10) == []
    # A commit a worker had sent before it died may still land; then nothing more does.
    partial = settled_rows(engine, "images")
    assert 0 < partial < 400
    time.sleep(1.0)
    with engine.connect() as c:
        assert c.exec_driver_sql("SELECT COUNT(*) FROM images").scalar() == partial
    result = run_module("dicom.create_database", *args)
    assert result.returncode == 0, result.stderr
    assert f"ingested {400 - partial} files" in result.stdout
    assert f"already present {partial}" in result.stdout
    with engine.connect() as c:
        total, distinct = c.exec_driver_sql(
            "SELECT COUNT(*), COUNT(DISTINCT source_path) FROM images"
        ).one()
        images = [row[0] for row in c.exec_driver_sql("SELECT image FROM images")]
    engine.dispose()
    assert (total, distinct) == (400, 400)
    assert all(decode_png(image).shape == (96, 96) for image in images)  # no partial row


def test_cli_report_and_summary(tmp_path, synthetic_tree):
    root, _ = synthetic_tree
    report = tmp_path / "report.json"
    result = run_module(
        "dicom.create_database",
        "--directory",
        root,
        "--db_url",
        f"sqlite:///{tmp_path / 'c.sqlite'}",
        "--report",
        str(report),
        "--progress=false",
        "--workers",
        "2",
    )
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip().splitlines()[-1]
    assert line.startswith("ingested 24 files (24 rows), already present 0, rejected 4 ")
    data = json.loads(report.read_text())
    assert data["summary"]["ingested"] == 24 and data["summary"]["rejected"] == 4
    assert {os.path.basename(r["path"]) for r in data["rejects"]} == {
        "notes.txt",
        "export.bin",
        "report_sr.dcm",
        "truncated.dcm",
    }
    assert all(r["reason"] and "\n" not in r["reason"] for r in data["rejects"])
    # Per-file warnings: one console line per kind, no value echoed; each in the report.
    odd = [w for w in data["warnings"] if "AcquisitionNumber" in w["message"]]
    assert odd and all(w["message"].startswith("AcquisitionNumber '1A'") for w in odd)
    kind_lines = [ln for ln in result.stderr.splitlines() if "AcquisitionNumber" in ln]
    assert kind_lines == [f"  {len(odd)} file{'s' if len(odd) > 1 else ''}: AcquisitionNumber "
                          "is not an integer; stored NULL (each in --report, and with "
                          "--verbosity=1)"]


def test_cli_fatal_errors_are_one_line(tmp_path):
    result = run_module("dicom.create_database", "--directory", str(tmp_path / "nope"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: --directory {tmp_path / 'nope'} is not a directory"
    ]
    result = run_module(
        "dicom.create_database",
        "--directory",
        str(tmp_path),
        "--db_url",
        "mysql+mysqlconnector://medcv@127.0.0.1:1/catalogdb",
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: cannot connect to MySQL database 'catalogdb' at 127.0.0.1:1")
    result = run_module(
        "dicom.create_database",
        "--directory",
        str(tmp_path),
        "--deidentify",
        env={"MEDCV_DEID_KEY": ""},
    )
    assert result.returncode == 2 and "MEDCV_DEID_KEY" in result.stderr


@pytest.mark.parametrize("workers", [1, 2])
def test_unreadable_entry_is_a_reject_not_a_crash(tmp_path, workers):
    folder = tmp_path / "in"
    folder.mkdir()
    os.symlink(tmp_path / "gone.dcm", folder / "dangling.dcm")
    (folder / "ok.dcm").write_bytes(to_bytes(image_dataset(gradient(bits=12), bits_stored=12)))
    summary, rows = _ingest(f"sqlite:///{tmp_path / 'c.sqlite'}", str(folder), workers=workers)
    assert rows == 1
    assert [(r.kind, r.reason) for r in summary.rejects] == [
        ("unreadable", "cannot read: No such file or directory")
    ]
