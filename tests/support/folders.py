"""Tiny input folders for the conversion tests, built from known pixels."""

from __future__ import annotations

import csv
import io
import os

import numpy as np
from PIL import Image

from dicom.decoding.display import display_frames
from files.png_codec import write_image
from tests.support.dicom_files import image_dataset, reread, to_bytes


def textured(seed: int, size: int = 16, bits: int = 16) -> np.ndarray:
    """A random but reproducible gray image with the full value range in use."""
    rng = np.random.default_rng(seed)
    top = 65535 if bits == 16 else 255
    return rng.integers(0, top + 1, size=(size, size)).astype(np.uint16 if bits == 16 else np.uint8)


def classification_folder(
    root: str,
    counts: dict[str, int],
    size: int = 16,
    patients: int = 0,
    spellings: dict[str, list[str]] | None = None,
) -> dict[str, np.ndarray]:
    """`root/images/NNNNNN.png` (16-bit) + `root/labels/NNNNNN.txt`; returns stem -> pixels.

    With `patients`, images are dealt round-robin to that many patients and
    `metadata.csv` records it. `spellings` varies the label text per class.
    """
    os.makedirs(os.path.join(root, "images"), exist_ok=True)
    os.makedirs(os.path.join(root, "labels"), exist_ok=True)
    pixels: dict[str, np.ndarray] = {}
    rows = []
    index = 0
    for label, count in counts.items():
        variants = (spellings or {}).get(label, [label])
        for k in range(count):
            stem = f"{index:06d}"
            image = textured(index, size)
            write_image(os.path.join(root, "images", f"{stem}.png"), image)
            with open(os.path.join(root, "labels", f"{stem}.txt"), "w") as handle:
                handle.write(variants[k % len(variants)] + "\n")
            pixels[stem] = image
            if patients:
                rows.append({"ID": stem, "label": label, "patient_key": f"P{index % patients:03d}"})
            index += 1
    if patients:
        with open(os.path.join(root, "metadata.csv"), "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=["ID", "label", "patient_key"])
            writer.writeheader()
            writer.writerows(rows)
    return pixels


def add_jpeg(root: str, stem: str, label: str, size: int = 16) -> bytes:
    image = Image.fromarray(textured(99, size, bits=8))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    with open(os.path.join(root, "images", f"{stem}.jpg"), "wb") as handle:
        handle.write(buffer.getvalue())
    _label(root, stem, label)
    return buffer.getvalue()


def add_dicom(root: str, stem: str, label: str, size: int = 16) -> np.ndarray:
    """A 12-bit DICOM; returns the display image ingestion would store for it."""
    pixels = (textured(7, size) >> 4).astype(np.uint16)
    dataset = image_dataset(pixels, bits_stored=12)
    with open(os.path.join(root, "images", f"{stem}.dcm"), "wb") as handle:
        handle.write(to_bytes(dataset))
    _label(root, stem, label)
    return next(display_frames(reread(dataset)))


def _label(root: str, stem: str, label: str) -> None:
    with open(os.path.join(root, "labels", f"{stem}.txt"), "w") as handle:
        handle.write(label + "\n")


CLASS_COLOURS = {"background": (0, 0, 0), "square": (255, 0, 0), "disc": (0, 0, 255)}


def segmentation_folder(root: str, count: int, size: int = 16) -> dict[str, np.ndarray]:
    """Gray images with colour masks (a square and a disc) and a class_dict.csv."""
    os.makedirs(os.path.join(root, "images"), exist_ok=True)
    os.makedirs(os.path.join(root, "masks"), exist_ok=True)
    with open(os.path.join(root, "class_dict.csv"), "w") as handle:
        handle.write("name,r,g,b\n")
        for name, (r, g, b) in CLASS_COLOURS.items():
            handle.write(f"{name},{r},{g},{b}\n")
    colours = np.array(list(CLASS_COLOURS.values()), dtype=np.uint8)
    labels: dict[str, np.ndarray] = {}
    y, x = np.mgrid[0:size, 0:size]
    for index in range(count):
        mask = np.zeros((size, size), np.uint8)
        offset = index % (size // 2)
        mask[offset : offset + size // 4, 1 : 1 + size // 4] = 1
        mask[(y - size * 0.7) ** 2 + (x - size * 0.7) ** 2 <= (size / 6) ** 2] = 2
        stem = f"{index:06d}"
        write_image(os.path.join(root, "images", f"{stem}.png"), (mask * 100).astype(np.uint8))
        Image.fromarray(colours[mask]).save(os.path.join(root, "masks", f"{stem}.png"))
        labels[stem] = mask
    return labels


def multilabel_folder(root: str, rows: dict[str, dict[str, str]], size: int = 16,
                      patients: int = 0) -> dict[str, np.ndarray]:
    """`root/images/<stem>.png` + `root/labels.csv` (filename, then a column per label with
    the given cells, e.g. '1', '0', '-1' or ''), as fetch_image --label_set writes it."""
    os.makedirs(os.path.join(root, "images"), exist_ok=True)
    names = sorted({name for cells in rows.values() for name in cells})
    pixels: dict[str, np.ndarray] = {}
    with open(os.path.join(root, "labels.csv"), "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["filename", *names])
        for index, (stem, cells) in enumerate(rows.items()):
            image = textured(index, size)
            write_image(os.path.join(root, "images", f"{stem}.png"), image)
            writer.writerow([f"{stem}.png", *(cells.get(n, "") for n in names)])
            pixels[stem] = image
    if patients:
        with open(os.path.join(root, "metadata.csv"), "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["filename", "patient_key"])
            for index, stem in enumerate(rows):
                writer.writerow([f"{stem}.png", f"P{index % patients:03d}"])
    return pixels
