"""An encoded template with its slots filled is, byte for byte, what pydicom writes."""

from __future__ import annotations

import copy
import io

import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from training.results.encoded_template import EncodedTemplate, encode_element


def _dataset(transfer_syntax: str = ExplicitVRLittleEndian) -> Dataset:
    dataset = Dataset()
    dataset.SpecificCharacterSet = "ISO_IR 192"
    dataset.SOPClassUID = "1.2.840.10008.5.1.4.1.1.88.34"
    dataset.SOPInstanceUID = "2.25.1"
    dataset.PatientName = "Doe^Jane"
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "1", "99X", "one"
    inner = Dataset()
    inner.ReferencedSOPInstanceUID = "2.25.7"
    inner.ConceptCodeSequence = Sequence([code])
    outer = Dataset()
    outer.StudyInstanceUID = "2.25.8"
    outer.ReferencedSeriesSequence = Sequence([inner, copy.deepcopy(inner)])
    dataset.CurrentRequestedProcedureEvidenceSequence = Sequence([outer])
    dataset.ContentSequence = Sequence([copy.deepcopy(code)])  # no slot: encoded once
    dataset.file_meta = FileMetaDataset()
    dataset.file_meta.MediaStorageSOPClassUID = dataset.SOPClassUID
    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    dataset.file_meta.TransferSyntaxUID = transfer_syntax
    return dataset


def _pydicoms(dataset: Dataset) -> bytes:
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _slots(dataset: Dataset) -> dict[int, str]:
    outer = dataset.CurrentRequestedProcedureEvidenceSequence[0]
    second = outer.ReferencedSeriesSequence[1]
    return {id(dataset["SOPInstanceUID"]): "uid", id(dataset["PatientName"]): "name",
            id(outer["StudyInstanceUID"]): "study",
            id(second["ReferencedSOPInstanceUID"]): "instance",
            id(second["ConceptCodeSequence"]): "code"}


def test_filled_slots_give_pydicoms_bytes_for_values_of_any_length():
    dataset = _dataset()
    template = EncodedTemplate(dataset, _slots(dataset))
    same = {"uid": template.element("uid", "2.25.1"), "name": template.element("name", "Doe^Jane"),
            "study": template.element("study", "2.25.8"),
            "instance": template.element("instance", "2.25.7"),
            "code": encode_element(dataset.CurrentRequestedProcedureEvidenceSequence[0]
                                   .ReferencedSeriesSequence[1]["ConceptCodeSequence"],
                                   "ISO_IR 192")}
    assert template.render(same, "2.25.1") == _pydicoms(dataset)

    changed = _dataset()
    changed.SOPInstanceUID = changed.file_meta.MediaStorageSOPInstanceUID = "2.25.123456789012"
    changed.PatientName = "Müller^Zoë Ångström"  # longer, and not ASCII
    outer = changed.CurrentRequestedProcedureEvidenceSequence[0]
    outer.StudyInstanceUID = "2.25.99999999999999999999"
    second = outer.ReferencedSeriesSequence[1]
    second.ReferencedSOPInstanceUID = "2.25.3"
    second.ConceptCodeSequence[0].CodeMeaning = "a much longer meaning than before"
    values = {"uid": template.element("uid", changed.SOPInstanceUID),
              "name": template.element("name", changed.PatientName),
              "study": template.element("study", outer.StudyInstanceUID),
              "instance": template.element("instance", second.ReferencedSOPInstanceUID),
              "code": encode_element(second["ConceptCodeSequence"], "ISO_IR 192")}
    data = template.render(values, changed.SOPInstanceUID)
    assert data == _pydicoms(changed)
    back = pydicom.dcmread(io.BytesIO(data))
    assert str(back.PatientName) == "Müller^Zoë Ångström"
    assert back.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0] \
        .ReferencedSOPInstanceUID == "2.25.7"  # the first item kept its own


def test_only_explicit_little_endian_and_only_slots_it_holds():
    dataset = _dataset(ImplicitVRLittleEndian)
    with pytest.raises(ValueError, match="Explicit VR Little Endian"):
        EncodedTemplate(dataset, _slots(dataset))
    dataset, stranger = _dataset(), Dataset()
    with pytest.raises(ValueError, match="slots not in the data set"):
        EncodedTemplate(dataset, {id(stranger): "elsewhere"})
