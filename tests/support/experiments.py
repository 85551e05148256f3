"""A small classification folder a net can learn in a few dozen steps, with patients."""

from __future__ import annotations

import csv
import os

import numpy as np

from files.png_codec import write_image


def learnable_folder(root: str, per_class: int = 60, size: int = 32, patients: int = 40,
                     seed: int = 0, faint_signal: float | None = None) -> None:
    """`root/images` + `root/labels` + `root/metadata.csv`: class `bright` images carry a
    bright disc on noise, class `dark` only noise, so a small net separates them; images
    are dealt round-robin to `patients` patients, each patient keeping one class.

    With `faint_signal`, metadata.csv also gives each patient a Manufacturer: `Acme`
    (half the patients) images carry the disc at +0.4, `Faint` ones at +`faint_signal`
    (a planted subgroup effect); and a `random_group` (G1/G2) drawn per patient, which
    has no effect."""
    rng = np.random.default_rng(seed)
    os.makedirs(os.path.join(root, "images"), exist_ok=True)
    os.makedirs(os.path.join(root, "labels"), exist_ok=True)
    yy, xx = np.mgrid[:size, :size]
    rows = []
    groups: dict[int, str] = {}
    for index in range(2 * per_class):
        label = "bright" if index % 2 else "dark"
        image = rng.normal(0.35, 0.12, (size, size))
        patient = 2 * ((index // 2) % (patients // 2)) + index % 2  # one class per patient
        faint = faint_signal is not None and (patient // 2) % 2 == 1
        if label == "bright":
            cy, cx = rng.integers(size // 4, 3 * size // 4, 2)
            image[(yy - cy) ** 2 + (xx - cx) ** 2 <= (size // 5) ** 2] += (
                faint_signal if faint else 0.4)
        pixels = np.clip(image * 255, 0, 255).astype(np.uint8)
        stem = f"{index:05d}"
        write_image(os.path.join(root, "images", f"{stem}.png"), pixels)
        with open(os.path.join(root, "labels", f"{stem}.txt"), "w") as handle:
            handle.write(label + "\n")
        row = {"ID": stem, "label": label, "patient_key": f"P{patient:03d}"}
        if faint_signal is not None:
            row["Manufacturer"] = "Faint" if faint else "Acme"
            row["random_group"] = groups.setdefault(patient, str(rng.choice(["G1", "G2"])))
        rows.append(row)
    with open(os.path.join(root, "metadata.csv"), "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
