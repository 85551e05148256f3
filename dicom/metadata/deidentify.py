"""De-identification for the catalog: the DICOM PS3.15 basic-profile subset that matters.

Removed: names (every PN attribute), patient ID and other IDs, birth date,
addresses and telephone numbers, institution and department, station,
accession number, study ID, descriptions and comments, and every date and time
(DA/DT/TM) -- plus all private tags. Kept (the profile's "retain patient
characteristics" option): PatientSex, PatientAge, imaging parameters.

Keys are *keyed* pseudonyms, HMAC-SHA-256 with a secret: the same patient gets
the same pseudonym across files and runs, and nobody without the secret can
recompute a pseudonym from a known MRN or UID (an unsalted hash could be).
UIDs are remapped into the `2.25.<integer>` form from the same HMAC.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from pydicom.dataset import Dataset

KEY_ENVIRONMENT_VARIABLE = "MEDCV_DEID_KEY"
_MIN_KEY_LENGTH = 16

REMOVED_KEYWORDS: frozenset[str] = frozenset(
    {
        "PatientID",
        "IssuerOfPatientID",
        "OtherPatientIDs",
        "OtherPatientIDsSequence",
        "PatientBirthDate",
        "PatientBirthTime",
        "PatientAddress",
        "PatientTelephoneNumbers",
        "PatientMotherBirthName",
        "MedicalRecordLocator",
        "MilitaryRank",
        "BranchOfService",
        "EthnicGroup",
        "Occupation",
        "CountryOfResidence",
        "RegionOfResidence",
        "PatientComments",
        "AdditionalPatientHistory",
        "PatientInsurancePlanCodeSequence",
        "InstitutionName",
        "InstitutionAddress",
        "InstitutionalDepartmentName",
        "InstitutionCodeSequence",
        "StationName",
        "DeviceSerialNumber",
        "AccessionNumber",
        "StudyID",
        "RequestAttributesSequence",
        "ReferringPhysicianAddress",
        "ReferringPhysicianTelephoneNumbers",
        "PhysiciansOfRecordIdentificationSequence",
        "PerformingPhysicianIdentificationSequence",
        "StudyDescription",
        "SeriesDescription",
        "ProtocolName",
        "ImageComments",
        "RequestedProcedureDescription",
        "PerformedProcedureStepDescription",
        "PerformedProcedureStepID",
        "ScheduledProcedureStepDescription",
        "AdmittingDiagnosesDescription",
        "DerivationDescription",
        "ResponsibleOrganization",
    }
)
_REMOVED_VRS = frozenset({"PN", "DA", "DT", "TM"})
_KEPT_UIDS = frozenset(
    {
        "SOPClassUID",
        "TransferSyntaxUID",
        "MediaStorageSOPClassUID",
        "ReferencedSOPClassUID",
        "ImplementationClassUID",
    }
)


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


class Deidentifier:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def _digest(self, kind: str, value: str) -> bytes:
        return hmac.new(self._key, f"{kind}\x00{value}".encode(), hashlib.sha256).digest()

    def pseudonym(self, kind: str, value: str) -> str:
        """Stable short token, e.g. patient 'MRN123' -> 'PAT-3F9A...'."""
        return f"{kind[:3].upper()}-{self._digest(kind, value).hex()[:20].upper()}"

    def remap_uid(self, uid: str) -> str:
        """A UID in the 2.25 (UUID-derived) arc; at most 44 characters."""
        return "2.25." + str(int.from_bytes(self._digest("uid", uid)[:16], "big"))

    def patient_key(self, ds: Dataset) -> str:
        source = str(ds.get("PatientID", "") or "").strip()
        if not source:  # fall back to name + birth date, still never stored in clear
            source = f"{ds.get('PatientName', '')}|{ds.get('PatientBirthDate', '')}"
        return self.pseudonym("patient", source)

    def accession_key(self, accession: str) -> str:
        """The pseudonym of an accession number: a hospital's table of original accession
        numbers still matches once its keys get the same pseudonym (import_labels)."""
        # 16 characters: an accession number is a DICOM SH, and results carry it.
        return f"ACC-{self._digest('accession', accession.strip()).hex()[:12].upper()}"

    def patient_key_of(self, patient_id: str) -> str:
        """`patient_key` of a dataset whose PatientID is `patient_id`."""
        return self.pseudonym("patient", patient_id.strip())

    def apply(self, ds: Dataset) -> None:
        """Strip and remap identifying attributes of `ds` in place (top level)."""
        ds.remove_private_tags()
        for element in list(ds):
            keyword = element.keyword
            if keyword in REMOVED_KEYWORDS or element.VR in _REMOVED_VRS:
                del ds[element.tag]
            elif element.VR == "UI" and keyword not in _KEPT_UIDS and element.value:
                if element.VM > 1:
                    element.value = [self.remap_uid(str(v)) for v in element.value]
                else:
                    element.value = self.remap_uid(str(element.value))
