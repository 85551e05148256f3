"""The label tables of a synthetic findings set, in the shapes research labels come in:
ChestX-ray14's Data_Entry_2017.csv and CheXpert's train.csv (with uncertain and blank
entries), so import_labels is exercised on the real column names and values."""

from __future__ import annotations

import csv
import io
import os

import numpy as np

from files.atomic_file import write_atomic

# Planted finding -> its name in ChestX-ray14's and in CheXpert's vocabulary.
NIH_NAMES = {"nodule": "Nodule", "basal_opacity": "Consolidation",
             "cardiomegaly": "Cardiomegaly", "no_signal": "Hernia"}
CHEXPERT_NAMES = {"nodule": "Lung Lesion", "basal_opacity": "Lung Opacity",
                  "cardiomegaly": "Cardiomegaly", "no_signal": "Fracture"}
CHEXPERT_COLUMNS = ("No Finding", "Enlarged Cardiomediastinum", "Cardiomegaly",
                    "Lung Opacity", "Lung Lesion", "Edema", "Consolidation", "Pneumonia",
                    "Atelectasis", "Pneumothorax", "Pleural Effusion", "Pleural Other",
                    "Fracture", "Support Devices")
NIH_TABLE, CHEXPERT_TABLE = "Data_Entry_2017.csv", "train.csv"


def _csv(header: list[str], rows: list[list[object]]) -> bytes:
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(header)
    writer.writerows(rows)
    return text.getvalue().encode("utf-8")


def write_finding_tables(output_dir: str, planted: dict[str, set[str]],
                         patients: dict[str, str], seed: int, uncertain_rate: float = 0.1,
                         blank_rate: float = 0.2) -> dict[str, str]:
    """Both tables for `planted` (path -> findings); returns their paths. In the CheXpert
    table some positives are uncertain (-1.0) and some negatives blank, at the rates."""
    rng = np.random.default_rng([seed, 22])
    nih_rows, chexpert_rows = [], []
    for path in sorted(planted):
        findings = planted[path]
        relative = os.path.relpath(path, output_dir)
        stem = os.path.splitext(relative)[0]
        names = sorted(NIH_NAMES[f] for f in findings)
        nih_rows.append([os.path.basename(stem) + ".png", "|".join(names) or "No Finding", 0,
                         patients[path], 60, "M", "PA"])
        values: dict[str, object] = dict.fromkeys(CHEXPERT_COLUMNS, "")
        for finding, column in CHEXPERT_NAMES.items():
            if finding in findings:
                values[column] = "-1.0" if rng.random() < uncertain_rate else "1.0"
            elif rng.random() >= blank_rate:
                values[column] = "0.0"
        if not findings:
            values["No Finding"] = "1.0"
        chexpert_rows.append([f"{stem}.jpg", "Male", 60, "Frontal", "PA",
                              *(values[c] for c in CHEXPERT_COLUMNS)])
    nih = os.path.join(output_dir, NIH_TABLE)
    write_atomic(nih, _csv(["Image Index", "Finding Labels", "Follow-up #", "Patient ID",
                            "Patient Age", "Patient Gender", "View Position"], nih_rows))
    chexpert = os.path.join(output_dir, CHEXPERT_TABLE)
    write_atomic(chexpert, _csv(["Path", "Sex", "Age", "Frontal/Lateral", "AP/PA",
                                 *CHEXPERT_COLUMNS], chexpert_rows))
    return {"chestxray14": nih, "chexpert": chexpert}
