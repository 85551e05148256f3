"""Find values that look identifying, in files or in a catalog, and say where they are.

Run before a folder or a catalog leaves: it reports
- every value the user lists (MRNs, names, a study's marker strings), anywhere, in any
  file's bytes or any text column, case ignored;
- in DICOM objects: person names, patient IDs and dates that are not pseudonyms, other
  IDs (accession, study ID), and private attributes;
- in other files and in catalog text: DICOM-style person names (FAMILY^GIVEN), record
  numbers (MRN12345) and DICOM dates (YYYYMMDD).

Patterns find what they describe and nothing else; a name typed without a caret, or an
identifier in an image's pixels, is not found. The listed values are the sure check.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import sqlalchemy as sa
from pydicom.dataset import Dataset

from dicom.decoding.limits import ReadLimits, read_file, read_within
from dicom.decoding.reading import RejectedFile

_PSEUDONYM = re.compile(r"^(PAT|ACC|PATH)-[0-9A-F]+$")
_NAME = re.compile(r"\b[A-Za-z][A-Za-z'\-]+\^[A-Za-z][A-Za-z'\-]*")
_RECORD_NUMBER = re.compile(r"\b(?:MRN|PID|PATID)[-_:# ]?[0-9]{3,}\b", re.IGNORECASE)
_DICOM_DATE = re.compile(r"(?<![0-9.])(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
                         r"(?![0-9.])")
_ID_KEYWORDS = frozenset({"PatientID", "OtherPatientIDs", "AccessionNumber", "StudyID",
                          "IssuerOfPatientID", "MedicalRecordLocator"})
_MAX_TEXT_BYTES = 256 << 20
_MIN_VALUE_LENGTH = 3


@dataclass(frozen=True)
class Finding:
    where: str
    kind: str
    value: str

    def line(self) -> str:
        """The finding as one console line: where, what kind, and the first 80 characters found."""
        return f"{self.where}: {self.kind} {self.value[:80]!r}"


class PhiScanner:
    """Patterns plus the user's own values; one object scans many places."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self.values = sorted({v.strip() for v in values if len(v.strip()) >= _MIN_VALUE_LENGTH})
        self._listed = (re.compile("|".join(re.escape(v) for v in self.values), re.IGNORECASE)
                        if self.values else None)

    def scan_text(self, text: str, where: str, patterns: bool = True) -> list[Finding]:
        """Listed values, then (with `patterns`) names, record numbers and DICOM dates."""
        found = []
        if self._listed is not None:
            found += [Finding(where, "listed value", m.group(0))
                      for m in self._listed.finditer(text)]
        if patterns:
            found += [Finding(where, "name", m.group(0)) for m in _NAME.finditer(text)]
            found += [Finding(where, "record number", m.group(0))
                      for m in _RECORD_NUMBER.finditer(text)]
            found += [Finding(where, "date", m.group(0)) for m in _DICOM_DATE.finditer(text)]
        return found

    def scan_dataset(self, ds: Dataset, where: str) -> list[Finding]:
        """Names, IDs and dates that are not pseudonyms, and private attributes, at any depth."""
        found: list[Finding] = []
        private_groups: set[str] = set()

        def visit(dataset: Dataset, element) -> None:
            place = f"{where} {element.tag} {element.keyword or 'private'}"
            if element.tag.is_private:
                private_groups.add(f"{element.tag.group:04X}")
                return
            if element.VR == "SQ" or element.value in (None, "", b""):
                return
            text = str(element.value).strip()
            if not text or _PSEUDONYM.match(text):
                return
            if element.VR == "PN":
                found.append(Finding(place, "name", text))
            elif element.keyword in _ID_KEYWORDS:
                found.append(Finding(place, "identifier", text))
            elif element.VR in ("DA", "DT"):
                found.append(Finding(place, "date", text))

        ds.walk(visit)
        if private_groups:
            found.append(Finding(where, "private attributes in groups",
                                 ",".join(sorted(private_groups))))
        return found

    def scan_file(self, path: str, shown: str) -> list[Finding]:
        """A DICOM file's attributes (and its bytes for listed values); any other file's text."""
        limits = ReadLimits()
        try:
            data = read_file(path, limits)
            ds = read_within(data, limits, [], stop_before_pixels=True)
        except RejectedFile:
            with open(path, "rb") as handle:
                text = handle.read(_MAX_TEXT_BYTES).decode("utf-8", "replace")
            return self.scan_text(text, shown)
        return (self.scan_dataset(ds, shown)
                + self.scan_text(data.decode("latin-1"), shown, patterns=False))

    def scan_path(self, path: str) -> Iterator[Finding]:
        """Every file below `path` (or the file itself), hidden ones included, and their
        names: a folder named after a patient is a finding too."""
        if os.path.isfile(path):
            yield from self.scan_file(path, path)
            return
        for base, dirs, names in os.walk(path):
            dirs.sort()
            for name in sorted(dirs) + sorted(names):
                full = os.path.join(base, name)
                relative = os.path.relpath(full, path)
                yield from self.scan_text(relative, f"name {relative}", patterns=False)
                if name in names and os.path.isfile(full) and not os.path.islink(full):
                    yield from self.scan_file(full, relative)

    def scan_catalog(self, engine: sa.Engine) -> Iterator[Finding]:
        """Every text column of every table (images, rejects, labels, settings)."""
        metadata = sa.MetaData()
        metadata.reflect(engine)
        with engine.connect() as connection:
            for table in metadata.sorted_tables:
                text_columns = [c for c in table.c if isinstance(c.type, sa.String | sa.Text)]
                if not text_columns:
                    continue
                query = sa.select(*text_columns)
                for number, row in enumerate(connection.execute(query), start=1):
                    for column, value in zip(text_columns, row, strict=True):
                        if value is not None and not _PSEUDONYM.match(str(value)):
                            yield from self.scan_text(
                                str(value), f"{table.name} row {number} {column.name}")
