"""Who made a result and what it is of: the model's identity and the UIDs derived from it.

Kept apart from the SR and SEG builders, which need highdicom: the classifying process
names its results with these and leaves highdicom to the writer processes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from pydicom.uid import generate_uid

MANUFACTURER = "medcv"


@dataclass(frozen=True)
class ModelIdentity:
    """What made a result: the net, its checkpoint step, a hash of its run config (and of
    its calibration), and the calibration's short name ('' when uncalibrated)."""

    model_name: str
    step: int
    config_hash: str
    calibration: str = ""

    @property
    def version(self) -> str:
        """The SR's algorithm version (a DICOM LO: at most 64 characters)."""
        calibrated = f", calibrated {self.calibration}" if self.calibration else ""
        return f"step {self.step}, config {self.config_hash[:16]}{calibrated}"[:64]

    def device_uid(self) -> str:
        """The device UID of the model: derived from its name and config hash, so stable across
        runs."""
        return generate_uid(entropy_srcs=["medcv device", self.model_name, self.config_hash])


def result_uid(*parts: str) -> str:
    """A UID derived from what the result is of: a re-run of the same model on the same
    sources writes the same objects, so a PACS that has them is not sent them again."""
    return generate_uid(entropy_srcs=list(parts))


def config_hash(text: str) -> str:
    """SHA-256 of the run config's text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
