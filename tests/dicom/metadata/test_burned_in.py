"""Burned-in text: which images are suspect, and OCR redaction that leaves nothing readable
and nothing else changed."""

import os
import shutil

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from dicom.metadata.burned_in import burned_in_reason, find_text, redact_text
from tests.support.dicom_files import gradient, image_dataset


def _require_tesseract():
    if shutil.which("tesseract") is None:
        message = "tesseract is not installed (bash scripts/ensure_ocr.sh installs it)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)


def _ultrasound_frame(size: int) -> np.ndarray:
    """A speckled grey fan with a patient's name and ID rendered in its corner."""
    rng = np.random.default_rng(4)
    frame = (rng.random((size, size)) * 60 + 40).astype(np.uint8)
    picture = Image.fromarray(frame)
    draw = ImageDraw.Draw(picture)
    font = ImageFont.load_default(size=max(14, size // 24))
    draw.text((size // 20, size // 20), "DOE JOHN", fill=255, font=font)
    draw.text((size // 20, size // 20 + size // 16), "MRN 4711", fill=255, font=font)
    return np.asarray(picture)


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


@pytest.mark.parametrize("size", [512, 1024])
def test_redaction_leaves_no_readable_text_and_the_rest_unchanged(size):
    _require_tesseract()
    frame = _ultrasound_frame(size)
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


def test_ingest_redacts_records_and_keeps_or_rejects_as_asked(tmp_path):
    _require_tesseract()
    import sqlalchemy as sa

    from dicom.ingestion.catalog import Catalog
    from dicom.ingestion.database_url import resolve_db_url
    from dicom.ingestion.file_processing import IngestSettings
    from dicom.ingestion.ingest import ingest_directory
    from dicom.metadata.deidentify import DeidOptions
    from files.png_codec import decode_png
    from tests.support.dicom_files import to_bytes

    folder = tmp_path / "us"
    folder.mkdir()
    ds = image_dataset(_ultrasound_frame(512), Modality="US", PatientName="DOE^JOHN")
    (folder / "us.dcm").write_bytes(to_bytes(ds))
    outcomes = {}
    for policy in ("reject", "redact", "keep"):
        catalog = Catalog.open(resolve_db_url(f"sqlite:///{tmp_path / policy}.sqlite"))
        settings = IngestSettings(deid_key=b"burned-in-test-key", deid_options=DeidOptions(
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
