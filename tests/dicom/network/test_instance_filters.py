"""Filters as DICOM matches them, and what may travel in a QIDO query."""

from __future__ import annotations

import pytest

from dicom.network.instance_filters import FilterError, parse_filters
from dicom.network.pacs_address import (
    DICOMWEB,
    DIMSE,
    PacsAddressError,
    load_credentials,
    parse_pacs_url,
)


def test_wildcards_spaces_ranges_and_uid_lists_match_as_dicom_does():
    query = parse_filters(["BodyPartExamined=WHOLE BODY", "StudyDate=20250101-20250331",
                           "PatientID=MRN1?00*", "SOPInstanceUID=1.2.3,1.2.4"])
    match = {"BodyPartExamined": "WHOLE BODY", "StudyDate": "20250215", "PatientID": "MRN1200x",
             "SOPInstanceUID": "1.2.4"}
    assert query.matches(match)
    assert not query.matches({**match, "BodyPartExamined": "WHOLEBODY"})
    assert not query.matches({**match, "StudyDate": "20250401"})
    assert not query.matches({**match, "StudyDate": ""})  # empty never satisfies a range
    assert not query.matches({**match, "PatientID": "MRN12000"[:3]})
    assert not query.matches({**match, "SOPInstanceUID": "1.2.5"})
    assert parse_filters(["StudyDate=-20241231"]).matches({"StudyDate": "20240101"})
    assert parse_filters(["StudyDate=20250101-"]).matches({"StudyDate": "20260101"})


def test_qido_gets_only_what_orthanc_reads_verbatim():
    query = parse_filters(["BodyPartExamined=WHOLE BODY", "Modality=CR", "PatientID=MRN*",
                           "StudyInstanceUID=1.2.3\\1.2.4"])
    [variant] = query.variants()
    assert query.qido_filters(variant) == {"Modality": "CR", "StudyInstanceUID": "1.2.3,1.2.4"}


def test_an_accession_list_is_one_search_each(tmp_path):
    path = tmp_path / "accessions.txt"
    path.write_text("\ufeff# from the RIS\nACC1\n\nACC2\nACC1\n", encoding="utf-8")
    query = parse_filters(["Modality=DX"], str(path))
    assert [v["AccessionNumber"] for v in query.variants()] == ["ACC1", "ACC2"]
    assert all(v["Modality"] == "DX" for v in query.variants())


@pytest.mark.parametrize("items, words", [
    (["Modality"], "KEY=VALUE"),
    (["Colour=red"], "not a filter key"),
    (["StudyDate=2025-01"], "YYYYMMDD"),
    (["SOPInstanceUID=1.2.x"], "not a UID"),
    (["Modality=CR", "Modality=DX"], "twice"),
])
def test_bad_filters_say_what_is_wrong(items, words):
    with pytest.raises(FilterError, match=words):
        parse_filters(items)


def test_pacs_urls_and_credentials(tmp_path, monkeypatch):
    web = parse_pacs_url("dicomweb+https://pacs.example.org/dicom-web/")
    assert (web.kind, web.port, web.base_url) == (DICOMWEB, 443, "https://pacs.example.org/dicom-web")
    dimse = parse_pacs_url("dimse://ORTHANC@10.0.0.5:4242")
    assert (dimse.kind, dimse.ae_title, dimse.port) == (DIMSE, "ORTHANC", 4242)
    for bad, words in [("http://x/dicom-web", "unknown scheme"),
                       ("dicomweb+http://u:secret@x/dw", "no password"),
                       ("dimse://x:4242", "AE title"), ("dimse://A@x", "port")]:
        with pytest.raises(PacsAddressError, match=words) as raised:
            parse_pacs_url(bad)
        assert "secret" not in str(raised.value)
    option_file = tmp_path / "pacs.ini"
    option_file.write_text("[pacs]\nuser = reader\npassword = from-file\n")
    monkeypatch.delenv("MEDCV_PACS_PASSWORD", raising=False)
    monkeypatch.setenv("MEDCV_PACS_USER", "override")
    credentials = load_credentials(str(option_file))
    assert (credentials.user, credentials.password) == ("override", "from-file")
    assert "from-file" not in repr(credentials)
