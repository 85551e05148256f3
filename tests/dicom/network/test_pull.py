"""dicom.pull against a real Orthanc: DICOMweb and DIMSE, filters checked against
Orthanc's own /tools/find, incremental re-runs, a killed pull, one-line faults."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from tests.support.cli import ROOT
from tests.support.pacs_peers import (
    NODELAY,
    Orthanc,
    TlsFront,
    free_port,
    pacs_collection,
    require_tool,
    self_signed_certificate,
    start_orthanc,
)
from tests.support.pacs_runs import (
    CREDENTIALS,
    catalog_contents,
    catalog_rows,
    pull,
    retrieved,
)

pytestmark = pytest.mark.slow  # a real Orthanc and one subprocess per pull

# --filter arguments, and the same query for Orthanc's /tools/find.
FILTER_KINDS = {
    "modality": (["--filter=Modality=CR"], {"Modality": "CR"}),
    "date_range": (["--filter=StudyDate=20250101-20250331"], {"StudyDate": "20250101-20250331"}),
    "body_part_with_a_space": (["--filter=BodyPartExamined=WHOLE BODY"],
                               {"BodyPartExamined": "WHOLE BODY"}),
    "wildcard": (["--filter=PatientID=MRN1100*"], {"PatientID": "MRN1100*"}),
}


def _all_uids(orthanc: Orthanc) -> set[str]:
    return orthanc.find_instances({})


@pytest.mark.parametrize("kind", [*FILTER_KINDS, "accession_list"])
def test_a_dicomweb_pull_holds_what_orthancs_find_returns_and_a_rerun_retrieves_nothing(
        loaded_orthanc, tmp_path, kind):
    if kind == "accession_list":
        accessions = sorted(loaded_orthanc.find_accessions())[:3]
        (tmp_path / "accessions.txt").write_text("# three studies\n" + "\n".join(accessions))
        args = [f"--accession_file={tmp_path / 'accessions.txt'}"]
        expected = set().union(*(loaded_orthanc.find_instances({"AccessionNumber": a})
                                 for a in accessions))
    else:
        args, query = FILTER_KINDS[kind]
        expected = loaded_orthanc.find_instances(query)
    assert expected, "the query matches something"
    database, spool = str(tmp_path / "catalog.sqlite"), str(tmp_path / "spool")
    first = pull(loaded_orthanc.dicomweb, database, spool, *args)
    assert first.returncode == 0, first.stderr[-2000:]
    rows, rejected = catalog_contents(database)
    assert set(rows) | rejected == expected
    assert len(rows) == len(set(rows))  # each instance once
    assert retrieved(first.stdout) == len(expected)
    again = pull(loaded_orthanc.dicomweb, database, spool, *args)
    assert again.returncode == 0, again.stderr[-2000:]
    assert retrieved(again.stdout) == 0
    assert catalog_contents(database)[0] == rows
    assert os.listdir(spool) == [".incoming"]  # the spool empties once committed


@pytest.mark.parametrize("mode", ["move", "get"])
def test_a_dimse_pull_gives_the_same_catalog_as_a_dicomweb_pull(loaded_orthanc, tmp_path, mode):
    args = ["--filter=PatientID=MRN1100*"]
    web, dimse = str(tmp_path / "web.sqlite"), str(tmp_path / "dimse.sqlite")
    assert pull(loaded_orthanc.dicomweb, web, str(tmp_path / "s1"), *args).returncode == 0
    port = free_port()
    loaded_orthanc.register("medcv", "MEDCV", port)
    result = pull(loaded_orthanc.dimse, dimse, str(tmp_path / "s2"), *args,
                  f"--dimse_retrieve={mode}", "--ae_title=MEDCV", f"--ae_port={port}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert catalog_rows(dimse) == catalog_rows(web)
    assert len(catalog_rows(web)) == len(loaded_orthanc.find_instances(
        {"PatientID": "MRN1100*"}))
    again = pull(loaded_orthanc.dimse, dimse, str(tmp_path / "s2"), *args,
                 f"--dimse_retrieve={mode}", f"--ae_port={port}")
    assert retrieved(again.stdout) == 0, again.stderr[-2000:]


def test_a_killed_pull_reruns_to_every_instance_once(loaded_orthanc, tmp_path):
    database, spool = str(tmp_path / "catalog.sqlite"), str(tmp_path / "spool")
    environment = {**os.environ, "PYTHONPATH": ROOT, **NODELAY, **CREDENTIALS}
    process = subprocess.Popen(
        [sys.executable, "-m", "dicom.pull", f"--source={loaded_orthanc.dicomweb}",
         f"--db_url=sqlite:///{database}", f"--spool_dir={spool}", "--workers=1",
         "--connections=1", "--progress=false"],
        cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if os.path.exists(database) and len(catalog_contents_safe(database)) >= 5:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    before = catalog_contents_safe(database)
    assert before, "the kill came before anything was committed"
    result = pull(loaded_orthanc.dicomweb, database, spool)
    assert result.returncode == 0, result.stderr[-2000:]
    rows, rejected = catalog_contents(database)
    assert len(rows) == len(set(rows))
    assert set(rows) | rejected == _all_uids(loaded_orthanc)
    assert retrieved(result.stdout) < len(_all_uids(loaded_orthanc))  # it resumed


def catalog_contents_safe(database: str) -> list[str]:
    try:
        return catalog_contents(database)[0]
    except Exception:  # the schema may not exist yet
        return []


def test_a_pacs_that_dies_mid_pull_stops_it_in_one_line_and_the_rerun_finishes(tmp_path):
    server = start_orthanc(str(tmp_path / "orthanc"))
    try:
        server.upload(pacs_collection(str(tmp_path / "files")))
        total = _all_uids(server)
        database, spool = str(tmp_path / "catalog.sqlite"), str(tmp_path / "spool")
        environment = {**os.environ, "PYTHONPATH": ROOT, **NODELAY, **CREDENTIALS}
        process = subprocess.Popen(
            [sys.executable, "-m", "dicom.pull", f"--source={server.dicomweb}",
             f"--db_url=sqlite:///{database}", f"--spool_dir={spool}", "--workers=1",
             "--connections=1", "--progress=false", "--read_timeout_s=2"],
            cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            if (os.path.isdir(spool) and len(os.listdir(spool)) > 3) or (
                    os.path.exists(database) and catalog_contents_safe(database)):
                break
            time.sleep(0.02)
        server.process.send_signal(signal.SIGKILL)
        server.process.wait()
        died = time.monotonic()
        _, err = process.communicate(timeout=60)
        assert time.monotonic() - died < 10
        lines = [line for line in err.splitlines() if line.startswith("error:")]
        assert process.returncode == 2 and len(lines) == 1, err[-2000:]
        assert server.dicomweb.split("//")[1] in lines[0] and "re-run" in lines[0]
        server.start()  # same storage: the PACS is back
        result = pull(server.dicomweb, database, spool)
        assert result.returncode == 0, result.stderr[-2000:]
        rows, rejected = catalog_contents(database)
        assert len(rows) == len(set(rows)) and set(rows) | rejected == total
    finally:
        server.stop()


def _one_line_fault(result: subprocess.CompletedProcess[str], seconds: float, *words: str):
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 2, result.stderr[-2000:]
    assert len(lines) == 1, result.stderr[-2000:]
    assert seconds < 5
    for word in words:
        assert word in lines[0]
    assert "orthanc-test-secret" not in result.stderr + result.stdout
    return lines[0]


def _timed_pull(source: str, tmp_path, *args, env=None, prefix=()):
    started = time.monotonic()
    if prefix:
        environment = {**os.environ, "PYTHONPATH": ROOT, **CREDENTIALS, **(env or {})}
        result = subprocess.run(
            [*prefix, sys.executable, "-m", "dicom.pull", f"--source={source}",
             f"--db_url=sqlite:///{tmp_path / 'c.sqlite'}", f"--spool_dir={tmp_path / 's'}",
             "--progress=false", *args], cwd=ROOT, env=environment, capture_output=True,
            text=True, timeout=60)
    else:
        result = pull(source, str(tmp_path / "c.sqlite"), str(tmp_path / "s"), *args, env=env)
    return result, time.monotonic() - started


def test_a_wrong_password_is_one_line(loaded_orthanc, tmp_path):
    result, seconds = _timed_pull(loaded_orthanc.dicomweb, tmp_path,
                                  env={"MEDCV_PACS_PASSWORD": "wrong"})
    _one_line_fault(result, seconds, "HTTP 401", "MEDCV_PACS_USER")


def test_a_wrong_port_is_one_line(tmp_path):
    source = f"dicomweb+http://127.0.0.1:{free_port()}/dicom-web"
    result, seconds = _timed_pull(source, tmp_path)
    _one_line_fault(result, seconds, "cannot connect", "check host and port")
    result, seconds = _timed_pull(f"dimse://ORTHANC@127.0.0.1:{free_port()}", tmp_path)
    _one_line_fault(result, seconds, "ORTHANC@127.0.0.1", "check host and port")


def test_an_unknown_host_is_one_line(tmp_path):
    # In a network namespace of its own, so the name lookup leaves this machine for nowhere.
    unshare = require_tool("unshare")
    if subprocess.run([unshare, "--net", "true"], capture_output=True).returncode != 0:
        pytest.skip("unshare --net is not permitted here")
    result, seconds = _timed_pull("dicomweb+http://pacs.example.invalid:8042/dicom-web",
                                  tmp_path, prefix=(unshare, "--net"))
    _one_line_fault(result, seconds, "pacs.example.invalid")


def test_an_unregistered_ae_title_is_one_line(loaded_orthanc, tmp_path):
    result, seconds = _timed_pull(loaded_orthanc.dimse, tmp_path, "--ae_title=STRANGER",
                                  "--filter=Modality=CR")
    _one_line_fault(result, seconds, "STRANGER", "DicomModalities")


def test_https_with_a_private_ca_and_a_tls_failure_in_one_line(loaded_orthanc, tmp_path):
    certificate_and_key, ca_bundle = self_signed_certificate(str(tmp_path))
    front = TlsFront(loaded_orthanc.http_port, certificate_and_key)
    try:
        source = f"dicomweb+https://127.0.0.1:{front.port}/dicom-web"
        result, seconds = _timed_pull(source, tmp_path, "--filter=Modality=DX")
        _one_line_fault(result, seconds, "TLS", "--ca_bundle")  # the CA is not known
        result = pull(source, str(tmp_path / "ok.sqlite"), str(tmp_path / "spool"),
                      "--filter=Modality=DX", f"--ca_bundle={ca_bundle}")
        assert result.returncode == 0, result.stderr[-2000:]
        assert retrieved(result.stdout) == len(loaded_orthanc.find_instances({"Modality": "DX"}))
    finally:
        front.stop()


def test_a_bad_filter_is_one_line(tmp_path):
    result, seconds = _timed_pull("dicomweb+http://127.0.0.1:1/dicom-web", tmp_path,
                                  "--filter=StudyDate=2025-01")
    _one_line_fault(result, seconds, "StudyDate")


def test_a_folder_pull_gives_the_catalog_a_dicomweb_pull_gives(loaded_orthanc, tmp_path):
    """The same filter over the PACS's own files in a folder tree (a mounted export, with
    a file that is not DICOM) gives exactly the DICOMweb pull's catalog; a re-run copies
    nothing."""
    export = tmp_path / "export"
    for index, path in enumerate(loaded_orthanc.stored_files):
        target = export / f"batch{index % 3}" / f"{index:03d}_{os.path.basename(path)}"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    (export / "README.txt").write_text("not DICOM")
    args = ["--filter=PatientID=MRN1100*"]
    web, local = str(tmp_path / "web.sqlite"), str(tmp_path / "folder.sqlite")
    assert pull(loaded_orthanc.dicomweb, web, str(tmp_path / "s1"), *args).returncode == 0
    first = pull(str(export), local, str(tmp_path / "s2"), *args)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "1 file(s) in file://" in first.stderr and "are not DICOM" in first.stderr
    assert catalog_rows(local) == catalog_rows(web)
    assert retrieved(first.stdout) == len(catalog_rows(web)) > 0
    again = pull(str(export), local, str(tmp_path / "s2"), *args)
    assert again.returncode == 0 and retrieved(again.stdout) == 0, again.stderr[-2000:]
    missing = pull(str(tmp_path / "nowhere"), local, str(tmp_path / "s3"))
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines()[-1].endswith("nowhere: no such folder")
