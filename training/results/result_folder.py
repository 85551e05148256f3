"""Where DICOM results go: always a local folder first, then, optionally, a PACS.

`results.json` in the folder lists every object (kind, UIDs, its sources, its file) and
the destinations that acknowledged it. Objects are written atomically; their UIDs come
from the model and the sources, so a re-run writes the same objects and sends only those
the PACS has not acknowledged yet. A PACS that is down leaves everything in the folder.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import asdict, dataclass, field

from pydicom.dataset import Dataset

from files.atomic_file import write_atomic

LEDGER = "results.json"


@dataclass
class ResultObject:
    kind: str
    file: str
    sop_instance_uid: str
    series_instance_uid: str
    study_instance_uid: str
    sources: list[str]
    stored_to: list[str] = field(default_factory=list)


class ResultFolder:
    def __init__(self, directory: str) -> None:
        self.directory = directory
        os.makedirs(directory, exist_ok=True)
        self.objects: dict[str, ResultObject] = {}
        path = os.path.join(directory, LEDGER)
        if os.path.exists(path):
            with open(path, encoding="utf-8") as handle:
                for entry in json.load(handle).get("objects", []):
                    self.objects[entry["sop_instance_uid"]] = ResultObject(**entry)

    def write(self, kind: str, dataset: Dataset, sources: list[str]) -> ResultObject:
        """Save `dataset` as `<KIND>_<SOP Instance UID>.dcm` and list it."""
        buffer = io.BytesIO()
        dataset.save_as(buffer, enforce_file_format=True)
        return self.write_file(kind, buffer.getvalue(), (
            str(dataset.SOPInstanceUID), str(dataset.SeriesInstanceUID),
            str(dataset.StudyInstanceUID)), sources)

    def write_file(self, kind: str, data: bytes, uids: tuple[str, str, str],
                   sources: list[str]) -> ResultObject:
        """Save an encoded object (`uids`: its SOP Instance, Series and Study Instance
        UIDs) and list it."""
        uid = uids[0]
        name = f"{kind}_{uid}.dcm"
        write_atomic(os.path.join(self.directory, name), data)
        previous = self.objects.get(uid)
        entry = ResultObject(kind, name, uid, uids[1], uids[2], sources,
                             previous.stored_to if previous else [])
        self.objects[uid] = entry
        return entry

    def path(self, entry: ResultObject) -> str:
        """The file of a result object."""
        return os.path.join(self.directory, entry.file)

    def unacknowledged(self, destination: str) -> list[ResultObject]:
        """The objects whose files exist and that `destination` has not acknowledged."""
        return [e for e in self.objects.values() if destination not in e.stored_to
                and os.path.exists(self.path(e))]

    def acknowledge(self, entry: ResultObject, destination: str) -> None:
        """Noted in memory; `save` writes the listing (the caller does, every few)."""
        if destination not in entry.stored_to:
            entry.stored_to.append(destination)

    def save(self) -> None:
        """Writes the ledger atomically, objects sorted by file."""
        listing = {"objects": [asdict(e) for e in sorted(self.objects.values(),
                                                          key=lambda e: e.file)]}
        write_atomic(os.path.join(self.directory, LEDGER),
                     json.dumps(listing, indent=2).encode("utf-8"))
