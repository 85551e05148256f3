"""Planted identifiers through ingest --deidentify, fetch, conversion to records,
classification with SRs from the catalog and export_deidentified: none of them may reach
a byte written, nor the console."""

import csv
import json
import os
import shutil

import pydicom
import pytest
import sqlalchemy as sa
from pydicom.uid import generate_uid

from dicom.ingestion.catalog import Catalog
from dicom.ingestion.database_url import resolve_db_url
from dicom.ingestion.file_processing import IngestSettings
from dicom.ingestion.ingest import ingest_directory
from dicom.metadata.burned_in import find_text
from dicom.metadata.deid_profile import PATIENT_CHARACTERISTICS
from dicom.metadata.deidentify import DeidOptions
from dicom.synthetic.burned_in_text import text_frame
from dicom.synthetic.synthetic_dicom import SyntheticSpec, synthesize
from files.png_codec import decode_png
from tests.support.cli import run_module
from tests.support.dicom_files import gradient, image_dataset, to_bytes
from tests.support.dicom_results import dciodvfy_errors
from tests.support.folders import classification_folder
from tests.support.planted_phi import dataset_bytes, planted_dataset, require_tesseract

pytestmark = pytest.mark.slow  # ingests, converts, trains a tiny model, classifies, exports

KEY = "planted-marker-test-key"
ENV = {"MEDCV_DEID_KEY": KEY}
# Attributes a site adds as catalog columns that the profile removes or empties.
COLUMNS = ("PatientSex,PatientAge,ViewPosition,Manufacturer,StudyDescription,SeriesDescription,"
           "ProtocolName,StudyDate,ReasonForStudy,RequestingService,DetectorID,InstitutionName,"
           "OperatorsName,StationName,DeviceSerialNumber,PerformingPhysicianName")
FOLDER_MARKERS = ("DOE^JOHN_MRNMK9001", "STUDY_MK9002", "MK9003_chest")


@pytest.fixture(scope="module")
def planted_run(tmp_path_factory):
    """Three planted CR objects and a planted secondary capture in folders named after the
    patient; ingested with --deidentify, fetched and exported."""
    base = tmp_path_factory.mktemp("planted")
    source = base / "export"
    folder = source / FOLDER_MARKERS[0] / FOLDER_MARKERS[1]
    folder.mkdir(parents=True)
    planted = planted_dataset()
    for number in range(3):
        ds = planted_dataset().dataset
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
        (folder / f"{FOLDER_MARKERS[2]}_{number}.dcm").write_bytes(dataset_bytes(ds))
    capture = image_dataset(gradient(bits=8), PatientName="DOE^JOHN", PatientID="MRNMK9004")
    (folder / "MK9005_screen.dcm").write_bytes(dataset_bytes(capture))
    db = base / "catalog.sqlite"
    url = f"sqlite:///{db}"
    report = base / "report.json"
    ingest = run_module("dicom.create_database", f"--directory={source}", f"--db_url={url}",
                        "--deidentify", f"--string_attributes={COLUMNS}", f"--report={report}",
                        "--workers=1", "--progress=false", env=ENV)
    assert ingest.returncode == 0, ingest.stderr[-2000:]
    fetched = base / "fetched"
    fetch = run_module("dicom.fetch_image", "--query=all", f"--directory={fetched}",
                       f"--db_url={url}", "--progress=false")
    assert fetch.returncode == 0, fetch.stderr[-2000:]
    exported = base / "shared"
    export = run_module("dicom.export_deidentified", f"--directory={source}", "--query=all",
                        f"--output_dir={exported}", f"--db_url={url}", env=ENV)
    assert export.returncode == 0, export.stderr[-2000:]
    records = run_module("tf_convert_data", f"--dataset_dir={fetched}",
                         f"--output_dir={base / 'records'}", "--progress=false")
    assert records.returncode == 0, records.stderr[-2000:]
    classify = _classify_with_srs(base, url)
    console = "\n".join(r.stdout + r.stderr for r in (ingest, fetch, export, records, classify))
    return planted, base, source, console


def _classify_with_srs(base, url: str):
    """A tiny two-class model (trained on other images) classifies the catalog's images and
    writes an SR for each, from the catalog's values."""
    classification_folder(str(base / "model_in"), {"A": 4, "B": 4}, size=32)
    converted = run_module("tf_convert_data", f"--dataset_dir={base / 'model_in'}",
                           f"--output_dir={base / 'model_records'}", "--progress=false")
    assert converted.returncode == 0, converted.stderr[-2000:]
    trained = run_module("train_image_classifier", f"--train_dir={base / 'model'}",
                         f"--dataset_dir={base / 'model_records'}", "--max_number_of_steps=1",
                         "--model_name=resnet_v1_18", "--train_image_size=32",
                         "--batch_size=4")
    assert trained.returncode == 0, trained.stderr[-2000:]
    classify = run_module("classify_image", f"--db_url={url}", "--query=all",
                          f"--checkpoint_path={base / 'model'}",
                          f"--dicom_output_dir={base / 'srs'}",
                          f"--outfile={base / 'classified.txt'}")
    assert classify.returncode == 0, classify.stderr[-2000:]
    return classify


def _written(base, source):
    for folder, _, names in os.walk(base):
        if folder.startswith(str(source)):
            continue
        for name in names:
            path = os.path.join(folder, name)
            with open(path, "rb") as handle:
                yield os.path.relpath(path, base), handle.read()


def test_no_planted_marker_reaches_any_byte_written_or_the_console(planted_run):
    planted, base, source, console = planted_run
    kept_by_design = set(PATIENT_CHARACTERISTICS)  # the default option retains them
    written = dict(_written(base, source))
    assert {"catalog.sqlite", "report.json", "fetched/metadata.csv", "shared/manifest.csv",
            "classified.txt", "records/dataset_spec.json"} <= set(written)
    assert sum(n.startswith("shared/") and n.endswith(".dcm") for n in written) == 3
    assert sum(n.startswith("srs/") and n.endswith(".dcm") for n in written) == 3
    assert any(n.startswith("records/") and ".tfrecord" in n for n in written)
    leaks = {}
    for name, data in [*written.items(), ("console", console.encode())]:
        found = planted.found_in(data, ignore=kept_by_design)
        found += [m for m in (*FOLDER_MARKERS, "MK9004", "MK9005", "DOE^JOHN")
                  if m.encode() in data or m.encode() in name.encode()]
        if found:
            leaks[name] = found
    assert leaks == {}
    assert "burned-in-text x1" in console  # the secondary capture: rejected, not stored


def test_srs_from_the_catalog_say_they_are_de_identified_and_dciodvfy_accepts_them(
        planted_run):
    _, base, _, _ = planted_run
    srs = sorted((base / "srs").glob("*.dcm"))
    assert len(srs) == 3
    for path in srs:
        sr = pydicom.dcmread(path)
        assert sr.PatientIdentityRemoved == "YES" and "2026c" in sr.DeidentificationMethod
        assert [i.CodeValue for i in sr.DeidentificationMethodCodeSequence] == [
            "113100", "113108"]
        assert str(sr.PatientID).startswith("PAT-")
        assert dciodvfy_errors(str(path)) == []


def test_the_catalog_columns_are_taken_after_deidentification(planted_run):
    _, base, _, _ = planted_run
    with open(base / "fetched" / "metadata.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 3
    for row in rows:
        for column in ("ReasonForStudy", "RequestingService", "DetectorID", "InstitutionName",
                       "OperatorsName", "StationName", "DeviceSerialNumber", "StudyDescription",
                       "PerformingPhysicianName", "ProtocolName", "StudyDate"):
            assert row[column] == "", column
        assert row["source_path"].startswith("PATH-") and row["patient_key"].startswith("PAT-")
        # the site evaluation slices by: the institution's keyed pseudonym, one for all three
        assert row["site"].startswith("SIT-") and row["site"] == rows[0]["site"]
    with open(base / "records" / "dataset_spec.json") as handle:
        spec = json.load(handle)
    assert "site" in spec["attributes"]  # carried into the records, for --subgroups
    assert spec["deidentification"]["deidentified"] is True  # for the model card
    assert "Basic Application Level Confidentiality Profile" in spec["deidentification"]["profile"]


def test_exported_objects_are_whole_consistent_and_marked(planted_run):
    _, base, _, _ = planted_run
    with open(base / "shared" / "manifest.csv", newline="") as handle:
        manifest = list(csv.DictReader(handle))
    with open(base / "fetched" / "metadata.csv", newline="") as handle:
        catalog = {r["SOPInstanceUID"]: r for r in csv.DictReader(handle)}
    assert len(manifest) == 3
    for entry in manifest:
        ds = pydicom.dcmread(base / "shared" / entry["file"])
        row = catalog[str(ds.SOPInstanceUID)]  # the catalog's own UIDs and pseudonyms
        assert (ds.PatientID, ds.StudyInstanceUID) == (row["patient_key"],
                                                       row["StudyInstanceUID"])
        assert entry["source"] == row["source_path"]
        assert ds.PatientIdentityRemoved == "YES"
        assert ds.DeidentificationMethodCodeSequence[0].CodeValue == "113100"
        assert ds.pixel_array.shape == (48, 64)
        assert entry["file"] == (f"{ds.PatientID}/{ds.StudyInstanceUID}/"
                                 f"{ds.SeriesInstanceUID}/{ds.SOPInstanceUID}.dcm")


def test_a_rerun_of_the_export_writes_the_same_bytes(planted_run, tmp_path):
    _, base, source, _ = planted_run
    again = tmp_path / "again"
    result = run_module("dicom.export_deidentified", f"--directory={source}", "--query=all",
                        f"--output_dir={again}", f"--db_url=sqlite:///{base / 'catalog.sqlite'}",
                        env=ENV)
    assert result.returncode == 0, result.stderr[-2000:]
    first = dict((n[len("shared/"):], d) for n, d in _written(base, source)
                 if n.startswith("shared/"))
    second = {str(path.relative_to(again)): path.read_bytes()
              for path in again.rglob("*") if path.is_file()}
    assert first == second


def test_the_phi_scan_finds_the_markers_in_the_source_and_nothing_in_the_export(planted_run,
                                                                               tmp_path):
    planted, base, source, _ = planted_run
    values = tmp_path / "values.txt"
    values.write_text("\n".join(m for m, where in planted.markers.items()
                                if where.split(" ")[0] not in PATIENT_CHARACTERISTICS))
    clean = run_module("dicom.scan_phi", str(base / "shared"), f"--values={values}",
                       f"--db_url=sqlite:///{base / 'catalog.sqlite'}")
    assert clean.returncode == 0, clean.stdout[-3000:]
    assert clean.stdout.strip().endswith("0 findings")
    dirty = run_module("dicom.scan_phi", str(source), f"--values={values}",
                       "--max_findings=100000")
    assert dirty.returncode == 1
    assert "PatientName: name 'DOE^JOHN'" in dirty.stdout  # by pattern, not listed
    assert "private attributes in groups '0029'" in dirty.stdout


def test_another_key_or_other_options_are_refused_in_one_line(planted_run, tmp_path):
    _, base, source, _ = planted_run
    copy = tmp_path / "copy.sqlite"
    shutil.copy(base / "catalog.sqlite", copy)
    for args, env in ((["--deidentify"], {"MEDCV_DEID_KEY": "another-key-of-some-length"}),
                      (["--deidentify", "--deid_options="], ENV),
                      ([], ENV)):
        result = run_module("dicom.create_database", f"--directory={source}",
                            f"--db_url=sqlite:///{copy}", "--workers=1", *args, env=env)
        assert result.returncode == 2
        error = result.stderr.strip().splitlines()[-1]
        assert error.startswith("error: ") and "was built with --deidentify" in error
    no_list = run_module("dicom.create_database", f"--directory={source}",
                         f"--db_url=sqlite:///{tmp_path / 'new.sqlite'}", "--deidentify",
                         "--deid_options=retain_safe_private", env=ENV)
    assert no_list.returncode == 2
    assert no_list.stderr.strip().splitlines()[-1] == (
        "error: --deid_options retain_safe_private needs the safe list: --deid_safe_private FILE")
    wrong = run_module("dicom.export_deidentified", f"--directory={source}", "--query=all",
                       f"--output_dir={tmp_path / 'x'}", f"--db_url=sqlite:///{copy}",
                       env={"MEDCV_DEID_KEY": "another-key-of-some-length"})
    assert wrong.returncode == 2 and "is not the key" in wrong.stderr


def test_dciodvfy_finds_no_error_in_an_export_that_its_source_did_not_have(tmp_path):
    source = tmp_path / "source"
    made = synthesize(str(source), SyntheticSpec(num_images=2, seed=5, size=32, defects=False))
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    ingest = run_module("dicom.create_database", f"--directory={source}", f"--db_url={url}",
                        "--deidentify", "--workers=1", env=ENV)
    assert ingest.returncode == 0, ingest.stderr[-2000:]
    export = run_module("dicom.export_deidentified", f"--directory={source}", "--query=all",
                        f"--output_dir={tmp_path / 'out'}", f"--db_url={url}", env=ENV)
    assert export.returncode == 0, export.stderr[-2000:]
    exported = sorted((tmp_path / "out").rglob("*.dcm"))
    assert len(exported) == 2
    before = {line.split(" - ")[-1] for path in made.images for line in dciodvfy_errors(path)}
    after = {line.split(" - ")[-1] for path in exported for line in dciodvfy_errors(str(path))}
    assert after - before == set()


def test_burned_in_text_is_rejected_redacted_or_kept_and_an_export_stays_redacted(tmp_path):
    require_tesseract()
    folder = tmp_path / "us"
    folder.mkdir()
    ds = image_dataset(text_frame(512), Modality="US", PatientName="DOE^JOHN")
    (folder / "us.dcm").write_bytes(to_bytes(ds))
    outcomes = {}
    for policy in ("reject", "redact", "keep"):
        url = f"sqlite:///{tmp_path / policy}.sqlite"
        catalog = Catalog.open(resolve_db_url(url))
        settings = IngestSettings(deid_key=KEY.encode(), deid_options=DeidOptions(
            burned_in=policy))
        summary = ingest_directory(str(folder), catalog, settings, workers=0, progress=False)
        with catalog.engine.connect() as c:
            rows = c.execute(sa.select(catalog.images.c.image, catalog.images.c.burned_in)).all()
        catalog.dispose()
        outcomes[policy] = (summary.reject_counts(), rows)
    assert outcomes["reject"] == ([("burned-in-text", 1)], [])
    (_, [(png, note)]) = outcomes["redact"]
    assert note.startswith("redacted ") and note != "redacted 0 text regions (OCR)"
    assert find_text(decode_png(png)) == []
    assert outcomes["keep"][1][0][1] == "kept (--burned_in keep)"
    export = run_module("dicom.export_deidentified", f"--directory={folder}", "--query=all",
                        f"--output_dir={tmp_path / 'out'}",
                        f"--db_url=sqlite:///{tmp_path / 'redact.sqlite'}", env=ENV)
    assert export.returncode == 0, export.stderr[-2000:]
    [exported] = (tmp_path / "out").rglob("*.dcm")
    shared = pydicom.dcmread(exported)
    assert find_text(shared.pixel_array) == []  # the object's own pixels, not just the PNG
    assert "113101" in {i.CodeValue for i in shared.DeidentificationMethodCodeSequence}

