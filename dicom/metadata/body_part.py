"""Normalise BodyPartExamined to the DICOM defined terms (PS3.16 CID 4031 subset).

Scanners write `Chest`, `CHEST `, `THORAX`, `WHOLE BODY` or a localized word.
Lookup keys are accent-stripped, upper-cased and punctuation-collapsed, so
`Tête`, `TETE` and `tête ` are one key. Users extend the map with a JSON file
of `{"spelling": "CANONICAL"}` (`--body_part_map`).

Fallback when BodyPartExamined is empty: the first known keyword in
SeriesDescription, then ProtocolName, then StudyDescription (read before
de-identification removes them). Anything else is `UNKNOWN`.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

UNKNOWN = "UNKNOWN"

DEFINED_TERMS: frozenset[str] = frozenset(
    {
        "ABDOMEN",
        "ABDOMENPELVIS",
        "ANKLE",
        "ARM",
        "BREAST",
        "CHEST",
        "CHESTABDOMEN",
        "CLAVICLE",
        "COCCYX",
        "CSPINE",
        "ELBOW",
        "EXTREMITY",
        "FACE",
        "FINGER",
        "FOOT",
        "FOREARM",
        "HAND",
        "HEAD",
        "HEADNECK",
        "HEART",
        "HIP",
        "JAW",
        "KNEE",
        "LEG",
        "LSPINE",
        "NECK",
        "PELVIS",
        "SACRUM",
        "SHOULDER",
        "SKULL",
        "SPINE",
        "THIGH",
        "TSPINE",
        "WHOLEBODY",
        "WRIST",
    }
)

DEFAULT_SYNONYMS: dict[str, str] = {
    # chest
    "THORAX": "CHEST",
    "THORACIC": "CHEST",
    "LUNG": "CHEST",
    "LUNGS": "CHEST",
    "CXR": "CHEST",
    "TORAX": "CHEST",
    "TORACE": "CHEST",
    "POITRINE": "CHEST",
    "BRUST": "CHEST",
    "BRUSTKORB": "CHEST",
    "PECHO": "CHEST",
    "TORACICO": "CHEST",
    # abdomen
    "ABD": "ABDOMEN",
    "ABDOMINAL": "ABDOMEN",
    "BAUCH": "ABDOMEN",
    "ADDOME": "ABDOMEN",
    "ABDOMEN PELVIS": "ABDOMENPELVIS",
    "ABD PELVIS": "ABDOMENPELVIS",
    "CHEST ABDOMEN": "CHESTABDOMEN",
    # head
    "BRAIN": "HEAD",
    "CEREBRUM": "HEAD",
    "KOPF": "HEAD",
    "CABEZA": "HEAD",
    "TETE": "HEAD",
    "TESTA": "HEAD",
    "CABECA": "HEAD",
    "CRANE": "SKULL",
    "CRANIUM": "SKULL",
    "SCHADEL": "SKULL",
    "CRANEO": "SKULL",
    "HEAD NECK": "HEADNECK",
    # spine
    "C SPINE": "CSPINE",
    "CERVICAL SPINE": "CSPINE",
    "T SPINE": "TSPINE",
    "THORACIC SPINE": "TSPINE",
    "L SPINE": "LSPINE",
    "LUMBAR SPINE": "LSPINE",
    "WIRBELSAULE": "SPINE",
    # limbs
    "EXTREMITIES": "EXTREMITY",
    "EXTREMIDAD": "EXTREMITY",
    "EXTREMITAT": "EXTREMITY",
    "EXTREMITE": "EXTREMITY",
    "LIMB": "EXTREMITY",
    "UPPER EXTREMITY": "ARM",
    "LOWER EXTREMITY": "LEG",
    "KNIE": "KNEE",
    "RODILLA": "KNEE",
    "GENOU": "KNEE",
    "HANCHE": "HIP",
    "HUFTE": "HIP",
    "SCHULTER": "SHOULDER",
    "EPAULE": "SHOULDER",
    "MANO": "HAND",
    "MAIN": "HAND",
    "FUSS": "FOOT",
    "PIE": "FOOT",
    "PIED": "FOOT",
    # body
    "WHOLE BODY": "WHOLEBODY",
    "WB": "WHOLEBODY",
    "GANZKORPER": "WHOLEBODY",
    "CUERPO ENTERO": "WHOLEBODY",
    "CORPS ENTIER": "WHOLEBODY",
    "BECKEN": "PELVIS",
    "BASSIN": "PELVIS",
    "PELVIC": "PELVIS",
    "CARDIAC": "HEART",
    "HERZ": "HEART",
    "COEUR": "HEART",
    "MAMMA": "BREAST",
    "MAMMO": "BREAST",
    "SEIN": "BREAST",
}
DESCRIPTION_FIELDS = ("SeriesDescription", "ProtocolName", "StudyDescription")


def normalise_key(text: str) -> str:
    """Accent-free, upper-case, single-spaced alphanumerics: 'Tête ' -> 'TETE'."""
    decomposed = unicodedata.normalize("NFKD", text)
    ascii_text = "".join(c for c in decomposed if not unicodedata.combining(c))
    ascii_text = ascii_text.replace("ß", "SS").upper()
    return " ".join(re.sub(r"[^A-Z0-9]+", " ", ascii_text).split())


@dataclass(frozen=True)
class BodyPartResult:
    canonical: str
    source: str  # "BodyPartExamined", a description field name, or "none"


class BodyPartMapper:
    """Maps raw spellings to canonical terms; user entries override the defaults."""

    def __init__(self, extra: Mapping[str, str] | None = None) -> None:
        table = {normalise_key(term): term for term in DEFINED_TERMS}
        table.update({normalise_key(k): v for k, v in DEFAULT_SYNONYMS.items()})
        for spelling, canonical in (extra or {}).items():
            target = normalise_key(canonical).replace(" ", "")
            if not target:
                raise ValueError(f"body part map: empty canonical term for {spelling!r}")
            table[normalise_key(spelling)] = target
        self._table = table
        self._longest = max(len(k.split()) for k in table)

    def normalise(self, raw: str | None) -> str | None:
        """Canonical term for a BodyPartExamined value, or None when unknown/empty."""
        if not raw:
            return None
        key = normalise_key(raw)
        if not key:
            return None
        return self._table.get(key) or self._table.get(key.replace(" ", ""))

    def from_description(self, text: str | None) -> str | None:
        """First known body-part keyword (longest phrase wins at each position)."""
        if not text:
            return None
        words = normalise_key(text).split()
        for start in range(len(words)):
            for length in range(min(self._longest, len(words) - start), 0, -1):
                hit = self._table.get(" ".join(words[start : start + length]))
                if hit:
                    return hit
        return None

    def resolve(self, raw: str | None, descriptions: Mapping[str, str | None]) -> BodyPartResult:
        """The canonical body part of an image: BodyPartExamined when it is a known value, else the
        first description that names one; an unknown BodyPartExamined is never overridden by a
        guess."""
        canonical = self.normalise(raw)
        if canonical:
            return BodyPartResult(canonical, "BodyPartExamined")
        if raw and normalise_key(raw):
            return BodyPartResult(UNKNOWN, "none")  # a value we do not know: no guessing
        for name in DESCRIPTION_FIELDS:
            found = self.from_description(descriptions.get(name))
            if found:
                return BodyPartResult(found, name)
        return BodyPartResult(UNKNOWN, "none")


def load_body_part_map(path: str) -> dict[str, str]:
    """Read a user mapping file: a JSON object of spelling -> canonical term."""
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise ValueError(
            f'{path}: expected a JSON object of strings, e.g. {{"Brustkorb": "CHEST"}}'
        )
    return data
