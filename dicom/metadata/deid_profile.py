"""DICOM PS3.15 Annex E: the Basic Application Level Confidentiality Profile and its options.

The Basic Profile's actions (Table E.1-1, the "Basic Prof." column) are not typed
here: they come from the `dicom-anonymizer` package (KitwareMedical), which carries
the table as data, generated from the standard's published tables, for the 2023,
2024b and 2026c editions. `basic_profile(edition)` turns it into one lookup.

The options (Section E.3) change the action of named attributes. Which attributes
each option retains is the option's column of Table E.1-1; those columns are not in
the package, so each set below is the column's "K" (keep) and "C" (clean) entries for
the option, by keyword, checked against pydicom's dictionary when this module loads.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache

from pydicom.datadict import keyword_dict, tag_for_keyword

EDITIONS: Mapping[str, str] = {
    "2023": "dicomfields_2023",
    "2024b": "dicomfields_2024b",
    "2026c": "dicomfields_2026c",
}
DEFAULT_EDITION = "2026c"
PROFILE_NAME = "DICOM PS3.15 Annex E Basic Application Level Confidentiality Profile"

# The package's categories -> the table's action codes.
_CATEGORIES = {
    "D_TAGS": "D",
    "Z_TAGS": "Z",
    "X_TAGS": "X",
    "U_TAGS": "U",
    "Z_D_TAGS": "Z/D",
    "X_Z_TAGS": "X/Z",
    "X_D_TAGS": "X/D",
    "X_Z_D_TAGS": "X/Z/D",
    "X_Z_U_STAR_TAGS": "X/Z/U*",
}

# Option names as users type them (--deid_options) -> the CID 7050 code of the option.
RETAIN_PATIENT_CHARACTERISTICS = "retain_patient_characteristics"
RETAIN_LONGITUDINAL_MODIFIED_DATES = "retain_longitudinal_modified_dates"
RETAIN_DEVICE_IDENTITY = "retain_device_identity"
RETAIN_INSTITUTION_IDENTITY = "retain_institution_identity"
CLEAN_DESCRIPTORS = "clean_descriptors"
RETAIN_UIDS = "retain_uids"
RETAIN_SAFE_PRIVATE = "retain_safe_private"
CLEAN_PIXEL_DATA = "clean_pixel_data"  # recorded when burned-in text is redacted

OPTION_CODES: Mapping[str, tuple[str, str]] = {
    "basic_profile": ("113100", "Basic Application Confidentiality Profile"),
    CLEAN_PIXEL_DATA: ("113101", "Clean Pixel Data Option"),
    CLEAN_DESCRIPTORS: ("113105", "Clean Descriptors Option"),
    RETAIN_LONGITUDINAL_MODIFIED_DATES: (
        "113107", "Retain Longitudinal Temporal Information Modified Dates Option"),
    RETAIN_PATIENT_CHARACTERISTICS: ("113108", "Retain Patient Characteristics Option"),
    RETAIN_DEVICE_IDENTITY: ("113109", "Retain Device Identity Option"),
    RETAIN_UIDS: ("113110", "Retain UIDs Option"),
    RETAIN_SAFE_PRIVATE: ("113111", "Retain Safe Private Option"),
    RETAIN_INSTITUTION_IDENTITY: ("113112", "Retain Institution Identity Option"),
}
USER_OPTIONS: tuple[str, ...] = (
    RETAIN_PATIENT_CHARACTERISTICS,
    RETAIN_LONGITUDINAL_MODIFIED_DATES,
    RETAIN_DEVICE_IDENTITY,
    RETAIN_INSTITUTION_IDENTITY,
    CLEAN_DESCRIPTORS,
    RETAIN_UIDS,
    RETAIN_SAFE_PRIVATE,
)
DEFAULT_OPTIONS: tuple[str, ...] = (RETAIN_PATIENT_CHARACTERISTICS,)

# E.3.7 Retain Patient Characteristics: the column's K entries (its C entries, free text
# such as Allergies or Medical Alerts, stay removed).
PATIENT_CHARACTERISTICS: frozenset[str] = frozenset({
    "PatientSex", "PatientAge", "PatientSize", "PatientWeight", "EthnicGroup",
    "PatientSexNeutered", "PregnancyStatus", "SmokingStatus",
})
# E.3.8 Retain Device Identity.
DEVICE_IDENTITY: frozenset[str] = frozenset({
    "DeviceSerialNumber", "DeviceUID", "DetectorID", "StationName", "GantryID",
    "GeneratorID", "CassetteID", "PlateID", "SourceSerialNumber", "TreatmentMachineName",
    "DeviceLabel", "DeviceDescription", "XRayDetectorLabel", "PerformedStationName",
    "PerformedStationAETitle", "ScheduledStationName", "ScheduledStationAETitle",
})
# E.3.9 Retain Institution Identity.
INSTITUTION_IDENTITY: frozenset[str] = frozenset({
    "InstitutionName", "InstitutionAddress", "InstitutionCodeSequence",
    "InstitutionalDepartmentName", "InstitutionalDepartmentTypeCodeSequence",
})
# E.3.5 Clean Descriptors: free-text descriptions; kept only when on the allow list.
DESCRIPTORS: frozenset[str] = frozenset({
    "StudyDescription", "SeriesDescription", "ProtocolName", "ImageComments",
    "PerformedProcedureStepDescription", "RequestedProcedureDescription",
    "ScheduledProcedureStepDescription", "DerivationDescription",
    "AcquisitionDeviceProcessingDescription", "AdmittingDiagnosesDescription",
    "AcquisitionComments", "StudyComments", "SeriesDescriptionCodeSequence",
})


def _check_keywords(sets: Iterable[frozenset[str]]) -> None:
    unknown = sorted(k for group in sets for k in group if k not in keyword_dict)
    if unknown:  # a typo here would silently keep or drop the wrong attribute
        raise RuntimeError(f"option attribute lists name unknown keywords: {unknown}")


_check_keywords((PATIENT_CHARACTERISTICS, DEVICE_IDENTITY, INSTITUTION_IDENTITY, DESCRIPTORS))


@dataclass(frozen=True)
class BasicProfile:
    """Table E.1-1 of one edition: exact tags and masked (repeating-group) tags."""

    edition: str
    exact: Mapping[int, str]
    masked: tuple[tuple[int, int, str], ...]
    """(tag value, mask, action): Curve Data (50xx,xxxx), Overlay Data (60xx,3000), ..."""

    def action(self, tag: int) -> str | None:
        """The table's action code for `tag` ('D', 'X/Z', ...), None where the table is silent."""
        found = self.exact.get(tag)
        if found is not None:
            return found
        for value, mask, action in self.masked:
            if tag & mask == value:
                return action
        return None

    def __len__(self) -> int:
        return len(self.exact) + len(self.masked)


@cache
def basic_profile(edition: str = DEFAULT_EDITION) -> BasicProfile:
    """Load the edition's table from dicom-anonymizer; ValueError names the known editions."""
    if edition not in EDITIONS:
        raise ValueError(f"unknown PS3.15 edition {edition!r}; choose one of {sorted(EDITIONS)}")
    module = importlib.import_module(
        f"dicomanonymizer.dicom_anonymization_databases.{EDITIONS[edition]}")
    exact: dict[int, str] = {}
    masked: list[tuple[int, int, str]] = []
    for category, action in _CATEGORIES.items():
        for entry in getattr(module, category):
            if len(entry) == 2:
                exact[(entry[0] << 16) | entry[1]] = action
            else:
                group, element, group_mask, element_mask = entry
                mask = (group_mask << 16) | element_mask
                masked.append((((group << 16) | element) & mask, mask, action))
    return BasicProfile(edition, exact, tuple(masked))


def option_tags(options: Iterable[str]) -> dict[int, str]:
    """Tag -> the option that keeps it ('K'), for the retain options among `options`."""
    kept: dict[int, str] = {}
    for option, keywords in (
        (RETAIN_PATIENT_CHARACTERISTICS, PATIENT_CHARACTERISTICS),
        (RETAIN_DEVICE_IDENTITY, DEVICE_IDENTITY),
        (RETAIN_INSTITUTION_IDENTITY, INSTITUTION_IDENTITY),
    ):
        if option in options:
            for keyword in keywords:
                tag = tag_for_keyword(keyword)
                assert tag is not None
                kept[int(tag)] = option
    return kept


def descriptor_tags() -> frozenset[int]:
    """The tags the Clean Descriptors option cleans."""
    return frozenset(int(tag_for_keyword(k) or 0) for k in DESCRIPTORS)


def parse_options(names: Iterable[str]) -> tuple[str, ...]:
    """Validated, sorted, de-duplicated option names; ValueError names a wrong one."""
    chosen = sorted({n.strip() for n in names if n.strip()})
    wrong = [n for n in chosen if n not in USER_OPTIONS]
    if wrong:
        raise ValueError(f"unknown --deid_options {', '.join(wrong)}; choose from "
                         f"{', '.join(USER_OPTIONS)}")
    return tuple(chosen)
