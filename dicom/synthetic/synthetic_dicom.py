"""Write synthetic DICOM studies: real file meta, UID hierarchy, dirty metadata.

Everything is derived from the seed, UIDs included, so the same command writes
the same files (and a re-ingest finds them already present).
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field

import numpy as np
from pydicom import config
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    UID,
    ExplicitVRLittleEndian,
    RLELossless,
    generate_uid,
)

from console.options import option
from dicom.synthetic.finding_tables import write_finding_tables
from dicom.synthetic.phantoms import BODY_PARTS, FINDINGS, finding_overlay, radiograph
from files.atomic_file import write_atomic

CR_STORAGE = "1.2.840.10008.5.1.4.1.1.1"
DX_STORAGE = "1.2.840.10008.5.1.4.1.1.1.1"
BASIC_TEXT_SR = "1.2.840.10008.5.1.4.1.1.88.11"

# What scanners really write into BodyPartExamined.
SPELLINGS: dict[str, tuple[str, ...]] = {
    "CHEST": ("CHEST", "Chest", "CHEST ", "chest", "THORAX", "Thorax", "TORAX", "Poitrine"),
    "ABDOMEN": ("ABDOMEN", "Abdomen", "ABD", "abdomen ", "BAUCH", "Addome"),
    "HEAD": ("HEAD", "Head", "BRAIN", "Kopf", "Tête", "Cabeza"),
    "EXTREMITY": ("EXTREMITY", "Extremity", "EXTREMITY ", "Extremidad", "LIMB"),
}
DESCRIPTIONS = {
    "CHEST": "XR CHEST PA AND LATERAL",
    "ABDOMEN": "XR ABDOMEN SUPINE",
    "HEAD": "XR HEAD 2 VIEWS",
    "EXTREMITY": "XR EXTREMITY LIMB 2 VIEWS",
}
_GIVEN = ("JANE", "JOHN", "MARIA", "WEI", "AMINA", "LUCAS", "SOFIA", "OMAR", "YUKI", "ELENA")
_FAMILY = ("DOE", "SMITH", "GARCIA", "CHEN", "OKAFOR", "MULLER", "ROSSI", "TANAKA", "NOVAK")


@dataclass(frozen=True)
class SyntheticSpec:
    """What `synthesize` writes; each field is also `dicom.synthesize`'s flag."""

    num_images: int = option(200, "Number of image files to write.", lower_bound=1)
    seed: int = option(0, "Random seed; the same seed writes the same files and UIDs.")
    size: int = option(128, "Image rows and columns.", lower_bound=16)
    images_per_study: int = option(4, "Images in each study.", lower_bound=1)
    studies_per_patient: int = option(2, "Studies of each patient.", lower_bound=1)
    defects: bool = option(True, "Also plant defective files (SR without pixels, truncated "
                           "image, text and binary junk) to exercise the reject path.")
    findings: bool = option(
        False, "Chest radiographs only, with findings planted at --finding_rate each (a "
        "nodule, an opacity at a lung base, an enlarged heart shadow, and one label without "
        "any pixel signal), and their label tables: Data_Entry_2017.csv (ChestX-ray14) and "
        "train.csv (CheXpert, with uncertain -1.0 and blank entries).")
    finding_rate: float = option(0.35, "Share of images carrying each finding.",
                                 lower_bound=0.0, upper_bound=1.0)


@dataclass
class SyntheticResult:
    images: list[str]
    defective: list[str]
    labels: dict[str, str]  # path -> canonical body part
    findings: dict[str, set[str]] = field(default_factory=dict)  # path -> planted findings
    tables: dict[str, str] = field(default_factory=dict)  # format -> label table path


def _uid(seed: int, *parts: object) -> str:
    return generate_uid(entropy_srcs=[f"medcv-synthetic-{seed}", *map(str, parts)])


def _patient(seed: int, index: int, rng: np.random.Generator) -> dict[str, str]:
    birth_year = int(rng.integers(1935, 2005))
    month, day = int(rng.integers(1, 13)), int(rng.integers(1, 29))
    family, given = _FAMILY[index % len(_FAMILY)], _GIVEN[(index * 7 + seed) % len(_GIVEN)]
    return {
        "PatientName": f"{family}^{given}",
        "PatientID": f"MRN{seed:02d}{index:05d}",
        "PatientBirthDate": f"{birth_year}{month:02d}{day:02d}",
        "PatientSex": "FM"[index % 2] if rng.random() > 0.05 else "",
        "PatientAge": f"{2026 - birth_year:03d}Y",
        "PatientAddress": f"{int(rng.integers(1, 999))} ELM STREET^SPRINGFIELD",
    }


def image_dataset(pixels: np.ndarray, monochrome1: bool, rng: np.random.Generator) -> Dataset:
    """A 12-bit CR/DX image with RescaleSlope/Intercept whose display equals `pixels`."""
    # The second pair maps the whole display range into 12 bits: (4095 + 100) / 2 < 4096.
    slope, intercept = (1.0, 0.0) if rng.random() < 0.5 else (2.0, -100.0)
    value = pixels * 4095.0  # the display scale, in modality units
    stored = np.clip(np.rint((value - intercept) / slope), 0, 4095).astype(np.uint16)
    if monochrome1:
        stored = (4095 - stored).astype(np.uint16)
    ds = Dataset()
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME1" if monochrome1 else "MONOCHROME2"
    ds.Rows, ds.Columns = stored.shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.RescaleSlope, ds.RescaleIntercept, ds.RescaleType = f"{slope:g}", f"{intercept:g}", "US"
    if rng.random() < 0.4 and not monochrome1:
        # A window on the modality values; MONOCHROME1 files keep the full range
        # so the same anatomy always displays the same way.
        ds.WindowCenter, ds.WindowWidth = "2048", "4096"
    ds.PixelData = stored.tobytes()
    return ds


def write_study_file(path: str, ds: Dataset, sop_class: str, sop_uid: str, rle: bool) -> None:
    """Writes `ds` atomically as a Part-10 file with its file meta: explicit VR little endian, or
    RLE Lossless when `rle`."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(sop_class)
    meta.MediaStorageSOPInstanceUID = UID(sop_uid)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.file_meta = meta
    ds.preamble = b"\x00" * 128
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, sop_uid
    if rle and "PixelData" in ds:
        ds.compress(RLELossless, generate_instance_uid=False)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    write_atomic(path, buffer.getvalue())


def synthesize(output_dir: str, spec: SyntheticSpec) -> SyntheticResult:
    """Write `spec.num_images` images (plus defects) below `output_dir`."""
    rng = np.random.default_rng(spec.seed)
    result = SyntheticResult([], [], {})
    patients: dict[str, str] = {}
    per_patient = spec.images_per_study * spec.studies_per_patient
    previous = (config.settings.reading_validation_mode, config.settings.writing_validation_mode)
    # Dirty values (lower-case or accented code strings) are written on purpose.
    config.settings.reading_validation_mode = config.IGNORE
    config.settings.writing_validation_mode = config.IGNORE
    try:
        for index in range(spec.num_images):
            p, rest = divmod(index, per_patient)
            s, i = divmod(rest, spec.images_per_study)
            patient = _patient(spec.seed, p, np.random.default_rng([spec.seed, p]))
            body_part = "CHEST" if spec.findings else BODY_PARTS[int(rng.integers(len(BODY_PARTS)))]
            pixels = radiograph(body_part, spec.size, rng)
            planted: set[str] = set()
            if spec.findings:
                planted = {f for f in FINDINGS if rng.random() < spec.finding_rate}
                pixels = np.clip(pixels + finding_overlay(spec.size, planted - {"no_signal"},
                                                          rng), 0.0, 1.0)
            ds = image_dataset(pixels, monochrome1=rng.random() < 0.2, rng=rng)
            ds.update(_as_dataset(patient))
            modality = "CR" if (p + s) % 2 == 0 else "DX"
            ds.Modality = modality
            ds.StudyInstanceUID = _uid(spec.seed, "study", p, s)
            ds.SeriesInstanceUID = _uid(spec.seed, "series", p, s, body_part)
            ds.StudyDate = ds.SeriesDate = f"2025{(s % 12) + 1:02d}{(p % 27) + 1:02d}"
            ds.StudyTime = "101500"
            ds.AccessionNumber = f"ACC{spec.seed:02d}{p:05d}{s:02d}"
            ds.StudyID = f"S{s + 1}"
            ds.ReferringPhysicianName = "HOUSE^GREGORY"
            ds.InstitutionName = "SPRINGFIELD GENERAL HOSPITAL"
            ds.StationName = "XRAY-ROOM-3"
            ds.Manufacturer = "MEDCV SYNTHETIC"
            ds.SeriesNumber = s + 1
            ds.InstanceNumber = i + 1
            if rng.random() < 0.04:  # junk a vendor wrote with an explicit LO VR
                ds.add_new(0x00200012, "LO", "1A")
            else:
                ds.AcquisitionNumber = 1
            ds.ViewPosition = ("PA", "AP", "LL", "")[int(rng.integers(4))]
            roll = rng.random()
            if roll < 0.06:  # empty: the description fallback must find it
                ds.BodyPartExamined = ""
                ds.SeriesDescription = DESCRIPTIONS[body_part]
            elif roll < 0.08:  # a value nobody maps: counted as UNKNOWN
                ds.BodyPartExamined = "SEE NOTES"
            else:
                options = SPELLINGS[body_part]
                ds.BodyPartExamined = options[int(rng.integers(len(options)))]
                ds.SeriesDescription = f"{modality} {ds.ViewPosition or 'VIEW'}"
            ds.SpecificCharacterSet = "ISO_IR 192"
            sop_uid = _uid(spec.seed, "image", index)
            path = os.path.join(
                output_dir,
                f"patient_{p:04d}",
                f"study_{s + 1}",
                f"series_{body_part.lower()}",
                f"img_{index:05d}.dcm",
            )
            sop_class = CR_STORAGE if modality == "CR" else DX_STORAGE
            write_study_file(path, ds, sop_class, sop_uid, rle=rng.random() < 0.2)
            result.images.append(path)
            result.labels[path] = "UNKNOWN" if 0.06 <= roll < 0.08 else body_part
            if spec.findings:
                result.findings[path] = planted
                patients[path] = str(ds.PatientID)
        if spec.defects:
            result.defective = plant_defects(output_dir, spec.seed)
        if spec.findings:
            result.tables = write_finding_tables(output_dir, result.findings, patients,
                                                 spec.seed)
    finally:
        config.settings.reading_validation_mode, config.settings.writing_validation_mode = previous
    return result


def _as_dataset(values: dict[str, str]) -> Dataset:
    ds = Dataset()
    for keyword, value in values.items():
        setattr(ds, keyword, value)
    return ds


def plant_defects(output_dir: str, seed: int = 0) -> list[str]:
    """Files a real tree contains that are not catalog images, one per reject kind."""
    folder = os.path.join(output_dir, "defective")
    os.makedirs(folder, exist_ok=True)
    paths = []
    report = Dataset()
    report.PatientName, report.PatientID = "DOE^JANE", f"MRN{seed:02d}00000"
    report.Modality = "SR"
    report.StudyInstanceUID = _uid(seed, "sr-study")
    report.SeriesInstanceUID = _uid(seed, "sr-series")
    report.ValueType, report.CompletionFlag = "CONTAINER", "COMPLETE"
    path = os.path.join(folder, "report_sr.dcm")
    write_study_file(path, report, BASIC_TEXT_SR, _uid(seed, "sr"), rle=False)
    paths.append(path)

    rng = np.random.default_rng(seed + 99)
    ds = image_dataset(radiograph("CHEST", 64, rng), monochrome1=False, rng=rng)
    ds.Modality, ds.PatientID = "CR", "MRN-TRUNCATED"
    path = os.path.join(folder, "truncated.dcm")
    write_study_file(path, ds, CR_STORAGE, _uid(seed, "truncated"), rle=False)
    with open(path, "rb") as handle:
        data = handle.read()
    with open(path, "wb") as handle:
        handle.write(data[: len(data) - 3000])
    paths.append(path)

    path = os.path.join(folder, "notes.txt")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("Scanner export notes: not an image.\n")
    paths.append(path)

    path = os.path.join(folder, "export.bin")
    with open(path, "wb") as handle:
        handle.write(np.random.default_rng(seed).bytes(2048))
    paths.append(path)
    return paths
