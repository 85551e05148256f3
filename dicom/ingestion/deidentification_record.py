"""The de-identification a catalog was built with, recorded in it and enforced.

A catalog is either plain or de-identified with one PS3.15 edition, one set of options,
one --burned_in policy and one key. Mixing would break what a de-identified catalog
promises (one pseudonym per patient, no clear values), so the first ingest records its
choice in `catalog_settings` and a later ingest with another is refused in one line.
The key is recorded as a keyed check value only, which reveals nothing of it.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from dicom.ingestion.catalog import DEIDENTIFICATION_SETTING, Catalog
from dicom.ingestion.file_processing import IngestSettings
from dicom.metadata.deidentify import key_check

NOT_DEIDENTIFIED = "none"


class DeidentificationMismatch(ValueError):
    """An ingest whose de-identification differs from the catalog's."""


def wanted_record(settings: IngestSettings) -> str:
    """The JSON text this ingest would record ('none' without --deidentify)."""
    if not settings.deid_key:
        return NOT_DEIDENTIFIED
    record: dict[str, Any] = settings.deid_options.record()
    record["key_check"] = key_check(settings.deid_key)
    return json.dumps(record, sort_keys=True)


def catalog_deidentification(catalog: Catalog) -> dict[str, Any] | None:
    """What the catalog records of its de-identification; None for a plain catalog or one
    that records nothing (made before the record existed)."""
    recorded = catalog.setting(DEIDENTIFICATION_SETTING)
    if recorded is None or recorded == NOT_DEIDENTIFIED:
        return None
    return json.loads(recorded)


def deidentification_summary(catalog: Catalog) -> dict[str, Any]:
    """What a folder fetched from the catalog says of its de-identification (the model
    card's): profile, edition, options and burned-in policy; the key's check value is
    left out. A catalog that records nothing says `recorded: false`."""
    recorded = catalog.setting(DEIDENTIFICATION_SETTING)
    if recorded is None:
        return {"deidentified": None, "recorded": False}
    if recorded == NOT_DEIDENTIFIED:
        return {"deidentified": False}
    record = json.loads(recorded)
    return {"deidentified": True, **{k: record.get(k) for k in
                                     ("profile", "edition", "options", "burned_in")}}


def require_same_deidentification(catalog: Catalog, settings: IngestSettings) -> None:
    """Record this ingest's de-identification in a new catalog, or check it against the
    recorded one; DeidentificationMismatch says what differs."""
    wanted = wanted_record(settings)
    recorded = catalog.setting(DEIDENTIFICATION_SETTING)
    if recorded is None:
        if catalog.count() > 0 and (wanted != NOT_DEIDENTIFIED or _pseudonymized(catalog)):
            raise DeidentificationMismatch(
                f"{catalog.describe()} holds images but records no de-identification (made "
                "by an older medcv): ingest into a new catalog")
        recorded = catalog.record_setting(DEIDENTIFICATION_SETTING, wanted)
    if recorded == wanted:
        return
    raise DeidentificationMismatch(
        f"{catalog.describe()} was built {_describe(recorded)}, but this ingest asks for "
        f"{_describe(wanted)}: use the same --deidentify, --deid_key, --deid_options, "
        "--deid_profile_edition, --deid_descriptor_allow, --deid_safe_private and --burned_in, "
        "or a new catalog")


def _pseudonymized(catalog: Catalog) -> bool:
    """An older de-identified catalog: its patient keys are pseudonyms."""
    images = catalog.images
    query = sa.select(images.c.patient_key).where(images.c.patient_key.is_not(None)).limit(20)
    with catalog.engine.connect() as connection:
        keys = [str(k) for (k,) in connection.execute(query)]
    return bool(keys) and all(k.startswith("PAT-") for k in keys)


def _describe(record: str) -> str:
    if record == NOT_DEIDENTIFIED:
        return "without --deidentify"
    values = json.loads(record)
    options = ",".join(values["options"]) or "no options"
    allow = " with a descriptor allow list" if values.get("descriptor_allow_sha256") else ""
    allow += " with a safe private list" if values.get("safe_private_sha256") else ""
    return (f"with --deidentify (edition {values['edition']}, {options}{allow}, "
            f"--burned_in {values['burned_in']}, key check {values['key_check'][-6:]})")
