"""What an export was made from: `provenance.json` beside the SavedModel.

A SavedModel holds weights and graphs, not their history; without this record an SR
written from an export could only say "step 0". The record names the checkpoint (its
path and step), a hash of the run config it was trained with (`medcv_train.json`), and
whether the export asked for the moving averages (used where the checkpoint has
them), so every result and every reader can tell
which training run and step the model is.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from dataclasses import dataclass

from files.atomic_file import write_atomic
from training.loop.checkpoints import checkpoint_step
from training.loop.run_config import RUN_CONFIG

PROVENANCE_FILE = "provenance.json"


@dataclass(frozen=True)
class Provenance:
    checkpoint: str
    """The checkpoint prefix exported, as an absolute path."""
    step: int
    run_config_sha256: str
    """sha256 of the train_dir's medcv_train.json; '' for a checkpoint without one (a
    TF-Slim zoo file)."""
    use_moving_averages: bool
    exported_at: str
    """UTC, ISO 8601."""


def provenance_of(prefix: str, use_moving_averages: bool) -> Provenance:
    """The record for exporting the checkpoint `prefix`."""
    run_config = os.path.join(os.path.dirname(prefix), RUN_CONFIG)
    digest = ""
    if os.path.exists(run_config):
        with open(run_config, "rb") as handle:
            digest = hashlib.sha256(handle.read()).hexdigest()
    return Provenance(os.path.abspath(prefix), checkpoint_step(prefix), digest,
                      use_moving_averages, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))


def write_provenance(provenance: Provenance, directory: str) -> None:
    """Writes the provenance atomically into `directory`."""
    write_atomic(os.path.join(directory, PROVENANCE_FILE),
                 (json.dumps(dataclasses.asdict(provenance), indent=2) + "\n").encode())


def read_provenance(directory: str) -> Provenance | None:
    """The export's record; None for an export made before it was kept."""
    path = os.path.join(directory, PROVENANCE_FILE)
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as handle:
        raw = json.load(handle)
    try:
        return Provenance(**{f.name: raw[f.name] for f in dataclasses.fields(Provenance)})
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a provenance record ({exc})") from None
