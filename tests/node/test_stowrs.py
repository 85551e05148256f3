"""The STOW-RS endpoint: its multipart reader on bodies cut at every awkward place, and
the endpoint itself taking real files from dicomweb-client (a DICOMweb client users
run) and refusing a stranger's bytes, each part answered in the DICOM JSON reply."""

from __future__ import annotations

import glob
import os
import re
from pathlib import Path

import pydicom
import pytest
import requests
from pydicom.data import get_testdata_file

from dicom.network.spool import Spool
from node.job_queue import JobQueue
from node.receiving import NodeReceiver
from node.stowrs import BadRequest, StowReceiver, multipart_boundary, serve_stowrs, split_parts
from tests.support.pacs_peers import free_port

BOUNDARY = "medcv-test-boundary"


def _body(parts: list[bytes], boundary: str = BOUNDARY) -> bytes:
    out = b""
    for part in parts:
        out += (f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode() + part
                + b"\r\n")
    return out + f"--{boundary}--\r\n".encode()


@pytest.mark.parametrize("read_size", [1, 7, len(BOUNDARY) + 3, 1 << 16])
def test_parts_come_back_whole_however_the_body_is_cut(read_size):
    parts = [b"first\r\n--medcv-test-boundar", b"", os.urandom(5000),
             b"\r\n--" + BOUNDARY.encode()[:-1]]
    body = _body(parts)
    chunks = (body[i:i + read_size] for i in range(0, len(body), read_size))
    assert [b"".join(p) for p in split_parts(chunks, BOUNDARY.encode())] == parts


def test_a_part_left_unread_is_skipped_and_the_next_comes_whole():
    body = _body([b"a" * 1000, b"second"])
    parts = split_parts(iter([body]), BOUNDARY.encode())
    next(next(parts))  # read a little of the first part only
    assert b"".join(next(parts)) == b"second"


@pytest.mark.parametrize(("content_type", "status", "text"), [
    ("application/dicom", 415, "Content-Type application/dicom"),
    ('multipart/related; type="application/dicom+json"; boundary=x', 415,
     "multipart type application/dicom+json"),
    ('multipart/related; type="application/dicom"', 400, "no usable boundary"),
])
def test_what_is_not_stow_rs_is_named(content_type, status, text):
    with pytest.raises(BadRequest, match=re.escape(text)) as raised:
        multipart_boundary(content_type)
    assert raised.value.status == status


def test_a_body_that_ends_inside_a_part_is_a_bad_request():
    body = _body([b"whole"])[:-30]
    with pytest.raises(BadRequest, match="ended inside a part"):
        for part in split_parts(iter([body]), BOUNDARY.encode()):
            b"".join(part)


@pytest.fixture
def endpoint(tmp_path):
    queue = JobQueue(f"sqlite:///{tmp_path / 'queue.sqlite'}", "test-node")
    queue.create()
    spool = Spool(str(tmp_path / "spool"), 1 << 20)
    heard: dict[str, list] = {"received": [], "refused": []}
    receiver = NodeReceiver(queue, spool, {"Modality"},
                            lambda study, caller: heard["received"].append((study, caller)),
                            lambda uid, reason, caller: heard["refused"].append(reason))
    port = free_port()
    server = serve_stowrs(StowReceiver(receiver, spool), "127.0.0.1", port)
    yield {"url": f"http://127.0.0.1:{port}", "queue": queue, "spool": spool,
           "heard": heard}
    server.shutdown()


def test_dicomweb_client_stores_real_files_and_each_is_queued(endpoint):
    from dicomweb_client.api import DICOMwebClient

    files = [get_testdata_file(n) for n in ("CT_small.dcm", "MR_small.dcm", "rtplan.dcm")]
    datasets = [pydicom.dcmread(f) for f in files]
    client = DICOMwebClient(url=endpoint["url"])
    reply = client.store_instances(datasets)
    taken = {str(item.ReferencedSOPInstanceUID) for item in reply.ReferencedSOPSequence}
    assert taken == {str(d.SOPInstanceUID) for d in datasets}
    studies = {str(d.StudyInstanceUID) for d in datasets}
    assert {s for s, _ in endpoint["heard"]["received"]} == studies
    assert all(c == "STOW-RS 127.0.0.1" for _, c in endpoint["heard"]["received"])
    kept = glob.glob(os.path.join(endpoint["spool"].directory, "*.dcm"))
    assert len(kept) == 3 and not os.listdir(endpoint["spool"].temporary)
    for study in studies:
        [instance] = endpoint["queue"].instances_of(study)
        source = files[[str(d.StudyInstanceUID) for d in datasets].index(study)]
        assert Path(instance.path).read_bytes() == Path(source).read_bytes()


def test_a_strangers_part_is_refused_and_the_good_one_kept(endpoint):
    good = get_testdata_file("CT_small.dcm")
    big = b"\0" * (2 << 20)  # over this spool's 1 MiB limit
    body = _body([b"not DICOM at all", Path(good).read_bytes(), big])
    reply = requests.post(
        endpoint["url"] + "/dicom-web/studies", data=body, timeout=30,
        headers={"Content-Type": f'multipart/related; type="application/dicom"; '
                                 f"boundary={BOUNDARY}"})
    assert reply.status_code == 202
    answer = reply.json()
    assert [i["00081155"]["Value"][0] for i in answer["00081199"]["Value"]] == [
        str(pydicom.dcmread(good).SOPInstanceUID)]
    reasons = [i["00081197"]["Value"][0] for i in answer["00081198"]["Value"]]
    assert reasons == [0xC000, 0xA700]
    assert "not readable DICOM" in endpoint["heard"]["refused"][0]
    assert "over the limit" in endpoint["heard"]["refused"][1]
    assert len(glob.glob(os.path.join(endpoint["spool"].directory, "*.dcm"))) == 1
    assert not os.listdir(endpoint["spool"].temporary)


def test_an_instance_of_another_study_than_the_path_names_is_refused(endpoint):
    ct = get_testdata_file("CT_small.dcm")
    reply = requests.post(
        endpoint["url"] + "/studies/1.2.3.4", data=_body([Path(ct).read_bytes()]),
        headers={"Content-Type": f"multipart/related; type=application/dicom; "
                                 f"boundary={BOUNDARY}"}, timeout=30)
    assert reply.status_code == 409
    assert reply.json()["00081198"]["Value"][0]["00081197"]["Value"] == [0xA900]
    wrong = requests.post(endpoint["url"] + "/studies", data=b"{}", timeout=30,
                          headers={"Content-Type": "application/json"})
    assert wrong.status_code == 415 and "multipart/related" in wrong.text


def test_a_nearly_full_spool_refuses_c_store_and_stow_rs_and_keeps_nothing(tmp_path):
    """Less free disk than the spool's floor: C-STORE is answered 0xA700 (out of
    resources) and STOW-RS 503, before anything is written; nothing is queued."""
    from pynetdicom import AE
    from pynetdicom.sop_class import CTImageStorage

    queue = JobQueue(f"sqlite:///{tmp_path / 'queue.sqlite'}", "test-node")
    queue.create()
    spool = Spool(str(tmp_path / "spool"), 1 << 20, min_free_bytes=1 << 62)  # never enough
    refused: list[str] = []
    receiver = NodeReceiver(queue, spool, {"Modality"}, lambda study, caller: None,
                            lambda uid, reason, caller: refused.append(reason))
    port, stow_port = free_port(), free_port()
    server = receiver.start("MEDCV_AI", "127.0.0.1", port, ())
    stow = serve_stowrs(StowReceiver(receiver, spool), "127.0.0.1", stow_port)
    try:
        ae = AE(ae_title="SENDER")
        ae.add_requested_context(CTImageStorage)
        association = ae.associate("127.0.0.1", port, ae_title="MEDCV_AI")
        assert association.is_established
        status = association.send_c_store(pydicom.dcmread(get_testdata_file("CT_small.dcm")))
        association.release()
        reply = requests.post(
            f"http://127.0.0.1:{stow_port}/studies",
            data=_body([Path(get_testdata_file("CT_small.dcm")).read_bytes()]), timeout=30,
            headers={"Content-Type": f"multipart/related; type=application/dicom; "
                                     f"boundary={BOUNDARY}"})
    finally:
        server.shutdown()
        stow.shutdown()
    assert int(status.Status) == 0xA700
    assert reply.status_code == 503 and "MiB free in the spool" in reply.text
    assert "MiB free in the spool" in refused[0]
    assert glob.glob(os.path.join(spool.directory, "*.dcm")) == []
    assert queue.counts()["received"] == 0 and queue.stable_studies(0) == []
