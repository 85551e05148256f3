"""What a pull asks for: `--filter KEY=VALUE` and `--accession_file`, matched the way
DICOM matches, on the server where it can be and always again here.

The server narrows the search; the final word is ours, so both transports give the same
instances: dicomweb-client escapes `*`, `?`, `^` and spaces, which Orthanc 1.10 does not
decode, so such values are never sent over QIDO. An empty attribute never satisfies a
range (a study without a date is not "in 2020").
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from files.regular_file import read_regular_file

# Attributes a filter may name, with their level; the UIDs take lists.
FILTER_KEYS = {
    "PatientID": "PATIENT",
    "AccessionNumber": "STUDY",
    "StudyDate": "STUDY",
    "StudyDescription": "STUDY",
    "StudyInstanceUID": "STUDY",
    "Modality": "SERIES",
    "BodyPartExamined": "SERIES",
    "SeriesDescription": "SERIES",
    "SeriesInstanceUID": "SERIES",
    "SOPInstanceUID": "IMAGE",
}
UID_KEYS = {"StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"}
DATE_KEYS = {"StudyDate"}
# Every search returns these, plus the filtered keys.
RETURN_KEYS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID")
_WILDCARD = re.compile(r"[*?]")
_DATE = re.compile(r"^\d{8}$")
_UNSAFE_FOR_QIDO = re.compile(r"[*?^ \\%&#+=]")
MAX_ACCESSIONS = 100_000


class FilterError(ValueError):
    """A filter that cannot be understood."""


@dataclass(frozen=True)
class Condition:
    key: str
    values: tuple[str, ...]
    """One value, or several (a UID list, an accession list): any of them matches."""

    def matches(self, value: str) -> bool:
        """Whether the attribute's value matches one of the wanted values (wildcards and ranges as
        in C-FIND)."""
        value = value.strip()
        return any(_match_one(self.key, wanted, value) for wanted in self.values)


@dataclass(frozen=True)
class InstanceQuery:
    conditions: tuple[Condition, ...] = ()

    @property
    def keys(self) -> list[str]:
        """The attribute keywords the query filters on."""
        return [c.key for c in self.conditions]

    def matches(self, attributes: Mapping[str, str]) -> bool:
        """Whether an instance's attributes satisfy every condition: the check applied to what a
        server returns, since servers differ in what they match."""
        return all(c.matches(attributes.get(c.key, "") or "") for c in self.conditions)

    def variants(self) -> list[dict[str, str]]:
        """The searches to run: one per value of a list that is not a UID list (DICOM
        matches lists only of UIDs), each a {keyword: value} for C-FIND; UID lists as
        DICOM's backslash-joined list."""
        fixed: dict[str, str] = {}
        listed: Condition | None = None
        for condition in self.conditions:
            if len(condition.values) > 1 and condition.key not in UID_KEYS:
                listed = condition
            else:
                fixed[condition.key] = "\\".join(condition.values)
        if listed is None:
            return [fixed]
        return [{**fixed, listed.key: value} for value in listed.values]

    def qido_filters(self, variant: Mapping[str, str]) -> dict[str, str]:
        """The part of a search QIDO may carry verbatim; the rest is matched here."""
        out = {}
        for key, value in variant.items():
            if key in UID_KEYS:
                out[key] = value.replace("\\", ",")  # QIDO's list separator
            elif not _UNSAFE_FOR_QIDO.search(value):
                out[key] = value
        return out


def parse_filters(items: Iterable[str], accession_file: str | None = None) -> InstanceQuery:
    """The query that `--filter KEY=VALUE` items (and an accession-number file) describe; raises
    FilterError naming the item that is not one."""
    conditions: dict[str, Condition] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            raise FilterError(f"--filter {item!r}: expected KEY=VALUE, e.g. Modality=CR")
        if key not in FILTER_KEYS:
            raise FilterError(f"--filter {key}: not a filter key; one of {', '.join(FILTER_KEYS)}")
        if key in conditions:
            raise FilterError(f"--filter {key} is given twice")
        values = _split_values(key, value)
        for wanted in values:
            _check_value(key, wanted)
        conditions[key] = Condition(key, values)
    if accession_file:
        if "AccessionNumber" in conditions:
            raise FilterError("give accession numbers with --accession_file or "
                              "--filter AccessionNumber=..., not both")
        conditions["AccessionNumber"] = Condition("AccessionNumber",
                                                  read_accessions(accession_file))
    listed = [c.key for c in conditions.values() if len(c.values) > 1 and c.key not in UID_KEYS]
    if len(listed) > 1:
        raise FilterError(f"lists of values in more than one key ({', '.join(listed)})")
    return InstanceQuery(tuple(conditions.values()))


def read_accessions(path: str) -> tuple[str, ...]:
    """One accession number a line (blank lines and `#` comments skipped)."""
    try:
        text = read_regular_file(path, 64 << 20).decode("utf-8-sig")
    except (OSError, ValueError) as exc:
        raise FilterError(f"--accession_file {path}: {exc}") from None
    values = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if len(line) > 16 or _WILDCARD.search(line) or "\\" in line:
            raise FilterError(f"--accession_file {path} line {number}: {line[:40]!r} is not an "
                              "accession number (at most 16 characters, no wildcards)")
        values.append(line)
    if not values:
        raise FilterError(f"--accession_file {path}: no accession numbers in it")
    if len(values) > MAX_ACCESSIONS:
        raise FilterError(f"--accession_file {path}: over {MAX_ACCESSIONS} lines")
    return tuple(dict.fromkeys(values))


def _split_values(key: str, value: str) -> tuple[str, ...]:
    if key in UID_KEYS:
        values = tuple(v.strip() for v in re.split(r"[\\,]", value) if v.strip())
    else:
        values = (value,)
    if not values or not values[0]:
        raise FilterError(f"--filter {key}= has no value")
    return values


def _check_value(key: str, value: str) -> None:
    if key in UID_KEYS and not re.fullmatch(r"[0-9.]{1,64}", value):
        raise FilterError(f"--filter {key}: {value!r} is not a UID")
    if key in DATE_KEYS:
        low, sep, high = value.partition("-")
        if not all(_DATE.match(v) for v in (low, high) if v) or not (low or high) or (
                not sep and not low):
            raise FilterError(f"--filter {key}={value}: expected YYYYMMDD, a range "
                              "YYYYMMDD-YYYYMMDD, or an open range -YYYYMMDD / YYYYMMDD-")


def _match_one(key: str, wanted: str, value: str) -> bool:
    if key in DATE_KEYS and "-" in wanted:
        if not value:
            return False  # an empty attribute never satisfies a range
        low, _, high = wanted.partition("-")
        return (not low or value >= low) and (not high or value <= high)
    if wanted == "*":
        return True
    if _WILDCARD.search(wanted):
        return fnmatch.fnmatchcase(value, wanted.replace("[", "[[]"))
    return value == wanted
