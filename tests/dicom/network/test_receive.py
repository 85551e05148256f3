"""dicom.receive as a real C-STORE SCP: dcmtk's storescu and dcmsend push to it, it
acknowledges only what is durable, survives kill -9 without losing an acknowledged
instance, refuses hostile payloads as rejects and stays up."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time

import numpy as np
import pydicom
import pytest
from pydicom.filereader import read_file_meta_info
from pydicom.uid import JPEG2000Lossless, JPEGLosslessSV1, JPEGLSLossless, RLELossless

from dicom.decoding.fingerprint import data_set_offset, instance_sha256
from tests.support.dicom_files import encode, gradient, image_dataset, to_bytes
from tests.support.hostile_files import deflate_bomb, header, jpeg_claiming, jpeg_file
from tests.support.pacs_peers import NODELAY, free_port, pydicom_test_files, require_tool
from tests.support.pacs_runs import (
    RunningReceiver,
    acknowledged,
    catalog_contents,
    catalog_fingerprints,
    push,
)

pytestmark = pytest.mark.slow  # a receiver process and dcmtk pushes per test
COMPRESSED = {"jpeg2000": JPEG2000Lossless, "rle": RLELossless, "jpegls": JPEGLSLossless,
              "jpeg_lossless": JPEGLosslessSV1}


def _uid(path: str) -> str:
    return str(pydicom.dcmread(path, stop_before_pixels=True, force=True).SOPInstanceUID)


@pytest.fixture(scope="module")
def push_folder(tmp_path_factory) -> str:
    """Synthesized CR/DX files and pydicom's real files (compressed ones included)."""
    from dicom.synthetic.synthetic_dicom import SyntheticSpec, synthesize

    root = tmp_path_factory.mktemp("push")
    result = synthesize(str(root / "synthetic"), SyntheticSpec(num_images=24, seed=5, size=32,
                                                               defects=False))
    folder = root / "files"
    folder.mkdir()
    for index, path in enumerate([*result.images, *pydicom_test_files()]):
        shutil.copy(path, folder / f"{index:03d}_{os.path.basename(path)}")
    for name, syntax in COMPRESSED.items():
        pixels = gradient(48, 64, 12)
        ds = encode(image_dataset(pixels, bits_stored=12), pixels, syntax)
        (folder / f"compressed_{name}.dcm").write_bytes(to_bytes(ds))
    return str(folder)


def _files(folder: str) -> list[str]:
    return sorted(os.path.join(folder, name) for name in os.listdir(folder))


def _acknowledged_files(output: str) -> list[str]:
    """storescu -v: each 'Sending file' followed by a success response."""
    sent, last = [], None
    for line in output.splitlines():
        found = re.match(r"I: Sending file: (.*)$", line)
        if found:
            last = found.group(1)
        elif "Received Store Response (Success)" in line and last:
            sent.append(last)
            last = None
    return sent


def test_storescu_and_dcmsend_push_the_same_files_and_every_file_is_accounted_for(
        push_folder, tmp_path):
    require_tool("storescu")
    database = str(tmp_path / "catalog.sqlite")
    receiver = RunningReceiver(database, str(tmp_path / "spool"), free_port()).start()
    files = _files(push_folder)
    by_dcmsend = push("dcmsend", receiver.port, files)  # as stored
    by_storescu = push("storescu", receiver.port, files)  # decompresses what dcmtk can
    echo = subprocess.run(["echoscu", "127.0.0.1", str(receiver.port)], env={**os.environ,
                          **NODELAY}, capture_output=True, text=True, timeout=30)
    code, out, _ = receiver.stop()
    assert echo.returncode == 0  # C-ECHO answered
    assert code == 0 and "stopped; ingested" in out
    assert acknowledged(by_storescu.stderr) > 20
    assert re.search(r"association from STORESCU \(127\.0\.0\.1\) released: \d+ instances", out)
    assert re.search(r"association from DCMSEND \(127\.0\.0\.1\) released: \d+ instances", out)
    sent = _acknowledged_files(by_storescu.stderr)
    rows, rejected = catalog_contents(database)
    # Every acknowledged file is a row or a reject; whatever dcmsend could read went too.
    assert {_uid(p) for p in sent} <= set(rows) | rejected
    unread = set(re.findall(r"(?:cannot add DICOM file to the transfer list|cannot send SOP "
                            r"instance from file): (.*?):", by_dcmsend.stderr))
    assert acknowledged(by_dcmsend.stderr.replace("C-STORE Response", "Store Response")) == (
        len(files) - len(unread))
    assert {_uid(p) for p in files if p not in unread} <= set(rows) | rejected
    assert len(set(rows)) == len(rows)  # each once, though both tools sent it
    # Compressed files arrived as stored (dcmsend sends them as they are; the fingerprint
    # is of the data set as received) and were decoded.
    stored = catalog_fingerprints(database)
    for path in (p for p in files if "compressed_" in p):
        with open(path, "rb") as handle:
            assert instance_sha256(handle.read()) in stored[_uid(path)], path
    assert os.listdir(tmp_path / "spool") == [".incoming"]


def test_kill_minus_nine_loses_no_acknowledged_instance_and_a_repush_adds_none(tmp_path):
    require_tool("storescu")
    folder = tmp_path / "files"
    folder.mkdir()
    for index in range(120):
        pixels = np.full((64, 64), index * 97 % 4096, np.uint16)
        (folder / f"{index:03d}.dcm").write_bytes(to_bytes(image_dataset(pixels, bits=12)))
    files = _files(str(folder))
    database, spool, port = str(tmp_path / "catalog.sqlite"), str(tmp_path / "spool"), free_port()
    receiver = RunningReceiver(database, spool, port).start()
    pusher = subprocess.Popen(
        ["storescu", "-R", "-nh", "-v", "-aet", "STORESCU", "127.0.0.1", str(port), *files],
        env={**os.environ, **NODELAY}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(os.listdir(spool)) < 12:
        time.sleep(0.01)
    receiver.kill()  # SIGKILL, mid-push
    _, err = pusher.communicate(timeout=60)
    sent = _acknowledged_files(err)
    assert 0 < len(sent) < len(files)
    # Restarted: what the spool held is ingested; every acknowledged instance is there.
    receiver = RunningReceiver(database, spool, port).start()
    assert receiver.stop()[0] == 0
    rows, _ = catalog_contents(database)
    assert {_uid(p) for p in sent} <= set(rows)
    # Pushed again in full: each instance once.
    receiver = RunningReceiver(database, spool, port).start()
    assert acknowledged(push("storescu", port, files).stderr) == len(files)
    assert receiver.stop()[0] == 0
    rows, rejected = catalog_contents(database)
    assert sorted(rows) == sorted({_uid(p) for p in files}) and not rejected


def _send_raw(port: int, paths: list[str]) -> list[int]:
    """Send files' bytes as they are (pynetdicom's chunked send, nothing decoded)."""
    from pynetdicom import AE, _config
    from pynetdicom.presentation import build_context

    _config.STORE_SEND_CHUNKED_DATASET = True
    try:
        ae = AE(ae_title="HOSTILE")
        syntaxes = ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.4.50"]
        ae.requested_contexts = [build_context("1.2.840.10008.5.1.4.1.1.7", syntax)
                                 for syntax in syntaxes]
        association = ae.associate("127.0.0.1", port, ae_title="MEDCV")
        assert association.is_established
        statuses = []
        for path in paths:
            status = association.send_c_store(path)
            statuses.append(int(status.Status) if status else -1)
        association.release()
        return statuses
    finally:
        _config.STORE_SEND_CHUNKED_DATASET = False


def test_hostile_payloads_are_rejects_and_the_receiver_stays_up(tmp_path):
    def write(name: str, data: bytes) -> str:
        path = str(tmp_path / name)
        with open(path, "wb") as handle:
            handle.write(data)
        return path

    bomb = write("bomb.dcm", deflate_bomb(header(8192, 8192, frames=16)))  # declares 2 GiB
    liar = write("liar.dcm", jpeg_file(header(64, 64, bits=8), jpeg_claiming(60000, 60000)))
    framed = jpeg_file(header(16, 16, bits=8), b"\x00")
    junk_path = write("junk.dcm", framed[:data_set_offset(framed)] + os.urandom(4096))
    big = write("big.dcm", to_bytes(image_dataset(np.zeros((1100, 1100), np.uint16), bits=16)))
    good = write("good.dcm",
                 to_bytes(image_dataset(np.arange(256, dtype=np.uint8).reshape(16, 16))))
    database = str(tmp_path / "catalog.sqlite")
    receiver = RunningReceiver(database, str(tmp_path / "spool"), free_port(),
                               "--max_file_mb=2").start()
    statuses = _send_raw(receiver.port, [bomb, liar, junk_path, big, good])
    assert statuses[:3] == [0, 0, 0]  # stored as received: the ingest judges them
    assert statuses[3] == 0xA700  # over --max_file_mb: refused, nothing kept
    assert statuses[4] == 0
    assert receiver.process.poll() is None  # still up
    code, out, _ = receiver.stop()
    assert code == 0
    rows, rejected = catalog_contents(database)
    assert rows == [_uid(good)]
    junk_uid = str(read_file_meta_info(junk_path).MediaStorageSOPInstanceUID)
    assert {_uid(bomb), _uid(liar), junk_uid} == rejected
    assert "rejected too-large" in out and "1 refused" in out


def test_under_deidentify_a_refused_instance_is_logged_by_its_pseudonym(tmp_path,
                                                                        monkeypatch):
    monkeypatch.setenv("MEDCV_DEID_KEY", "a-key-for-the-receive-test-0123456789")
    big = tmp_path / "big.dcm"
    big.write_bytes(to_bytes(image_dataset(np.zeros((1100, 1100), np.uint16), bits=16)))
    receiver = RunningReceiver(str(tmp_path / "catalog.sqlite"), str(tmp_path / "spool"),
                               free_port(), "--max_file_mb=2", "--deidentify").start()
    assert _send_raw(receiver.port, [str(big)]) == [0xA700]
    code, out, err = receiver.stop()
    assert code == 0 and "refused instance 2.25." in err, err
    assert _uid(str(big)) not in out + err


def test_only_allowed_callers_get_an_association(tmp_path):
    require_tool("echoscu")
    receiver = RunningReceiver(str(tmp_path / "c.sqlite"), str(tmp_path / "spool"), free_port(),
                               "--allowed_ae_titles=GOODSCU").start()
    try:
        def echo(title: str) -> int:
            return subprocess.run(["echoscu", "-aet", title, "127.0.0.1", str(receiver.port)],
                                  env={**os.environ, **NODELAY}, capture_output=True,
                                  timeout=30).returncode

        assert echo("GOODSCU") == 0
        assert echo("STRANGER") != 0
    finally:
        receiver.process.send_signal(signal.SIGTERM)
        receiver.process.communicate(timeout=60)
