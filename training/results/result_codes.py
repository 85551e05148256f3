"""Codes for what a model says: class names to coded concepts, from a JSON map, with
defaults for the synthetic body parts and findings and the cardiac segments.

A name the map does not hold becomes a local code (scheme designator 99MEDCV, the DICOM
convention for a private scheme), never an error: a result is still written, and a
site can map its names later.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydicom.sr.coding import Code

if TYPE_CHECKING:
    from highdicom.sr import CodedConcept

LOCAL_SCHEME = "99MEDCV"
_SCT = "SCT"

# Body parts (the catalog's canonical terms) and findings: SNOMED CT where one fits.
DEFAULT_CLASS_CODES: dict[str, tuple[str, str, str]] = {
    "CHEST": ("816094009", _SCT, "Chest"),
    "ABDOMEN": ("818981001", _SCT, "Abdomen"),
    "HEAD": ("69536005", _SCT, "Head"),
    "EXTREMITY": ("66019005", _SCT, "Extremity"),
    "SKULL": ("89546000", _SCT, "Skull"),
    "NODULE": ("27925004", _SCT, "Nodule"),
    "CARDIOMEGALY": ("287272002", _SCT, "Cardiomegaly"),
    "EFFUSION": ("41699000", _SCT, "Effusion"),
    "PLEURAL_EFFUSION": ("60046008", _SCT, "Pleural effusion"),
    "PNEUMOTHORAX": ("36118008", _SCT, "Pneumothorax"),
    "NORMAL": ("17621005", _SCT, "Normal"),
}

# Segments: (property category, property type) for each class of a segmentation model.
ANATOMICAL_STRUCTURE = ("91723000", _SCT, "Anatomical Structure")
DEFAULT_SEGMENT_CODES: dict[str, tuple[tuple[str, str, str], tuple[str, str, str]]] = {
    "LV_CAVITY": (ANATOMICAL_STRUCTURE, ("87878005", _SCT, "Left ventricle")),
    "LV_BLOOD_POOL": (ANATOMICAL_STRUCTURE, ("87878005", _SCT, "Left ventricle")),
    "BLOOD_POOL": (ANATOMICAL_STRUCTURE, ("87878005", _SCT, "Left ventricle")),
    "MYOCARDIUM": (ANATOMICAL_STRUCTURE, ("49848007", _SCT, "Left ventricle myocardium")),
    "LV_MYOCARDIUM": (ANATOMICAL_STRUCTURE, ("49848007", _SCT, "Left ventricle myocardium")),
}
_KEY = re.compile(r"[^A-Z0-9]+")


class ResultCodesError(ValueError):
    """A code map that cannot be used."""


def _key(name: str) -> str:
    return _KEY.sub("_", name.upper()).strip("_")


def local_code(name: str) -> Code:
    """A private code for a name no map holds: stable, at most 16 characters."""
    value = (_key(name) or "UNNAMED")[:16]
    return Code(value, LOCAL_SCHEME, name[:64] or "unnamed")


def _concept(code: Code) -> CodedConcept:
    from highdicom.sr import CodedConcept  # only where an SR or SEG is built

    return CodedConcept(code.value, code.scheme_designator, code.meaning)


def _code(entry: object, where: str) -> Code:
    if isinstance(entry, (list, tuple)) and len(entry) == 3:
        value, scheme, meaning = entry
    elif isinstance(entry, dict):
        value, scheme, meaning = (entry.get("value"), entry.get("scheme_designator",
                                  entry.get("scheme")), entry.get("meaning"))
    else:
        raise ResultCodesError(f"{where}: expected {{value, scheme_designator, meaning}}")
    if not all(isinstance(v, str) and v.strip() for v in (value, scheme, meaning)):
        raise ResultCodesError(f"{where}: value, scheme_designator and meaning must be text")
    if len(meaning.strip()) > 64:  # Code Meaning is an LO
        raise ResultCodesError(f"{where}: meaning has {len(meaning.strip())} characters; "
                               "DICOM allows at most 64")
    return Code(value.strip(), scheme.strip(), meaning.strip())


@dataclass
class ResultCodes:
    """Plain codes, made coded concepts (highdicom's) only where an object is built: the
    classifying process checks the map without importing highdicom."""

    classes: dict[str, Code]
    segments: dict[str, tuple[Code, Code]]

    @classmethod
    def load(cls, path: str | None = None) -> ResultCodes:
        """The defaults, overridden by `path`: {"classes": {NAME: code}, "segments":
        {NAME: {"category": code, "type": code}}}, a code being {value,
        scheme_designator, meaning}."""
        classes = {k: Code(*v) for k, v in DEFAULT_CLASS_CODES.items()}
        segments = {k: (Code(*c), Code(*t))
                    for k, (c, t) in DEFAULT_SEGMENT_CODES.items()}
        if path:
            try:
                with open(path, encoding="utf-8") as handle:
                    data = json.load(handle)
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise ResultCodesError(f"--result_codes {path}: {exc}") from None
            if not isinstance(data, dict):
                raise ResultCodesError(f"--result_codes {path}: expected a JSON object")
            for name, entry in (data.get("classes") or {}).items():
                classes[_key(name)] = _code(entry, f"{path}: classes.{name}")
            for name, entry in (data.get("segments") or {}).items():
                if not isinstance(entry, dict):
                    raise ResultCodesError(f"{path}: segments.{name}: expected category, type")
                segments[_key(name)] = (_code(entry.get("category"),
                                              f"{path}: segments.{name}.category"),
                                        _code(entry.get("type"),
                                              f"{path}: segments.{name}.type"))
        return cls(classes, segments)

    def for_class(self, name: str) -> CodedConcept:
        """The coded concept of a class: the mapped code, else a local one."""
        return _concept(self.classes.get(_key(name)) or local_code(name))

    def for_segment(self, name: str) -> tuple[CodedConcept, CodedConcept]:
        """The (category, type) codes of a segment: the mapped ones, else an anatomical structure
        with a local type."""
        category, kind = self.segments.get(_key(name)) or (Code(*ANATOMICAL_STRUCTURE),
                                                            local_code(name))
        return _concept(category), _concept(kind)
