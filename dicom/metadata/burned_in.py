"""Text burned into the pixels: which images may carry it, and OCR redaction of it.

PS3.15's attribute profile cannot reach a name typed into the image itself, as
ultrasound machines, secondary captures and scanned documents do. Under
--deidentify an image is suspect when its header says BurnedInAnnotation=YES, or,
with the attribute absent, when it is of a kind that usually carries such text (a
modality or SOP class below). An explicit BurnedInAnnotation=NO is believed.

Redaction finds words with Tesseract (Debian's `tesseract-ocr`, through pytesseract)
and blacks out their boxes, grown by a margin; nothing outside the boxes changes.
OCR misses text it cannot read (tiny, rotated, low contrast): redaction lowers the
risk, it does not remove it, and docs/deidentification.md says so.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset

BURNED_IN_TEXT = "burned-in-text"
SUSPECT_MODALITIES = frozenset({"US", "SC", "OT", "XC", "DOC", "ES", "GM", "SM", "IVUS"})
_SUSPECT_SOP_CLASS_PREFIXES = (
    "1.2.840.10008.5.1.4.1.1.7",  # the Secondary Capture family
    "1.2.840.10008.5.1.4.1.1.6.",  # ultrasound, single and multi-frame
    "1.2.840.10008.5.1.4.1.1.3.",  # ultrasound multi-frame (retired)
    "1.2.840.10008.5.1.4.1.1.104.",  # encapsulated documents
    "1.2.840.10008.5.1.4.1.1.77.1.",  # visible light (endoscopy, photographs, scans)
)
_MIN_CONFIDENCE = 30.0
_MARGIN = 3
_MIN_OCR_SIDE = 1000  # small images are enlarged first: Tesseract reads ~20 px letters best


class OcrUnavailable(ValueError):
    pass


def burned_in_reason(ds: Dataset) -> str | None:
    """Why `ds` may carry burned-in text, or None when nothing suggests it."""
    flag = str(ds.get("BurnedInAnnotation", "") or "").strip().upper()
    if flag == "YES":
        return "BurnedInAnnotation is YES"
    if flag == "NO":
        return None
    modality = str(ds.get("Modality", "") or "").strip().upper()
    if modality in SUSPECT_MODALITIES:
        return f"modality {modality} usually carries burned-in text"
    sop_class = str(ds.get("SOPClassUID", "") or "").strip()
    if sop_class.startswith(_SUSPECT_SOP_CLASS_PREFIXES):
        return f"SOP class {sop_class} usually carries burned-in text"
    return None


def check_ocr_available() -> None:
    """Raise OcrUnavailable in one line when --burned_in redact cannot run here."""
    if shutil.which("tesseract") is None:
        raise OcrUnavailable("--burned_in redact needs Tesseract OCR: install Debian's "
                             "tesseract-ocr (scripts/ensure_ocr.sh) or choose reject")
    try:
        import pytesseract  # noqa: F401
    except ImportError as exc:
        raise OcrUnavailable("--burned_in redact needs the pytesseract package") from exc


@dataclass(frozen=True)
class TextBox:
    top: int
    left: int
    bottom: int
    right: int


def find_text(image: np.ndarray) -> list[TextBox]:
    """Boxes of the words Tesseract reads in a display image (uint8/uint16, gray or RGB)."""
    import pytesseract
    from PIL import Image

    gray = image if image.ndim == 2 else image.mean(axis=2)
    if gray.dtype != np.uint8:
        gray = (gray.astype(np.float32) * (255.0 / max(float(gray.max()), 1.0)))
    pixels = np.clip(gray, 0, 255).astype(np.uint8)
    scale = max(1, _MIN_OCR_SIDE // max(pixels.shape))
    picture = Image.fromarray(pixels)
    if scale > 1:
        picture = picture.resize((pixels.shape[1] * scale, pixels.shape[0] * scale),
                                 Image.Resampling.BICUBIC)
    boxes = []
    for invert in (False, True):  # light text on dark and dark text on light
        source = Image.eval(picture, lambda v: 255 - v) if invert else picture
        data = pytesseract.image_to_data(source, config="--psm 11",
                                         output_type=pytesseract.Output.DICT)
        for text, conf, left, top, width, height in zip(
                data["text"], data["conf"], data["left"], data["top"], data["width"],
                data["height"], strict=True):
            if not str(text).strip() or float(conf) < _MIN_CONFIDENCE:
                continue
            boxes.append(TextBox(top // scale, left // scale, -(-(top + height) // scale),
                                 -(-(left + width) // scale)))
    return boxes


def redact(image: np.ndarray, boxes: list[TextBox], fill: int = 0) -> np.ndarray:
    """A copy of `image` with every box, grown by a small margin, set to `fill` (black in
    a display image; a stored MONOCHROME1 or signed image has its own black)."""
    out = image.copy()
    rows, cols = image.shape[:2]
    for box in boxes:
        out[max(0, box.top - _MARGIN):min(rows, box.bottom + _MARGIN),
            max(0, box.left - _MARGIN):min(cols, box.right + _MARGIN)] = fill
    return out


def redact_text(image: np.ndarray, passes: int = 3) -> tuple[np.ndarray, list[TextBox]]:
    """Black out what OCR reads, and read again: a word next to a redacted one is often read
    only once its neighbour is gone. Stops when a pass finds nothing (at most `passes`)."""
    found: list[TextBox] = []
    for _ in range(passes):
        boxes = find_text(image)
        if not boxes:
            break
        image = redact(image, boxes)
        found += boxes
    return image, found
