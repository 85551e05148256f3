"""De-identification to DICOM PS3.15's Basic Application Level Confidentiality Profile.

Every attribute of Table E.1-1 (`dicom.metadata.deid_profile`) gets its action, at the
top level and inside every sequence item; private attributes (but those the Retain Safe
Private option names), overlay data and curves go. Two rules go beyond the table, for
values a hospital export hides outside it: a person name (VR PN) the table does not list
is emptied, and a date (DA, DT) is removed.

Identifiers that must still join are *keyed* pseudonyms, HMAC-SHA-256 with a secret:
the same patient gets the same pseudonym across files and runs, and nobody without
the secret can recompute one from a known MRN, UID or path (an unsalted hash could
be). UIDs are remapped into the `2.25.<integer>` form from the same HMAC, wherever
they occur, so references between objects still hold. Under the Retain Longitudinal
Temporal Information with Modified Dates option, every date of a patient moves by the
same keyed number of days, so intervals between studies survive.

Where the table lets an action choose (X/Z, Z/D, ...), the attribute is removed or
emptied, as Orthanc's /anonymize does, never given a made-up value. What is replaced is
deterministic: the same file, key and options give the
same bytes, so a re-run of an export writes the same files.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, cast

from pydicom.dataelem import DataElement, empty_value_for_VR
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from dicom.metadata.deid_profile import (
    CLEAN_DESCRIPTORS,
    CLEAN_PIXEL_DATA,
    DEFAULT_EDITION,
    DEFAULT_OPTIONS,
    OPTION_CODES,
    PROFILE_NAME,
    RETAIN_INSTITUTION_IDENTITY,
    RETAIN_LONGITUDINAL_MODIFIED_DATES,
    RETAIN_SAFE_PRIVATE,
    RETAIN_UIDS,
    basic_profile,
    descriptor_tags,
    option_tags,
    parse_options,
)

KEY_ENVIRONMENT_VARIABLE = "MEDCV_DEID_KEY"
_MIN_KEY_LENGTH = 16
STANDARD_UID_ROOT = "1.2.840.10008."  # classes, transfer syntaxes, coding schemes: not PHI
BURNED_IN_CHOICES = ("reject", "redact", "keep")

_PATIENT_ID, _PATIENT_NAME, _ACCESSION = 0x00100020, 0x00100010, 0x00080050
_NEVER_SHIFTED = frozenset({0x00100030, 0x00100032})  # birth date and time: always removed
_SHIFT_DAYS = (365, 3650)  # a patient's dates move back by one to ten years


class DeidentificationKeyError(ValueError):
    pass


def load_key(flag_value: str | None) -> bytes:
    """The secret from the flag, else the environment; refuses a missing or short key."""
    value = flag_value or os.environ.get(KEY_ENVIRONMENT_VARIABLE, "")
    if not value:
        raise DeidentificationKeyError(
            f"--deidentify needs a secret key: set {KEY_ENVIRONMENT_VARIABLE} or pass --deid_key"
        )
    if len(value) < _MIN_KEY_LENGTH:
        raise DeidentificationKeyError(
            f"the de-identification key must be at least {_MIN_KEY_LENGTH} characters"
        )
    return value.encode("utf-8")


def normalized_descriptor(text: str) -> str:
    """How a descriptor is compared with the allow list: upper case, whitespace collapsed."""
    return " ".join(text.split()).upper()


@dataclass(frozen=True)
class DeidLists:
    """The lists a user gives the options (files named by flags), read and normalized."""

    descriptors: frozenset[str] = field(default_factory=frozenset)
    safe_private: frozenset[tuple[int, str, int]] = field(default_factory=frozenset)

    @classmethod
    def load(cls, descriptor_allow: str | None, safe_private: str | None) -> DeidLists:
        """--deid_descriptor_allow and --deid_safe_private; ValueError names a bad file."""
        return cls(load_descriptor_allow_list(descriptor_allow),
                   load_safe_private_list(safe_private))


@dataclass(frozen=True)
class DeidOptions:
    """The profile edition and options a catalog or an export is de-identified with."""

    edition: str = DEFAULT_EDITION
    options: tuple[str, ...] = DEFAULT_OPTIONS
    descriptor_allow: frozenset[str] = field(default_factory=frozenset)
    """Descriptions (normalized) the Clean Descriptors option keeps; all others go."""
    burned_in: str = "reject"
    safe_private: frozenset[tuple[int, str, int]] = field(default_factory=frozenset)
    """(group, private creator, element offset) the Retain Safe Private option keeps."""

    def __post_init__(self) -> None:
        basic_profile(self.edition)  # ValueError names the editions
        object.__setattr__(self, "options", parse_options(self.options))
        if RETAIN_SAFE_PRIVATE in self.options and not self.safe_private:
            raise ValueError("--deid_options retain_safe_private needs the safe list: "
                             "--deid_safe_private FILE")
        if self.burned_in not in BURNED_IN_CHOICES:
            raise ValueError(f"--burned_in must be one of {BURNED_IN_CHOICES}, "
                             f"not {self.burned_in!r}")

    def record(self) -> dict[str, Any]:
        """What the catalog records: another ingest into it must match this exactly."""
        allow = "\n".join(sorted(self.descriptor_allow)).encode()
        return {
            "profile": PROFILE_NAME,
            "edition": self.edition,
            "options": list(self.options),
            "burned_in": self.burned_in,
            "descriptor_allow_sha256": hashlib.sha256(allow).hexdigest()
            if self.descriptor_allow else None,
            "safe_private_sha256": hashlib.sha256(
                json.dumps(sorted(self.safe_private)).encode()).hexdigest()
            if self.safe_private else None,
        }


def load_safe_private_list(path: str | None) -> frozenset[tuple[int, str, int]]:
    """The private attributes the Retain Safe Private option keeps, from a JSON list of
    `{"group": "0029", "creator": "SIEMENS CSA HEADER", "elements": ["08", "09"]}`
    (hexadecimal; an element is its offset in the creator's block, as PS3.15 Table
    E.3.10-1 lists them). ValueError names the file and what is wrong."""
    if not path:
        return frozenset()
    try:
        with open(path, encoding="utf-8") as handle:
            entries = json.load(handle)
        safe = set()
        for entry in entries:
            group = int(str(entry["group"]), 16)
            if group % 2 == 0:
                raise ValueError(f"group {entry['group']} is not a private (odd) group")
            for element in entry["elements"]:
                offset = int(str(element), 16)
                if not 0 <= offset <= 0xFF:
                    raise ValueError(f"element {element} is not an offset 00-FF in a block")
                safe.add((group, str(entry["creator"]).strip(), offset))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError,
            ValueError) as exc:
        raise ValueError(f"--deid_safe_private {path}: {exc}") from exc
    return frozenset(safe)


def load_descriptor_allow_list(path: str | None) -> frozenset[str]:
    """One description a line (blank lines and `#` comments skipped), normalized."""
    if not path:
        return frozenset()
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"--deid_descriptor_allow {path}: cannot read ({exc})") from exc
    return frozenset(normalized_descriptor(line) for line in lines
                     if line.strip() and not line.lstrip().startswith("#"))


def _keyed_digest(key: bytes, kind: str, value: str) -> bytes:
    return hmac.new(key, f"{kind}\x00{value}".encode(), hashlib.sha256).digest()


def path_pseudonym(key: bytes, relative_path: str) -> str:
    """The keyed pseudonym of a file's path below the ingested root, extension aside,
    so a label table that names the file (CheXpert's `Path`) still finds it."""
    stem = os.path.splitext(relative_path.replace("\\", "/").strip("/"))[0]
    return f"PATH-{_keyed_digest(key, 'path', stem).hex()[:24].upper()}"


def key_check(key: bytes) -> str:
    """A keyed check value of the key: tells two keys apart and reveals nothing of either."""
    return f"KEY-{_keyed_digest(key, 'key-check', 'medcv').hex()[:20].upper()}"


class Deidentifier:
    """Keyed pseudonyms and the profile's actions on a dataset, for one key and options."""

    def __init__(self, key: bytes, options: DeidOptions | None = None) -> None:
        self._key = key
        self.options = options or DeidOptions()
        self._profile = basic_profile(self.options.edition)
        self._kept = option_tags(self.options.options)
        self._descriptors = (descriptor_tags() if CLEAN_DESCRIPTORS in self.options.options
                             else frozenset())
        self._retain_uids = RETAIN_UIDS in self.options.options
        self._safe_private = (self.options.safe_private
                              if RETAIN_SAFE_PRIVATE in self.options.options else frozenset())
        self._safe_creators = {(group, creator) for group, creator, _ in self._safe_private}
        self._shift_dates = RETAIN_LONGITUDINAL_MODIFIED_DATES in self.options.options

    def _digest(self, kind: str, value: str) -> bytes:
        return _keyed_digest(self._key, kind, value)

    def pseudonym(self, kind: str, value: str) -> str:
        """Stable short token, e.g. patient 'MRN123' -> 'PAT-3F9A...'."""
        return f"{kind[:3].upper()}-{self._digest(kind, value).hex()[:20].upper()}"

    def remap_uid(self, uid: str) -> str:
        """A UID in the 2.25 (UUID-derived) arc; at most 44 characters."""
        return "2.25." + str(int.from_bytes(self._digest("uid", uid)[:16], "big"))

    def stored_uid(self, uid: str) -> str:
        """The UID as a de-identified object carries it: remapped, or as it is under the
        Retain UIDs option."""
        return uid if self._retain_uids else self.remap_uid(uid)

    def path_pseudonym(self, relative_path: str) -> str:
        """`path_pseudonym` with this de-identifier's key."""
        return path_pseudonym(self._key, relative_path)

    @staticmethod
    def patient_source(ds: Dataset) -> str:
        """What a patient's pseudonym is made from: PatientID, else name and birth date."""
        source = str(ds.get("PatientID", "") or "").strip()
        return source or f"{ds.get('PatientName', '')}|{ds.get('PatientBirthDate', '')}"

    def patient_key(self, ds: Dataset) -> str:
        """The keyed pseudonym of the image's patient: stable across files and runs with the same
        key, and not reversible without it."""
        return self.pseudonym("patient", self.patient_source(ds))

    def site_key(self, institution: str) -> str:
        """The site an image comes from, as the catalog keeps it: the institution's keyed
        pseudonym, or its name under the Retain Institution Identity option."""
        institution = institution.strip()
        if not institution:
            return ""
        if RETAIN_INSTITUTION_IDENTITY in self.options.options:
            return institution[:64]
        return self.pseudonym("site", institution)

    def accession_key(self, accession: str) -> str:
        """The pseudonym of an accession number: a hospital's table of original accession
        numbers still matches once its keys get the same pseudonym (import_labels)."""
        # 16 characters: an accession number is a DICOM SH, and results carry it.
        return f"ACC-{self._digest('accession', accession.strip()).hex()[:12].upper()}"

    def patient_key_of(self, patient_id: str) -> str:
        """`patient_key` of a dataset whose PatientID is `patient_id`."""
        return self.pseudonym("patient", patient_id.strip())

    def date_shift_days(self, patient_source: str) -> int:
        """The keyed shift of every date of one patient (negative: into the past)."""
        low, high = _SHIFT_DAYS
        value = int.from_bytes(self._digest("date-shift", patient_source)[:8], "big")
        return -(low + value % (high - low + 1))

    def apply(self, ds: Dataset, pixels_cleaned: bool = False) -> None:
        """De-identify `ds` in place, file meta included, and mark it as de-identified.

        `pixels_cleaned`: burned-in text was redacted (the Clean Pixel Data option)."""
        source = self.patient_source(ds)
        replacements = {_PATIENT_ID: self.pseudonym("patient", source),
                        _PATIENT_NAME: self.pseudonym("patient", source)}
        accession = str(ds.get("AccessionNumber", "") or "").strip()
        if accession:
            replacements[_ACCESSION] = self.accession_key(accession)
        shift = self.date_shift_days(source) if self._shift_dates else None
        self._clean(ds, replacements, shift)
        meta = getattr(ds, "file_meta", None)
        if meta is not None and "MediaStorageSOPInstanceUID" in meta and not self._retain_uids:
            meta.MediaStorageSOPInstanceUID = self.remap_uid(str(meta.MediaStorageSOPInstanceUID))
        self._mark(ds, pixels_cleaned)

    def _action(self, element: DataElement) -> str:
        tag = int(element.tag)
        if tag in self._kept:
            return "K"
        if tag in self._descriptors:
            return "C"
        action = self._profile.action(tag)
        if action is None:  # the table is silent: beyond it, names and dates still go
            if element.VR == "PN":
                action = "Z"
            elif element.VR in ("DA", "DT"):
                action = "X"
            elif element.VR == "UI" and not _standard_uids(element.value):
                action = "U"
            else:
                return "K"
        if self._retain_uids and action == "U":
            return "K"
        return action

    def _clean(self, ds: Dataset, replacements: dict[int, str], shift: int | None) -> None:
        for element in list(ds):
            tag = int(element.tag)
            if element.tag.is_private:
                if self._is_safe_private(ds, element):
                    self._recurse(element, replacements, shift)
                else:
                    del ds[element.tag]
                continue
            action = self._action(element)
            if action == "K":
                self._recurse(element, replacements, shift)
            elif tag in replacements:
                element.value = replacements[tag]
            elif action == "C":
                if element.VR == "SQ" or (
                        normalized_descriptor(str(element.value or ""))
                        in self.options.descriptor_allow):
                    self._recurse(element, replacements, shift)
                else:
                    del ds[element.tag]
            elif shift is not None and element.VR in ("DA", "DT") and tag not in _NEVER_SHIFTED:
                if not _shift(element, shift):
                    del ds[element.tag]
            elif action == "U" or (action == "X/Z/U*" and element.VR == "UI"):
                self._remap(element)
            elif action in ("X", "X/D"):  # where the table allows it, removed, not replaced
                del ds[element.tag]
            elif element.VR == "SQ" and action == "X/Z/U*":
                self._recurse(element, replacements, shift)  # references kept, remapped
            elif element.VR == "UI":  # D on a UID: a consistent replacement
                self._remap(element)
            else:  # Z, X/Z, X/Z/D, Z/D, and D: emptied, as Orthanc does (a sequence too)
                element.value = empty_value_for_VR(element.VR)

    def _is_safe_private(self, ds: Dataset, element: DataElement) -> bool:
        """On the safe list: a listed creator's reservation, or an element of its block at a
        listed offset (creators come first in tag order, so an unsafe one is gone already)."""
        if not self._safe_private:
            return False
        group, number = element.tag.group, element.tag.element
        if 0x0010 <= number <= 0x00FF:
            return (group, str(element.value).strip()) in self._safe_creators
        creator = ds.get((group << 16) | (number >> 8))
        return creator is not None and (
            group, str(creator.value).strip(), number & 0xFF) in self._safe_private

    def _recurse(self, element: DataElement, replacements: dict[int, str],
                 shift: int | None) -> None:
        if element.VR == "SQ" and element.value:
            for item in element.value:
                self._clean(item, replacements, shift)

    def _remap(self, element: DataElement) -> None:
        if element.VR == "SQ":
            return
        value = element.value
        if not value:
            return
        if element.VM > 1:
            element.value = [self.remap_uid(str(v)) for v in value]
        else:
            element.value = self.remap_uid(str(value))

    def _mark(self, ds: Dataset, pixels_cleaned: bool) -> None:
        for keyword, value in deidentification_marks(
                self.options.edition, self.options.options, pixels_cleaned).items():
            setattr(ds, keyword, value)


def deidentification_marks(edition: str, options: Iterable[str],
                           pixels_cleaned: bool = False) -> dict[str, Any]:
    """What says an object was de-identified, and how: PatientIdentityRemoved,
    DeidentificationMethod and its code sequence (CID 7050), new objects each call. The
    objects de-identification writes carry them, and so do results made from a
    de-identified catalog's values."""
    chosen = ["basic_profile", *options] + ([CLEAN_PIXEL_DATA] if pixels_cleaned else [])
    items = []
    for option in chosen:
        code, meaning = OPTION_CODES[option]
        item = Dataset()
        item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = code, "DCM", meaning
        items.append(item)
    # LO holds 64 characters: the options are in the code sequence.
    return {"PatientIdentityRemoved": "YES",
            "DeidentificationMethod": (f"DICOM PS3.15 {edition} Basic Profile, "
                                       f"{len(chosen) - 1} options (medcv)"),
            "DeidentificationMethodCodeSequence": Sequence(items)}


def _standard_uids(value: object) -> bool:
    values = ([value] if isinstance(value, str | bytes) or value is None
              else list(cast(Iterable[object], value)))
    return all(str(v).startswith(STANDARD_UID_ROOT) for v in values if v)


def _shift(element: DataElement, days: int) -> bool:
    """Move a DA or DT value by `days`; False when it is not a date that can be moved."""
    values: Iterable[Any] = element.value if element.VM > 1 else [element.value]
    moved: list[str] = []
    for value in values:
        text = str(value or "").strip()
        if not text:
            moved.append(text)
            continue
        try:
            day = datetime.datetime.strptime(text[:8], "%Y%m%d").date()
        except ValueError:
            return False
        moved.append((day + datetime.timedelta(days=days)).strftime("%Y%m%d") + text[8:])
    element.value = moved if element.VM > 1 else moved[0]
    return True
