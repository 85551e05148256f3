"""Burned-in text: which images are suspect, and OCR redaction that leaves nothing readable
and nothing else changed."""

import numpy as np
import pytest

from dicom.metadata.burned_in import burned_in_reason, find_text, redact_text
from dicom.synthetic.burned_in_text import text_frame
from tests.support.dicom_files import gradient, image_dataset
from tests.support.planted_phi import require_tesseract


@pytest.mark.parametrize("attributes, reason", [
    ({"Modality": "US"}, "modality US"),
    ({"Modality": "OT"}, "modality OT"),
    ({"Modality": "CR", "BurnedInAnnotation": "YES"}, "BurnedInAnnotation is YES"),
    ({"Modality": "OT", "BurnedInAnnotation": "NO"}, None),
    ({"Modality": "CR", "SOPClassUID": "1.2.840.10008.5.1.4.1.1.1"}, None),
])
def test_which_images_are_suspect(attributes, reason):
    ds = image_dataset(gradient(bits=8))
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    found = burned_in_reason(ds)
    assert (found is None) if reason is None else (reason in found)


@pytest.mark.slow  # OCR: a few seconds
@pytest.mark.parametrize("size", [512])  # 1024 px: make bench-deid
def test_redaction_leaves_no_readable_text_and_the_rest_unchanged(size):
    require_tesseract()
    frame = text_frame(size)
    assert find_text(frame), "OCR read nothing in the planted text"
    cleaned, boxes = redact_text(frame)
    assert find_text(cleaned) == []
    changed = cleaned != frame
    assert changed.any()
    outside = np.ones_like(changed)
    for box in boxes:
        outside[max(0, box.top - 3):box.bottom + 3, max(0, box.left - 3):box.right + 3] = False
    assert not changed[outside].any()
    assert changed.sum() < 0.1 * frame.size  # a corner, not the image
