"""A per-image SR from the template is the SR highdicom builds for that image."""

from __future__ import annotations

import io

import numpy as np
import pydicom

from dicom.synthetic.synthetic_dicom import SyntheticSpec, synthesize
from tests.support.dicom_results import multi_frame_source
from training.results.classification_report import ImageResult, classification_sr
from training.results.report_template import ImageReportTemplate
from training.results.result_codes import ResultCodes
from training.results.result_identity import ModelIdentity, config_hash
from training.results.source_headers import read_source

NAMES = ["CHEST", "ABDOMEN", "HEAD", "MYSTERY"]
CLOCK = ("InstanceCreationDate", "InstanceCreationTime", "ContentDate", "ContentTime")


def _plain(dataset) -> pydicom.Dataset:
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    plain = pydicom.dcmread(io.BytesIO(buffer.getvalue()))
    for keyword in CLOCK:
        if keyword in plain:
            del plain[keyword]
    for item in plain.get("ContributingEquipmentSequence", []):
        if "ContributionDateTime" in item:
            del item.ContributionDateTime
    return plain


def test_template_srs_equal_highdicoms_for_every_image(tmp_path):
    images = synthesize(str(tmp_path), SyntheticSpec(num_images=10, seed=4, size=16,
                                                     defects=False)).images
    codes, identity = ResultCodes.load(), ModelIdentity("net", 7, config_hash("run"))
    template = ImageReportTemplate(NAMES, codes, identity, "2.25.1234")
    rng = np.random.default_rng(0)
    templated = 0
    for number, path in enumerate(images, start=1):
        result = ImageResult(read_source(path), rng.dirichlet(np.ones(4)), name=path)
        encoded = template.encode(result, number)
        fast = pydicom.dcmread(io.BytesIO(encoded.data))
        reference = classification_sr([result], NAMES, codes, identity, "2.25.1234", number)
        templated += encoded.templated
        assert _differences(_plain(fast), _plain(reference)) == [], path
        assert _plain(fast) == _plain(reference)
    assert templated >= 5  # most came from a template (CR and DX: two of them)


def test_template_srs_of_frames_and_findings_equal_highdicoms(tmp_path):
    path = str(tmp_path / "frames.dcm")
    multi_frame_source(path, frames=4, size=16)
    header = read_source(path)
    codes, identity = ResultCodes.load(), ModelIdentity("net", 7, config_hash("run"))
    template = ImageReportTemplate(NAMES, codes, identity, "2.25.99", multilabel=True)
    rng = np.random.default_rng(1)
    tracking = set()
    for frame in range(1, 5):
        findings = ("CHEST",) if frame % 2 else ("CHEST", "MYSTERY")
        result = ImageResult(header, rng.random(4), findings, name=f"{path}#f{frame}",
                             frame=frame)
        encoded = template.encode(result, frame)
        assert encoded.templated == (frame > 2)  # frames 1 and 2: one set of findings each
        fast = pydicom.dcmread(io.BytesIO(encoded.data))
        reference = classification_sr([result], NAMES, codes, identity, "2.25.99", frame,
                                      multilabel=True)
        assert _differences(_plain(fast), _plain(reference)) == [], frame
        assert _plain(fast) == _plain(reference)
        tracking.add(result.tracking_uid(identity))
    assert len(tracking) == 4  # each frame its own tracked result


def _differences(a, b, prefix=""):
    out = []
    for element in a:
        other = b.get(element.tag)
        if other is None:
            out.append(f"{prefix}{element.keyword} missing")
        elif element.VR == "SQ":
            for i, (x, y) in enumerate(zip(element.value, other.value, strict=False)):
                out += _differences(x, y, f"{prefix}{element.keyword}[{i}].")
        elif element.value != other.value:
            out.append(f"{prefix}{element.keyword}: {element.value!r} != {other.value!r}")
    return out


def test_a_frame_is_named_only_where_the_sop_class_has_frames(tmp_path):
    path = str(tmp_path / "frames.dcm")
    multi_frame_source(path, frames=2, size=16)
    header = read_source(path)
    assert ImageResult(header, np.ones(4) / 4, frame=2).referenced_frames == [2]
    header.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"  # Secondary Capture: no frames
    assert ImageResult(header, np.ones(4) / 4, frame=2).referenced_frames is None
    header.SOPClassUID = "1.2.826.0.1.3680043.9.9999.1"  # a private class highdicom lacks
    assert ImageResult(header, np.ones(4) / 4, frame=2).referenced_frames is None
    assert ImageResult(header, np.ones(4) / 4).referenced_frames is None


def test_a_source_in_another_character_set_gets_its_own_template(tmp_path):
    images = synthesize(str(tmp_path), SyntheticSpec(num_images=3, seed=4, size=16,
                                                     defects=False)).images
    codes, identity = ResultCodes.load(), ModelIdentity("net", 7, config_hash("run"))
    template = ImageReportTemplate(NAMES, codes, identity, "2.25.77")
    charsets = ("ISO_IR 192", "ISO_IR 100", "ISO_IR 100")
    for number, (path, charset) in enumerate(zip(images, charsets, strict=True), start=1):
        header = read_source(path)
        header.SpecificCharacterSet, header.PatientName = charset, "Müller^Zoë"
        result = ImageResult(header, np.ones(4) / 4, name=path)
        encoded = template.encode(result, number)
        assert encoded.templated == (number == 3), number  # the second is a new template
        fast = pydicom.dcmread(io.BytesIO(encoded.data))
        assert fast.SpecificCharacterSet == charset and fast.PatientName == "Müller^Zoë"
        reference = classification_sr([result], NAMES, codes, identity, "2.25.77", number)
        assert _plain(fast) == _plain(reference)
