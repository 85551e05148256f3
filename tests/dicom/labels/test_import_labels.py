"""dicom.import_labels on every catalog backend: ChestX-ray14 and CheXpert tables by their real
column names and values, study-level keys, a de-identified catalog, atomic replacement,
fetch --label_set, and bad tables in one line."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3

import pydicom
import pytest

from dicom.ingestion.catalog import Catalog
from dicom.ingestion.database_url import resolve_db_url
from dicom.ingestion.file_processing import IngestSettings
from dicom.ingestion.ingest import ingest_directory
from dicom.labels.label_store import LabelStore
from dicom.metadata.deidentify import Deidentifier
from dicom.synthetic.synthetic_dicom import SyntheticSpec, synthesize
from tests.support.cli import run_module

KEY = "a-label-matching-test-secret"


@pytest.fixture(scope="module")
def dicom_tree(tmp_path_factory) -> tuple[str, list[str]]:
    root = str(tmp_path_factory.mktemp("labelled"))
    return root, synthesize(root, SyntheticSpec(num_images=12, seed=9, size=16,
                                                defects=False)).images


def _catalog(db_url: str, root: str, deid: bool = False) -> Catalog:
    catalog = Catalog.open(resolve_db_url(db_url))
    settings = IngestSettings(deid_key=KEY.encode() if deid else None)
    ingest_directory(root, catalog, settings, workers=0, progress=False)
    return catalog


def _write(path, header, rows, encoding="utf-8") -> str:
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(header)
    writer.writerows(rows)
    with open(path, "w", encoding=encoding, newline="") as handle:
        handle.write(text.getvalue())
    return str(path)


def _import(db_url: str, *args: str):
    return run_module("dicom.import_labels", f"--db_url={db_url}", *args,
                      env={"MEDCV_DEID_KEY": ""})


def _relative(root: str, path: str, extension: str) -> str:
    return os.path.splitext(os.path.relpath(path, os.path.dirname(root)))[0] + extension


def test_chestxray14_and_chexpert_tables_load_by_their_real_columns(db_url, dicom_tree,
                                                                     tmp_path):
    root, images = dicom_tree
    catalog = _catalog(db_url, root)
    try:
        # ChestX-ray14 names PNGs by a path tail; the catalog holds the DICOM files.
        nih = _write(tmp_path / "Data_Entry_2017.csv",
                     ["Image Index", "Finding Labels", "Follow-up #", "Patient ID",
                      "View Position"],
                     [[_relative(root, images[0], ".png"), "Cardiomegaly|Effusion", 0, 1, "PA"],
                      [_relative(root, images[1], ".png"), "No Finding", 0, 2, "AP"],
                      [_relative(root, images[2], ".png"), "Nodule", 1, 2, "PA"],
                      ["gone/00099999_000.png", "Nodule", 0, 3, "PA"]])
        result = _import(db_url, f"--table={nih}", "--label_set=nih", "--format=chestxray14",
                         f"--report={tmp_path / 'nih.json'}")
        assert result.returncode == 0, result.stderr[-2000:]
        assert "3 images labelled; 1 rows matched no image" in result.stdout
        report = json.loads((tmp_path / "nih.json").read_text())
        assert report["rows_without_image"]["examples"] == [
            {"row": 5, "key": "gone/00099999_000.png"}]
        assert report["images_without_labels"]["count"] == len(images) - 3
        names, labels = LabelStore(catalog).read("nih")
        assert names == ["Cardiomegaly", "Effusion", "Nodule"]
        uid = {p: str(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID)
               for p in images}
        assert labels[uid[images[0]]] == {"Cardiomegaly": 1, "Effusion": 1, "Nodule": 0}
        assert labels[uid[images[1]]] == {"Cardiomegaly": 0, "Effusion": 0, "Nodule": 0}
        # CheXpert: Path, Sex, Age, Frontal/Lateral, AP/PA, then 1.0 / 0.0 / -1.0 / blank.
        chexpert = _write(tmp_path / "train.csv",
                          ["Path", "Sex", "Age", "Frontal/Lateral", "AP/PA", "No Finding",
                           "Cardiomegaly", "Pleural Effusion"],
                          [[_relative(root, images[3], ".jpg"), "Female", 68, "Frontal", "AP",
                            "", "1.0", "-1.0"],
                           [_relative(root, images[4], ".jpg"), "Male", 87, "Frontal", "PA",
                            "1.0", "0.0", ""]])
        result = _import(db_url, f"--table={chexpert}", "--label_set=chexpert",
                         "--format=chexpert")
        assert result.returncode == 0, result.stderr[-2000:]
        names, labels = LabelStore(catalog).read("chexpert")
        assert names == ["No Finding", "Cardiomegaly", "Pleural Effusion"]
        assert labels[uid[images[3]]] == {"Cardiomegaly": 1, "Pleural Effusion": -1}
        assert labels[uid[images[4]]] == {"No Finding": 1, "Cardiomegaly": 0}
        # fetch writes them with the images: labels.csv, blank for not mentioned.
        out = tmp_path / "fetched"
        fetched = run_module("dicom.fetch_image", f"--db_url={db_url}", "--label_set=chexpert",
                             f"--directory={out}", "--progress=false")
        assert fetched.returncode == 0, fetched.stderr[-2000:]
        with open(out / "labels.csv", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        assert sorted(os.listdir(out / "images")) == sorted(r["filename"] for r in rows)
        by_file = {r["filename"]: r for r in rows}
        row = by_file[f"{uid[images[3]]}.png"]
        assert (row["No Finding"], row["Cardiomegaly"], row["Pleural Effusion"]) == ("", "1", "-1")
    finally:
        catalog.dispose()


def test_a_study_level_table_labels_every_image_of_its_study_and_reimport_replaces(
        dicom_tree, tmp_path):
    root, images = dicom_tree
    db_url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    catalog = _catalog(db_url, root)
    try:
        studies: dict[str, list[str]] = {}
        for path in images:
            header = pydicom.dcmread(path, stop_before_pixels=True)
            studies.setdefault(str(header.StudyInstanceUID), []).append(
                str(header.SOPInstanceUID))
        study, members = max(studies.items(), key=lambda item: len(item[1]))
        assert len(members) > 1
        table = _write(tmp_path / "studies.csv", ["study", "Edema"], [[study, 1]])
        args = (f"--table={table}", "--label_set=reports", "--format=columns",
                "--key=study=StudyInstanceUID")
        assert _import(db_url, *args).returncode == 0
        _, labels = LabelStore(catalog).read("reports")
        assert sorted(labels) == sorted(members) and all(v == {"Edema": 1} for v in
                                                          labels.values())
        table = _write(tmp_path / "studies.csv", ["study", "Edema"], [[study, 0]])
        assert _import(db_url, *args).returncode == 0
        assert set(map(json.dumps, LabelStore(catalog).read("reports")[1].values())) == {
            json.dumps({"Edema": 0})}
        bad = _write(tmp_path / "bad.csv", ["study", "Edema"], [[study, "maybe"]])
        failed = _import(db_url, f"--table={bad}", "--label_set=reports", "--format=columns",
                         "--key=study=StudyInstanceUID")
        assert failed.returncode == 2
        assert len(LabelStore(catalog).read("reports")[1]) == len(members)  # the old set
    finally:
        catalog.dispose()


def test_a_deidentified_catalog_matches_a_table_of_original_accession_numbers(
        dicom_tree, tmp_path):
    root, images = dicom_tree
    db_url = f"sqlite:///{tmp_path / 'deid.sqlite'}"
    catalog = _catalog(db_url, root, deid=True)
    try:
        accession = str(pydicom.dcmread(images[0], stop_before_pixels=True).AccessionNumber)
        with sqlite3.connect(tmp_path / "deid.sqlite") as connection:
            stored = [a for (a,) in connection.execute("SELECT AccessionNumber FROM images")]
        assert accession not in stored and all(a.startswith("ACC-") for a in stored)
        table = _write(tmp_path / "ris.csv", ["Accession", "Pneumothorax"], [[accession, 1]])
        args = (f"--table={table}", "--label_set=ris", "--format=columns",
                "--key=Accession=AccessionNumber")
        no_key = _import(db_url, *args)
        assert no_key.returncode == 2 and "is de-identified: give its key" in no_key.stderr
        result = run_module("dicom.import_labels", f"--db_url={db_url}", *args,
                            env={"MEDCV_DEID_KEY": KEY})
        assert result.returncode == 0, result.stderr[-2000:]
        _, labels = LabelStore(catalog).read("ris")
        pseudonym = Deidentifier(KEY.encode()).accession_key(accession)
        with sqlite3.connect(tmp_path / "deid.sqlite") as connection:
            expected = {i for (i,) in connection.execute(
                "SELECT ID FROM images WHERE AccessionNumber = ?", (pseudonym,))}
        assert expected and set(labels) == expected
        assert all(v == {"Pneumothorax": 1} for v in labels.values())
    finally:
        catalog.dispose()


def test_a_deidentified_catalog_matches_a_table_of_paths_through_their_pseudonyms(
        dicom_tree, tmp_path):
    root, images = dicom_tree
    db_url = f"sqlite:///{tmp_path / 'deid.sqlite'}"
    catalog = _catalog(db_url, root, deid=True)
    try:
        with sqlite3.connect(tmp_path / "deid.sqlite") as connection:
            stored = [p for (p,) in connection.execute("SELECT source_path FROM images")]
        assert all(p.startswith("PATH-") for p in stored)
        assert not any(os.path.basename(i)[:-4] in "".join(stored) for i in images)
        # CheXpert's Path names the file from a folder above the ingested root, as a JPEG.
        rows = [[_relative(root, images[0], ".jpg"), "1.0"], ["elsewhere/x.jpg", "1.0"]]
        table = _write(tmp_path / "chexpert.csv", ["Path", "Edema"], rows)
        result = run_module("dicom.import_labels", f"--db_url={db_url}", f"--table={table}",
                            "--label_set=cx", "--format=chexpert", "--label_columns=Edema",
                            env={"MEDCV_DEID_KEY": KEY})
        assert result.returncode == 0, result.stderr[-2000:]
        assert "1 rows matched no image" in result.stdout
        assert "elsewhere" not in result.stdout + result.stderr  # keys stay unsaid
        _, labels = LabelStore(catalog).read("cx")
        uid = str(pydicom.dcmread(images[0], stop_before_pixels=True).SOPInstanceUID)
        assert list(labels) == [Deidentifier(KEY.encode()).remap_uid(uid)]
    finally:
        catalog.dispose()


@pytest.mark.parametrize("name, header, rows, args, words", [
    ("nokey.csv", ["Path", "Cardiomegaly"], [["a/b.jpg", "1.0"]],
     ["--format=chexpert", "--key=Image=source_path"], "no key column 'Image'"),
    ("conflict.csv", ["id", "Edema"], [["x", 1], ["y", 0], ["x", 0]],
     ["--format=columns", "--key=id=SOPInstanceUID"], "rows 2 and 4: key 'x' twice"),
    ("unsafe.csv", ["id", "Edema/../x"], [["x", 1]],
     ["--format=columns", "--key=id=SOPInstanceUID"], "cannot name a file"),
    ("empty.csv", None, None, ["--format=columns", "--key=id=SOPInstanceUID"],
     "the file is empty"),
    ("latin1.csv", ["id", "Edema"], [["Müller", 1]],
     ["--format=columns", "--key=id=PatientID"], "row 2: not UTF-8"),
    ("values.csv", ["Image Index", "Finding Labels"], [["a.png", ""]],
     ["--format=chestxray14"], "row 2 column 'Finding Labels': empty"),
])
def test_bad_tables_are_one_line_naming_file_row_and_column(dicom_tree, tmp_path, name,
                                                             header, rows, args, words):
    root, _ = dicom_tree
    db_url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    _catalog(db_url, root).dispose()
    path = tmp_path / name
    if header is None:
        path.write_text("")
    else:
        _write(path, header, rows, encoding="latin-1" if "latin1" in name else "utf-8")
    result = _import(db_url, f"--table={path}", "--label_set=bad", *args)
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 2 and len(lines) == 1, result.stderr[-2000:]
    assert words in lines[0] and name in lines[0]
    with sqlite3.connect(tmp_path / "c.sqlite") as connection:
        tables = {t for (t,) in connection.execute("SELECT name FROM sqlite_master")}
        if "label_sets" in tables:
            assert connection.execute("SELECT COUNT(*) FROM label_sets").fetchone()[0] == 0


def test_a_bom_and_quoted_commas_are_read(dicom_tree, tmp_path):
    root, images = dicom_tree
    db_url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    catalog = _catalog(db_url, root)
    try:
        uid = str(pydicom.dcmread(images[0], stop_before_pixels=True).SOPInstanceUID)
        path = tmp_path / "excel.csv"
        path.write_bytes("\ufeffsop,Comment,Edema\r\n".encode() + f'{uid},"a, b",1\r\n'.encode())
        result = _import(db_url, f"--table={path}", "--label_set=excel", "--format=columns",
                         "--key=sop=SOPInstanceUID", "--label_columns=Edema")
        assert result.returncode == 0, result.stderr[-2000:]
        assert LabelStore(catalog).read("excel")[1] == {uid: {"Edema": 1}}
    finally:
        catalog.dispose()


def test_synthetic_findings_and_their_tables_round_trip_through_the_catalog(tmp_path):
    from dicom.synthetic.finding_tables import CHEXPERT_NAMES, NIH_NAMES

    root = str(tmp_path / "findings")
    result = synthesize(root, SyntheticSpec(num_images=24, seed=5, size=32, defects=False,
                                            findings=True))
    assert {f for v in result.findings.values() for f in v} == set(NIH_NAMES)
    db_url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    catalog = _catalog(db_url, root)
    try:
        for name, table_format in (("nih", "chestxray14"), ("cx", "chexpert")):
            imported = _import(db_url, f"--table={result.tables[table_format]}",
                               f"--label_set={name}", f"--format={table_format}")
            assert imported.returncode == 0, imported.stderr[-2000:]
            assert "24 images labelled; 0 rows matched no image" in imported.stdout
        uid = {p: str(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID)
               for p in result.images}
        _, nih = LabelStore(catalog).read("nih")
        _, chexpert = LabelStore(catalog).read("cx")
        uncertain = blank = 0
        for path, planted in result.findings.items():
            for finding, column in NIH_NAMES.items():
                if column in nih[uid[path]]:  # a finding no image has is not a column
                    assert nih[uid[path]][column] == int(finding in planted)
            for finding, column in CHEXPERT_NAMES.items():
                value = chexpert[uid[path]].get(column)
                if finding in planted:
                    assert value in (1, -1)
                    uncertain += value == -1
                else:
                    assert value in (0, None)
                    blank += value is None
        assert uncertain and blank  # the table has both, as CheXpert's does
    finally:
        catalog.dispose()


def test_planted_findings_change_the_pixels_where_they_say():
    import numpy as np

    from dicom.synthetic.phantoms import finding_overlay

    rng = np.random.default_rng(0)
    assert not finding_overlay(64, set(), rng).any()
    assert not finding_overlay(64, {"no_signal"}, rng).any()
    heart = finding_overlay(64, {"cardiomegaly"}, rng)
    assert heart[32:44, 28:40].mean() > 0.15 and heart[:8].max() == 0
    base = finding_overlay(64, {"basal_opacity"}, rng)
    assert base[40:].sum() > 5 * base[:24].sum()
